"""Finding personal data and secrets in many texts at once, fast.

Stock Presidio runs the whole spaCy pipeline and every recognizer on every text, one call per
text. Most of that work finds nothing. This scanner:

1. deduplicates the texts of a batch and remembers results by content (an LRU cache): agent
   traffic repeats system prompts, tool schemas and template text verbatim;
2. reads each text JSON-unescaped (`unescaped_view`, same length, so offsets hold): JSON quoted
   inside messages otherwise runs lines together;
3. runs the pattern recognizers (`recognizers.py`) — secrets and structured data — which are
   cheap regular expressions, skipping those whose trigger or context word cannot occur;
4. runs spaCy NER (tok2vec + ner only, batched with `nlp.pipe`) only on short windows, cut at line
   breaks, around capitalised words that are neither common sentence openers nor inside a pattern
   finding: a name or place is capitalised, so text without such a word cannot hold one the small
   English pipeline would find; its findings are split at line breaks and trimmed;
5. resolves overlaps (secrets over structured data over addresses over NER).

Every step is linear in the length of a text (one 4 MB message is redacted like a thousand 4 KB
ones): the patterns have no super-linear backtracking, NER windows are found in one sweep and
merged into pieces of at most `MAX_NER_PIECE` characters (a longer stretch is cut into
overlapping pieces, so spaCy never sees one huge document), and overlaps are resolved per group
of overlapping findings. The whole text is searched at once, not in windows: no finding can be
cut at a window border.
"""

from __future__ import annotations

import bisect
import multiprocessing
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from spacy.lang.en.stop_words import STOP_WORDS

from memgraph_ops.privacy._presidio import DEFAULT_PIPELINE, load_spacy
from memgraph_ops.privacy.recognizers import (
    COMMON_WORDS,
    SECRET_ENTITIES,
    find_patterns,
    unescaped_view,
)

NER_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
NER_SCORE = 0.85
CONFIDENT = 0.5
"""Findings at or above this score (the default policy's threshold) win overlaps first: a
longer finding below it must not hide a shorter one that would be redacted."""


@dataclass(frozen=True, order=True)
class Span:
    """One finding: character offsets into the text, entity type, confidence."""

    start: int
    end: int
    entity: str
    score: float
    ner: bool = field(default=False, compare=False, repr=False)
    """Found by NER (ranked below every pattern when findings overlap)."""


def _letters(upper: bool) -> str:
    """A regex class of the Latin, Greek and Cyrillic letters of one case (`Čeh`, `Þórbergur`,
    `Ólafsdóttir` are capitalised too; Python's `re` has no `\\p{Lu}`)."""
    chars = (chr(c) for c in range(0x41, 0x530))
    picked = "".join(c for c in chars if c.isalpha() and (c.isupper() if upper else c.islower()))
    return "[" + re.escape(picked) + "]"


_UPPER, _LOWER = _letters(upper=True), _letters(upper=False)
# Capitalised words (a run of them is one candidate: "Mary Ann Smith"), whole words only:
# CamelCase identifiers (`DuckDB`, `PostgreSQL`) are no names, `McKay` and `O'Neil` are.
_CAPITALISED_WORD = rf"(?:Mc|Mac|O['’]|D['’])?{_UPPER}(?:{_LOWER}|['’])+(?![\w])"
_CAPITALISED = re.compile(rf"(?<![\w@./\\-]){_CAPITALISED_WORD}(?:[ \t]+{_CAPITALISED_WORD})*")
_OPENERS = (
    frozenset(w.capitalize() for w in STOP_WORDS)
    | frozenset(
        """
        Please Can Could Would Write Summarize Summarise Explain Give List Create Generate
        Translate Help Tell Show Make Find Describe Provide Compare Draft Fix Check Review
        Thanks Thank Hi Hello Hey Dear Sure Yes No Okay Ok Great Here Let Use Return Answer
        Based According Note Also However First Second Third Finally Then Now Today
        Yesterday Tomorrow What Why How When Where Who Which Is Are Do Does Did Sorry Good
        Best Regards Cheers Step Example Output Input Result Error Warning Question Task
        Context Instructions Rules Always Never Only Keep Avoid Respond Reply Analyze
        Analyse Calculate Convert Add Remove Update Delete Run Call Search Look Read Send
        Book Schedule Cancel Confirm Plan Suggest Recommend Consider Assume Imagine Act You
        Your System User Assistant Tool Function Sentence Paragraph Subject Title Summary
        Overview Background Goal Important Rewrite Improve Correct Format Extract Classify
        Identify Determine Ensure Follow Yours Sincerely Kind Warm Following Below Above
        Attached Unfortunately Currently Please Sounds Perfect Absolutely Certainly Of
        Course Got It Understood Done Next Previous Let's I'm I've I'll I'd It's That's
        There's Here's What's Don't Can't Won't Monday Tuesday Wednesday Thursday Friday
        Saturday Sunday January February March April May June July August September October
        November December
        """.split()
    )
    | COMMON_WORDS
)
"""Words that open sentences without being names: stop words, common instructions and the ~1000
most common English words (the word list Faker ships for lorem text)."""


MAX_NER_PIECE = 2000
"""Longest text spaCy is given (in characters). Windows merge into pieces of at most this length
(the longest merged piece on the evaluation set and on 2,312 real chats is 837 characters); a
longer stretch, such as a line of names in one huge message, is cut into overlapping pieces."""
_PIECE_OVERLAP = 200
"""Overlap of the pieces a stretch is cut into: a name at a cut is whole in the next piece."""
_MAX_WIDEN = 200
"""How far a window is widened to reach whitespace: into a long token (a key, a URL, base64)
only this far, so that a text without spaces cannot make every window span all of it."""
_WHITESPACE = re.compile(r"\s")  # (the same characters as `str.isspace`)


def _ner_windows(
    text: str, found: Sequence[Span] = (), radius: int = 24, max_piece: int = MAX_NER_PIECE
) -> list[tuple[int, int]]:
    """Stretches of `text` worth running NER on, merged, none longer than `max_piece`; empty
    if none. Linear in the length of `text` and the number of findings.

    The small pipeline's CNN sees about four tokens either side of a word, so a few words of
    context on the candidate's own line are enough. Candidates inside a pattern finding (an
    address, a key, a name after "Dear") are skipped: the pattern has them already."""
    if _lowercase_prose(text):
        # No capitals to find names by ("follow up with tracy wiśniewska"): NER reads it all.
        return _pieces(text, 0, len(text), max_piece)
    windows: list[tuple[int, int]] = []
    covering = sorted((s.start, s.end) for s in found)
    seen = 0  # findings starting at or before the current candidate...
    reach = -1  # ...and the furthest any of them ends
    for match in _CAPITALISED.finditer(text):
        while seen < len(covering) and covering[seen][0] <= match.start():
            reach = max(reach, covering[seen][1])
            seen += 1
        if reach >= match.end():  # inside a pattern finding
            continue
        words = match.group().split()
        # A lone common word opening a sentence ("Please", "Revenue") is no name.
        if len(words) == 1 and words[0] in _OPENERS and _at_sentence_start(text, match.start()):
            continue
        start = max(0, match.start() - radius)
        end = min(len(text), match.end() + radius)
        start = max(start, text.rfind("\n", start, match.start()) + 1)
        line_end = text.find("\n", match.end(), end)
        end = end if line_end < 0 else line_end
        start, end = _widened(text, start, end)
        if (
            windows
            and start <= windows[-1][1]
            and max(end, windows[-1][1]) - windows[-1][0] <= max_piece
        ):
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return [piece for start, end in windows for piece in _pieces(text, start, end, max_piece)]


_ANY_UPPER = re.compile(_UPPER)
_PROSE_CHAR = re.compile(rf"{_LOWER}|[\d\s.,;:!?'’\"()-]")
LOWERCASE_PROSE_MAX = 2000
"""Longest all-lowercase text NER reads whole (chat messages; not logs or code, which are long
or full of symbols)."""


def _lowercase_prose(text: str) -> bool:
    """Prose written without capitals: no upper-case letter, mostly letters, digits and
    punctuation (an address in a letter head has numbers), some letters, and short."""
    if len(text) > LOWERCASE_PROSE_MAX or _ANY_UPPER.search(text):
        return False
    prose = len(_PROSE_CHAR.findall(text))
    return prose >= 0.9 * len(text) and any(c.isalpha() for c in text)


def _widened(text: str, start: int, end: int) -> tuple[int, int]:
    """`start` and `end` moved outwards to whitespace, so no word is cut in half (by at most
    `_MAX_WIDEN` characters each way)."""
    low = max(0, start - _MAX_WIDEN)
    before = _WHITESPACE.search(text[low:start][::-1])
    start = start - before.start() if before else low
    high = min(len(text), end + _MAX_WIDEN)
    after = _WHITESPACE.search(text, end, high)
    return start, after.start() if after else high


def _pieces(text: str, start: int, end: int, max_piece: int) -> list[tuple[int, int]]:
    """`start`-`end` as pieces of at most `max_piece` characters, cut after whitespace where
    there is some, each overlapping the one before by `_PIECE_OVERLAP` characters or more (less
    only when `max_piece` is below eight times that)."""
    pieces = []
    overlap = min(_PIECE_OVERLAP, max_piece // 8)
    while end - start > max_piece:
        cut = start + max_piece
        space = _WHITESPACE.search(text[start + max_piece // 2 : cut][::-1])
        if space is not None:
            cut -= space.start()
        pieces.append((start, cut))
        start = cut - overlap
        space = _WHITESPACE.search(text[start - overlap : start][::-1])
        if space is not None:
            start -= space.start()
    pieces.append((start, end))
    return pieces


_OPENING = re.compile(
    r"(?:^|\n)[ \t]*(?:[-*+#>|]+|\d{1,3}[.)]|[a-z][.)])?[ \t]*$|[.!?:;\"'(\[{]\s*$"
)


def _at_sentence_start(text: str, position: int) -> bool:
    """Does `position` open a sentence, a line, a list item or a heading?"""
    return _OPENING.search(text, max(0, position - 12), position) is not None


def _resolve(candidates: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans: secrets first, then validated patterns, then NER; within each,
    findings scoring at least `CONFIDENT` before the others, then the longer, then the higher
    score (an address block `Schaarsteinweg 58\n Suite 485\n …\n Dominica 85183` over the
    `Suite 485` inside it, whatever their scores).

    Greedy by rank, among equals in the order given. A span competes only with the spans it
    overlaps, so each group of overlapping candidates is resolved on its own: near-linear time
    for a huge text with thousands of findings, with the same result as one greedy pass."""

    def rank(span: Span) -> tuple[int, bool, int, float]:
        # (by origin, not by score: patterns scoring 0.85 ranked as NER before)
        origin = 2 if span.entity in SECRET_ENTITIES else (0 if span.ner else 1)
        return (origin, span.score >= CONFIDENT, span.end - span.start, span.score)

    candidates = list(candidates)
    taken: list[Span] = []
    for group in _overlapping_groups(candidates):
        if len(group) == 1:
            taken.append(candidates[group[0]])
            continue
        starts: list[int] = []  # of the spans taken in this group (disjoint, so ends sorted too)
        ends: list[int] = []
        for span in sorted((candidates[i] for i in group), key=rank, reverse=True):
            at = bisect.bisect_left(starts, span.end)  # spans taken before this one ends...
            if at == 0 or ends[at - 1] <= span.start:  # ...the last of them ends before it
                starts.insert(at, span.start)
                ends.insert(at, span.end)
                taken.append(span)
    return sorted(taken)


def _overlapping_groups(spans: Sequence[Span]) -> list[list[int]]:
    """Indexes of `spans` in groups connected by overlap, each group in the order given."""
    order = sorted(range(len(spans)), key=lambda i: spans[i].start)
    groups: list[list[int]] = []
    reach = -1
    for i in order:
        if groups and spans[i].start < reach:
            groups[-1].append(i)
        else:
            groups.append([i])
        reach = spans[i].end if len(groups[-1]) == 1 else max(reach, spans[i].end)
    for group in groups:
        group.sort()
    return groups


class Scanner:
    """Detects entities in batches of texts, with a content-addressed cache.

    Example:
        >>> scanner = Scanner()
        >>> scanner.scan(["Mail jane.doe@example.com"])[0]
        [Span(start=5, end=25, entity='EMAIL_ADDRESS', score=1.0)]
    """

    def __init__(
        self,
        pipeline: str = DEFAULT_PIPELINE,
        *,
        cache_size: int = 200_000,
        ner: bool = True,
        batch_size: int = 256,
        workers: int = 1,
        parallel_from: int = 2000,
        max_ner_piece: int = MAX_NER_PIECE,
        ner_everywhere: bool = False,
    ) -> None:
        self.pipeline = pipeline
        self.max_ner_piece = max_ner_piece
        # NER on every text whole, not only around capitalised candidates: 0.002 more recall
        # on the real labelled set for 2-5x the time (benchmarks/results_pii.md, "frontier")
        self.ner_everywhere = ner_everywhere
        self.ner = ner
        self.batch_size = batch_size
        self._cache: OrderedDict[str, list[Span]] = OrderedDict()
        self._cache_size = cache_size
        self._nlp: Any = None
        self._ner_cache: OrderedDict[str, list[tuple[int, int, str]]] = OrderedDict()
        self.workers = workers
        self.parallel_from = parallel_from
        self._executor: ProcessPoolExecutor | None = None
        self.stats = {"texts": 0, "cache_hits": 0, "ner_texts": 0, "ner_chars": 0}

    @property
    def nlp(self) -> Any:
        if self._nlp is None:
            self._nlp = load_spacy(self.pipeline)
        return self._nlp

    def scan(self, texts: Sequence[str]) -> list[list[Span]]:
        """Findings for each text, in order (identical texts share one result)."""
        self.stats["texts"] += len(texts)
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        self.stats["cache_hits"] += len(texts) - len(todo)
        if todo:
            for text, spans in zip(todo, self._detect(todo), strict=True):
                self._remember(text, spans)
        out = []
        for text in texts:
            cached = self._cache.get(text)
            # (evicted while this batch was being scanned: detect again)
            out.append(cached if cached is not None else self._detect([text])[0])
        return out

    def _remember(self, text: str, spans: list[Span]) -> None:
        self._cache[text] = spans
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _detect(self, texts: list[str]) -> list[list[Span]]:
        found: list[list[Span]] = [
            [Span(s, e, entity, score) for s, e, entity, score in find_patterns(t)] for t in texts
        ]
        if self.ner:
            self._add_ner([unescaped_view(t) for t in texts], found)
        return [_resolve(spans) for spans in found]

    def _add_ner(self, texts: list[str], found: list[list[Span]]) -> None:
        pieces: list[str] = []
        owners: list[tuple[int, int]] = []  # (text index, offset of the piece in the text)
        for i, text in enumerate(texts):
            windows = (
                _pieces(text, 0, len(text), self.max_ner_piece)
                if self.ner_everywhere
                else _ner_windows(text, found[i], max_piece=self.max_ner_piece)
            )
            for start, end in windows:
                pieces.append(text[start:end])
                owners.append((i, start))
        if not pieces:
            return
        todo = [p for p in dict.fromkeys(pieces) if p not in self._ner_cache]
        self.stats["ner_texts"] += len(todo)
        self.stats["ner_chars"] += sum(map(len, todo))
        if len(todo) >= self.parallel_from and self.workers > 1:
            results = self._pool().map(_ner_spans_in_worker, _chunks(todo, self.workers * 4))
            flat = [spans for chunk in results for spans in chunk]
        else:
            flat = ner_spans(self.nlp, todo, self.batch_size)
        for piece, spans in zip(todo, flat, strict=True):
            self._ner_cache[piece] = spans
            if len(self._ner_cache) > self._cache_size:
                self._ner_cache.popitem(last=False)
        for piece, (i, offset) in zip(pieces, owners, strict=True):
            cached = self._ner_cache.get(piece)
            if cached is None:  # evicted while this batch was being scanned
                cached = ner_spans(self.nlp, [piece], 1)[0]
            for start, end, entity in cached:
                found[i].append(Span(offset + start, offset + end, entity, NER_SCORE, ner=True))

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the parent holds DuckDB and delta-rs threads.
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.pipeline, self.batch_size),
            )
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None


def ner_spans(nlp: Any, pieces: list[str], batch_size: int) -> list[list[tuple[int, int, str]]]:
    """(start, end, entity) of the names and places spaCy finds in each piece."""
    out: list[list[tuple[int, int, str]]] = []
    with nlp.select_pipes(enable=_ner_components(nlp)):
        for doc in nlp.pipe(pieces, batch_size=batch_size):
            spans = []
            # In text written without capitals a name is lower case too.
            lowered = _ANY_UPPER.search(doc.text) is None
            for ent in doc.ents:
                entity = NER_LABELS.get(ent.label_)
                if entity is None:
                    continue
                # The small pipeline often pulls a sentence opener into a name
                # ("Call Jane Doe"): drop leading openers and lowercase words.
                tokens = list(ent)
                while tokens and (
                    tokens[0].text in _OPENERS
                    or (tokens[0].is_lower and (tokens[0].is_stop or not lowered))
                ):
                    tokens = tokens[1:]
                if tokens:
                    end = tokens[-1].idx + len(tokens[-1].text)
                    for part in _entity_lines(doc.text, tokens[0].idx, end):
                        spans.append((*part, entity))
            out.append(spans)
    return out


_CAMEL_CASE = re.compile(r"[a-z][A-Z]{2}")


def _entity_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The lines of an entity that can be a name or place. The pipeline runs lines together
    (`San Francisco.\\nBest,\\nCarly S. Wheeler` as one LOCATION); each line is trimmed to
    letters and dropped if it is all capitals (`EMEA`), CamelCase (`DuckDB`) or common words."""
    lines = []
    line_start = start
    for line in text[start:end].split("\n"):
        trimmed = _trimmed_to_letters(text, line_start, line_start + len(line))
        if trimmed is not None and _may_be_name_or_place(text[trimmed[0] : trimmed[1]]):
            lines.append(trimmed)
        line_start += len(line) + 1
    return lines


def _trimmed_to_letters(text: str, start: int, end: int) -> tuple[int, int] | None:
    """`start`, `end` moved inwards to letters, keeping an initial's dot (`Carly S.`)."""
    while start < end and not text[start].isalpha():
        start += 1
    while end > start and not (
        text[end - 1].isalpha() or (text[end - 1] == "." and text[end - 2].isupper())
    ):
        end -= 1
    return (start, end) if start < end else None


def _may_be_name_or_place(value: str) -> bool:
    words = value.split()
    return not (
        all(w.isupper() and len(w) > 1 for w in words)
        or any(_CAMEL_CASE.search(w) for w in words)
        or all(w.strip(",.;:") in _OPENERS for w in words)
    )


def _ner_components(nlp: Any) -> list[str]:
    """`ner`, plus a shared tok2vec only if this pipeline's NER listens to one (the small
    English pipeline's NER has its own embedding, so the shared tok2vec is skipped)."""
    listened = [
        name for name, component in nlp.pipeline if "ner" in getattr(component, "listener_map", {})
    ]
    return [*listened, "ner"]


_worker_state: dict[str, Any] = {}


def _init_worker(pipeline: str, batch_size: int) -> None:
    _worker_state["nlp"] = load_spacy(pipeline)
    _worker_state["batch_size"] = batch_size


def _ner_spans_in_worker(pieces: list[str]) -> list[list[tuple[int, int, str]]]:
    return ner_spans(_worker_state["nlp"], pieces, _worker_state["batch_size"])


def _chunks(items: list[str], n: int) -> list[list[str]]:
    size = max(1, -(-len(items) // n))
    return [items[i : i + size] for i in range(0, len(items), size)]
