"""Values in Delta predicates (which bind no parameters) go through one quoting helper."""

from __future__ import annotations

from memgraph_ops import Memgraph
from memgraph_ops.lake import delta
from tests.factories import session


def test_literals_are_quoted_once_for_every_caller() -> None:
    assert delta.sql_string("o'brien") == "'o''brien'"
    assert delta.sql_list(["b", "a'", "b"]) == "'a''', 'b'"
    assert delta.sql_ident('odd"name') == '"odd""name"'


def test_a_quote_in_a_session_id_deletes_exactly_that_session(mg: Memgraph) -> None:
    mg.ingest(session("o'brien-1", 1) + session("o", 1) + session("brien-1", 1))
    mg.compact()

    deleted = mg.lake.delete_sessions(["o'brien-1"], why="test")

    assert deleted["nodes"] > 0
    left = set(mg.lake.nodes()["session_id"].drop_nulls().to_list())
    assert left == {"o", "brien-1"}
