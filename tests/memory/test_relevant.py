"""Relevant subgraphs: lexical hits first, then their neighbourhood, within the budget."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from memgraph_ops import Memgraph
from memgraph_ops.imports.traces import import_spans
from memgraph_ops.memory.format_e import Edge, Graph, Node, parse
from memgraph_ops.memory.relevant import estimate_tokens, relevant
from tests.imports.test_otel import _conversation

GRAPH = Graph.of(
    [
        Node("p1", "Prompt", "", "Book a table in Paris for two"),
        Node("r1", "Response", "gpt", "Sure, booking now"),
        Node("t1", "ToolInvocation", "book_table", '{"city": "Paris", "people": 2} -> confirmed #5'),
        Node("p2", "Prompt", "", "What is the weather in Rome tomorrow?"),
        Node("r2", "Response", "gpt", "Let me check"),
        Node("t2", "ToolInvocation", "get_weather", '{"city": "Rome"} -> sunny'),
        *[Node(f"x{i}", "Prompt", "", f"unrelated chatter number {i}") for i in range(30)],
    ],
    [
        Edge("r1", "RESPONDS_TO", "p1"), Edge("r1", "INVOKES", "t1"),
        Edge("r2", "RESPONDS_TO", "p2"), Edge("r2", "INVOKES", "t2"), Edge("p2", "FOLLOWS", "p1"),
    ],
)  # fmt: skip


def test_the_tool_call_naming_the_entity_comes_with_its_context() -> None:
    found = relevant(GRAPH, "weather in Rome", max_nodes=4)
    ids = [n.id for n in found.graph.nodes]
    assert {"p2", "t2"} <= set(ids)  # the hits: the question and the call with city Rome
    assert len(ids) == 4 and not {i for i in ids if i.startswith("x")}
    assert found.hits == 2 and found.left_out == len(GRAPH.nodes) - 4
    assert all(e.src in ids and e.dst in ids for e in found.graph.edges)
    assert parse(found.text) == found.graph  # valid Format E


def test_calls_on_what_the_request_names_come_before_prose_that_repeats_it() -> None:
    """An issue-style request names many identifiers; long prompts and responses repeat them
    all, while each tool call names one. The calls still come first (on real OpenHands runs the
    prose took every slot of a 20-node budget)."""
    names = [f"parse_field_{i}" for i in range(12)]
    request = "Fix the crash in " + ", ".join(names) + " when the schema is nested."
    graph = Graph.of(
        [
            Node("p1", "Prompt", "", request),
            *[Node(f"r{i}", "Response", "gpt", request + f" Let me look, step {i}.") for i in range(6)],
            *[Node(f"t{i}", "ToolInvocation", "grep", f'{{"pattern": "{n}"}} -> src/fields.py') for i, n in enumerate(names[:4])],
        ],
        [Edge("r0", "RESPONDS_TO", "p1"), *[Edge("r0", "INVOKES", f"t{i}") for i in range(4)]],
    )  # fmt: skip
    found = relevant(graph, request, max_nodes=4)
    assert {n.id for n in found.graph.nodes} == {"t0", "t1", "t2", "t3"}


def test_the_budget_holds_in_nodes_and_tokens() -> None:
    found = relevant(GRAPH, "unrelated chatter", max_nodes=50)
    assert len(found.graph.nodes) == 30  # every match, and no neighbour (they have none)
    tight = relevant(GRAPH, "unrelated chatter", max_nodes=50, max_tokens=60)
    assert tight.tokens <= 60 and 0 < len(tight.graph.nodes) < 30
    assert estimate_tokens(tight.text) == tight.tokens and tight.full_tokens > 5 * tight.tokens


def test_node_types_and_queries_without_matches() -> None:
    only_tools = relevant(GRAPH, "Paris", node_types=["ToolInvocation"], max_nodes=1)
    assert [n.id for n in only_tools.graph.nodes] == ["t1"]
    assert relevant(GRAPH, "zzzz qqqq").graph.nodes == ()
    assert relevant(GRAPH, "   ").graph.nodes == ()


def test_relevant_through_the_facade_and_the_cli(mg: Memgraph, home: Path) -> None:
    import_spans(mg.store, _conversation(), tenant="acme")
    found = mg.relevant("conv-order", "booked table", max_nodes=3)
    assert any(n.type == "ToolInvocation" and n.name == "book" for n in found.graph.nodes)
    mg.close_store()
    done = subprocess.run(
        [sys.executable, "-m", "memgraph_ops.cli", "graph", "relevant", "conv-order", "booked table", "--max-nodes", "3", "--home", str(home)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert parse(done.stdout) == found.graph and "of" in done.stderr and "left out" in done.stderr
