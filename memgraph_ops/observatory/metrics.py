"""Observatory metrics per day: pure functions from fact frames (`facts`) to result frames.

Every result has a fixed schema and is valid when empty (an imported chat has no agents,
templates or handoffs). Percentiles use linear interpolation between order statistics, like
numpy's default, so `latency_p95` equals `np.percentile(latencies, 95)` over the same rows.

Rows are keyed by `day` and, where it applies, a `dimension` (`all`, `tenant`, `agent`,
`template`, `model`, `model_version`) and its `key`. Unknown keys read `(none)`.
"""

from __future__ import annotations

import polars as pl

from memgraph_ops.observatory.facts import NONE_KEY, Frame, schema

ALL = "*"
SECONDS_PER_DAY = 86_400

PROMPT_DIMENSIONS = {
    "all": pl.lit(ALL),
    "tenant": pl.col("tenant"),
    "agent": pl.col("agent"),
    "template": pl.col("template_id"),
    "model": pl.col("model"),
}
RESPONSE_DIMENSIONS = {**PROMPT_DIMENSIONS, "model_version": pl.col("model_version")}

ACTIVITY_SCHEMA = schema(
    {
        "day": pl.Date,
        "dimension": pl.String,
        "key": pl.String,
        "prompts": pl.Int64,
        "prompts_per_second": pl.Float64,
        "peak_prompts_per_second": pl.Int64,
        "peak_prompts_per_minute": pl.Int64,
        "responses": pl.Int64,
        "latency_ms_mean": pl.Float64,
        "latency_ms_p50": pl.Float64,
        "latency_ms_p95": pl.Float64,
        "latency_ms_p99": pl.Float64,
        "prompt_tokens": pl.Int64,
        "completion_tokens": pl.Int64,
        "total_tokens": pl.Int64,
        "total_tokens_p50": pl.Float64,
        "total_tokens_p95": pl.Float64,
        "total_tokens_p99": pl.Float64,
        "context_tokens_p50": pl.Float64,
        "context_tokens_p95": pl.Float64,
    }
)
TOOLS_SCHEMA = schema(
    {
        "day": pl.Date,
        "tool": pl.String,
        "agent": pl.String,
        "calls": pl.Int64,
        "successes": pl.Int64,
        "errors": pl.Int64,
        "success_rate": pl.Float64,
        "error_rate": pl.Float64,
        "duration_ms_mean": pl.Float64,
        "duration_ms_p50": pl.Float64,
        "duration_ms_p95": pl.Float64,
        "duration_ms_p99": pl.Float64,
    }
)
HANDOFFS_SCHEMA = schema(
    {
        "day": pl.Date,
        "tenant": pl.String,
        "from_agent": pl.String,
        "to_agent": pl.String,
        "transfers": pl.Int64,
        "ping_pongs": pl.Int64,
        "loop_closures": pl.Int64,
    }
)
CONTEXT_SCHEMA = schema(
    {
        "day": pl.Date,
        "model": pl.String,
        "bucket_from": pl.Int64,
        "bucket_to": pl.Int64,
        "responses": pl.Int64,
    }
)
ANOMALIES_SCHEMA = schema(
    {
        "day": pl.Date,
        "kind": pl.String,
        "tenant": pl.String,
        "session_id": pl.String,
        "subject": pl.String,
        "at": pl.Datetime("us", "UTC"),
        "value": pl.Float64,
        "threshold": pl.Float64,
    }
)

LATENCY_SPIKE_MADS = 6.0
"""A response is a latency spike when it is this many scaled MADs above its model's median
latency of the day (and at least twice that median)."""
ERROR_CHAIN_LENGTH = 3
"""Consecutive failed tool calls in one session that make an error chain."""


def _pct(column: str, q: float) -> pl.Expr:
    return pl.col(column).quantile(q, interpolation="linear")


def _long(facts: Frame, dimensions: dict[str, pl.Expr], values: list[str]) -> pl.LazyFrame:
    """The facts once per dimension, with `dimension` and `key` columns."""
    frame = facts.lazy()
    return pl.concat(
        [
            frame.select(
                "day",
                pl.lit(name).alias("dimension"),
                key.cast(pl.String).fill_null(NONE_KEY).alias("key"),
                *values,
            )
            for name, key in dimensions.items()
        ]
    )


def _conform(frame: pl.LazyFrame, schema: pl.Schema) -> pl.DataFrame:
    return frame.select([pl.col(n).cast(t) for n, t in schema.items()]).collect()


def activity(prompts: Frame, responses: Frame) -> pl.DataFrame:
    """Per day and dimension key: prompt rate and peaks, latency and token percentiles."""
    keys = ["day", "dimension", "key"]
    per_prompt = _long(prompts, PROMPT_DIMENSIONS, ["created_at"])
    peaks = [
        per_prompt.group_by(*keys, pl.col("created_at").dt.truncate(every))
        .len()
        .group_by(keys)
        .agg(pl.col("len").max().alias(name))
        for every, name in (("1s", "peak_prompts_per_second"), ("1m", "peak_prompts_per_minute"))
    ]
    prompt_stats = (
        per_prompt.group_by(keys)
        .agg(pl.len().alias("prompts"))
        .with_columns((pl.col("prompts") / SECONDS_PER_DAY).alias("prompts_per_second"))
        .join(peaks[0], on=keys)
        .join(peaks[1], on=keys)
    )
    values = ["latency_ms", "prompt_tokens", "completion_tokens", "total_tokens"]
    response_stats = (
        _long(responses, RESPONSE_DIMENSIONS, values)
        .group_by(keys)
        .agg(
            pl.len().alias("responses"),
            pl.col("latency_ms").mean().alias("latency_ms_mean"),
            _pct("latency_ms", 0.50).alias("latency_ms_p50"),
            _pct("latency_ms", 0.95).alias("latency_ms_p95"),
            _pct("latency_ms", 0.99).alias("latency_ms_p99"),
            pl.col("prompt_tokens").sum(),
            pl.col("completion_tokens").sum(),
            pl.col("total_tokens").sum(),
            _pct("total_tokens", 0.50).alias("total_tokens_p50"),
            _pct("total_tokens", 0.95).alias("total_tokens_p95"),
            _pct("total_tokens", 0.99).alias("total_tokens_p99"),
            _pct("prompt_tokens", 0.50).alias("context_tokens_p50"),
            _pct("prompt_tokens", 0.95).alias("context_tokens_p95"),
        )
    )
    joined = prompt_stats.join(response_stats, on=keys, how="full", coalesce=True).with_columns(
        pl.col(
            "prompts", "responses", "peak_prompts_per_second", "peak_prompts_per_minute"
        ).fill_null(0),
        pl.col("prompts_per_second").fill_null(0.0),
    )
    return _conform(joined, ACTIVITY_SCHEMA).sort(keys)


def tools(calls: Frame) -> pl.DataFrame:
    """Per day, tool and agent (`*` = all of them): calls, success/error rates, durations."""
    frame = calls.lazy().with_columns(pl.col("agent").fill_null(NONE_KEY))
    groupings = [
        frame.select("day", pl.col("tool_name").alias("tool"), "agent", "success", "duration_ms"),
        frame.select(
            "day",
            pl.col("tool_name").alias("tool"),
            pl.lit(ALL).alias("agent"),
            "success",
            "duration_ms",
        ),
        frame.select("day", pl.lit(ALL).alias("tool"), "agent", "success", "duration_ms"),
        frame.select(
            "day", pl.lit(ALL).alias("tool"), pl.lit(ALL).alias("agent"), "success", "duration_ms"
        ),
    ]
    stats = (
        pl.concat(groupings)
        .group_by("day", "tool", "agent")
        .agg(
            pl.len().alias("calls"),
            pl.col("success").sum().alias("successes"),
            (~pl.col("success")).sum().alias("errors"),
            pl.col("duration_ms").mean().alias("duration_ms_mean"),
            _pct("duration_ms", 0.50).alias("duration_ms_p50"),
            _pct("duration_ms", 0.95).alias("duration_ms_p95"),
            _pct("duration_ms", 0.99).alias("duration_ms_p99"),
        )
        .with_columns(
            (pl.col("successes") / pl.col("calls")).alias("success_rate"),
            (pl.col("errors") / pl.col("calls")).alias("error_rate"),
        )
    )
    return _conform(stats, TOOLS_SCHEMA).sort("day", "tool", "agent")


def handoff_sequence(handoffs: Frame) -> pl.LazyFrame:
    """Handoffs in session order, flagged: `ping_pong` (B hands back to A right after A handed
    to B) and `loop_closure` (the target agent already handed work off earlier in the session:
    the conversation came back to it)."""
    ordered = handoffs.lazy().sort("session_id", "created_at", "id")
    first_handed = ordered.group_by("session_id", pl.col("from_agent").alias("to_agent")).agg(
        pl.col("created_at").min().alias("first_from")
    )
    return (
        ordered.with_columns(
            prev_from=pl.col("from_agent").shift().over("session_id"),
            prev_to=pl.col("to_agent").shift().over("session_id"),
        )
        .join(first_handed, on=["session_id", "to_agent"], how="left", maintain_order="left")
        .with_columns(
            ping_pong=(
                (pl.col("from_agent") == pl.col("prev_to"))
                & (pl.col("to_agent") == pl.col("prev_from"))
            ).fill_null(value=False),
            loop_closure=(pl.col("first_from") <= pl.col("created_at")).fill_null(value=False),
        )
        .drop("prev_from", "prev_to", "first_from")
    )


def handoff_matrix(handoffs: Frame) -> pl.DataFrame:
    """Per day, tenant, from agent and to agent: transfers, ping-pongs and loop closures."""
    matrix = (
        handoff_sequence(handoffs)
        .group_by("day", "tenant", "from_agent", "to_agent")
        .agg(
            pl.len().alias("transfers"),
            pl.col("ping_pong").sum().alias("ping_pongs"),
            pl.col("loop_closure").sum().alias("loop_closures"),
        )
    )
    return _conform(matrix, HANDOFFS_SCHEMA).sort("day", "tenant", "from_agent", "to_agent")


def context_windows(responses: Frame) -> pl.DataFrame:
    """How many responses saw a context (prompt tokens) in each power-of-two bucket, per day
    and model (`*` = all models)."""
    frame = responses.lazy().filter(pl.col("prompt_tokens").is_not_null())
    bucket = (
        pl.when(pl.col("prompt_tokens") < 1)
        .then(0)
        .otherwise(pl.lit(2).pow(pl.col("prompt_tokens").cast(pl.Float64).log(2).floor()))
        .cast(pl.Int64)
    )
    both = pl.concat(
        [
            frame.select("day", pl.col("model").fill_null(NONE_KEY), bucket.alias("bucket_from")),
            frame.select("day", pl.lit(ALL).alias("model"), bucket.alias("bucket_from")),
        ]
    )
    counts = (
        both.group_by("day", "model", "bucket_from")
        .len("responses")
        .with_columns(
            pl.when(pl.col("bucket_from") == 0)
            .then(1)
            .otherwise(pl.col("bucket_from") * 2)
            .alias("bucket_to")
        )
    )
    return _conform(counts, CONTEXT_SCHEMA).sort("day", "model", "bucket_from")


def anomalies(responses: Frame, calls: Frame, handoffs: Frame) -> pl.DataFrame:
    """Flagged events: `latency_spike` (a response far above its model's median latency that
    day), `error_chain` (≥ ERROR_CHAIN_LENGTH failed tool calls in a row in a session) and
    `handoff_ping_pong` (a session whose agents hand work back and forth twice or more)."""
    parts = [_latency_spikes(responses), _error_chains(calls), _ping_pong_sessions(handoffs)]
    casts = [pl.col(n).cast(t) for n, t in ANOMALIES_SCHEMA.items()]
    return pl.concat([p.select(casts) for p in parts]).collect().sort("day", "kind", "at")


def _latency_spikes(responses: Frame) -> pl.LazyFrame:
    frame = responses.lazy().filter(pl.col("latency_ms").is_not_null())
    median = pl.col("latency_ms").median().over("day", "model")
    mad = (pl.col("latency_ms") - median).abs().median().over("day", "model")
    threshold = pl.max_horizontal(median + LATENCY_SPIKE_MADS * 1.4826 * mad, 2 * median)
    return (
        frame.with_columns(threshold.alias("threshold"))
        .filter(pl.col("latency_ms") > pl.col("threshold"))
        .select(
            "day",
            pl.lit("latency_spike").alias("kind"),
            "tenant",
            "session_id",
            pl.col("id").alias("subject"),
            pl.col("created_at").alias("at"),
            pl.col("latency_ms").alias("value"),
            "threshold",
        )
    )


def _error_chains(calls: Frame) -> pl.LazyFrame:
    ordered = calls.lazy().sort("session_id", "created_at", "id")
    runs = ordered.with_columns(
        (pl.col("success") != pl.col("success").shift().over("session_id"))
        .fill_null(value=True)
        .cum_sum()
        .over("session_id")
        .alias("run")
    )
    return (
        runs.filter(~pl.col("success"))
        .group_by("session_id", "run")
        .agg(
            pl.col("day").first(),
            pl.col("tenant").first(),
            pl.col("created_at").first().alias("at"),
            pl.col("tool_name").unique(maintain_order=True).str.join(",").alias("subject"),
            pl.len().alias("value"),
        )
        .filter(pl.col("value") >= ERROR_CHAIN_LENGTH)
        .select(
            "day",
            pl.lit("error_chain").alias("kind"),
            "tenant",
            "session_id",
            "subject",
            "at",
            "value",
            pl.lit(float(ERROR_CHAIN_LENGTH)).alias("threshold"),
        )
    )


def _ping_pong_sessions(handoffs: Frame) -> pl.LazyFrame:
    return (
        handoff_sequence(handoffs)
        .group_by("session_id")
        .agg(
            pl.col("day").first(),
            pl.col("tenant").first(),
            pl.col("created_at").first().alias("at"),
            pl.concat_str("from_agent", pl.lit("<->"), "to_agent")
            .filter(pl.col("ping_pong"))
            .first()
            .alias("subject"),
            pl.col("ping_pong").sum().alias("value"),
        )
        .filter(pl.col("value") >= 2)
        .select(
            "day",
            pl.lit("handoff_ping_pong").alias("kind"),
            "tenant",
            "session_id",
            "subject",
            "at",
            "value",
            pl.lit(2.0).alias("threshold"),
        )
    )
