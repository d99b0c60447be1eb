"""The plan's example queries, answered from the lake (now, or as of a version or time)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from memgraph_ops.errors import InputError
from memgraph_ops.observatory import facts, lineage
from memgraph_ops.observatory.facts import Frame

CONVERSATION_TYPES = ("Prompt", "Response", "ToolInvocation")


def recent_context(nodes: Frame, session_id: str, *, last: int = 10) -> pl.DataFrame:
    """A session's last `last` prompts, responses and tool calls, oldest first."""
    if last < 1:
        raise InputError(f"last must be at least 1, got {last}")
    return (
        nodes.lazy()
        .filter((pl.col("session_id") == session_id) & pl.col("type").is_in(CONVERSATION_TYPES))
        .select(
            "id",
            "type",
            "created_at",
            "last_seq",
            "is_system",
            "content",
            "tool_name",
            "result",
            "error",
            "model",
            "total_tokens",
        )
        .sort("created_at", "last_seq")
        .tail(last)
        .collect()
    )


def prompts_from_template(nodes: Frame, edges: Frame, template: str) -> pl.DataFrame:
    """Every prompt derived from `template`: made from it (INSTANTIATES) or from any template
    that INHERITS from it, with the template each was made from."""
    family = lineage.descendants(edges, template, nodes)
    return (
        facts.prompts(nodes, edges)
        .filter(pl.col("template_id").is_in(family))
        .select("id", "session_id", "tenant", "created_at", "template_id", "template_version")
        .sort("created_at", "id")
        .collect()
    )


def handled_by_duration(nodes: Frame, edges: Frame) -> pl.DataFrame:
    """Average HANDLED_BY duration per agent: agent, name, prompts, mean and p95 ms."""
    names = (
        nodes.lazy().filter(pl.col("type") == "Agent").select(pl.col("id").alias("agent"), "name")
    )
    return (
        edges.lazy()
        .filter(pl.col("type") == "HANDLED_BY")
        .group_by(pl.col("dst").alias("agent"))
        .agg(
            pl.len().alias("prompts"),
            pl.col("duration_ms").mean().alias("duration_ms_mean"),
            pl.col("duration_ms").quantile(0.95, interpolation="linear").alias("duration_ms_p95"),
        )
        .join(names, on="agent", how="left")
        .select(
            "agent", "name", pl.col("prompts").cast(pl.Int64), "duration_ms_mean", "duration_ms_p95"
        )
        .sort("duration_ms_mean", descending=True, nulls_last=True)
        .collect()
    )


def tool_success_rate(nodes: Frame, edges: Frame, *, since: datetime | None = None) -> pl.DataFrame:
    """Per tool, calls, successes and success rate of the invocations at or after `since`
    (naive means UTC; None = all)."""
    calls = facts.tool_calls(nodes, edges)
    if since is not None:
        cutoff = since if since.tzinfo else since.replace(tzinfo=UTC)
        calls = calls.filter(pl.col("created_at") >= cutoff)
    return (
        calls.group_by(pl.col("tool_name").alias("tool"))
        .agg(
            pl.len().cast(pl.Int64).alias("calls"),
            pl.col("success").sum().cast(pl.Int64).alias("successes"),
        )
        .with_columns((pl.col("successes") / pl.col("calls")).alias("success_rate"))
        .sort("success_rate", "tool")
        .collect()
    )
