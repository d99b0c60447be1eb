"""Graph structure for the Observatory: counts by type, degree distributions, connected
components and the PageRank of templates and agents, from the lake's `nodes` and `edges`."""

from __future__ import annotations

import polars as pl

from memgraph_ops.observatory.facts import NONE_KEY, Frame, schema
from memgraph_ops.observatory.graph import EncodedGraph, components, degrees, encode, pagerank

COUNTS_SCHEMA = schema({"kind": pl.String, "type": pl.String, "count": pl.Int64})
DEGREES_SCHEMA = schema(
    {"node_type": pl.String, "direction": pl.String, "degree": pl.Int64, "nodes": pl.Int64}
)
COMPONENTS_SCHEMA = schema({"component": pl.String, "size": pl.Int64, "types": pl.List(pl.String)})
PAGERANK_SCHEMA = schema(
    {"id": pl.String, "type": pl.String, "pagerank": pl.Float64, "rank": pl.Int64}
)
RANKED_TYPES = ("Template", "Agent")


def structure(nodes: Frame, edges: Frame) -> dict[str, pl.DataFrame]:
    """`graph_counts`, `degree_distribution`, `components` and `pagerank` (templates and
    agents, ranked within their type) of the whole graph."""
    graph = encode(nodes, edges)
    return structure_of(graph)


def structure_of(graph: EncodedGraph) -> dict[str, pl.DataFrame]:
    node_types = degrees(graph).with_columns(pl.col("type").fill_null(NONE_KEY))
    parts = components(graph)
    ranks = pagerank(graph)
    counts = pl.concat(
        [
            node_types.group_by("type")
            .len("count")
            .select(pl.lit("node").alias("kind"), "type", "count"),
            pl.DataFrame({"type": graph.edge_types})
            .group_by("type")
            .len("count")
            .select(pl.lit("edge").alias("kind"), "type", "count"),
            pl.DataFrame(
                {
                    "kind": ["graph"] * 3,
                    "type": ["nodes", "edges", "components"],
                    "count": [graph.n, len(graph.src), parts["component"].n_unique()],
                }
            ),
        ],
        how="vertical_relaxed",
    )
    distribution = (
        node_types.select(
            "type",
            pl.col("in_degree").alias("in"),
            pl.col("out_degree").alias("out"),
            pl.col("degree").alias("total"),
        )
        .unpivot(
            ["in", "out", "total"], index="type", variable_name="direction", value_name="degree"
        )
        .group_by(pl.col("type").alias("node_type"), "direction", "degree")
        .len("nodes")
    )
    sizes = parts.group_by("component").agg(
        pl.len().alias("size"), pl.col("type").fill_null(NONE_KEY).unique().sort().alias("types")
    )
    ranked = ranks.filter(pl.col("type").is_in(RANKED_TYPES)).with_columns(
        pl.col("pagerank").rank("ordinal", descending=True).over("type").alias("rank")
    )
    return {
        "graph_counts": _cast(counts, COUNTS_SCHEMA).sort("kind", "type"),
        "degree_distribution": _cast(distribution, DEGREES_SCHEMA).sort(
            "node_type", "direction", "degree"
        ),
        "components": _cast(sizes, COMPONENTS_SCHEMA).sort(
            "size", "component", descending=[True, False]
        ),
        "pagerank": _cast(ranked, PAGERANK_SCHEMA).sort("type", "rank"),
    }


def _cast(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    return frame.select([pl.col(n).cast(t) for n, t in schema.items()])
