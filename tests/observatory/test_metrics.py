"""Metrics against direct numpy computations over the lake, and on hand-made sessions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from memgraph_ops.lake import Lake
from memgraph_ops.observatory import facts, metrics
from memgraph_ops.observatory.tables import day_metrics


def _raw_latencies(lake: Lake) -> pl.DataFrame:
    """Straight from the lake: response creation day, model and RESPONDS_TO latency."""
    responses = lake.nodes(types=["Response"]).select("id", "created_at", "model", "total_tokens")
    responds = lake.edges(types=["RESPONDS_TO"]).select(pl.col("src").alias("id"), "latency_ms")
    return responses.join(responds, on="id").with_columns(
        pl.col("created_at").dt.date().alias("day")
    )


def test_latency_and_token_percentiles_equal_numpy(lake: Lake) -> None:
    activity = day_metrics(lake.scan("nodes"), lake.scan("edges"), [])["activity"]
    raw = _raw_latencies(lake)
    everything = activity.filter(pl.col("dimension") == "all")
    checked = 0
    for day, group in raw.group_by("day"):
        row = everything.filter(pl.col("day") == day[0]).row(0, named=True)
        lat = group["latency_ms"].to_numpy()
        for q in (50, 95, 99):
            assert row[f"latency_ms_p{q}"] == pytest.approx(np.percentile(lat, q), rel=1e-12)
            assert row[f"total_tokens_p{q}"] == pytest.approx(
                np.percentile(group["total_tokens"].to_numpy(), q), rel=1e-12
            )
        assert row["responses"] == group.height
        checked += 1
    assert checked > 10
    per_version = activity.filter(pl.col("dimension") == "model_version")
    day, model = raw.select("day", "model").row(0)
    expected = raw.filter((pl.col("day") == day) & (pl.col("model") == model))[
        "latency_ms"
    ].to_numpy()
    row = per_version.filter((pl.col("day") == day) & (pl.col("key") == model)).row(0, named=True)
    assert row["latency_ms_p95"] == pytest.approx(np.percentile(expected, 95), rel=1e-12)


def test_prompt_counts_and_tool_rates_add_up_to_the_lake(lake: Lake) -> None:
    out = day_metrics(lake.scan("nodes"), lake.scan("edges"), [])
    activity, tools = out["activity"], out["tools"]
    prompts = lake.nodes(types=["Prompt"]).height
    for dimension in ("all", "tenant", "agent", "template", "model"):
        assert activity.filter(pl.col("dimension") == dimension)["prompts"].sum() == prompts
    calls = lake.nodes(types=["ToolInvocation"])
    overall = tools.filter((pl.col("tool") == "*") & (pl.col("agent") == "*"))
    assert overall["calls"].sum() == calls.height
    assert overall["errors"].sum() == (~calls["success"]).sum()
    per_tool = (
        tools.filter((pl.col("agent") == "*") & (pl.col("tool") != "*"))
        .group_by("tool")
        .agg(pl.col("calls").sum())
    )
    expected = calls.group_by(pl.col("tool_name").alias("tool")).len("calls")
    assert per_tool.sort("tool").rows() == expected.cast({"calls": pl.Int64}).sort("tool").rows()
    row = tools.filter(pl.col("tool") != "*").row(0, named=True)
    assert row["success_rate"] + row["error_rate"] == 1.0


T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _handoffs(session: str, agents: list[str]) -> pl.DataFrame:
    rows = [
        {"id": f"{session}-{i}", "tenant": "acme", "session_id": session,
         "created_at": T0 + timedelta(minutes=i), "from_agent": a, "to_agent": b}
        for i, (a, b) in enumerate(itertools.pairwise(agents))
    ]  # fmt: skip
    schema: dict[str, pl.DataType | type[pl.DataType]] = {"id": pl.String, "tenant": pl.String, "session_id": pl.String,
              "created_at": pl.Datetime("us", "UTC"), "from_agent": pl.String, "to_agent": pl.String}  # fmt: skip
    return pl.DataFrame(rows, schema=schema).with_columns(
        pl.col("created_at").dt.date().alias("day")
    )


def test_handoff_ping_pong_and_loops() -> None:
    frame = pl.concat(
        [_handoffs("s1", ["A", "B", "A", "B"]), _handoffs("s2", ["A", "B", "C", "A"])]
    )
    matrix = metrics.handoff_matrix(frame)
    ab = matrix.filter((pl.col("from_agent") == "A") & (pl.col("to_agent") == "B")).row(
        0, named=True
    )
    assert ab["transfers"] == 3 and ab["ping_pongs"] == 1 and ab["loop_closures"] == 1
    ca = matrix.filter(pl.col("from_agent") == "C").row(0, named=True)
    assert ca["ping_pongs"] == 0 and ca["loop_closures"] == 1
    flagged = metrics.anomalies(facts_empty("responses"), facts_empty("calls"), frame)
    assert flagged.filter(pl.col("kind") == "handoff_ping_pong")["session_id"].to_list() == ["s1"]


def facts_empty(kind: str) -> pl.DataFrame:
    if kind == "responses":
        return pl.DataFrame(schema={"id": pl.String, "tenant": pl.String, "session_id": pl.String,
                                    "created_at": pl.Datetime("us", "UTC"), "day": pl.Date,
                                    "model": pl.String, "latency_ms": pl.Float64})  # fmt: skip
    return pl.DataFrame(schema={"id": pl.String, "tenant": pl.String, "session_id": pl.String,
                                "created_at": pl.Datetime("us", "UTC"), "day": pl.Date,
                                "tool_name": pl.String, "success": pl.Boolean})  # fmt: skip


def test_error_chain_needs_three_failures_in_a_row() -> None:
    pattern = [True, False, False, False, True, False, False]
    calls = pl.DataFrame(
        {"id": [f"t{i}" for i in range(7)], "tenant": "acme", "session_id": "s",
         "created_at": [T0 + timedelta(seconds=i) for i in range(7)], "tool_name": "search",
         "success": pattern}
    ).with_columns(pl.col("created_at").dt.date().alias("day"))  # fmt: skip
    flagged = metrics.anomalies(facts_empty("responses"), calls, _handoffs("x", []))
    assert flagged.select("kind", "value").rows() == [("error_chain", 3.0)]


def test_empty_inputs_give_empty_valid_tables() -> None:
    from memgraph_ops.lake.tables import EDGES_SCHEMA, NODES_SCHEMA

    nodes = pl.from_arrow(NODES_SCHEMA.empty_table())
    edges = pl.from_arrow(EDGES_SCHEMA.empty_table())
    assert isinstance(nodes, pl.DataFrame) and isinstance(edges, pl.DataFrame)
    out = day_metrics(nodes, edges, [])
    assert all(frame.is_empty() for frame in out.values())
    assert out["activity"].schema == metrics.ACTIVITY_SCHEMA
    assert facts.prompts(nodes, edges).collect().is_empty()
