"""Lineage: template inheritance, prompt -> template lineage, impact, FOLLOWS chains.

Pure functions over the lake's `nodes` and `edges` frames (current or time-travelled).
INHERITS points child -> parent; INSTANTIATES prompt -> template; FOLLOWS later prompt ->
earlier prompt (a prompt with two followers is a fork).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from memgraph_ops.errors import InputError
from memgraph_ops.observatory import facts
from memgraph_ops.observatory.facts import Frame, schema
from memgraph_ops.observatory.graph import csr, encode, neighbours

CLOSURE_SCHEMA = schema(
    {
        "descendant": pl.String,
        "ancestor": pl.String,
        "depth": pl.Int64,
        "path": pl.List(pl.String),
        "overridden": pl.List(pl.String),
    }
)
TEMPLATES_SCHEMA = schema(
    {
        "id": pl.String,
        "name": pl.String,
        "version": pl.String,
        "parent_id": pl.String,
        "root": pl.String,
        "depth": pl.Int64,
        "overrides": pl.List(pl.String),
        "lineage": pl.List(pl.String),
        "effective_version": pl.String,
        "descendants": pl.Int64,
    }
)
CHAINS_SCHEMA = schema(
    {
        "session_id": pl.String,
        "tenant": pl.String,
        "prompts": pl.Int64,
        "follows": pl.Int64,
        "roots": pl.Int64,
        "depth": pl.Int64,
        "forks": pl.Int64,
        "leaves": pl.Int64,
        "branching_factor": pl.Float64,
    }
)


def templates(nodes: Frame) -> pl.LazyFrame:
    """Template nodes: id, name, version, parent_id."""
    return (
        nodes.lazy()
        .filter(pl.col("type") == "Template")
        .select("id", "name", "version", "parent_id")
    )


def inherits(edges: Frame) -> pl.LazyFrame:
    """INHERITS edges as child, parent, overrides (the sections the child replaces)."""
    return (
        edges.lazy()
        .filter(pl.col("type") == "INHERITS")
        .select(
            pl.col("src").alias("child"),
            pl.col("dst").alias("parent"),
            pl.col("override_sections")
            .fill_null(pl.lit([], dtype=pl.List(pl.String)))
            .alias("overrides"),
        )
        .unique(["child", "parent"], keep="any")
    )


def closure(edges: Frame, nodes: Frame | None = None) -> pl.DataFrame:
    """The INHERITS closure: every (descendant, ancestor) pair with its depth (0 = itself),
    the path from descendant up to ancestor, and the sections overridden on the way (which
    the descendant does not take from that ancestor).

    Templates known only from `nodes` (no INHERITS edge) appear with their depth-0 row. A
    cycle stops at the first repeated template instead of looping.
    """
    links = inherits(edges).collect()
    ids = pl.concat([links["child"], links["parent"]])
    if nodes is not None:
        ids = pl.concat([ids, templates(nodes).collect()["id"]])
    frontier = pl.DataFrame({"descendant": ids.unique().sort()}).with_columns(
        ancestor=pl.col("descendant"),
        depth=pl.lit(0, pl.Int64),
        path=pl.concat_list("descendant"),
        overridden=pl.lit([], dtype=pl.List(pl.String)),
    )
    levels = [frontier]
    while frontier.height:
        step = frontier.join(links, left_on="ancestor", right_on="child")
        step = step.filter(~pl.col("path").list.contains(pl.col("parent")))
        frontier = step.select(
            "descendant",
            pl.col("parent").alias("ancestor"),
            (pl.col("depth") + 1).alias("depth"),
            pl.concat_list("path", "parent").alias("path"),
            pl.concat_list("overridden", "overrides").list.unique().list.sort().alias("overridden"),
        )
        levels.append(frontier)
    return pl.concat(levels).select(CLOSURE_SCHEMA.names()).cast(dict(CLOSURE_SCHEMA))  # type: ignore[arg-type]


def template_table(nodes: Frame, edges: Frame) -> pl.DataFrame:
    """One row per template: its root, depth, own overrides, lineage (`name@version` from the
    template up to its root), effective version (the lineage joined with ` < `) and how many
    templates descend from it."""
    closed = closure(edges, nodes)
    known = templates(nodes).collect()
    label = (
        pl.coalesce(pl.col("name"), pl.col("ancestor"))
        + pl.lit("@")
        + pl.coalesce(pl.col("version"), pl.lit("?"))
    )
    lineage = (
        closed.join(known, left_on="ancestor", right_on="id", how="left")
        .sort("descendant", "depth")
        .group_by("descendant", maintain_order=True)
        .agg(
            label.alias("lineage"),
            pl.col("ancestor").last().alias("root"),
            pl.col("depth").max().alias("depth"),
        )
    )
    descendants = closed.filter(pl.col("depth") > 0).group_by("ancestor").len("descendants")
    own = inherits(edges).collect().unique("child", keep="any")
    table = (
        lineage.rename({"descendant": "id"})
        .join(known, on="id", how="left")
        .join(own.select(pl.col("child").alias("id"), "overrides"), on="id", how="left")
        .join(descendants.rename({"ancestor": "id"}), on="id", how="left")
        .with_columns(
            pl.col("lineage").list.join(" < ").alias("effective_version"),
            pl.col("descendants").fill_null(0),
            pl.col("overrides").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
    )
    return table.select([pl.col(n).cast(t) for n, t in TEMPLATES_SCHEMA.items()]).sort("id")


def prompt_lineage(nodes: Frame, edges: Frame) -> pl.DataFrame:
    """Every prompt made from a template: prompt id, session, tenant, time, its template and
    version, and the template's ancestors up to the root (`ancestors`, nearest first)."""
    closed = closure(edges, nodes)
    chains = (
        closed.filter(pl.col("depth") > 0)
        .sort("descendant", "depth")
        .group_by("descendant", maintain_order=True)
        .agg(pl.col("ancestor").alias("ancestors"))
    )
    made = facts.prompts(nodes, edges).filter(pl.col("template_id").is_not_null())
    return (
        made.select(
            pl.col("id").alias("prompt_id"),
            "session_id",
            "tenant",
            "created_at",
            "day",
            "template_id",
            "template_version",
        )
        .join(chains.lazy(), left_on="template_id", right_on="descendant", how="left")
        .with_columns(pl.col("ancestors").fill_null(pl.lit([], dtype=pl.List(pl.String))))
        .with_columns(
            pl.col("ancestors").list.last().fill_null(pl.col("template_id")).alias("root")
        )
        .collect()
        .sort("created_at", "prompt_id")
    )


@dataclass(frozen=True)
class Impact:
    """What was produced downstream of a template (or one of its versions)."""

    template: str
    version: str | None
    templates: list[str]
    prompts: pl.DataFrame
    responses: pl.DataFrame
    tool_invocations: pl.DataFrame
    sessions: list[str]
    agents: list[str]

    def summary(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "version": self.version,
            "templates": len(self.templates),
            "prompts": self.prompts.height,
            "responses": self.responses.height,
            "tool_invocations": self.tool_invocations.height,
            "sessions": len(self.sessions),
            "agents": len(self.agents),
        }


def descendants(edges: Frame, template: str, nodes: Frame | None = None) -> list[str]:
    """The template and every template inheriting from it, directly or not."""
    closed = closure(edges, nodes)
    found = closed.filter(pl.col("ancestor") == template)
    if found.is_empty():
        raise InputError(
            f"unknown template {template!r}: no Template node or INHERITS edge has this id "
            "(ids are exact; list them with `memgraph-ops lineage --list`)"
        )
    return sorted(found["descendant"].to_list())


def impact(nodes: Frame, edges: Frame, template: str, *, version: str | None = None) -> Impact:
    """Everything produced downstream of `template`: prompts made from it or any descendant,
    their responses, the tool invocations of those responses, the sessions and the agents
    (handling the prompts or receiving a handoff).

    With `version`, only the prompts that instantiated `template` itself at that version, and
    the descendants' prompts made while that version was the one in use (from its first to its
    last observed instantiation).
    """
    family = descendants(edges, template, nodes)
    made = facts.prompts(nodes, edges).filter(pl.col("template_id").is_in(family)).collect()
    if version is not None:
        own = made.filter(pl.col("template_id") == template)
        at_version = own.filter(pl.col("template_version") == version)
        if at_version.is_empty():
            seen = sorted(set(own["template_version"].drop_nulls().to_list()))
            raise InputError(
                f"template {template!r} was never instantiated at version {version!r}; "
                f"versions seen: {', '.join(seen) or 'none'}"
            )
        start, end = at_version["created_at"].min(), at_version["created_at"].max()
        made = pl.concat(
            [
                at_version,
                made.filter(
                    (pl.col("template_id") != template)
                    & pl.col("created_at").is_between(start, end)
                ),
            ]
        )
    prompt_ids = made["id"].implode()
    answered = facts.responses(nodes, edges).filter(pl.col("prompt_id").is_in(prompt_ids)).collect()
    calls = (
        facts.tool_calls(nodes, edges)
        .filter(pl.col("response_id").is_in(answered["id"].implode()))
        .collect()
    )
    handed = (
        edges.lazy()
        .filter((pl.col("type") == "TRANSFERS_TO") & pl.col("src").is_in(answered["id"].implode()))
        .select("dst")
        .collect()["dst"]
    )
    agents = pl.concat([made["agent"].drop_nulls(), handed]).unique().sort().to_list()
    return Impact(
        template=template,
        version=version,
        templates=family,
        prompts=made,
        responses=answered,
        tool_invocations=calls,
        sessions=sorted(set(made["session_id"].drop_nulls().to_list())),
        agents=agents,
    )


def prompt_depths(nodes: Frame, edges: Frame) -> pl.DataFrame:
    """Every prompt with its session, depth in the FOLLOWS chain (0 = a prompt that follows
    nothing) and how many prompts follow it (`followers`; 2 or more = a fork)."""
    prompt_nodes = (
        nodes.lazy().filter(pl.col("type") == "Prompt").select("id", "type", "session_id", "tenant")
    )
    follows = edges.lazy().filter(pl.col("type") == "FOLLOWS").select("src", "dst", "type")
    graph = encode(prompt_nodes, follows)
    n = graph.n
    followers = np.bincount(graph.dst, minlength=n)
    depth = np.full(n, -1, dtype=np.int64)
    frontier = np.flatnonzero(np.bincount(graph.src, minlength=n) == 0)
    depth[frontier] = 0
    # level by level from the roots: a follower is one deeper than the prompt it follows
    table = csr(graph.dst, graph.src, n)
    level = 0
    while frontier.size:
        level += 1
        reached = np.unique(neighbours(table, frontier))
        frontier = reached[depth[reached] < 0]
        depth[frontier] = level
    frame = pl.DataFrame({"id": graph.ids, "depth": depth, "followers": followers.astype(np.int64)})
    return prompt_nodes.collect().drop("type").join(frame, on="id", how="left")


def session_chains(nodes: Frame, edges: Frame) -> pl.DataFrame:
    """Per session: prompts, FOLLOWS edges, roots, depth (longest chain, in FOLLOWS hops),
    forks (prompts followed twice or more), leaves (prompts nobody follows) and the branching
    factor (mean followers of the prompts that have any)."""
    depths = prompt_depths(nodes, edges)
    chains = depths.group_by("session_id").agg(
        pl.col("tenant").first(),
        pl.len().alias("prompts"),
        pl.col("followers").sum().alias("follows"),
        (pl.col("depth") == 0).sum().alias("roots"),
        pl.col("depth").max().alias("depth"),
        (pl.col("followers") >= 2).sum().alias("forks"),
        (pl.col("followers") == 0).sum().alias("leaves"),
        pl.col("followers").filter(pl.col("followers") > 0).mean().alias("branching_factor"),
    )
    return chains.select([pl.col(c).cast(t) for c, t in CHAINS_SCHEMA.items()]).sort("session_id")
