"""Pattern recognizers: structured personal data and secrets, found by regular expressions.

Each recognizer is a compiled pattern, the entity it finds, a score, an optional group that
holds the sensitive part (e.g. only the token after "Bearer"), an optional validator (Luhn for
cards, mod-97 for IBANs, octet ranges for IPs) and optional context words that must appear shortly
before the match. Names follow Presidio's entity names where Presidio has one.

The street-address patterns use the USPS street suffixes (Publication 28, appendix C1), not any
generator's list, so they hold on real text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, IbanRecognizer


@dataclass(frozen=True)
class Recognizer:
    entity: str
    pattern: re.Pattern[str]
    score: float
    group: int | str = 0
    validate: Callable[[str], bool] | None = None
    context: re.Pattern[str] | None = None
    """If set, the match counts only when this pattern occurs within `context_window` chars
    before it (or `context_score` is used instead of `score`)."""
    context_window: int = 40
    context_score: float | None = None


_card = CreditCardRecognizer()
_iban = IbanRecognizer()


def _luhn_card(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and bool(_card.validate_result(digits))


def _iban_ok(text: str) -> bool:
    return bool(_iban.validate_result(re.sub(r"\s", "", text)))


def _ipv4_ok(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(
        p.isdigit() and int(p) <= 255 and str(int(p)) == p for p in parts
    )


def looks_like_name(text: str) -> bool:
    """Two or three capitalised words, none of them a common capitalised non-name."""
    words = text.replace(".", " ").split()
    return all(w[0].isupper() and not w.isupper() for w in words if len(w) > 1) and not any(
        w in NOT_NAMES for w in words
    )


# Capitalised words that follow "for", "with", "from"… without being a name.
NOT_NAMES = frozenset(
    """The A An This That These Those My Your Our Their His Her Its All Any Each Every Some No
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


def _phone_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", text.split("x")[0].split("ext")[0])
    return 10 <= len(digits) <= 15 and len(set(digits)) > 2


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
_MILITARY = re.compile(
    r"\b(?:PSC|Unit|CMR)[ \t]+\d{3,5},?[ \t]+Box[ \t]+\d{1,5}(?:[ \t]*\r?\n[ \t]*|,?[ \t]+)"
    r"(?:APO|FPO|DPO)[ \t]+A[AEP][ \t]+\d{5}\b"
    r"|\b(?:USNS|USNV|USS|USCGC)[ \t]+[A-Z][a-z]+(?:[ \t]*\r?\n[ \t]*|,?[ \t]+)"
    r"(?:APO|FPO|DPO)[ \t]+A[AEP][ \t]+\d{5}\b"
)
_PO_BOX = re.compile(
    r"\b(?:P\.?[ \t]?O\.?[ \t]?Box|Post Office Box)[ \t]+\d{1,6}" + _CITY_LINE + "?"
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
NAME_WORD = r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+(?:-[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+)?"

PERSON_KEYS = re.compile(
    r"^(?:full_?name|name|first_?name|last_?name|given_?name|family_?name|surname|customer(?:_name)?"
    r"|contact(?:_name)?|recipient(?:_name)?|sender(?:_name)?|author|assignee|owner|user_?name"
    r"|display_?name|patient(?:_name)?|employee(?:_name)?|passenger(?:_name)?|guest(?:_name)?"
    r"|card_?holder(?:_name)?|holder_name|requester|reporter|attendee|traveller|traveler"
    r"|(?:agent|rep|person|owner|manager|approver|reviewer|signatory)_?name"
    r"|[a-z]+_by|assigned_?to|sent_?to|addressed_?to|on_?call|approver|reviewer|signatory)$",
    re.IGNORECASE,
)
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
    ),
    Recognizer(
        "JWT",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        1.0,
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
    Recognizer(  # generic `api_key = ...`, `"token": "..."`
        "API_KEY",
        re.compile(
            r"(?:api[_-]?key|apikey|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token"
            r"|private[_-]?token|x-api-key)[\"']?\s*[:=]\s*[\"']?(?P<v>[A-Za-z0-9_\-./+=]{16,})",
            _CI,
        ),
        0.9,
        group="v",
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
    ),
    Recognizer(  # password=..., "password": "...", Pwd=...; in connection strings and configs
        "PASSWORD",
        re.compile(
            r"(?:password|passwd|pwd|pass)[\"']?\s*[:=]\s*[\"']?(?P<v>[^\s;\"',&]{4,})", _CI
        ),
        0.9,
        group="v",
    ),
    # --- structured personal data -------------------------------------------------------
    Recognizer(
        "EMAIL_ADDRESS",
        re.compile(
            r"(?<![\w.+%-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
            r"[A-Za-z]{2,24}(?![\w-])"
        ),
        1.0,
    ),
    Recognizer(
        "CREDIT_CARD",
        re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"),
        1.0,
        validate=_luhn_card,
    ),
    Recognizer(
        "IBAN_CODE",
        re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b"),
        1.0,
        validate=_iban_ok,
    ),
    Recognizer(
        "US_SSN",
        re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"),
        0.85,
    ),
    Recognizer(
        "US_SSN",
        re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}[ .]?(?!00)\d{2}[ .]?(?!0000)\d{4}(?!\d)"),
        0.0,
        context=re.compile(r"\b(?:ssn|social security|ss#|ss #|soc\.? sec)", _CI),
        context_score=0.85,
    ),
    Recognizer(
        "US_DRIVER_LICENSE",
        re.compile(
            r"(?<![\w-])(?:[A-Z]{1,2}\d{4,12}|\d{7,9}|[A-Z]\d{3}-\d{3}-\d{2}-\d{3}-\d)(?![\w-])"
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
    Recognizer(  # bare 10 digits only next to a phone word
        "PHONE_NUMBER",
        re.compile(r"(?<![\w+])\d{10,11}(?!\w)"),
        0.0,
        context=re.compile(r"\b(?:phone|call|tel|mobile|cell|sms|text me|whatsapp|fax)", _CI),
        context_score=0.7,
    ),
    Recognizer(
        "IP_ADDRESS",
        re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])"),
        0.6,
        validate=_ipv4_ok,
        context=re.compile(r"\b(?:ip|host|server|address|addr|client|from|connect)", _CI),
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
    Recognizer(
        "DATE_OF_BIRTH",
        re.compile(_DATE, _CI),
        0.0,
        context=re.compile(
            r"\b(?:born|birth|dob|d\.o\.b|birthday|date of birth|geboren|n[ée]e?)\b", _CI
        ),
        context_window=30,
        context_score=0.9,
    ),
    Recognizer("STREET_ADDRESS", _STREET, 0.85),
    Recognizer(  # a capitalised name right after words that introduce a person
        "PERSON",
        re.compile(
            r"(?i:\b(?:my name is|name is|i am|i'm|this is|call me|contact|message to|email to|"
            r"write to|reply to|talk to|speak to|spoke with|spoke to|meet|meeting with|met with|"
            r"ask|tell|cc|attn|attention|dear|hi|hello|hey|thanks|thank you|regards|cheers|"
            r"best|sincerely|signed|from|by|with|for|add|assign(?:ed)? to|customer|client|"
            r"patient|employee|user|manager|colleague|mr|mrs|ms|miss|dr|prof)\.?[:,]?[ \t]+)"
            rf"(?P<v>{NAME_WORD}(?:[ \t][A-Z]\.)?(?:[ \t]{NAME_WORD}){{1,2}})\b"
        ),
        0.7,
        group="v",
        validate=looks_like_name,
    ),
    Recognizer("STREET_ADDRESS", _MILITARY, 0.85),
    Recognizer("STREET_ADDRESS", _PO_BOX, 0.85),
)

SECRET_ENTITIES = frozenset(
    {"API_KEY", "JWT", "PRIVATE_KEY", "BEARER_TOKEN", "URL_CREDENTIALS", "PASSWORD"}
)
PATTERN_ENTITIES = frozenset(r.entity for r in RECOGNIZERS)

# Quick filters: a recognizer runs on a text only if its trigger can occur in it.
_TRIGGERS: dict[str, Callable[[str], bool]] = {
    "EMAIL_ADDRESS": lambda t: "@" in t,
    "URL_CREDENTIALS": lambda t: "://" in t,
    "PRIVATE_KEY": lambda t: "PRIVATE KEY" in t,
    "JWT": lambda t: "eyJ" in t,
}


def find_patterns(text: str) -> list[tuple[int, int, str, float]]:
    """Every pattern match in `text` as (start, end, entity, score), overlapping allowed."""
    found: list[tuple[int, int, str, float]] = []
    has_digit = any(c.isdigit() for c in text)
    for rec in RECOGNIZERS:
        trigger = _TRIGGERS.get(rec.entity)
        if trigger is not None and not trigger(text):
            continue
        if not has_digit and rec.entity in _NEEDS_DIGITS:
            continue
        for match in rec.pattern.finditer(text):
            start, end = match.span(rec.group)
            if start < 0 or end <= start:
                continue
            value = text[start:end]
            if rec.validate is not None and not rec.validate(value):
                continue
            score = rec.score
            if rec.context is not None:
                window = text[max(0, match.start() - rec.context_window) : match.start()]
                if rec.context.search(window):
                    score = rec.context_score if rec.context_score is not None else score
            if score > 0:
                found.append((start, end, rec.entity, score))
    return found


_NEEDS_DIGITS = frozenset(
    {"CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_DRIVER_LICENSE", "PHONE_NUMBER", "IP_ADDRESS",
     "DATE_OF_BIRTH", "STREET_ADDRESS"}
)  # fmt: skip
