"""Lineage against networkx and against the generator's known template tree."""

from __future__ import annotations

import networkx as nx
import polars as pl
import pytest

from memgraph_ops.errors import InputError
from memgraph_ops.lake import Lake
from memgraph_ops.observatory import lineage, queries


def _inherits(lake: Lake) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(lake.nodes(types=["Template"])["id"].to_list())
    graph.add_edges_from(lake.edges(types=["INHERITS"]).select("src", "dst").rows())
    return graph


def test_closure_equals_networkx_paths(lake: Lake) -> None:
    graph = _inherits(lake)
    closed = lineage.closure(lake.scan("edges"), lake.scan("nodes"))
    expected = {
        (d, a, len(p) - 1, tuple(p))
        for d in graph.nodes
        for a, p in nx.single_source_shortest_path(graph, d).items()
    }
    got = {(d, a, k, tuple(p)) for d, a, k, p, _ in closed.rows()}
    assert got == expected
    assert closed["depth"].max() == 3  # SecurityReview < CodeReview < CodeAssist < AssistantBase


def test_template_table_effective_version_and_overrides(lake: Lake) -> None:
    table = lineage.template_table(lake.scan("nodes"), lake.scan("edges"))
    row = table.filter(pl.col("id") == "SecurityReview.TPL.007").row(0, named=True)
    templates = lake.nodes(types=["Template"]).select("id", "name", "version")
    version = dict(templates.select("id", "version").rows())
    assert row["root"] == "AssistantBase.TPL.001" and row["depth"] == 3
    assert row["effective_version"] == (
        f"SecurityReview@{version['SecurityReview.TPL.007']} < CodeReview@{version['CodeReview.TPL.006']}"
        f" < CodeAssist@{version['CodeAssist.TPL.005']} < AssistantBase@{version['AssistantBase.TPL.001']}"
    )
    assert row["overrides"] == ["instructions"]
    base = table.filter(pl.col("id") == "AssistantBase.TPL.001").row(0, named=True)
    assert base["descendants"] == len(nx.ancestors(_inherits(lake), "AssistantBase.TPL.001"))


def test_closure_stops_on_a_cycle() -> None:
    edges = pl.DataFrame(
        {
            "type": ["INHERITS"] * 2,
            "src": ["a", "b"],
            "dst": ["b", "a"],
            "override_sections": [["x"], []],
        }
    )
    closed = lineage.closure(edges)
    assert sorted(closed.select("descendant", "ancestor", "depth").rows()) == [
        ("a", "a", 0),
        ("a", "b", 1),
        ("b", "a", 1),
        ("b", "b", 0),
    ]


def test_prompts_from_template_and_impact_follow_instantiates_and_inherits(lake: Lake) -> None:
    nodes, edges = lake.scan("nodes"), lake.scan("edges")
    graph = _inherits(lake)
    family = nx.ancestors(graph, "CodeAssist.TPL.005") | {"CodeAssist.TPL.005"}
    inst = lake.edges(types=["INSTANTIATES"])
    expected = set(inst.filter(pl.col("dst").is_in(list(family)))["src"])
    derived = queries.prompts_from_template(nodes, edges, "CodeAssist.TPL.005")
    assert set(derived["id"]) == expected and expected
    found = lineage.impact(nodes, edges, "CodeAssist.TPL.005")
    assert set(found.prompts["id"]) == expected
    responds = lake.edges(types=["RESPONDS_TO"])
    responses = set(responds.filter(pl.col("dst").is_in(list(expected)))["src"])
    assert set(found.responses["id"]) == responses
    invokes = lake.edges(types=["INVOKES"])
    assert set(found.tool_invocations["id"]) == set(
        invokes.filter(pl.col("src").is_in(list(responses)))["dst"]
    )
    assert found.summary()["sessions"] == len(set(derived["session_id"]))
    assert found.agents
    versions = found.prompts.filter(pl.col("template_id") == "CodeAssist.TPL.005")[
        "template_version"
    ]
    one = versions.drop_nulls()[0]
    pinned = lineage.impact(nodes, edges, "CodeAssist.TPL.005", version=one)
    own = pinned.prompts.filter(pl.col("template_id") == "CodeAssist.TPL.005")
    assert set(own["template_version"]) == {one} and pinned.prompts.height < found.prompts.height


def test_unknown_template_and_version_are_clear_errors(lake: Lake) -> None:
    with pytest.raises(InputError, match="unknown template 'Nope'"):
        lineage.impact(lake.scan("nodes"), lake.scan("edges"), "Nope")
    with pytest.raises(InputError, match="versions seen"):
        lineage.impact(
            lake.scan("nodes"), lake.scan("edges"), "CodeAssist.TPL.005", version="9.9.9"
        )


def test_prompt_lineage_lists_ancestors_nearest_first(lake: Lake) -> None:
    made = lineage.prompt_lineage(lake.scan("nodes"), lake.scan("edges"))
    graph = _inherits(lake)
    for row in made.head(50).iter_rows(named=True):
        path = nx.shortest_path(graph, row["template_id"], row["root"])
        assert row["ancestors"] == path[1:]
        assert graph.out_degree(row["root"]) == 0


def test_session_chains_equal_networkx(lake: Lake) -> None:
    chains = lineage.session_chains(lake.scan("nodes"), lake.scan("edges"))
    prompts = lake.nodes(types=["Prompt"]).select("id", "session_id")
    follows = lake.edges(types=["FOLLOWS"]).select("src", "dst", "session_id")
    assert chains["forks"].sum() > 0  # the generator forks some sessions
    for row in chains.head(40).iter_rows(named=True):
        graph = nx.DiGraph()
        graph.add_nodes_from(prompts.filter(pl.col("session_id") == row["session_id"])["id"])
        graph.add_edges_from(
            follows.filter(pl.col("session_id") == row["session_id"]).select("src", "dst").rows()
        )
        assert row["prompts"] == graph.number_of_nodes()
        assert row["depth"] == nx.dag_longest_path_length(graph)
        assert row["forks"] == sum(1 for n in graph if graph.in_degree(n) >= 2)
        assert row["leaves"] == sum(1 for n in graph if graph.in_degree(n) == 0)
