"""Pattern recognizers: structured personal data and secrets, found by regular expressions.

Each recognizer is a compiled pattern, the entity it finds, a score, an optional group that
holds the sensitive part (e.g. only the token after "Bearer"), an optional validator (Luhn for
cards, mod-97 for IBANs, octet ranges for IPs), optional context words that must appear shortly
before the match and an optional trigger string without which the pattern is not even run. Names
follow Presidio's entity names where Presidio has one.

Patterns read text as it would read once JSON-unescaped (`unescaped_view`): agent traffic carries
JSON inside JSON, where an address's line break is the two characters `\\n`.

The street-address patterns use the USPS street suffixes (Publication 28, appendix C1), not any
generator's list, so they hold on real text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from faker.providers.lorem.en_US import Provider as _EnglishWords
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, IbanRecognizer

from memgraph_ops.privacy.addresses import find_addresses


@dataclass(frozen=True)
class Recognizer:
    entity: str
    pattern: re.Pattern[str]
    score: float
    group: int | str = 0
    validate: Callable[[str], bool] | None = None
    context: re.Pattern[str] | None = None
    """If set, `context_score` replaces `score` when this pattern occurs within `context_window`
    chars before the match. With `score` 0 the recognizer is context-only."""
    context_window: int = 40
    context_score: float | None = None
    context_same_line: bool = False
    """Look for the context on the match's own line only (forms put one field per line)."""
    context_after: int = 0
    """Also look this many chars after the match (`555-0100 office`, `…-Fax`)."""
    trigger: str | None = None
    """A string every match contains: texts without it are skipped without running the pattern."""
    terminator: re.Pattern[str] | None = None
    """A pattern every match ends with: the text is searched only up to the end of its last
    occurrence, so that openers without a closer (say, many truncated PEM blocks) do not each
    scan the rest of the text, which is quadratic. Matches are the same."""


_card = CreditCardRecognizer()
_iban = IbanRecognizer()


def _luhn_card(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and bool(_card.validate_result(digits))


def _iban_ok(text: str) -> bool:
    return bool(_iban.validate_result(re.sub(r"\s", "", text).upper()))


def _ipv4_ok(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(
        p.isdigit() and int(p) <= 255 and str(int(p)) == p for p in parts
    )


def looks_like_name(text: str) -> bool:
    """Capitalised words, none of them a common capitalised non-name."""
    words = text.replace(".", " ").split()
    return all(w[0].isupper() and not w.isupper() for w in words if len(w) > 1) and not any(
        w in NOT_NAMES for w in words
    )


def _looks_like_lone_name(text: str) -> bool:
    """`looks_like_name`, and a single word is no common English word ("Hello World!")."""
    return looks_like_name(text) and not (" " not in text and text in COMMON_WORDS)


def _not_all_caps(text: str) -> bool:
    """A value in capitals (`EMEA`, `CA`) is a code more often than a place name."""
    return not text.isupper()


# Capitalised words that follow "for", "with", "from"… without being a name.
NOT_NAMES = frozenset(
    """Priority High Low Medium Urgent Critical Normal Status Premium Plus Pro Standard Basic
    Enterprise Gold Silver Platinum Bronze Level Tier Plan The A An This That These Those My Your Our Their His Her Its All Any Each Every Some No
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March July
    September October November December Team Support Sales Finance Marketing
    Engineering Product Customer Service Services Department Office Manager Director Company Inc
    Ltd LLC Corp Group Board Committee Project Report Meeting Account Order Invoice Please Thanks
    Thank Hello Dear Regards Best Cheers Sincerely Kind Warm Street Avenue Road Lane Drive Court
    United States America Kingdom Europe Asia Africa Google Microsoft Amazon Apple Python Java
    JavaScript Slack Teams Zoom Excel Word PowerPoint Outlook GitHub Jira Confluence Notion API
    New Old North South East West Central Global General Internal External Public Private Open
    Data Cloud Server System User Admin Guest Test Demo Example Sample Default None True False
    Today Tomorrow Yesterday Morning Afternoon Evening Weekend Week Month Year Q1 Q2 Q3 Q4""".split()
)

COMMON_WORDS = frozenset(w.capitalize() for w in _EnglishWords.word_list)
"""The ~1000 most common English words, capitalised (the word list Faker ships for lorem text)."""


def _phone_digits(text: str) -> str:
    """The digits of a phone number, without its extension."""
    return re.sub(r"\D", "", text.split("x")[0].split("ext")[0])


def _phone_ok(text: str) -> bool:
    digits = _phone_digits(text)
    return 10 <= len(digits) <= 15 and len(set(digits)) > 2


_DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")


def _phone_any_format_ok(text: str) -> bool:
    """National formats of any country (`(88) 684-334`, `089 72 63 41`, `06-10446904`): 7 to 15
    digits, more than two distinct ones, not a date."""
    digits = _phone_digits(text)
    return 7 <= len(digits) <= 15 and len(set(digits)) > 2 and not _DATE_LIKE.match(text)


_PLACEHOLDER = re.compile(
    r"^(?:\*+|x{4,}|<[^>]*>|\$\{?[\w.]+\}?|%\(?\w+\)?s?|\{\{.*\}\})\W*$"
    r"|your[-_ ]|placeholder|changeme|example|redacted|dummy",
    re.IGNORECASE,
)


_PHONE_WORDS = re.compile(
    r"(?<![a-z])(?:phone|tel|telephone|call(?:ed|ing)?|fax|office|mobile|cell|reach|answering"
    r"|contact|ph|whatsapp|sms|dial|ring)(?![a-z])",
    re.IGNORECASE,
)
"""Words that say a number nearby is a phone number."""


def _not_placeholder(value: str) -> bool:
    """Masks (`********`), templates (`<your-password>`, `${DB_PASSWORD}`, `{{ token }}`) and
    sample values (`your-api-key-here`) are no secrets."""
    return not _PLACEHOLDER.search(value)


def _password_like(value: str) -> bool:
    """A word after "password is" in prose is a password only if it looks like one: six or
    more characters, no placeholder, letters with digits or three character classes (so
    "case-sensitive" and "required" are not)."""
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    digit = any(c.isdigit() for c in value)
    symbol = any(not c.isalnum() for c in value)
    mixed = ((lower or upper) and digit) or lower + upper + digit + symbol >= 3
    return len(value) >= 6 and mixed and _not_placeholder(value)


_USPS_SUFFIXES = (
    "Alley|Aly|Annex|Arcade|Avenue|Ave|Av|Bayou|Beach|Bend|Bluffs?|Bottom|Boulevard|Blvd|Branch|"
    "Bridge|Brooks?|Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Ctr|Circles?|Cir|Cliffs?|Club|"
    "Commons?|Corners?|Course|Courts?|Ct|Coves?|Creek|Crescent|Crest|Crossing|Crossroads?|Curve|"
    "Dale|Dam|Divide|Drives?|Dr|Estates?|Expressway|Expy|Extensions?|Falls?|Ferry|Fields?|Flats?|"
    "Fords?|Forest|Forges?|Forks?|Fort|Freeway|Fwy|Gardens?|Gateway|Glens?|Greens?|Groves?|"
    "Harbors?|Haven|Heights|Hts|Highway|Hwy|Hills?|Hollow|Inlet|Islands?|Isle|Junctions?|Keys?|"
    "Knolls?|Lakes?|Land|Landing|Lane|Ln|Lights?|Loaf|Locks?|Lodge|Loop|Mall|Manors?|Meadows?|Mews|"
    "Mills?|Mission|Motorway|Mount|Mountains?|Mtn|Neck|Orchard|Oval|Overpass|Parks?|Parkways?|Pkwy|"
    "Pass|Passage|Path|Pike|Pines?|Place|Pl|Plains?|Plaza|Points?|Ports?|Prairie|Radial|Ramp|Ranch|"
    "Rapids?|Rest|Ridges?|River|Roads?|Rd|Route|Rte|Row|Rue|Run|Shoals?|Shores?|Skyway|Springs?|"
    "Spurs?|Squares?|Sq|Station|Stravenue|Stream|Streets?|St|Summit|Terrace|Ter|Throughway|Trace|"
    "Track|Trafficway|Trail|Trl|Tunnel|Turnpike|Underpass|Unions?|Valleys?|Via|Viaduct|Views?|"
    "Villages?|Ville|Vista|Walks?|Wall|Ways?|Wells?|Close|Gate|Grove|Hill"
)
_UNIT = r"(?:,?[ \t]*(?:\r?\n[ \t]*)?(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Room|Rm\.?|Floor|Fl\.?|#)[ \t]*#?[\w-]+)"
_CITY_LINE = (
    r"(?:(?:,[ \t]*|[ \t]*\r?\n[ \t]*)[A-Z][A-Za-z.'-]*(?:[ \t]+[A-Z][A-Za-z.'-]*){0,3},?[ \t]+"
    r"(?:[A-Z]{2}|[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?)[ \t]+\d{5}(?:-\d{4})?)"
)
_STREET = re.compile(
    r"(?<![\w.-])\d{1,6}[A-Za-z]?(?:-\d{1,4})?[ \t]+"
    r"(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?[ \t]+)?"
    r"(?:[A-Z0-9][A-Za-z0-9'.-]*[ \t]+){1,4}"
    rf"(?:{_USPS_SUFFIXES})\b\.?"
    r"(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?"
    rf"{_UNIT}?{_CITY_LINE}?"
)
# (any case: chat is often all lower-case; ship names in any alphabet, `USCGC Kristjánsdóttir`)
_MILITARY = re.compile(
    r"(?i:\b(?:PSC|Unit|CMR)[ \t]+\d{3,5},?[ \t]+Box[ \t]+\d{1,5}(?:[ \t]*\r?\n[ \t]*|,?[ \t]+)"
    r"(?:APO|FPO|DPO)[ \t]+A[AEP][ \t]+\d{5}\b"
    r"|\b(?:USNS|USNV|USS|USCGC)[ \t]+[^\W\d_]+(?:[ \t]*\r?\n[ \t]*|,?[ \t]+)"
    r"(?:APO|FPO|DPO)[ \t]+A[AEP][ \t]+\d{5}\b)"
)
_PO_BOX = re.compile(
    r"\b(?:P\.?[ \t]?O\.?[ \t]?(?:Box|BOX)|Post Office Box)[ \t]+\d{1,6}" + _CITY_LINE + "?"
)

# German: `Lindenstraße 12a, 10115 Berlin`, `Neureuthergasse 64/35\n18085 Eilenburg`.
_LINE_BREAK = r"(?:,[ \t]*|[ \t]*\r?\n[ \t]*)"
_DE_HOUSE_NUMBER = r"[ \t]+\d{1,4}[a-z]?(?:[/-]\d{1,4}[a-z]?)?"
_DE_TOWN_LINE = (
    rf"{_LINE_BREAK}\d{{5}}[ \t]+[A-ZÄÖÜ][\wäöüß.-]*"
    r"(?:[ \t]+(?:[A-ZÄÖÜ][\wäöüß.()-]*|a\.|am|an|der|ob|im|in|bei|vor|b\.|i\.)){0,4}"
)
_DE_STREET = re.compile(
    # (the lookahead is a cheap pre-check: a word of at most 100 characters followed by a
    # number; unbounded, each start inside a long dotted token, `A.B.C.…`, would scan to its end)
    r"(?<![\w-])(?=[A-ZÄÖÜ][\wäöüß.'-]{0,99}+[ \t]+\d)(?:[A-ZÄÖÜ][\wäöüß.'-]*?"
    r"(?i:straße|strasse|weg|allee|gasse|platz|damm|ufer|chaussee|steig|pfad|markt|gärten)"
    rf"{_DE_HOUSE_NUMBER}(?:{_DE_TOWN_LINE})?"
    # endings shared with English words ("Spring 2", "Instr. 5"): only with the town line
    rf"|[A-ZÄÖÜ][\wäöüß.'-]*?(?i:str\.|ring|hof|berg|feld){_DE_HOUSE_NUMBER}{_DE_TOWN_LINE})"
)
# UK: a flat or a house number, then two or three lines ending in a full postcode
# (`Flat 4\nHawkins Road\nLeeds\nLS1 4AB`, `10 Downing Street, London, SW1A 2AA`).
# Words of at most 64 characters, taken whole (what follows is a space or a line break): without
# the bound, each start inside a long dotted token (`1.2.3.…`) would scan to its end.
_UK_ADDRESS_LINE = r"[A-Z0-9][\w'.-]{0,63}+(?:[ \t]+[A-Z0-9][\w'.-]{0,63}+){0,3}"
_UK_ADDRESS = re.compile(
    rf"(?<![\w-])(?:(?:Flat|Studio|Apartment|Unit)[ \t]+\w+{_LINE_BREAK}|(?=\d)){_UK_ADDRESS_LINE}"
    rf"(?:{_LINE_BREAK}{_UK_ADDRESS_LINE}){{1,2}}{_LINE_BREAK}[A-Z]{{1,2}}\d[A-Z\d]?[ ]?\d[A-Z]{{2}}\b"
)

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DATE = (
    rf"(?<![\d-])(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|{_MONTH}\.?[ \t]+\d{{1,2}}"
    rf"(?:st|nd|rd|th)?,?[ \t]+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?{_MONTH}\.?,?"
    rf"[ \t]+\d{{4}})(?![\d-])"
)

_CI = re.IGNORECASE
NAME_WORD = r"(?:[A-Z]['’])?[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:-[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?"
"""A capitalised name word: `Ann`, `Hans-Albert`, `O'Brien`; not a contraction such as `I'm`."""

_MORE_NAME_WORDS = rf"(?:[ \t](?!(?:Apt|Apartment|Suite|Unit|Flat|Room)\b){NAME_WORD}){{1,2}}"
"""The second and third word of a name; a unit after a name starts an address ("Mrs. Diana
Weöres Apt. 434 40 Rue de la Sarthe")."""

_PERSON_KEY = (
    r"full_?name|name|first_?name|last_?name|given_?name|family_?name|surname|customer(?:_name)?"
    r"|contact(?:_name)?|recipient(?:_name)?|sender(?:_name)?|author|assignee|owner|user_?name"
    r"|display_?name|patient(?:_name)?|employee(?:_name)?|passenger(?:_name)?|guest(?:_name)?"
    r"|card_?holder(?:_name)?|holder_name|requester|reporter|attendee|traveller|traveler"
    r"|(?:agent|rep|person|owner|manager|approver|reviewer|signatory)_?name"
    r"|[a-z]+_by|assigned_?to|sent_?to|addressed_?to|on_?call|approver|reviewer|signatory"
)
PERSON_KEYS = re.compile(rf"^(?:{_PERSON_KEY})$", _CI)
"""JSON keys whose string value, when it looks like a name, is a person's name."""

RECOGNIZERS: tuple[Recognizer, ...] = (
    # --- secrets -------------------------------------------------------------------------
    Recognizer(
        "PRIVATE_KEY",
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----[\s\S]+?"
            r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"
        ),
        1.0,
        trigger="PRIVATE KEY",
        terminator=re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"),
    ),
    Recognizer(
        "JWT",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        1.0,
        trigger="eyJ",
    ),
    Recognizer(
        "API_KEY",
        re.compile(
            r"(?<![\w-])(?:"
            r"sk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
            r"|(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}"  # AWS access key id
            r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub
            r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
            r"|AIza[0-9A-Za-z_-]{35}"  # Google
            r"|(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}"  # Stripe
            r"|glpat-[0-9A-Za-z_-]{20}"  # GitLab
            r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
            r"|npm_[A-Za-z0-9]{36}"  # npm
            r")(?![\w-])"
        ),
        1.0,
    ),
    Recognizer(
        "API_KEY",
        re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}"),
        1.0,
    ),
    Recognizer(  # AWS secret access key: 40 chars of base64 next to its name
        "API_KEY",
        re.compile(
            r"(?:aws_?secret_?access_?key|secret_?access_?key|SecretAccessKey)[\"']?\s*[:=]\s*"
            r"[\"']?(?P<v>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
            _CI,
        ),
        1.0,
        group="v",
    ),
    Recognizer(  # generic `api_key = ...`, `"token": "..."`; not `your-api-key-here`
        "API_KEY",
        re.compile(
            r"(?:api[_-]?key|apikey|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token"
            r"|private[_-]?token|x-api-key)[\"']?\s*[:=]\s*[\"']?(?P<v>[A-Za-z0-9_\-./+=]{16,})",
            _CI,
        ),
        0.9,
        group="v",
        validate=_not_placeholder,
    ),
    Recognizer(
        "BEARER_TOKEN",
        re.compile(r"\bBearer[ \t]+(?P<v>[A-Za-z0-9._~+/-]{16,}=*)", _CI),
        1.0,
        group="v",
    ),
    Recognizer(  # scheme://user:password@host
        "URL_CREDENTIALS",
        re.compile(
            r"\b[a-z][a-z0-9+.-]{1,20}://(?P<v>[^\s:/@\"'<>]+:[^\s@/\"'<>]+)@[^\s/\"'<>]+", _CI
        ),
        1.0,
        group="v",
        trigger="://",
    ),
    Recognizer(  # password=..., "password": "...", Pwd=...; in connection strings and configs
        "PASSWORD",
        re.compile(
            r"(?:password|passwd|pwd|pass)[\"']?\s*[:=]\s*[\"']?(?P<v>[^\s;\"',&]{4,})", _CI
        ),
        0.9,
        group="v",
        validate=_not_placeholder,
    ),
    Recognizer(  # in prose: "my wifi password is …"
        "PASSWORD",
        re.compile(
            r"(?i:\b(?:password|passwd|passcode|passphrase|pwd|pin)\s+(?:is|was|=|:)\s+)"
            r"(?P<v>[^\s\"']{6,}?)(?=[,.;!?)]*(?:\s|$))"
        ),
        0.8,
        group="v",
        validate=_password_like,
    ),
    Recognizer(  # "the login is admin / …"
        "PASSWORD",
        re.compile(
            r"(?i:\b(?:login|credentials?|user(?:name)?)\s+(?:is|are|:)\s+)[^\s/]+\s*/\s*"
            r"(?P<v>[^\s\"']{6,}?)(?=[,.;!?)]*(?:\s|$))"
        ),
        0.8,
        group="v",
        validate=_password_like,
    ),
    # --- structured personal data -------------------------------------------------------
    Recognizer(
        "EMAIL_ADDRESS",
        re.compile(
            r"(?<![\w.+%-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
            r"[A-Za-z]{2,24}(?![\w-])"
        ),
        1.0,
        trigger="@",
    ),
    Recognizer(  # grouped as cards are (4-4-4-4, Amex 4-6-5, one separator throughout), not as
        # phones (`001-352-229-1080`), order numbers (`019-2645748-4207346`) or UUID parts that
        # pass Luhn
        "CREDIT_CARD",
        re.compile(
            r"(?<![\w-])(?:\d{13,19}"
            r"|\d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?P=sep)\d{1,4}(?:(?P=sep)\d{1,3})?"
            r"|\d{4}(?P<amex_sep>[ -])\d{6}(?P=amex_sep)\d{4,5})(?![\w-])"
        ),
        1.0,
        validate=_luhn_card,
    ),
    Recognizer(
        "IBAN_CODE",
        re.compile(
            r"\b(?:[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}|[a-z]{2}\d{2}(?:[ ]?[a-z0-9]){11,30})\b"
        ),
        1.0,
        validate=_iban_ok,
    ),
    Recognizer(
        "US_SSN",
        re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"),
        0.85,
    ),
    Recognizer(  # undashed: only right after "SSN" on the same line, not a licence two lines down
        "US_SSN",
        re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}[ .]?(?!00)\d{2}[ .]?(?!0000)\d{4}(?!\d)"),
        0.0,
        context=re.compile(r"\b(?:ssn|social security|ss ?#|soc\.? sec)", _CI),
        context_window=32,
        context_score=0.85,
        context_same_line=True,
    ),
    Recognizer(  # state formats: FL/IL dashed, NJ and NY spaced (before their unbroken prefixes:
        # the first alternative that matches wins), CA D1234567, bare 7-9 digits
        "US_DRIVER_LICENSE",
        re.compile(
            r"(?<![\w-])(?:[A-Z]\d{3}-\d{3}-\d{2}-\d{3}-\d|[A-Z]\d{3}-\d{4}-\d{4}"
            r"|[A-Z]\d{4}[ ]\d{5}[ ]\d{5}|\d{3}[ ]\d{3}[ ]\d{3}|[A-Za-z]{1,2}\d{4,14}[A-Za-z]?"
            r"|\d{7,9})(?![\w-])"
        ),
        0.0,
        context=re.compile(
            r"\b(?:driver'?s?[ \t]+licen[cs]e|DL[ \t]*(?:#|no|number)|licen[cs]e[ \t]*(?:#|no\.?|number))",
            _CI,
        ),
        context_score=0.85,
    ),
    Recognizer(
        "PHONE_NUMBER",
        re.compile(
            r"(?<![\w+/.-])(?:(?:\+|00)\d{1,3}[ .-]?|001[ .-]?|1[ .-])?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])"
            r"\d{3}[ .-]\d{4}(?:[ \t]?(?:x|ext\.?|extension)[ \t]?\d{1,6})?(?![\w-])"
        ),
        0.75,
        validate=_phone_ok,
    ),
    Recognizer(  # international: +44 20 7946 0958, +49 30 901820
        "PHONE_NUMBER",
        re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,5}(?![\w-])"),
        0.75,
        validate=_phone_ok,
    ),
    Recognizer(  # national, area code in parentheses: (020) 7946 0616, (030) 901820
        "PHONE_NUMBER",
        re.compile(r"(?<![\w+])\(0\d{2,5}\)[ ]?\d{3,8}(?:[ -]\d{3,4})?(?![\w-])"),
        0.75,
        validate=_phone_ok,
    ),
    Recognizer(  # national, trunk prefix 0 and spaced groups: 0151 496 0262, 04078 232688
        "PHONE_NUMBER",
        re.compile(r"(?<![\w+(.-])0\d{2,4}[ ]\d{3,4}[ ]?\d{3,4}(?![\w-]|\.\d)"),
        0.6,
        validate=_phone_ok,
    ),
    Recognizer(  # any national grouping, only next to a phone word (before it, or just after:
        # `089 72 63 41 office`, `06-10446904-Office`)
        "PHONE_NUMBER",
        re.compile(
            r"(?<![\w+/.:-])(?:\+\d{1,3}[ .-]?|00\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
            r"\d{1,8}(?:[ .-]\d{1,8}){0,4}(?:[ \t]?(?:x|ext\.?)[ \t]?\d{1,6})?(?![\w]|[.,]\d)"
        ),
        0.0,
        validate=_phone_any_format_ok,
        context=_PHONE_WORDS,
        context_after=12,
        context_score=0.7,
    ),
    Recognizer(  # bare 10 digits only next to a phone word
        "PHONE_NUMBER",
        re.compile(r"(?<![\w+])\d{10,11}(?!\w)"),
        0.0,
        context=re.compile(
            r"\b(?:phone|call|tel|mobile|cell|sms|text|whatsapp|fax|reach"
            r"|(?:my|your|his|her|their|contact) numbers?)",
            _CI,
        ),
        context_score=0.7,
    ),
    Recognizer(  # a bare dotted quad may be a version (`Bump to 8.9.7.0`): reported below the
        # default threshold unless a network word, a line start or `@`, `=`, `[`, `(` precedes it
        "IP_ADDRESS",
        re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])"),
        0.45,
        validate=_ipv4_ok,
        context=re.compile(
            r"(?<![a-z])(?:ips?|ipv4|host|server|address|addr|client|remote|peer|src|dst|from"
            r"|connect\w*|whitelist|allowlist|allow|deny|block|ban|ssh|login|traceroute|ping)(?![a-z])"
            r"|(?:^|\n)[ \t]*$|[@=\[(]\s*$",
            _CI,
        ),
        context_score=0.95,
    ),
    Recognizer(
        "IP_ADDRESS",
        re.compile(
            r"(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])"
            r"|(?<![\w:])(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4}(?![\w:])",
            _CI,
        ),
        0.85,
    ),
    Recognizer(  # context also inside keys: date_of_birth, birthDate, patient_dob
        "DATE_OF_BIRTH",
        re.compile(_DATE, _CI),
        0.0,
        context=re.compile(r"born|birth|(?<![a-z])dob(?![a-z])|d\.o\.b|geboren|\bn[ée]e?\b", _CI),
        context_window=30,
        context_score=0.9,
    ),
    Recognizer("STREET_ADDRESS", _STREET, 0.85),
    Recognizer("STREET_ADDRESS", _MILITARY, 0.85),
    Recognizer("STREET_ADDRESS", _PO_BOX, 0.85),
    Recognizer("STREET_ADDRESS", _DE_STREET, 0.8),
    Recognizer("STREET_ADDRESS", _UK_ADDRESS, 0.8),
    Recognizer(  # "city": "Leipzig" in JSON quoted inside a message
        "LOCATION",
        re.compile(
            r"[\"'](?i:city|town|country|state|region|location|place_of_birth|birthplace|hometown)"
            r"[\"']\s*:\s*[\"'](?P<v>[A-ZÀ-Þ][\w.'’-]*(?:[ ][\w.'’-]+){0,3})[\"']"
        ),
        0.8,
        group="v",
        validate=_not_all_caps,
    ),
    # --- names: where the words around a name say it is one --------------------------------
    Recognizer(  # weaker introducers ("notes with Jane Roe", "provided by user: Jane Roe"):
        # they also precede companies and titles, so two or three name-like words are required
        "PERSON",
        re.compile(
            r"(?i:\b(?:with|by|from|user|customer|client|owner|requester|reporter)[:,]?[ \t]+)"
            rf"(?P<v>{NAME_WORD}(?:[ \t][A-Z]\.)?{_MORE_NAME_WORDS})\b(?![ \t]+(?:Inc|Ltd|LLC|GmbH|Corp|Co|Group|Labs|Systems|Solutions|Technologies|Outfitters)\b)"
        ),
        0.6,
        group="v",
        validate=looks_like_name,
    ),
    Recognizer(  # after words that introduce a person (not bare prepositions: "for Northwind")
        "PERSON",
        re.compile(
            r"(?i:\b(?:my name is|name is|i am|i'm|this is|call me|message to|email to|"
            r"write to|reply to|talk to|speak to|spoke with|spoke to|meeting with|met with|"
            r"add|ask|tell|contact|meet|"
            r"cc|attn|attention|dear|hi|hello|hey|thanks|thank you|regards|cheers|"
            r"best|sincerely|signed|assign(?:ed)? to|"
            r"patient|employee|manager|colleague|mr|mrs|ms|miss|dr|prof)\.?[:,]?[ \t]+)"
            rf"(?P<v>{NAME_WORD}(?:[ \t][A-Z]\.)?{_MORE_NAME_WORDS})\b"
        ),
        0.7,
        group="v",
        validate=looks_like_name,
    ),
    Recognizer(  # a lone first name after a greeting or sign-off, ending its clause: "Hi Stephen,"
        "PERSON",
        re.compile(
            r"(?i:\b(?:dear|hi|hello|hey|thanks|thank you|cheers|regards|best|sincerely|yours)"
            rf"[ \t]*,?[ \t]+)(?P<v>{NAME_WORD}(?:[ \t][A-Z]\.)?)(?=[ \t]*(?:[,!:]|\r?\n|$))"
        ),
        0.7,
        group="v",
        validate=_looks_like_lone_name,
    ),
    Recognizer(  # a mail header's display name: "Leah Brown <leah@…>"
        "PERSON",
        re.compile(rf"(?P<v>{NAME_WORD}(?:[ \t]{NAME_WORD}|[ \t][A-Z]\.){{1,3}})[ \t]*<[^<>@\s]+@"),
        0.8,
        group="v",
        validate=looks_like_name,
        trigger="@",
    ),
    Recognizer(  # a form field: "Name: Tiffany F. Young" (two words at least: "Customer: Acme")
        "PERSON",
        re.compile(
            r"(?i:\b(?:name|full name|customer|client|applicant|author|contact|patient|employee"
            r"|passenger|guest|recipient|sender|from|to|cc|attn|signed|cardholder|account holder"
            r"|holder)[ \t]*:[ \t]*)"
            rf"(?P<v>{NAME_WORD}(?:[ \t][A-Z]\.)?{_MORE_NAME_WORDS})(?![\w@])"
        ),
        0.75,
        group="v",
        validate=looks_like_name,
    ),
    Recognizer(  # "name": "Hans-Albert Ackermann" in JSON quoted inside a message
        "PERSON",
        re.compile(
            rf"[\"'](?i:{_PERSON_KEY})[\"']\s*:\s*[\"']"
            rf"(?P<v>{NAME_WORD}(?:[ ]{NAME_WORD}|[ ][A-Z]\.){{0,3}})[\"']"
        ),
        0.8,
        group="v",
        validate=looks_like_name,
    ),
)

SECRET_ENTITIES = frozenset(
    {"API_KEY", "JWT", "PRIVATE_KEY", "BEARER_TOKEN", "URL_CREDENTIALS", "PASSWORD"}
)
PATTERN_ENTITIES = frozenset(r.entity for r in RECOGNIZERS)

_JSON_ESCAPE = re.compile(r"\\[nrt\"/\\]")
_ESCAPE_VIEW = {"\\n": " \n", "\\r": "  ", "\\t": "  ", "\\/": " /", "\\\\": "\\\\"}


def _view_of_escape(match: re.Match[str]) -> str:
    escape = match.group()
    if escape != '\\"':
        return _ESCAPE_VIEW[escape]
    # keep the quote next to the word it delimits, so `\"name\": \"Ann\"` reads `"name" : "Ann"`
    following = match.string[match.end() : match.end() + 1]
    opens = following != "" and not following.isspace() and following not in ",:;}]\\"
    return ' "' if opens else '" '


def unescaped_view(text: str) -> str:
    """`text` with its JSON string escapes read (`\\n` as a line break, `\\"` as a quote), each
    padded with a space to keep its length: offsets into the view are offsets into `text`.

    Example:
        >>> unescaped_view(r'{"address": "12 Oak St\\nSpringfield, IL 62704"}')
        '{"address": "12 Oak St \\nSpringfield, IL 62704"}'
    """
    if "\\" not in text:
        return text
    return _JSON_ESCAPE.sub(_view_of_escape, text)


def find_patterns(text: str) -> list[tuple[int, int, str, float]]:
    """Every pattern match in `text` as (start, end, entity, score), overlapping allowed."""
    text = unescaped_view(text)
    found: list[tuple[int, int, str, float]] = []
    has_digit = _DIGIT.search(text) is not None
    for rec in RECOGNIZERS:
        if rec.trigger is not None and rec.trigger not in text:
            continue
        if not has_digit and rec.entity in _NEEDS_DIGITS:
            continue
        if rec.score == 0 and rec.context is not None and not rec.context.search(text):
            continue  # context-only, and no context word anywhere in the text
        stop = len(text)
        if rec.terminator is not None:
            stop = max((m.end() for m in rec.terminator.finditer(text)), default=0)
        for match in rec.pattern.finditer(text, 0, stop):
            start, end = match.span(rec.group)
            if start < 0 or end <= start:
                continue
            value = text[start:end]
            if rec.validate is not None and not rec.validate(value):
                continue
            score = rec.score
            if rec.context is not None and rec.context.search(_context_window(rec, text, match)):
                score = rec.context_score if rec.context_score is not None else score
            if score > 0:
                found.append((start, end, rec.entity, score))
    if has_digit:
        found.extend(find_addresses(text))
    return found


def _context_window(rec: Recognizer, text: str, match: re.Match[str]) -> str:
    start = max(0, match.start() - rec.context_window)
    if rec.context_same_line:
        start = max(start, text.rfind("\n", start, match.start()) + 1)
    before = text[start : match.start()]
    if not rec.context_after:
        return before
    # (a newline between them, so a context pattern anchored at either end cannot join them)
    return before + "\n" + text[match.end() : match.end() + rec.context_after]


_DIGIT = re.compile(r"\d")
_NEEDS_DIGITS = frozenset(
    {"CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_DRIVER_LICENSE", "PHONE_NUMBER", "IP_ADDRESS",
     "DATE_OF_BIRTH", "STREET_ADDRESS"}
)  # fmt: skip
