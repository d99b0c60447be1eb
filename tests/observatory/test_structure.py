"""Graph structure against networkx on a generated graph.

networkx's scipy PageRank is unavailable (no scipy here); its pure-Python reference
implementation `_pagerank_python` computes the same iteration.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import polars as pl
import pytest
from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python

from memgraph_ops.lake import Lake
from memgraph_ops.observatory.graph import TraversalIndex, components, degrees, encode, pagerank
from memgraph_ops.observatory.structure import structure


def _nx(lake: Lake) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(lake.nodes()["id"].to_list())
    graph.add_edges_from(lake.edges().select("src", "dst").rows())
    return graph


@pytest.fixture(scope="module")
def reference(lake: Lake) -> nx.MultiDiGraph:
    return _nx(lake)


@pytest.fixture(scope="module")
def encoded(lake: Lake):  # type: ignore[no-untyped-def]
    return encode(lake.scan("nodes"), lake.scan("edges"))


def test_degrees_equal_networkx(encoded, reference: nx.MultiDiGraph) -> None:  # type: ignore[no-untyped-def]
    ours = degrees(encoded)
    assert ours.height == reference.number_of_nodes()
    got = {r[0]: r[1:] for r in ours.select("id", "in_degree", "out_degree", "degree").rows()}
    for node in reference.nodes:
        assert got[node] == (
            reference.in_degree(node),
            reference.out_degree(node),
            reference.degree(node),
        )


def test_components_equal_networkx(encoded, reference: nx.MultiDiGraph) -> None:  # type: ignore[no-untyped-def]
    ours = components(encoded).group_by("component").agg(pl.col("id"))
    expected = {frozenset(c) for c in nx.weakly_connected_components(reference)}
    assert {frozenset(ids) for ids in ours["id"].to_list()} == expected
    assert len(expected) > 1


def test_pagerank_within_1e6_of_networkx(encoded, reference: nx.MultiDiGraph) -> None:  # type: ignore[no-untyped-def]
    expected = _pagerank_python(reference, tol=1e-12, max_iter=500)
    ours = dict(pagerank(encoded, tol=1e-12, max_iter=500).select("id", "pagerank").rows())
    diff = max(abs(ours[k] - v) for k, v in expected.items())
    assert diff < 1e-6
    assert abs(sum(ours.values()) - 1) < 1e-9


def test_pagerank_handles_parallel_edges_self_loops_and_dangling_nodes() -> None:
    edges = pl.DataFrame(
        {"src": ["a", "a", "b", "c", "c"], "dst": ["b", "b", "c", "c", "d"], "type": ["X"] * 5}
    )
    nodes = pl.DataFrame({"id": ["a", "b", "c", "d", "e"], "type": ["N"] * 5})
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(nodes["id"])
    graph.add_edges_from(edges.select("src", "dst").rows())
    expected = _pagerank_python(graph, tol=1e-12)
    ours = dict(pagerank(encode(nodes, edges), tol=1e-12).select("id", "pagerank").rows())
    assert max(abs(ours[k] - v) for k, v in expected.items()) < 1e-9
    labels = components(encode(nodes, edges))
    assert labels.filter(pl.col("id") == "e")["component_size"].item() == 1


def test_structure_tables_count_the_lake(lake: Lake, reference: nx.MultiDiGraph) -> None:
    tables = structure(lake.scan("nodes"), lake.scan("edges"))
    counts = {(k, t): c for k, t, c in tables["graph_counts"].rows()}
    assert counts[("graph", "nodes")] == reference.number_of_nodes()
    assert counts[("graph", "edges")] == reference.number_of_edges()
    assert counts[("graph", "components")] == nx.number_weakly_connected_components(reference)
    by_type = lake.nodes().group_by("type").len()
    for type_, n in by_type.rows():
        assert counts[("node", type_)] == n
    total = tables["degree_distribution"].filter(pl.col("direction") == "total")
    hist = np.bincount([d for _, d in reference.degree()])
    ours = total.group_by("degree").agg(pl.col("nodes").sum()).sort("degree")
    assert dict(ours.rows()) == {d: int(c) for d, c in enumerate(hist) if c}
    ranked = tables["pagerank"]
    assert set(ranked["type"]) == {"Template", "Agent"}
    assert ranked.filter(pl.col("rank") == 1).height == 2


def test_traversal_depth_5_equals_networkx(encoded, reference: nx.MultiDiGraph, lake: Lake) -> None:  # type: ignore[no-untyped-def]
    index = TraversalIndex(encoded)
    starts = [*lake.nodes(types=["Prompt"])["id"].head(15).to_list(), "SecurityReview.TPL.007"]
    for start in starts:
        for direction, graph in (("out", reference), ("in", reference.reverse(copy=False))):
            expected = nx.single_source_shortest_path_length(graph, start, cutoff=5)
            ours = index.traverse(start, depth=5, direction=direction)  # type: ignore[arg-type]
            assert dict(ours.select("id", "depth").rows()) == expected
    both = index.traverse(starts[0], depth=2, direction="both")
    expected = nx.single_source_shortest_path_length(
        reference.to_undirected(as_view=True), starts[0], cutoff=2
    )
    assert dict(both.select("id", "depth").rows()) == expected
