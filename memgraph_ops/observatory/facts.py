"""Fact frames: one row per prompt, response, tool invocation or handoff, with the joins the
metrics need already made (latency from RESPONDS_TO, agent from HANDLED_BY, ...).

Everything is lazy polars over the lake's `nodes` and `edges` scans, reading only the columns
it needs. Missing joins (an imported chat has no agents, templates or handoffs) give nulls,
never errors. `day` is the UTC date of the row's `created_at`.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

Frame = pl.LazyFrame | pl.DataFrame


def schema(columns: Mapping[str, pl.DataType | type[pl.DataType]]) -> pl.Schema:
    """A polars schema from a mapping (typed, so result schemas read as plain dicts)."""
    return pl.Schema(columns)


NONE_KEY = "(none)"
"""The key of rows whose dimension is unknown (a prompt no agent handled, ...)."""

_DAY = pl.col("created_at").dt.convert_time_zone("UTC").dt.date().alias("day")


def _edges(edges: Frame, type_: str, *columns: str) -> pl.LazyFrame:
    return edges.lazy().filter(pl.col("type") == type_).select("src", "dst", *columns)


def _one_per(frame: pl.LazyFrame, key: str) -> pl.LazyFrame:
    return frame.unique(key, keep="any")


def handlers(edges: Frame) -> pl.LazyFrame:
    """`prompt_id` -> `agent` (the HANDLED_BY target; one per prompt)."""
    handled = _edges(edges, "HANDLED_BY", "duration_ms").select(
        pl.col("src").alias("prompt_id"), pl.col("dst").alias("agent")
    )
    return _one_per(handled, "prompt_id")


def prompts(nodes: Frame, edges: Frame) -> pl.LazyFrame:
    """id, tenant, session_id, created_at, day, model, template_id, template_version,
    is_system, agent."""
    instantiates = _one_per(
        _edges(edges, "INSTANTIATES", "template_version").select(
            pl.col("src").alias("id"),
            pl.col("dst").alias("edge_template"),
            pl.col("template_version").alias("edge_version"),
        ),
        "id",
    )
    return (
        nodes.lazy()
        .filter(pl.col("type") == "Prompt")
        .select(
            "id",
            "tenant",
            "session_id",
            "created_at",
            "model",
            "template_id",
            "template_version",
            "is_system",
        )
        .join(instantiates, on="id", how="left")
        .join(handlers(edges), left_on="id", right_on="prompt_id", how="left")
        .with_columns(
            _DAY,
            pl.coalesce("edge_template", "template_id").alias("template_id"),
            pl.coalesce("edge_version", "template_version").alias("template_version"),
            pl.col("is_system").fill_null(value=False),
        )
        .drop("edge_template", "edge_version")
    )


def responses(nodes: Frame, edges: Frame) -> pl.LazyFrame:
    """id, tenant, session_id, created_at, day, prompt_id, latency_ms, prompt_tokens,
    completion_tokens, total_tokens, model (asked for by the prompt, else the response's),
    model_version (the response's), agent, template_id."""
    responds = _one_per(
        _edges(edges, "RESPONDS_TO", "latency_ms").select(
            pl.col("src").alias("id"), pl.col("dst").alias("edge_prompt"), "latency_ms"
        ),
        "id",
    )
    asked = prompts(nodes, edges).select(
        pl.col("id").alias("prompt_id"),
        pl.col("model").alias("prompt_model"),
        "agent",
        "template_id",
    )
    return (
        nodes.lazy()
        .filter(pl.col("type") == "Response")
        .select(
            "id",
            "tenant",
            "session_id",
            "created_at",
            "prompt_id",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            pl.col("model").alias("model_version"),
        )
        .join(responds, on="id", how="left")
        .with_columns(pl.coalesce("edge_prompt", "prompt_id").alias("prompt_id"))
        .drop("edge_prompt")
        .join(asked, on="prompt_id", how="left")
        .with_columns(
            _DAY,
            pl.coalesce("prompt_model", "model_version").alias("model"),
            pl.coalesce(
                "total_tokens", pl.col("prompt_tokens") + pl.col("completion_tokens")
            ).alias("total_tokens"),
        )
        .drop("prompt_model")
    )


def tool_calls(nodes: Frame, edges: Frame) -> pl.LazyFrame:
    """id, tenant, session_id, created_at, day, tool_name, success, duration_ms,
    response_id, agent (who handled the prompt the invoking response answered)."""
    invokes = _one_per(
        _edges(edges, "INVOKES").select(pl.col("dst").alias("id"), pl.col("src").alias("inv")),
        "id",
    )
    answered = responses(nodes, edges).select(pl.col("id").alias("response_id"), "agent")
    return (
        nodes.lazy()
        .filter(pl.col("type") == "ToolInvocation")
        .select(
            "id",
            "tenant",
            "session_id",
            "created_at",
            "tool_name",
            "success",
            "error",
            "duration_ms",
            "response_id",
        )
        .join(invokes, on="id", how="left")
        .with_columns(
            pl.coalesce("inv", "response_id").alias("response_id"),
            pl.coalesce("success", pl.col("error").is_null()).alias("success"),
            pl.col("tool_name").fill_null(NONE_KEY),
        )
        .drop("inv", "error")
        .join(answered, on="response_id", how="left")
        .with_columns(_DAY)
    )


def handoffs(nodes: Frame, edges: Frame) -> pl.LazyFrame:
    """One row per TRANSFERS_TO: id, tenant, session_id, created_at, day, from_agent (who
    handled the prompt the transferring response answered), to_agent, handoff_reason."""
    answered = responses(nodes, edges).select(
        pl.col("id").alias("src"), pl.col("agent").alias("from_agent")
    )
    return (
        edges.lazy()
        .filter(pl.col("type") == "TRANSFERS_TO")
        .select(
            "id",
            "tenant",
            "session_id",
            "created_at",
            "src",
            pl.col("dst").alias("to_agent"),
            "handoff_reason",
        )
        .join(answered, on="src", how="left")
        .with_columns(_DAY, pl.col("from_agent").fill_null(NONE_KEY))
        .drop("src")
    )
