"""Format E: exact round trips (property-based), escaping, canonical order, diffs, and errors
that name every bad line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memgraph_ops.graph_types import canonical_properties
from memgraph_ops.memory.format_e import (
    Diff,
    Edge,
    FormatEError,
    Graph,
    Node,
    next_semantic_id,
    parse,
    parse_diff,
    semantic_id,
    serialize,
    serialize_diff,
)

CR_021 = """## Nodes
+ Process payment|FUNC|ProcessPayment.FN.001|Charges the card; retries twice
+ Charge card|FUNC|ChargeCard.FN.002|Calls the PSP \\| logs the answer\\nsecond line
+ Checkout|FLOW|Checkout.FLW.001|
## Edges
Checkout.FLW.001 -contains-> ProcessPayment.FN.001
ProcessPayment.FN.001 -calls-> ChargeCard.FN.002
"""

_text = st.text(st.characters(codec="utf-8"), max_size=20)
_ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
_types = st.sampled_from(
    ["Prompt", "Response", "Session", "ToolInvocation", "Agent", "FUNC", "FLOW", "REQ"]
)
_rels = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_properties = st.dictionaries(_text, _json, max_size=3).map(
    lambda values: canonical_properties(values) if values else ""
)


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    ids = draw(st.lists(_ids, unique=True, max_size=8))
    nodes = [Node(i, draw(_types), draw(_text), draw(_text), draw(_properties)) for i in ids]
    edges = (
        [Edge(draw(st.sampled_from(ids)), draw(_rels), draw(st.sampled_from(ids))) for _ in range(draw(st.integers(0, 10)))]
        if ids
        else []
    )  # fmt: skip
    return Graph.of(nodes, edges)


@settings(max_examples=300)
@given(graphs())
def test_a_graph_survives_the_round_trip_exactly(graph: Graph) -> None:
    text = serialize(graph)
    assert parse(text) == graph
    assert serialize(parse(text)) == text  # canonical: the same graph, the same bytes


@settings(max_examples=200)
@given(graphs(), st.randoms())
def test_serialising_does_not_depend_on_the_order_given(graph: Graph, rnd: object) -> None:
    nodes, edges = list(graph.nodes), list(graph.edges)
    rnd.shuffle(nodes)  # type: ignore[attr-defined]
    rnd.shuffle(edges)  # type: ignore[attr-defined]
    assert serialize(Graph(tuple(nodes), tuple(edges))) == serialize(graph)


@settings(max_examples=200)
@given(
    graphs(),
    graphs(),
    st.text(st.characters(codec="ascii", categories=("Nd", "L")), min_size=1, max_size=6),
)
def test_a_diff_survives_the_round_trip(added: Graph, removed: Graph, base: str) -> None:
    diff = Diff(base, added.nodes, tuple(n.id for n in removed.nodes), added.edges, removed.edges)
    assert parse_diff(serialize_diff(diff)) == diff


def test_the_change_requests_example_reads_as_written() -> None:
    graph = parse(CR_021)
    # custom types by name (FLOW before FUNC), then ids
    assert [n.id for n in graph.nodes] == [
        "Checkout.FLW.001",
        "ChargeCard.FN.002",
        "ProcessPayment.FN.001",
    ]
    charge = graph.nodes[1]
    assert (
        charge.description == "Calls the PSP | logs the answer\nsecond line"
        and charge.type == "FUNC"
    )
    assert Edge("ProcessPayment.FN.001", "calls", "ChargeCard.FN.002") in graph.edges
    assert parse(serialize(graph)) == graph


def test_built_in_types_are_written_by_their_abbreviation() -> None:
    graph = Graph.of(
        [Node("s1:m0", "Prompt", "", "hi"), Node("s1", "Session", "s1", "")],
        [Edge("s1:m0", "FOLLOWS", "s1:m0")],
    )
    text = serialize(graph)
    assert "+ s1|SES|s1|" in text and "+ |PRM|s1:m0|hi" in text
    assert text.index("|SES|") < text.index("|PRM|")  # built-in types in the model's order
    assert parse(text) == graph


def test_ids_with_spaces_and_pipes_are_escaped_in_edges() -> None:
    graph = Graph.of([Node("a b|c", "FUNC"), Node("d", "FUNC")], [Edge("a b|c", "calls", "d")])
    text = serialize(graph)
    assert "a\\sb\\|c -calls-> d" in text
    assert parse(text) == graph


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("+ a|FUNC|x|d\n", "text before '## Nodes'"),
        ("## Nodes\n+ a|FUNC|x\n", "4 fields"),
        ("## Nodes\n+ a|FU NC|x|d\n", "is not a type name"),
        ("## Nodes\n+ a|FUNC||d\n", "has no id"),
        ("## Nodes\n+ a|FUNC|x|bad \\q escape\n", "unknown escape"),
        ("## Nodes\n+ a|FUNC|x|d\n+ b|FUNC|x|d\n", "node id 'x' twice"),
        ("## Nodes\n## Edges\nx calls y\n", "an edge is"),
        ("## Nodes\n## Edges\n## Nodes\n", "out of order"),
    ],
)
def test_bad_text_names_the_line_and_the_problem(text: str, problem: str) -> None:
    with pytest.raises(FormatEError) as caught:
        parse(text)
    assert problem in str(caught.value) and "line " in str(caught.value)


def test_every_bad_line_is_reported_at_once() -> None:
    with pytest.raises(FormatEError) as caught:
        parse("## Nodes\n+ a|FUNC|x\n+ b|FUNC|y|ok\n+ c|FUNC|z\n## Edges\nnot an edge\n")
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 2", "line 4", "line 6"]


def test_a_diff_reads_its_base_and_every_operation() -> None:
    diff = parse_diff(
        "<operations>\n<base_snapshot>7</base_snapshot>\n"
        "+ Refund|FUNC|Refund.FN.003|Gives the money back\n"
        "+ Refund.FN.003 -calls-> ChargeCard.FN.002\n"
        "- ProcessPayment.FN.001 -calls-> ChargeCard.FN.002\n"
        "- ChargeCard.FN.002\n</operations>\n"
    )
    assert diff.base == "7"
    assert diff.add_nodes == (Node("Refund.FN.003", "FUNC", "Refund", "Gives the money back"),)
    assert diff.add_edges == (Edge("Refund.FN.003", "calls", "ChargeCard.FN.002"),)
    assert diff.remove_edges == (Edge("ProcessPayment.FN.001", "calls", "ChargeCard.FN.002"),)
    assert diff.remove_nodes == ("ChargeCard.FN.002",)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("+ a|FUNC|x|d", "block"),
        ("<operations>\n+ a|FUNC|x|d\n</operations>", "base_snapshot"),
        (
            "<operations>\n<base_snapshot>1</base_snapshot>\n* x\n</operations>",
            "starts with '+ ' or '- '",
        ),
        ("<operations>\n<base_snapshot>1</base_snapshot>\n+ a|FUNC|x\n</operations>", "4 fields"),
    ],
)
def test_a_bad_diff_names_its_problem(text: str, problem: str) -> None:
    with pytest.raises(FormatEError) as caught:
        parse_diff(text)
    assert problem in str(caught.value)


def test_semantic_ids() -> None:
    assert semantic_id("process payment", "FN", 1) == "ProcessPayment.FN.001"
    assert (
        semantic_id("Ünïcode & co", "FN", 1234) == "ÜnïcodeCo.FN.1234"
        or semantic_id("x y", "FN", 1234) == "XY.FN.1234"
    )
    graph = parse(CR_021)
    assert next_semantic_id(graph, "refund", "FN") == "Refund.FN.003"
    assert next_semantic_id(graph, "new flow", "FLW") == "NewFlow.FLW.002"
