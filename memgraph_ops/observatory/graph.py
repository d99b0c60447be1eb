"""Graph kernels over edge lists: degrees, weakly connected components, PageRank, traversal.

Node ids are strings; the kernels run on dense integer indices (`encode`) with numpy, so a pass
over ten million edges is a handful of vectorised array operations, never a Python loop over
rows. Every kernel treats the graph as networkx's `MultiDiGraph` would: parallel edges count
once each, self-loops count in both degrees, and an edge endpoint missing from the node table is
still a node (a dangling edge's target).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

Indices = npt.NDArray[np.int64]
Direction = Literal["out", "in", "both"]


@dataclass(frozen=True)
class EncodedGraph:
    """A graph on dense indices: `ids[i]` is node i; edge k goes `src[k]` -> `dst[k]`."""

    ids: pl.Series
    types: pl.Series
    src: Indices
    dst: Indices
    edge_types: pl.Series

    @property
    def n(self) -> int:
        return self.ids.len()


def encode(nodes: pl.LazyFrame | pl.DataFrame, edges: pl.LazyFrame | pl.DataFrame) -> EncodedGraph:
    """Number every node (node table ids plus edge endpoints) and rewrite edges on indices.

    `nodes` needs `id`, `type`; `edges` needs `src`, `dst`, `type`. Nodes known only as an edge
    endpoint get type null.
    """
    node_ids = nodes.lazy().select("id", "type").unique("id", keep="any")
    edge_frame = edges.lazy().select("src", "dst", pl.col("type").alias("edge_type"))
    endpoints = pl.concat(
        [edge_frame.select(pl.col("src").alias("id")), edge_frame.select(pl.col("dst").alias("id"))]
    ).unique()
    vertices = (
        pl.concat([node_ids.select("id"), endpoints])
        .unique()
        .join(node_ids, on="id", how="left")
        .with_row_index("ix")
        .collect()
    )
    lookup = vertices.lazy().select("id", pl.col("ix").cast(pl.Int64))
    coded = (
        edge_frame.join(lookup.rename({"id": "src", "ix": "s"}), on="src")
        .join(lookup.rename({"id": "dst", "ix": "d"}), on="dst")
        .select("s", "d", "edge_type")
        .collect()
    )
    return EncodedGraph(
        ids=vertices["id"],
        types=vertices["type"],
        src=coded["s"].to_numpy().astype(np.int64, copy=False),
        dst=coded["d"].to_numpy().astype(np.int64, copy=False),
        edge_types=coded["edge_type"],
    )


def degrees(graph: EncodedGraph) -> pl.DataFrame:
    """In-, out- and total degree of every node: `id`, `type`, `in_degree`, `out_degree`,
    `degree`."""
    indeg = np.bincount(graph.dst, minlength=graph.n)
    outdeg = np.bincount(graph.src, minlength=graph.n)
    return pl.DataFrame(
        {
            "id": graph.ids,
            "type": graph.types,
            "in_degree": indeg.astype(np.int64),
            "out_degree": outdeg.astype(np.int64),
            "degree": (indeg + outdeg).astype(np.int64),
        }
    )


def component_labels(graph: EncodedGraph) -> Indices:
    """Weakly connected components: `labels[i]` is the smallest index in i's component.

    Hook-and-compress (Shiloach–Vishkin style): every round hooks the larger root of each edge
    onto the smaller one, then compresses every path to its root; rounds grow roughly with the
    log of the component size, not its diameter.
    """
    labels = np.arange(graph.n, dtype=np.int64)
    src, dst = graph.src, graph.dst
    while True:
        a, b = labels[src], labels[dst]
        differ = a != b
        if not differ.any():
            return labels
        a, b = a[differ], b[differ]
        np.minimum.at(labels, np.maximum(a, b), np.minimum(a, b))
        while True:
            parents = labels[labels]
            if np.array_equal(parents, labels):
                break
            labels = parents
        src, dst = src[differ], dst[differ]


def components(graph: EncodedGraph) -> pl.DataFrame:
    """Every node with its component key (the smallest node id in the component) and size."""
    frame = pl.DataFrame({"id": graph.ids, "type": graph.types, "label": component_labels(graph)})
    return frame.with_columns(
        pl.col("id").min().over("label").alias("component"),
        pl.len().over("label").cast(pl.Int64).alias("component_size"),
    ).drop("label")


def pagerank(
    graph: EncodedGraph, *, alpha: float = 0.85, tol: float = 1e-10, max_iter: int = 200
) -> pl.DataFrame:
    """PageRank with networkx's conventions: uniform teleport, dangling mass spread uniformly,
    parallel edges weighted by their count, stop when the L1 change is below `n * tol`.

    Returns `id`, `type`, `pagerank` (sums to 1).
    """
    n = graph.n
    if n == 0:
        return pl.DataFrame(schema={"id": pl.String, "type": pl.String, "pagerank": pl.Float64})
    outdeg = np.bincount(graph.src, minlength=n).astype(np.float64)
    dangling = outdeg == 0
    inv_out = np.zeros(n)
    np.divide(1.0, outdeg, out=inv_out, where=~dangling)
    x = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        spread = np.bincount(graph.dst, weights=(x * inv_out)[graph.src], minlength=n)
        new = alpha * (spread + x[dangling].sum() / n) + (1.0 - alpha) / n
        err = float(np.abs(new - x).sum())
        x = new
        if err < n * tol:
            break
    return pl.DataFrame({"id": graph.ids, "type": graph.types, "pagerank": x})


class TraversalIndex:
    """Adjacency in compressed sparse rows, both directions, for repeated bounded traversals.

    Build it once (seconds for millions of edges); each `traverse` then touches only the nodes
    it reaches.

    Example:
        >>> index = TraversalIndex(encode(nodes, edges))                # doctest: +SKIP
        >>> index.traverse("SecurityReview.TPL.007", depth=5, direction="out")
    """

    def __init__(self, graph: EncodedGraph) -> None:
        self.graph = graph
        self._position = {key: i for i, key in enumerate(graph.ids.to_list())}
        self._out = csr(graph.src, graph.dst, graph.n)
        self._in = csr(graph.dst, graph.src, graph.n)

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._position

    def traverse(
        self, node_id: str, *, depth: int = 5, direction: Direction = "out"
    ) -> pl.DataFrame:
        """Nodes reachable from `node_id` within `depth` hops: `id`, `type`, `depth` (0 = the
        start). Raises KeyError for an unknown id."""
        start = self._position[node_id]
        seen = np.zeros(self.graph.n, dtype=np.bool_)
        seen[start] = True
        frontier = np.array([start], dtype=np.int64)
        found: list[Indices] = [frontier]
        levels: list[int] = [0]
        tables = (
            [self._out, self._in]
            if direction == "both"
            else [self._out if direction == "out" else self._in]
        )
        for level in range(1, depth + 1):
            reached = np.unique(np.concatenate([neighbours(t, frontier) for t in tables]))
            fresh = reached[~seen[reached]]
            if fresh.size == 0:
                break
            seen[fresh] = True
            found.append(fresh)
            levels.extend([level] * fresh.size)
            frontier = fresh
        order = np.concatenate(found)
        return pl.DataFrame(
            {
                "id": self.graph.ids.gather(order),
                "type": self.graph.types.gather(order),
                "depth": pl.Series(levels, dtype=pl.Int64),
            }
        )


def csr(keys: Indices, values: Indices, n: int) -> tuple[Indices, Indices]:
    order = np.argsort(keys, kind="stable")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=offsets[1:])
    return offsets, values[order]


def neighbours(table: tuple[Indices, Indices], frontier: Indices) -> Indices:
    offsets, targets = table
    starts = offsets[frontier]
    counts = offsets[frontier + 1] - starts
    keep = counts > 0
    starts, counts = starts[keep], counts[keep]
    if starts.size == 0:
        return np.empty(0, dtype=np.int64)
    # the positions start..start+count-1 of every frontier node, as one cumulative sum
    steps = np.ones(int(counts.sum()), dtype=np.int64)
    steps[0] = starts[0]
    steps[np.cumsum(counts)[:-1]] = starts[1:] - (starts[:-1] + counts[:-1] - 1)
    return targets[np.cumsum(steps)]
