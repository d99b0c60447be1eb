"""Lineage history through Delta time travel: lineage as of a version or a time, and the
difference between two points in time ("which templates gained descendants since last week").

A version names a version of the `nodes` table; the `edges` table is read at the version that
holds the same events (the highest compaction watermark not past the nodes version's), so both
sides of the graph describe the same moment. A time reads each table as it was then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl

from memgraph_ops.errors import InputError
from memgraph_ops.lake import Lake
from memgraph_ops.observatory import lineage
from memgraph_ops.observatory.facts import schema

AsOf = int | datetime | str | None


def parse_as_of(lake: Lake, value: AsOf) -> int | datetime | None:
    """A Delta version (`12`) or an ISO time (`2025-05-20`, `2025-05-20T10:00:00+00:00`; naive
    means UTC), checked against the lake's history. Raises InputError with what is valid."""
    if value is None or isinstance(value, int | datetime):
        parsed: int | datetime | None = value
    else:
        text = value.strip()
        if text.isdigit():
            parsed = int(text)
        else:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise InputError(
                    f"--as-of {value!r} is neither a Delta version (a whole number) nor an ISO "
                    "time such as 2025-05-20 or 2025-05-20T10:00:00Z"
                ) from None
    if isinstance(parsed, datetime) and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    history = lake.history("nodes")
    if history.is_empty():
        raise InputError("the lake has no nodes table yet: run `memgraph-ops compact` first")
    if isinstance(parsed, int):
        latest = int(history["version"].max())  # type: ignore[arg-type]
        if not 0 <= parsed <= latest:
            raise InputError(f"version {parsed} does not exist: the nodes table has 0..{latest}")
    elif isinstance(parsed, datetime):
        first = history.select(pl.col("timestamp").min()).item()
        if parsed < first:
            raise InputError(
                f"{parsed.isoformat()} is before the lake's first commit ({first.isoformat()}); "
                "pick a later time or a version"
            )
    return parsed


def frames_as_of(lake: Lake, as_of: AsOf) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The lake's `nodes` and `edges` as of one moment (see the module docstring)."""
    point = parse_as_of(lake, as_of)
    if point is None:
        return lake.scan("nodes"), lake.scan("edges")
    if isinstance(point, datetime):
        return lake.scan("nodes", as_of=point), _edges_at_time(lake, point)
    return lake.scan("nodes", as_of=point), _edges_like_nodes_version(lake, point)


def _edges_at_time(lake: Lake, point: datetime) -> pl.LazyFrame:
    first = lake.history("edges")["timestamp"].min()
    if first is None or point < first:  # type: ignore[operator]
        return lake.scan("edges").head(0)
    return lake.scan("edges", as_of=point)


def _edges_like_nodes_version(lake: Lake, version: int) -> pl.LazyFrame:
    seq = _seq_at(lake.history("nodes"), version)
    edges = lake.history("edges").with_columns(pl.col("seq_to").cast(pl.Int64, strict=False))
    eligible = edges.filter(pl.col("seq_to").fill_null(0) <= seq)
    if seq == 0 or eligible.is_empty():
        return lake.scan("edges").head(0)
    # the last commit that holds at most the same events, and whatever came before it
    target = eligible.filter(pl.col("seq_to") == eligible["seq_to"].max())["version"].max()
    return lake.scan("edges", as_of=int(target))  # type: ignore[arg-type]


def _seq_at(history: pl.DataFrame, version: int) -> int:
    upto = history.filter(pl.col("version") <= version).with_columns(
        pl.col("seq_to").cast(pl.Int64, strict=False)
    )
    value = upto["seq_to"].max()
    return int(value) if value is not None else 0  # type: ignore[arg-type]


@dataclass(frozen=True)
class TemplateLineage:
    """A template's lineage at one moment."""

    template: str
    as_of: int | datetime | None
    row: dict[str, Any]
    ancestors: pl.DataFrame
    descendants: pl.DataFrame
    prompts_by_template: pl.DataFrame

    def as_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "as_of": self.as_of,
            **{k: v for k, v in self.row.items() if k != "id"},
            "ancestors": self.ancestors.to_dicts(),
            "descendants": self.descendants.to_dicts(),
            "prompts": int(self.prompts_by_template["prompts"].sum()),
            "prompts_by_template": self.prompts_by_template.to_dicts(),
        }


def lineage_as_of(lake: Lake, template: str, as_of: AsOf = None) -> TemplateLineage:
    """A template's ancestors, descendants and the prompts made from each, as of a version or
    time (now if None). Raises InputError for an unknown template or a bad `as_of`."""
    point = parse_as_of(lake, as_of)
    nodes, edges = frames_as_of(lake, point)
    table = lineage.template_table(nodes, edges)
    row = table.filter(pl.col("id") == template)
    if row.is_empty():
        known = ", ".join(table["id"].head(20).to_list()) or "none"
        raise InputError(
            f"unknown template {template!r}"
            + (f" as of {as_of}" if as_of is not None else "")
            + f"; templates in the lake: {known}"
        )
    closed = lineage.closure(edges, nodes)
    names = table.select("id", "name", "version")
    ancestors = (
        closed.filter((pl.col("descendant") == template) & (pl.col("depth") > 0))
        .select(pl.col("ancestor").alias("id"), "depth", "overridden")
        .join(names, on="id", how="left")
        .sort("depth")
    )
    descendants = (
        closed.filter((pl.col("ancestor") == template) & (pl.col("depth") > 0))
        .select(pl.col("descendant").alias("id"), "depth", "overridden")
        .join(names, on="id", how="left")
        .sort("depth", "id")
    )
    family = [template, *descendants["id"].to_list()]
    made = (
        lineage.prompt_lineage(nodes, edges)
        .filter(pl.col("template_id").is_in(family))
        .group_by("template_id", "template_version")
        .agg(pl.len().alias("prompts"), pl.col("created_at").max().alias("last_used"))
        .sort("template_id", "template_version")
    )
    return TemplateLineage(template, point, row.row(0, named=True), ancestors, descendants, made)


DIFF_SCHEMA = schema(
    {
        "template": pl.String,
        "version_before": pl.String,
        "version_after": pl.String,
        "descendants_before": pl.Int64,
        "descendants_after": pl.Int64,
        "gained_descendants": pl.List(pl.String),
        "lost_descendants": pl.List(pl.String),
        "prompts_before": pl.Int64,
        "prompts_after": pl.Int64,
        "new_prompts": pl.Int64,
    }
)


def lineage_diff(lake: Lake, before: AsOf, after: AsOf = None) -> pl.DataFrame:
    """Per template, how its lineage changed between two moments: version, descendant
    templates gained and lost, and prompts made from it or its descendants before and after.
    Sorted with the templates that gained most first."""
    sides = []
    for point in (before, after):
        nodes, edges = frames_as_of(lake, point)
        table = lineage.template_table(nodes, edges).select("id", "version")
        closed = lineage.closure(edges, nodes)
        family = (
            closed.filter(pl.col("depth") > 0)
            .group_by("ancestor")
            .agg(pl.col("descendant").sort().alias("family"))
        )
        made = lineage.prompt_lineage(nodes, edges)
        counts = (
            closed.join(
                made.group_by("template_id").len("n"), left_on="descendant", right_on="template_id"
            )
            .group_by("ancestor")
            .agg(pl.col("n").sum().alias("prompts"))
        )
        sides.append(
            table.join(family, left_on="id", right_on="ancestor", how="left")
            .join(counts, left_on="id", right_on="ancestor", how="left")
            .with_columns(
                pl.col("family").fill_null(pl.lit([], dtype=pl.List(pl.String))),
                pl.col("prompts").fill_null(0),
            )
        )
    old, new = sides
    joined = new.join(old, on="id", how="full", coalesce=True, suffix="_before").with_columns(
        pl.col("family", "family_before").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        pl.col("prompts", "prompts_before").fill_null(0),
    )
    diff = joined.select(
        pl.col("id").alias("template"),
        pl.col("version_before"),
        pl.col("version").alias("version_after"),
        pl.col("family_before").list.len().alias("descendants_before"),
        pl.col("family").list.len().alias("descendants_after"),
        pl.col("family")
        .list.set_difference("family_before")
        .list.sort()
        .alias("gained_descendants"),
        pl.col("family_before").list.set_difference("family").list.sort().alias("lost_descendants"),
        "prompts_before",
        pl.col("prompts").alias("prompts_after"),
        (pl.col("prompts") - pl.col("prompts_before")).alias("new_prompts"),
    )
    return diff.select([pl.col(n).cast(t) for n, t in DIFF_SCHEMA.items()]).sort(
        "new_prompts", "template", descending=[True, False]
    )
