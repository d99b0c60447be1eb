"""Values in Delta predicates (which bind no parameters) go through one quoting helper."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_a_delete_with_thousands_of_conditions_runs_and_deletes_exactly_the_matches(
    tmp_path: Path,
) -> None:
    """A left-deep `a OR b OR …` of 3,000 terms crashed delta-rs with a segfault (erasing a user
    with many identifiers across many text columns); the balanced tree runs. In a child
    process, so that a crash is a failure here rather than the end of the test run."""
    script = f"""
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from memgraph_ops.lake import delta
rows = [f"text {{i}}" for i in range(200)] + ["a needle-4321 here", "needle-9"]
write_deltalake({str(tmp_path / "t")!r}, pa.table({{"content": rows}}))
table = DeltaTable({str(tmp_path / "t")!r})
terms = [f"content LIKE '%needle-{{i}} %'" for i in range(5000)]
print(table.delete(delta.sql_any(terms))["num_deleted_rows"])
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1"]  # "needle-4321 " only: "needle-9" has no space after
    assert delta.sql_any(["a", "b"]) == "(a) OR (b)"


def test_a_regex_literal_matches_exactly_itself_in_a_delta_delete(tmp_path: Path) -> None:
    """Erasure deletes rows holding any of the subject's values with one `regexp_like` per
    column: every value must match only itself, whatever characters it holds."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    values = [".*", "a+b", "o'brien", "back\\slash", "ünï cødé", "[x]", "$5", "a b",
              "#tag", "x-y", "~z", "(1|2)", "^start", "end$", "{3}", "q?", "&amp"]  # fmt: skip
    decoys = ["anything", "aab", "obrien", "backslash", "x", "5", "ab", "tag", "xy", "z", "1",
              "2", "start", "end", "333", "q", "amp"]  # fmt: skip
    rows = [f"text with {v} inside" for v in values] + [f"text {d}" for d in decoys]
    write_deltalake(str(tmp_path / "t"), pa.table({"content": rows}))
    table = DeltaTable(str(tmp_path / "t"))
    pattern = delta.sql_string("|".join(map(delta.regex_literal, values)))
    deleted = table.delete(f"regexp_like(content, {pattern})")["num_deleted_rows"]
    left = DeltaTable(str(tmp_path / "t")).to_pyarrow_table()["content"].to_pylist()
    assert deleted == len(values)
    assert sorted(left) == sorted(f"text {d}" for d in decoys)
