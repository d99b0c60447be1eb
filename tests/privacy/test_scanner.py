"""What the scanner sends to NER and what it keeps of NER's findings."""

from __future__ import annotations

import pytest

from memgraph_ops.privacy.scanner import Scanner, Span, _entity_lines, _ner_windows


def _windows(text: str, found: tuple[Span, ...] = ()) -> list[str]:
    return [text[s:e] for s, e in _ner_windows(text, found)]


def test_ner_windows_stay_on_the_candidates_line() -> None:
    text = (
        "the ticket 4411 was reopened.\nAssigned to Maria Lopez today\nstatus: open, priority: low"
    )
    assert _windows(text) == ["Assigned to Maria Lopez today"]


def test_ner_windows_skip_camel_case_and_pattern_findings() -> None:
    assert _windows("we moved the job from sqlite to DuckDB and PostgreSQL") == []
    text = "ship it to 12 Oak Street, Springfield, IL 62704 please"
    address = Span(11, 47, "STREET_ADDRESS", 0.85)
    assert _windows(text) != []
    assert _windows(text, (address,)) == []


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("San Francisco.\nBest,\nCarly S. Wheeler", ["San Francisco", "Carly S. Wheeler"]),
        ("  Jane Doe,\n", ["Jane Doe"]),
        ("EMEA", []),
        ("DuckDB", []),
        ("Please Note", []),
        ("04/27", []),
    ],
)  # fmt: skip
def test_ner_findings_are_split_at_line_breaks_and_trimmed(text: str, kept: list[str]) -> None:
    assert [text[s:e] for s, e in _entity_lines(text, 0, len(text))] == kept


def test_offsets_point_into_the_escaped_text() -> None:
    text = r'{"tool": "ship", "args": "{\"to\": \"12 Oak Street\nSpringfield, IL 62704\"}"}'
    spans = Scanner().scan([text])[0]
    addresses = [text[s.start : s.end] for s in spans if s.entity == "STREET_ADDRESS"]
    assert addresses == [r"12 Oak Street\nSpringfield, IL 62704"]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # real formats (presidio-research's labelled set): capitals outside ASCII, and text
        # written without capitals, where the name is lower case too
        ("an American action-comedy film directed by Shawn Kastelijn and starring Čeh", "Čeh"),
        ("follow up with tracy wiśniewska in 2 months.", "tracy wiśniewska"),
        ("could you please correct it to mr. larry lombardo?", "larry lombardo"),
        ("alexandra fowler\n\n58 kvaløyvågvegen 140\n apt. 12", "alexandra fowler"),  # digits too
    ],
)
def test_names_without_ascii_capitals_are_found(text: str, name: str) -> None:
    (found,) = Scanner().scan([text])
    persons = [text[s.start : s.end] for s in found if s.entity == "PERSON"]
    assert any(name in p for p in persons), persons


def test_lowercase_code_and_long_text_get_no_whole_text_ner() -> None:
    assert _ner_windows("for i in range(10): print(i) # {x: [1, 2]} == y") == []
    assert _ner_windows("word " * 500) == []  # longer than LOWERCASE_PROSE_MAX
