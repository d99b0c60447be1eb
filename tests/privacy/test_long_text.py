"""One huge message (issue 10): redacted exactly as its parts would be, by linear-time steps.

The scanner searches a whole text at once (no window border can cut a finding); spaCy only sees
pieces of bounded length, cut with overlap. These tests pin both, and check the linear-time
rewrites of overlap resolution, NER windows and replacement against the straightforward
quadratic versions they replace.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import polars as pl
import pytest

from memgraph_ops.events import normalize
from memgraph_ops.privacy import Pseudonymizer, Redactor, Scanner, Span
from memgraph_ops.privacy import scanner as scanner_module
from memgraph_ops.privacy.recognizers import RECOGNIZERS, SECRET_ENTITIES, find_patterns
from memgraph_ops.privacy.scanner import (
    _CAPITALISED,
    _MAX_WIDEN,
    _OPENERS,
    CONFIDENT,
    MAX_NER_PIECE,
    NER_SCORE,
    _at_sentence_start,
    _ner_windows,
    _resolve,
)
from tests.conftest import TEST_KEY
from tests.factories import event

KEY = bytes.fromhex(TEST_KEY)

FILLER = (
    "sure, that works for me. let me check the logs and get back to you in a bit.",
    "i think the second option is better, but it depends on the budget we have left.",
    "thanks! could you also send the notes from the call? i missed the last part.",
    "no worries, the deploy finished and the dashboards look normal again.",
    "we should probably move the meeting to next week, half the team is out.",
)
PLANTED = (  # sentence, value, entity: one of each kind the issue names
    ("please write to {} about the refund.", "maria.garcia@example.com", "EMAIL_ADDRESS"),
    ("you can call me on {} after six.", "(415) 555-0132", "PHONE_NUMBER"),
    ("my name is {} and i need help with my order.", "Maria Garcia", "PERSON"),
    ("later {} replied to us about it.", "Henrik Lindqvist", "PERSON"),  # NER, not a pattern
    ("i paid with the card {} yesterday.", "4111 1111 1111 1111", "CREDIT_CARD"),
    ("the key is {} so keep it safe.", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "API_KEY"),
)


def _message(lines: int, seed: int = 1) -> tuple[str, Counter[str]]:
    """Chat lines, with personal data in the first line, the last line and every few lines."""
    rng = random.Random(seed)
    out, planted = [], Counter[str]()
    for i in range(lines):
        if i in (0, lines - 1) or rng.random() < 0.2:
            sentence, value, entity = rng.choice(PLANTED)
            out.append(sentence.format(value))
            planted[entity] += 1
        else:
            out.append(rng.choice(FILLER))
    return "\n".join(out), planted


def _expected(text: str, redactor: Redactor) -> str:
    for _, value, entity in PLANTED:
        text = text.replace(value, redactor.pseudonymizer.token("acme", entity, value))
    return text


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(Pseudonymizer(KEY), scanner=Scanner(workers=1))


def test_a_one_megabyte_message_is_redacted_exactly(
    redactor: Redactor, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, planted = _message(14_500)
    assert len(text) > 1_000_000
    pieces: list[int] = []
    ner_spans = scanner_module.ner_spans

    def spy(nlp: Any, batch: list[str], batch_size: int) -> Any:
        pieces.extend(map(len, batch))
        return ner_spans(nlp, batch, batch_size)

    monkeypatch.setattr(scanner_module, "ner_spans", spy)
    frame = normalize([event("e1", "Prompt", "p1", session_id="s1", content=text)])
    redaction = redactor(frame.with_columns(pl.lit(1, dtype=pl.Int64).alias("seq")))

    assert redaction.events["content"][0] == _expected(text, redactor)
    counts = dict(zip(redaction.findings["entity_type"], redaction.findings["count"], strict=True))
    assert counts == dict(planted)
    assert pieces and max(pieces) <= MAX_NER_PIECE  # spaCy never saw the whole message


def test_a_long_message_gets_the_findings_of_its_lines(redactor: Redactor) -> None:
    text, _ = _message(600, seed=2)
    lines = text.split("\n")
    alone = Scanner(workers=1).scan(lines)
    shifted, offset = [], 0
    for line, spans in zip(lines, alone, strict=True):
        shifted += [Span(s.start + offset, s.end + offset, s.entity, s.score) for s in spans]
        offset += len(line) + 1
    assert Scanner(workers=1).scan([text])[0] == shifted
    assert len(shifted) > 100


def test_names_are_found_where_a_long_line_is_cut_into_pieces() -> None:
    """One line with a name every few words: NER windows chain into one stretch, which is cut
    into overlapping pieces; a name across a cut is found whole, once."""
    rng = random.Random(3)
    names = ("Maria Garcia", "Henrik Lindqvist", "Priya Patel", "Robert Okafor", "Jane Doe")
    words = ("then", "and", "so", "later", "yesterday")
    tails = ("said it was fine", "wrote back", "agreed", "replied to us", "was not sure")
    parts = [f"{rng.choice(words)} {rng.choice(names)} {rng.choice(tails)}," for _ in range(400)]
    text = " ".join(parts)
    where = [(m.start(), m.end()) for m in re.finditer("|".join(names), text)]

    scanner = Scanner(workers=1, max_ner_piece=300)
    pieces = _ner_windows(text, max_piece=300)
    assert len(pieces) > 20 and max(e - s for s, e in pieces) <= 300
    assert all(b[0] < a[1] for a, b in itertools.pairwise(pieces))  # they overlap
    cut_inside = [(s, e) for s, e in where if any(s < p_end < e for _, p_end in pieces)]
    assert cut_inside, "no cut falls inside a name: the test would prove nothing"

    def whole(spans: list[Span]) -> set[tuple[int, int]]:
        return {(s, e) for s, e in where if any(f.start <= s and e <= f.end for f in spans)}

    cut = scanner.scan([text])[0]
    uncut = Scanner(workers=1, max_ner_piece=10**9).scan([text])[0]  # one piece: as before
    assert set(cut_inside) <= whole(cut)
    assert whole(uncut) <= whole(cut)
    assert len(whole(cut)) >= 0.95 * len(where)  # (the small pipeline reads some as `Jane`)


def test_every_candidate_keeps_its_context_in_some_piece() -> None:
    rng = random.Random(4)
    vocabulary = ["Ann", "Lee", "met", "with", "the", "Board", "in", "Oslo", "and", "x" * 300]
    for _ in range(30):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randrange(50, 2000)))
        pieces = _ner_windows(text, max_piece=1000)
        assert all(e - s <= 1000 for s, e in pieces)
        for match in _CAPITALISED.finditer(text):
            if len(match.group()) > 1000 - 2 * (24 + _MAX_WIDEN):
                continue  # (a window longer than a piece, widened into long words, is cut)
            words = match.group().split()
            if len(words) == 1 and words[0] in _OPENERS and _at_sentence_start(text, match.start()):
                continue
            need = (max(0, match.start() - 24), min(len(text), match.end() + 24))
            assert any(s <= need[0] and need[1] <= e for s, e in pieces), match.group()


# --- the linear rewrites against the quadratic originals --------------------------------------


def _quadratic_ner_windows(text: str, found: Sequence[Span] = ()) -> list[tuple[int, int]]:
    windows: list[tuple[int, int]] = []
    for match in _CAPITALISED.finditer(text):
        words = match.group().split()
        if len(words) == 1 and words[0] in _OPENERS and _at_sentence_start(text, match.start()):
            continue
        if any(s.start <= match.start() and match.end() <= s.end for s in found):
            continue
        start = max(0, match.start() - 24)
        end = min(len(text), match.end() + 24)
        start = max(start, text.rfind("\n", start, match.start()) + 1)
        line_end = text.find("\n", match.end(), end)
        end = end if line_end < 0 else line_end
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return windows


def test_ner_windows_are_those_of_the_quadratic_sweep() -> None:
    text, _ = _message(400, seed=5)
    text += "\nAssigned to Maria Lopez today.\n12 Oak Street, Springfield, IL 62704 Berlin"
    text += "\nSee https://example.com/a/b/c?token=abc Jane Roe\tand\u00a0Bob Ray"
    found = [Span(*f) for f in find_patterns(text)]
    assert found and _ner_windows(text, found) == _quadratic_ner_windows(text, found)
    assert _ner_windows(text) == _quadratic_ner_windows(text)


def _quadratic_resolve(candidates: list[Span]) -> list[Span]:
    def rank(span: Span) -> tuple[int, bool, int, float]:
        origin = 2 if span.entity in SECRET_ENTITIES else (0 if span.ner else 1)
        return (origin, span.score >= CONFIDENT, span.end - span.start, span.score)

    taken: list[Span] = []
    for span in sorted(candidates, key=rank, reverse=True):
        if all(span.end <= t.start or span.start >= t.end for t in taken):
            taken.append(span)
    return sorted(taken)


def test_resolve_takes_what_the_quadratic_greedy_pass_takes() -> None:
    rng = random.Random(6)
    entities = ("PERSON", "LOCATION", "EMAIL_ADDRESS", "API_KEY", "PHONE_NUMBER")
    scores = (NER_SCORE, 0.45, 0.7, 0.75, 0.85, 1.0)
    for _ in range(300):
        spans = []
        for _ in range(rng.randrange(1, 60)):
            start = rng.randrange(200)
            spans.append(Span(start, start + rng.randrange(1, 25), rng.choice(entities),
                              rng.choice(scores), ner=rng.random() < 0.3))  # fmt: skip
        assert _resolve(spans) == _quadratic_resolve(spans)


def test_replacement_leaves_nothing_of_overlapping_spans(redactor: Redactor) -> None:
    text = "call Maria Garcia at maria@example.com today"
    spans = [
        Span(5, 17, "PERSON", 0.9),
        Span(11, 17, "PERSON", 0.9),
        Span(21, 38, "EMAIL_ADDRESS", 1),
    ]
    out, kept = redactor.apply(text, spans, "acme")
    assert len(kept) == 3
    assert "Garcia" not in out and "Maria" not in out and "maria@" not in out
    assert out.startswith("call <PERSON:") and out.endswith("> today")


# --- patterns that were quadratic in the length of a text -------------------------------------


def test_truncated_private_keys_do_not_hide_a_whole_one() -> None:
    whole = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----"
    truncated = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA (cut)\n"
    for text in (truncated * 50 + whole, whole + " and " + truncated * 50, truncated * 50):
        rec = next(r for r in RECOGNIZERS if r.entity == "PRIVATE_KEY")
        plain = [m.span() for m in rec.pattern.finditer(text)]
        assert [
            (s, e) for s, e, entity, _ in find_patterns(text) if entity == "PRIVATE_KEY"
        ] == plain
    assert [e for _, _, e, _ in find_patterns(whole)] == ["PRIVATE_KEY"]


@pytest.mark.parametrize(
    ("prefix", "address"),
    [
        ("A." * 20_000, "Lindenstraße 12a, 10115 Berlin"),
        ("1." * 20_000, "10 Downing Street\nLondon\nSW1A 2AA"),
    ],
)
def test_an_address_after_a_long_dotted_token_is_found(prefix: str, address: str) -> None:
    text = f"{prefix} see {address} for details"
    found = [text[s:e] for s, e, entity, _ in find_patterns(text) if entity == "STREET_ADDRESS"]
    assert address in found
