"""International street addresses, found from their anchors.

US-style patterns (`recognizers._STREET`) need a street suffix after the name ("Oak Street");
most of the world writes `Schaarsteinweg 58`, `Rua do Arenque 1634` or `Præstevænget 15`, and
an address block is recognised by what comes with it: a unit (`Apt. 864`, `Suite 242`) or a
country, often with a postal code (`Uruguay 64677`), or a region with a postal code
(`KÖPMANHOLMEN, nan 76457`, `Housse WLG 95697`). From each such anchor the block is
extended backwards over the lines or comma-separated parts before it that read like address
parts (short, no sentence words), and it must start at a part with a number (the street): a
unit alone is reported on its own, a country with nothing before it not at all (NER and the
LOCATION patterns see countries). Streets with no block around them are found by a word for
"street" in their name next to a house number (`87 Rue Joseph Vernet`, `Corellistraat 178`,
`Dózsa György út 78`), and crossings by "the corner of … and … Street".

Linear in the text: the anchors are found in one pass each (for countries: which last words of
country names occur is one set intersection with the text's words, and only those few words are
then searched for; a 250-way regex alternation costs 0.6 us per character), and each extension
looks at most `_REACH` characters back.
"""

from __future__ import annotations

import functools
import re
from itertools import pairwise

from faker.providers.address.en_US import Provider as _Addresses
from spacy.lang.en.stop_words import STOP_WORDS

_EXTRA_COUNTRIES = """Democratic Republic of the Congo; Republic of the Congo; People's Republic of
China; Federated States of Micronesia; Czech Republic; Czechia; Republic of Ireland; Åland
Islands; United States; United States of America; USA; UK; Great Britain; England; Scotland;
Wales; Northern Ireland; South Korea; North Korea; Ivory Coast; Côte d'Ivoire; Holland;
Russia; Vietnam; Laos; Syria; Iran; Bolivia; Venezuela; Tanzania; Moldova; Macedonia; North
Macedonia; Kosovo; Taiwan; Palestine; Eswatini; Swaziland; Burma; Myanmar; Cape Verde;
Brunei; East Timor; Timor-Leste; Vatican City; Saint Vincent and the Grenadines"""
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def _words(name: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD.findall(name))


# "Slovakia (Slovak Republic)" is written "Slovakia": the parenthesis is dropped.
_NAMES = [
    re.sub(r"\s*\(.*?\)", "", n).strip()
    for n in [*_Addresses.countries, *_EXTRA_COUNTRIES.replace("\n", " ").split(";")]
]
_BY_LAST: dict[str, list[tuple[str, ...]]] = {}
"""Country names (lower-case words) by the forms their last word is written in: lower, Title
and UPPER case; abbreviations (`US`, `UK`) in capitals only (`us` is a pronoun)."""
for _name in sorted({n for n in _NAMES if _words(n)}, key=lambda n: -len(_words(n))):
    _last = _WORD.findall(_name)[-1]
    _forms = {_last} if _last.isupper() else {_last, _last.lower(), _last.title(), _last.upper()}
    for _form in _forms:
        _BY_LAST.setdefault(_form, []).append(_words(_name))

_UNIT = re.compile(
    r"(?<![\w.])(?i:apt|apartment|suite|ste|unit|flat|room|p\.?[ ]?o\.?[ ]?box|postfach|postbus"
    r"|apartado|caixa postal)\.?[ \t]*#?\d{1,5}"
    r"[a-z]?(?!\w)"
)
_ENDS_PART = re.compile(r"[ \t]*(?:[,\n]|$)")
_POSTAL = re.compile(r"[ \t]*,?[ \t]*\d{3,6}(?![\w-])")
# Commas or line breaks (a blank line, `\n, US\n` too), quote and list marks after them.
_SEPARATOR = re.compile(r"[ \t]*(?:[,\n][ \t>?*•-]*){1,3}$")
_NAME_WORDS = frozenset(
    "of the and de du des la le les van der den del da di do dos das von zu y e et i".split()
)
_SENTENCE_WORDS = frozenset(STOP_WORDS) - _NAME_WORDS
_REACH = 200
"""How far before its anchor a block may start (characters)."""
_PART_MAX = 60
STREET_SCORE = 0.8
UNIT_SCORE = 0.6


_INTRODUCER = re.compile(
    r"(?i:\b(?:lives?|living|located|based|office is|meet me|sent|send (?:it|them)|ship(?:ped)?"
    r"|deliver(?:ed)?|moved|move|return(?:ed)? it) (?:at|to)|\baddress(?: is|:))[ \t]+"
)
_CORNER = re.compile(
    r"(?i:\bthe[ \t]+corner[ \t]+of)[ \t]+[^\n]{2,60}?[ \t]+(?i:and)[ \t]+"
    r"(?:[^\W\d_][\w'’.-]*[ \t]+){1,4}"
    r"(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|way|place|court|terrace)\b"
)
"""`the corner of Kapelaniestraat 88 and Whittaker Street`: a crossing names two streets."""
_ZIP = re.compile(
    r"(?i:\b(?:zip(?:[ ]?code)?|postal[ ]code|post[ ]?code|plz)[ \t]*(?:is|:|=|#)?[ \t]*)"
    r"(?P<v>\d{4,6}(?:-\d{4})?)(?![\w-])"
)


def find_addresses(text: str) -> list[tuple[int, int, str, float]]:
    """(start, end, "STREET_ADDRESS", score) of the address blocks in `text`."""
    found = [(*m.span("v"), "STREET_ADDRESS", STREET_SCORE) for m in _ZIP.finditer(text)]
    found.extend((*m.span(), "STREET_ADDRESS", STREET_SCORE) for m in _CORNER.finditer(text))
    for m in _INTRODUCER.finditer(text):  # "lives at 18 Třebčínská 860, Horka nad Moravou"
        end = _part_end(text, m.end())
        if _street_like(text[m.end() : end]) and not _NOT_ADDRESS.search(text, m.end(), end):
            found.append((m.end(), end, "STREET_ADDRESS", STREET_SCORE))
    # The text's words, once: which country names and street types can occur at all is a set
    # intersection (in C); most texts have none, and only those few words are then searched for.
    words = frozenset(_WORD.findall(text))
    found.extend((s, e, "STREET_ADDRESS", STREET_SCORE) for s, e in _named_streets(text, words))
    for start, end in _anchors(text, words):
        block = _block_start(text, start)
        unit = _UNIT.fullmatch(text, start, end)
        if block is not None:
            found.append(
                (block, _town_after(text, end) if unit else end, "STREET_ADDRESS", STREET_SCORE)
            )
        elif unit and _ENDS_PART.match(text, end):
            # a unit on a line (or comma part) of its own: "\n Apt. 152\n"; not "suite 3 times"
            found.append((start, end, "STREET_ADDRESS", UNIT_SCORE))
    return found


_REGION_POSTAL = re.compile(
    r",[ \t]*(?P<r>[^\W\d_]{2,3}|\d{1,2})[ \t]*(?:\r?\n[ \t]*)?\d{4,6}(?![\w-])"
    r"|(?<=[^\W\d_])[ \t]+(?P<u>[A-Z]{2,3}|nan)[ \t]+\d{5}(?![\w-])"
)
"""A region and postal code closing a block: `KÖPMANHOLMEN, nan 76457`, `HEIGHTS\\n, NSW\\n 53218`,
`Ikerasassuaq, KU 59728`, `Housse WLG 95697` (`nan` is how a missing region is printed)."""
_NOT_REGION = frozenset(STOP_WORDS) | frozenset(
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def _anchors(text: str, words: frozenset[str]) -> list[tuple[int, int]]:
    """Units, a region with a postal code, and countries with the postal code after them if
    there is one."""
    anchors = [m.span() for m in _UNIT.finditer(text)]
    for m in _REGION_POSTAL.finditer(text):
        region = m.group("r") or m.group("u")
        if region.lower() not in _NOT_REGION:  # not ", in 2019", ", may 2020", ", jan 2019"
            anchors.append((m.start("u") if m.group("u") else m.start(), m.end()))
    present = words.intersection(_BY_LAST)
    if not present:
        return sorted(anchors)
    for last in _finder(present).finditer(text):
        for name in _BY_LAST[last.group()]:
            before = list(_WORD.finditer(text, max(0, last.start() - 60), last.start()))
            window = [*before[max(0, len(before) + 1 - len(name)) :], last]
            if (
                len(window) == len(name)
                and tuple(w.group().lower() for w in window) == name
                and _separated_by_spaces(text, window)
            ):
                postal = _POSTAL.match(text, last.end())
                anchors.append((window[0].start(), postal.end() if postal else last.end()))
                break
    return sorted(anchors)


@functools.lru_cache(maxsize=4096)
def _finder(words: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![^\W\d_])(?:{alternatives})(?![^\W\d_])")


def _separated_by_spaces(text: str, words: list[re.Match[str]]) -> bool:
    return all(text[a.end() : b.start()].strip(" \t-") == "" for a, b in pairwise(words))


def _block_start(text: str, anchor: int) -> int | None:
    """Where the address ending in the anchor at `anchor` starts: the earliest of the parts
    before it (lines or comma-separated) that read like address parts (the first one cut at a
    sentence word ends the search), trimmed to start at a part with a number; None if no part
    before it has one."""
    limit = max(0, anchor - _REACH)
    start = None
    position = anchor
    # The anchor's own part first: "... sent to 99 Keskiortentie 2 Suite 765" on one line.
    own = True
    while position > limit:
        if not own:
            separator = _SEPARATOR.search(text, limit, position)
            if separator is None:
                break
            position = separator.start()
        part = text[_part_start(text, max(limit, position - _PART_MAX), position) : position]
        if own and not part.strip():  # the anchor starts its line
            own = False
            continue
        kept = _address_tail(part)
        if kept is None or not kept.strip():
            break
        kept_start = position - len(kept)
        if _street_like(kept):  # (from its first letter or digit: not a quote mark `>`)
            start = kept_start + next(i for i, c in enumerate(kept) if c.isalnum())
            unit = _UNIT.search(kept)
            if unit and unit.start() and not _street_like(kept[: unit.start()]):
                # "Mrs. Diana Weöres Apt. 434 40 Rue de la Sarthe": a name before the unit
                start = kept_start + unit.start()
        if len(kept) < len(part):
            break  # the part was cut at a sentence word: the address starts in it
        position = kept_start
        own = False
    return start


_PART_END = re.compile(r"[,\n]|[.!?](?:\s|$)")


def _part_end(text: str, start: int) -> int:
    """The end of the part starting at `start` (a comma, line break or sentence end), at most
    `_PART_MAX` characters on."""
    end = _PART_END.search(text, start, start + _PART_MAX)
    return end.start() if end else min(len(text), start + _PART_MAX)


def _part_start(text: str, low: int, high: int) -> int:
    """The start of the part ending at `high`: after the last comma or line break."""
    cut = max(text.rfind("\n", low, high), text.rfind(",", low, high))
    return cut + 1 if cut >= 0 else low


_STREET_PART = re.compile(
    r"(?<!\d)(?P<a>\d{1,5})[a-zA-Z]?\.?[ \t]+(?:(?P<x>[^\W\d_]{2})\.?[ \t]+)?(?P<w>[^\W\d_]{3,})"
    r"|(?P<w2>[^\W\d_]{2,})\.?[ \t]+(?P<b>\d{1,5})[a-zA-Z]?(?!\d)"
)


_NEXT_WORD = re.compile(r"[ \t]+([^\W\d_][\w'’.-]*)")


def _town_after(text: str, end: int) -> int:
    """The end of the town and region written after a unit on its line (`Apt. 478 Uralaane
    Valgamaa`, `Suite 574 Geldrop Noord-Brabant`): up to five words, none a sentence word."""
    for _ in range(5):
        word = _NEXT_WORD.match(text, end)
        if word is None or word.group(1).lower().rstrip(".") in _SENTENCE_WORDS:
            break
        end = word.end()
    return end


# --- streets named by their type: `Rue Joseph Vernet`, `Corellistraat 178`, `Király u. 23` ---

_TYPE_FIRST = frozenset(
    """rue avenue avenida av boulevard bd chemin allée impasse via viale piazza corso largo
    vicolo strada rua travessa estrada praça calle carrer carretera paseo camino ronda plaza
    ul ulica aleja plac calea rúa praza λεωφόρος οδός""".split()
)
"""Street types written before the name (Romance, Slavic, Greek)."""
_ENGLISH_TOO = frozenset("via place plaza avenue boulevard corso largo ronda camino".split())
"""Of those, the ones that are English words too: street types only when capitalised."""
_TYPE_FIRST_AT = re.compile(
    r"(?<![\w.])(?i:" + "|".join(sorted(_TYPE_FIRST, key=len, reverse=True)) + r"|c/)\.?(?=[ \t])"
)
_TYPE_SUFFIXES = tuple(
    """straat strasse straße gasse weg laan plein kade gracht dreef steenweg singel allee vej
    gade stræde gata gatan vägen väg veien vei vegen vegur stígur braut straeti stræti gränd
    torget tie katu kuja polku kaari tori utca""".split()
)
"""Street types that end a compound name (Germanic, Nordic, Finnish): `Koskikatu`."""
_TYPE_AFTER = frozenset(
    "strasse straße str utca út u tér rakpart körút köz vei vej gata gade vegur laan weg allee"
    " ulica cesta ulice".split()
)
"""Street types written as a word after the name: `Gumpendorfer Strasse`, `Dózsa György út`."""
_NOT_STREET_TYPE = frozenset("brigade renegade necktie bowtie christie auntie sortie".split())
_WORD_NUMBER = re.compile(
    r"(?<![\w.-])(?P<t>[^\W\d_][\w'’-]*)\.?[ \t]+(?P<n>\d{1,5}[a-zA-Z]?)(?![\w-]|[.,/]\d)"
)
_HOUSE_NUMBER_BEFORE = re.compile(r"(?<![\w.,-])\d{1,5}[a-zA-Z]?[ \t]+$")
_HOUSE_NUMBER_AFTER = re.compile(r"[ \t]+\d{1,5}[a-zA-Z]?(?![\w-]|[.,/]\d)")
_STREET_NAME_WORDS = frozenset(
    "de du des la le les van der den del della degli da di do dos das von zu".split()
)


def _named_streets(text: str, words: frozenset[str]) -> list[tuple[int, int]]:
    """Streets recognised by a word for "street" in their name and a house number."""
    lower = {w.lower() for w in words}
    found: list[tuple[int, int]] = []
    if lower.intersection(_TYPE_FIRST) or "C/" in text:
        for m in _TYPE_FIRST_AT.finditer(text):  # "87 Rue Joseph Vernet", "Via Scala 50"
            if m.group().islower() and m.group() in _ENGLISH_TOO:  # "via Email 5 times"
                continue
            end, names = m.end(), 0
            while names < 5:
                word = _NEXT_WORD.match(text, end)
                if word is None or not (
                    word.group(1)[0].isupper() or word.group(1).lower() in _STREET_NAME_WORDS
                ):
                    break
                end, names = word.end(), names + 1
            number_before = _HOUSE_NUMBER_BEFORE.search(text, max(0, m.start() - 8), m.start())
            number_after = _HOUSE_NUMBER_AFTER.match(text, end)
            if names and (number_before or number_after):
                start = number_before.start() if number_before else m.start()
                found.append((start, number_after.end() if number_after else end))
    if any(w.endswith(_TYPE_SUFFIXES) or w in _TYPE_AFTER for w in lower):
        for m in _WORD_NUMBER.finditer(text):  # "Corellistraat 178", "Hegedûs Gyula utca 76"
            kind = m.group("t").lower()
            compound = (
                kind.endswith(_TYPE_SUFFIXES)
                and kind not in _NOT_STREET_TYPE
                and len(kind) >= 3 + min(len(x) for x in _TYPE_SUFFIXES if kind.endswith(x))
            )
            if compound or kind in _TYPE_AFTER:
                start = _name_start(text, m.start())
                if compound or start < m.start():
                    found.append((start, m.end()))
    return found


_WORD_BEFORE = re.compile(r"(?<![\w'’.-])([^\W\d_][\w'’.-]*)[ \t]+$")
_NOT_IN_NAME = _SENTENCE_WORDS | {"and"}


def _name_start(text: str, start: int) -> int:
    """Where the name before a street type starts: up to three words on the same line, none a
    sentence word (`on Freistädter Strasse 61` -> `Freistädter Strasse 61`)."""
    for _ in range(3):
        word = _WORD_BEFORE.search(text, max(0, start - 40), start)
        if word is None or word.group(1).lower().rstrip(".") in _NOT_IN_NAME:
            break
        start = word.start()
    return start


def _street_like(part: str) -> bool:
    """A number next to a word that is not a sentence word (`Schaarsteinweg 58`, `71 Rue
    Joseph`, `Apt. 199`, `320 St Marys`), not a year after a preposition (`In 2019`, `2019. By
    comparison`) nor a time (`5 pm`: a word after the number has three letters or more, or
    follows a two-letter one)."""
    for m in _STREET_PART.finditer(part):
        word = (m.group("w") or m.group("w2")).lower()
        if word not in _SENTENCE_WORDS and (m.group("x") or "").lower() not in _SENTENCE_WORDS:
            return True
    return False


_NOT_ADDRESS = re.compile(r"[@|=/\\]|\d(?:[ .()-]?\d){6}")
"""Parts that are no address part: e-mails, URLs, table cells, phone-like runs of 7+ digits
(a CSV row of name, e-mail and phone is comma-separated too)."""


def _address_tail(part: str) -> str | None:
    """The end of a part that can belong to an address: after its last sentence word or colon
    ("sent to 99 Keskiortentie 2" -> "99 Keskiortentie 2"), or all of it; None if the part is
    no address part at all."""
    if _NOT_ADDRESS.search(part):
        return None
    cut = 0
    for w in _WORD.finditer(part):
        if w.group().islower() and w.group() in _SENTENCE_WORDS:
            cut = w.end()
    if ":" in part[cut:]:
        cut = part.rindex(":") + 1
    tail = part[cut:]
    return tail if len(_WORD.findall(tail)) <= 8 else None
