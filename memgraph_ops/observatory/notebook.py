"""The Observatory's functions for notebooks, re-exported by `memgraph_ops.observatory`
(whose docstring shows them in use)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import polars as pl

from memgraph_ops.lake import Lake
from memgraph_ops.observatory import history, lineage, queries, tables
from memgraph_ops.observatory.graph import TraversalIndex, encode
from memgraph_ops.observatory.history import AsOf, TemplateLineage
from memgraph_ops.observatory.lineage import Impact
from memgraph_ops.observatory.tables import RefreshReport


class HasLake(Protocol):
    @property
    def lake(self) -> Lake: ...


Source = Lake | HasLake


def _lake(source: Source) -> Lake:
    return source if isinstance(source, Lake) else source.lake


def refresh(source: Source, *, full: bool = False) -> RefreshReport:
    """Recompute the new or changed day partitions and, if the lake moved, the snapshots."""
    return tables.refresh(_lake(source), full=full)


def table(source: Source, name: str, *, as_of: int | datetime | None = None) -> pl.DataFrame:
    """An Observatory table by name (see `tables.DAILY_TABLES`, `tables.SNAPSHOT_TABLES`)."""
    return tables.read(_lake(source), name, as_of=as_of)


def templates(source: Source, *, as_of: AsOf = None) -> pl.DataFrame:
    """Every template with its root, depth, overrides and effective version."""
    nodes, edges = history.frames_as_of(_lake(source), as_of)
    return lineage.template_table(nodes, edges)


def template_lineage(source: Source, template: str, *, as_of: AsOf = None) -> TemplateLineage:
    """A template's ancestors, descendants and prompts, now or as of a version or time."""
    return history.lineage_as_of(_lake(source), template, as_of)


def lineage_diff(source: Source, before: AsOf, after: AsOf = None) -> pl.DataFrame:
    """How every template's lineage changed between two versions or times."""
    return history.lineage_diff(_lake(source), before, after)


def impact(
    source: Source, template: str, *, version: str | None = None, as_of: AsOf = None
) -> Impact:
    """Everything produced downstream of a template (or of one of its versions)."""
    nodes, edges = history.frames_as_of(_lake(source), as_of)
    return lineage.impact(nodes, edges, template, version=version)


def session_chains(source: Source, *, as_of: AsOf = None) -> pl.DataFrame:
    """FOLLOWS chains per session: depth, forks, leaves, branching factor."""
    nodes, edges = history.frames_as_of(_lake(source), as_of)
    return lineage.session_chains(nodes, edges)


def recent_context(
    source: Source, session_id: str, *, last: int = 10, as_of: AsOf = None
) -> pl.DataFrame:
    """A session's last prompts, responses and tool calls, from the lake."""
    nodes, _ = history.frames_as_of(_lake(source), as_of)
    return queries.recent_context(nodes, session_id, last=last)


def prompts_from_template(source: Source, template: str, *, as_of: AsOf = None) -> pl.DataFrame:
    """Every prompt derived from a template through INSTANTIATES and INHERITS."""
    nodes, edges = history.frames_as_of(_lake(source), as_of)
    return queries.prompts_from_template(nodes, edges, template)


def handled_by_duration(source: Source, *, as_of: AsOf = None) -> pl.DataFrame:
    """Average HANDLED_BY duration per agent."""
    nodes, edges = history.frames_as_of(_lake(source), as_of)
    return queries.handled_by_duration(nodes, edges)


def tool_success_rate(
    source: Source, *, since: datetime | None = None, as_of: AsOf = None
) -> pl.DataFrame:
    """Success rate per tool of the calls since a cutoff."""
    nodes, edges = history.frames_as_of(_lake(source), as_of)
    return queries.tool_success_rate(nodes, edges, since=since)


def traversal_index(source: Source, *, as_of: AsOf = None) -> TraversalIndex:
    """An index for repeated bounded traversals (`index.traverse(id, depth=5)`)."""
    nodes, edges = history.frames_as_of(_lake(source), as_of)
    return TraversalIndex(encode(nodes, edges))
