"""A session's graph as Format E, from HOT and, after compaction, from the lake; the CLI door."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from memgraph_ops import Memgraph
from memgraph_ops.imports.traces import import_spans
from memgraph_ops.memory.format_e import parse, serialize
from tests.imports.test_otel import _conversation


def _shape(graph):  # type: ignore[no-untyped-def]
    return sorted((n.id, n.type) for n in graph.nodes), sorted(graph.edges)


def test_a_session_graph_is_the_same_from_hot_and_from_the_lake(mg: Memgraph, home: Path) -> None:
    import_spans(mg.store, _conversation(), tenant="acme")
    hot = mg.session_graph("conv-order")
    types = sorted({n.type for n in hot.nodes})
    assert types == ["Agent", "Prompt", "Response", "Session", "ToolInvocation"]
    (tool,) = [n for n in hot.nodes if n.type == "ToolInvocation"]
    assert tool.name == "book" and '"n": 2' in tool.description and "booked #5" in tool.description
    assert parse(serialize(hot)) == hot
    mg.compact()
    assert mg.store.session_items("conv-order") == []  # trimmed: the lake has it now
    assert _shape(mg.session_graph("conv-order")) == _shape(hot)

    mg.close_store()  # (DuckDB lets one process write the file; the CLI is another)
    done = subprocess.run(
        [sys.executable, "-m", "memgraph_ops.cli", "graph", "export", "conv-order", "--home", str(home)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _shape(parse(done.stdout)) == _shape(hot)
    missing = subprocess.run(
        [sys.executable, "-m", "memgraph_ops.cli", "graph", "export", "no-such", "--home", str(home)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert missing.returncode == 2 and "no graph 'no-such'" in missing.stderr
