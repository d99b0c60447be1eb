"""International street addresses, found from their anchors.

US-style patterns (`recognizers._STREET`) need a street suffix after the name ("Oak Street");
most of the world writes `Schaarsteinweg 58`, `Rua do Arenque 1634` or `Præstevænget 15`, and
an address block is recognised by what comes with it: a unit (`Apt. 864`, `Suite 242`) or a
country, often with a postal code (`Uruguay 64677`). From each such anchor the block is
extended backwards over the lines or comma-separated parts before it that read like address
parts (short, no sentence words), and it must start at a part with a number (the street): a
unit alone is reported on its own, a country with nothing before it not at all (NER and the
LOCATION patterns see countries).

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


_NAMES = [
    n.strip() for n in [*_Addresses.countries, *_EXTRA_COUNTRIES.replace("\n", " ").split(";")]
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
_ZIP = re.compile(
    r"(?i:\b(?:zip(?:[ ]?code)?|postal[ ]code|post[ ]?code|plz)[ \t]*(?:is|:|=|#)?[ \t]*)"
    r"(?P<v>\d{4,6}(?:-\d{4})?)(?![\w-])"
)


def find_addresses(text: str) -> list[tuple[int, int, str, float]]:
    """(start, end, "STREET_ADDRESS", score) of the address blocks in `text`."""
    found = [(*m.span("v"), "STREET_ADDRESS", STREET_SCORE) for m in _ZIP.finditer(text)]
    for m in _INTRODUCER.finditer(text):  # "lives at 18 Třebčínská 860, Horka nad Moravou"
        end = _part_end(text, m.end())
        if _street_like(text[m.end() : end]) and not _NOT_ADDRESS.search(text, m.end(), end):
            found.append((m.end(), end, "STREET_ADDRESS", STREET_SCORE))
    for start, end in _anchors(text):
        block = _block_start(text, start)
        if block is not None:
            found.append((block, end, "STREET_ADDRESS", STREET_SCORE))
        elif _UNIT.fullmatch(text, start, end) and _ENDS_PART.match(text, end):
            # a unit on a line (or comma part) of its own: "\n Apt. 152\n"; not "suite 3 times"
            found.append((start, end, "STREET_ADDRESS", UNIT_SCORE))
    return found


def _anchors(text: str) -> list[tuple[int, int]]:
    """Units, and countries with the postal code after them if there is one."""
    anchors = [m.span() for m in _UNIT.finditer(text)]
    # Which country words occur at all: one pass in C (a set of the text's words); most texts
    # have none, and the positions are then searched for those few words only.
    present = frozenset(_WORD.findall(text)).intersection(_BY_LAST)
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
    r"(?<!\d)(?P<a>\d{1,5})[a-zA-Z]?\.?[ \t]+(?P<w>[^\W\d_]{3,})"
    r"|(?P<w2>[^\W\d_]{2,})\.?[ \t]+(?P<b>\d{1,5})[a-zA-Z]?(?!\d)"
)


def _street_like(part: str) -> bool:
    """A number next to a word that is not a sentence word (`Schaarsteinweg 58`, `71 Rue
    Joseph`, `Apt. 199`), not a year after a preposition (`In 2019`) nor a time (`5 pm`: a
    word after the number has three letters or more)."""
    for m in _STREET_PART.finditer(part):
        word = (m.group("w") or m.group("w2")).lower()
        if word not in _SENTENCE_WORDS:
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
