"""The Observatory's Delta tables under `<lake root>/observatory/`, and their refresh.

- Daily tables (`activity`, `tools`, `handoffs`, `context_windows`, `anomalies`) are
  partitioned by `day`. A refresh recomputes only the days that changed since they were last
  computed and overwrites exactly those partitions, so a rerun with nothing new writes nothing.
  `_days` records, per day, the lake watermark (event seq) its metrics reflect.
- Snapshot tables (graph structure and lineage) describe the whole current graph; they are
  overwritten when the lake's watermark moved, and record it as an app transaction.

A day is dirty when a node or edge created that day has a `last_seq` above the day's recorded
watermark, when an event deleted something created that day, or when it was never computed.
A crash between two table writes leaves `_days` behind, so the next refresh redoes the day.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

import polars as pl
from deltalake import CommitProperties, write_deltalake

from memgraph_ops.lake import Lake, delta
from memgraph_ops.observatory import facts, lineage, metrics, structure
from memgraph_ops.observatory.facts import schema

ROOT: Final = "observatory"
DAILY_TABLES: Final = ("activity", "tools", "handoffs", "context_windows", "anomalies")
SNAPSHOT_TABLES: Final = (
    "graph_counts",
    "degree_distribution",
    "components",
    "pagerank",
    "templates",
    "template_closure",
    "prompt_lineage",
    "session_chains",
)
STATE_TABLE: Final = "_days"
SNAPSHOT_APP_ID: Final = "memgraph_ops.observatory.snapshots"
STATE_SCHEMA = schema(
    {"day": pl.Date, "source_seq": pl.Int64, "computed_at": pl.Datetime("us", "UTC")}
)

Progress = Callable[[int, int], None]


def table_uri(lake: Lake, name: str) -> str:
    return delta.join(delta.join(lake.root, ROOT), name)


def read(lake: Lake, name: str, *, as_of: int | datetime | None = None) -> pl.DataFrame:
    """An Observatory table (empty frame if it was never written)."""
    table = delta.open_table(table_uri(lake, name))
    if table is None:
        return pl.DataFrame()
    if as_of is not None:
        table.load_as_version(as_of)
    return pl.scan_delta(table).collect()


@dataclass
class RefreshReport:
    """What a refresh computed and wrote."""

    days_computed: list[str] = field(default_factory=list)
    daily_rows: dict[str, int] = field(default_factory=dict)
    snapshot_rows: dict[str, int] = field(default_factory=dict)
    snapshots_skipped: bool = False
    watermark: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def day_metrics(
    nodes: facts.Frame, edges: facts.Frame, days: list[date]
) -> dict[str, pl.DataFrame]:
    """The daily tables for `days` (all days if empty), computed from the lake's frames."""
    in_days = pl.col("created_at").dt.convert_time_zone("UTC").dt.date().is_in(days)

    def pick(frame: pl.LazyFrame) -> pl.DataFrame:
        return (frame.filter(in_days) if days else frame).collect()

    prompts = pick(facts.prompts(nodes, edges))
    responses = pick(facts.responses(nodes, edges))
    calls = pick(facts.tool_calls(nodes, edges))
    handoffs = pick(facts.handoffs(nodes, edges))
    return {
        "activity": metrics.activity(prompts, responses),
        "tools": metrics.tools(calls),
        "handoffs": metrics.handoff_matrix(handoffs),
        "context_windows": metrics.context_windows(responses),
        "anomalies": metrics.anomalies(responses, calls, handoffs),
    }


def snapshots(nodes: facts.Frame, edges: facts.Frame) -> dict[str, pl.DataFrame]:
    """The snapshot tables of the whole graph."""
    return {
        **structure.structure(nodes, edges),
        "templates": lineage.template_table(nodes, edges),
        "template_closure": lineage.closure(edges, nodes),
        "prompt_lineage": lineage.prompt_lineage(nodes, edges),
        "session_chains": lineage.session_chains(nodes, edges),
    }


def dirty_days(lake: Lake) -> list[date]:
    """Days whose metrics are missing or older than the lake's changes, oldest first."""
    state = _state(lake)
    floor = int(state.select(pl.col("source_seq").min()).item() or 0) if state.height else -1
    changed = pl.concat(
        [
            lake.scan(name).select(_day_of("created_at"), pl.col("last_seq").alias("seq"))
            for name in ("nodes", "edges")
        ]
    )
    log = lake.scan("event_log")
    deleted = log.filter((pl.col("op") == "delete") & (pl.col("seq") > floor)).select("id", "seq")
    born = (
        log.filter(pl.col("op") != "delete")
        .group_by("id")
        .agg(_day_of(pl.col("occurred_at").min()))
    )
    deletions = deleted.join(born, on="id").select("day", "seq")
    candidates = (
        pl.concat([changed, deletions])
        .filter(pl.col("day").is_not_null())
        .group_by("day")
        .agg(pl.col("seq").max())
        .join(state.lazy().select("day", "source_seq"), on="day", how="left")
        .filter(pl.col("source_seq").is_null() | (pl.col("seq") > pl.col("source_seq")))
        .collect()
    )
    return sorted(candidates["day"].to_list())


def refresh_metrics(
    lake: Lake,
    *,
    full: bool = False,
    days: list[date] | None = None,
    progress: Progress | None = None,
) -> RefreshReport:
    """Recompute the daily tables for the dirty days (or `days`, or every day with `full`) and
    overwrite exactly those partitions."""
    started = time.perf_counter()
    watermark = lake.watermark() if lake.table("event_log") is not None else 0
    todo = days if days is not None else _all_days(lake) if full else dirty_days(lake)
    report = RefreshReport(watermark=watermark)
    if todo:
        nodes, edges = lake.scan("nodes"), lake.scan("edges")
        for done, chunk in enumerate(_chunks(sorted(todo), 31), start=1):
            results = day_metrics(nodes, edges, chunk)
            for name, frame in results.items():
                _overwrite_days(lake, name, frame, chunk)
                report.daily_rows[name] = report.daily_rows.get(name, 0) + frame.height
            now = datetime.now(UTC)
            state = pl.DataFrame(
                {
                    "day": chunk,
                    "source_seq": [watermark] * len(chunk),
                    "computed_at": [now] * len(chunk),
                },
                schema=STATE_SCHEMA,
            )
            _overwrite_days(lake, STATE_TABLE, state, chunk)
            if progress:
                progress(done, -(-len(todo) // 31))
        report.days_computed = [d.isoformat() for d in sorted(todo)]
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def refresh_snapshots(lake: Lake, *, force: bool = False) -> RefreshReport:
    """Rewrite the snapshot tables if the lake moved since they were written (or `force`)."""
    started = time.perf_counter()
    watermark = lake.watermark() if lake.table("event_log") is not None else 0
    report = RefreshReport(watermark=watermark)
    marker = delta.open_table(table_uri(lake, SNAPSHOT_TABLES[-1]))
    if not force and marker is not None and _snapshot_version(marker) == watermark:
        report.snapshots_skipped = True
        return report
    results = snapshots(lake.scan("nodes"), lake.scan("edges"))
    props = delta.commit_properties(SNAPSHOT_APP_ID, watermark, {"memgraph.watermark": watermark})
    for name in SNAPSHOT_TABLES:  # the marker table last: a crash before it means "redo"
        frame = results[name]
        _write_snapshot(table_uri(lake, name), frame, props)
        report.snapshot_rows[name] = frame.height
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def refresh(lake: Lake, *, full: bool = False, progress: Progress | None = None) -> RefreshReport:
    """Refresh the daily tables (incrementally unless `full`) and the snapshots."""
    daily = refresh_metrics(lake, full=full, progress=progress)
    snap = refresh_snapshots(lake, force=full)
    daily.snapshot_rows = snap.snapshot_rows
    daily.snapshots_skipped = snap.snapshots_skipped
    daily.seconds = round(daily.seconds + snap.seconds, 3)
    return daily


def _write_snapshot(uri: str, frame: pl.DataFrame, props: CommitProperties) -> None:
    data = frame.to_arrow()
    delta.with_retries(
        lambda: write_deltalake(
            uri,
            data,
            mode="overwrite",
            schema_mode="overwrite",
            writer_properties=delta.WRITER,
            commit_properties=props,
        ),
        what=f"write {uri}",
        table=uri,
    )


def _snapshot_version(table: Any) -> int | None:
    version = table.transaction_version(SNAPSHOT_APP_ID)
    return int(version) if version is not None else None


def _day_of(expr: str | pl.Expr) -> pl.Expr:
    column = pl.col(expr) if isinstance(expr, str) else expr
    return column.dt.convert_time_zone("UTC").dt.date().alias("day")


def _all_days(lake: Lake) -> list[date]:
    days = (
        pl.concat([lake.scan(name).select(_day_of("created_at")) for name in ("nodes", "edges")])
        .unique()
        .drop_nulls()
        .collect()
    )
    return sorted(days["day"].to_list())


def _state(lake: Lake) -> pl.DataFrame:
    state = read(lake, STATE_TABLE)
    return state if state.height else STATE_SCHEMA.to_frame()


def _chunks(days: list[date], size: int) -> list[list[date]]:
    return [days[i : i + size] for i in range(0, len(days), size)]


def _overwrite_days(lake: Lake, name: str, frame: pl.DataFrame, days: list[date]) -> None:
    """Replace the partitions of `days` with `frame` (which holds only rows of those days)."""
    uri = table_uri(lake, name)
    data = frame.to_arrow()
    if delta.open_table(uri) is None:
        delta.with_retries(
            lambda: write_deltalake(
                uri, data, mode="append", partition_by=["day"], writer_properties=delta.WRITER
            ),
            what=f"create observatory/{name}",
            table=uri,
        )
        return
    listed = delta.sql_list(d.isoformat() for d in days)
    delta.with_retries(
        lambda: write_deltalake(
            uri,
            data,
            mode="overwrite",
            predicate=f"day IN ({listed})",
            writer_properties=delta.WRITER,
        ),
        what=f"write observatory/{name}",
        table=uri,
    )


@dataclass(frozen=True)
class TotalsCheck:
    """Observatory totals next to the lake's: they must agree after a refresh."""

    passed: bool
    figures: dict[str, int]


def check_daily_totals(lake: Lake, archived: Mapping[str, int] | None = None) -> TotalsCheck:
    """Prompts, responses and tool calls summed over the daily tables equal the lake's counts
    plus those of sessions archived to the vault since (`archived`, by node type): day
    partitions are not recomputed when sessions leave the lake for the vault. A missing or
    stale day partition shows as a difference."""
    counts = dict(
        lake.scan("nodes")
        .filter(pl.col("type").is_in(["Prompt", "Response", "ToolInvocation"]))
        .group_by("type")
        .len()
        .collect()
        .iter_rows()
    )
    for node_type, n in (archived or {}).items():
        counts[node_type] = counts.get(node_type, 0) + n
    activity = read(lake, "activity")
    tools = read(lake, "tools")
    everything = activity.filter(pl.col("dimension") == "all") if activity.height else activity
    all_tools = (
        tools.filter((pl.col("tool") == metrics.ALL) & (pl.col("agent") == metrics.ALL))
        if tools.height
        else tools
    )
    figures = {
        "lake_prompts": int(counts.get("Prompt", 0)),
        "metric_prompts": int(everything["prompts"].sum()) if everything.height else 0,
        "lake_responses": int(counts.get("Response", 0)),
        "metric_responses": int(everything["responses"].sum()) if everything.height else 0,
        "lake_tool_calls": int(counts.get("ToolInvocation", 0)),
        "metric_tool_calls": int(all_tools["calls"].sum()) if all_tools.height else 0,
    }
    passed = all(
        figures[f"lake_{k}"] == figures[f"metric_{k}"]
        for k in ("prompts", "responses", "tool_calls")
    )
    return TotalsCheck(passed, figures)


def check_snapshot_totals(lake: Lake) -> TotalsCheck:
    """Node and edge counts in `graph_counts` equal the lake's rows."""
    counts = read(lake, "graph_counts")
    stats = lake.stats()
    figures = {
        "lake_nodes": int(stats.get("nodes", {}).get("rows", 0)),
        "lake_edges": int(stats.get("edges", {}).get("rows", 0)),
        "graph_node_rows": 0,
        "graph_edges": 0,
    }
    if counts.height:
        nodes = counts.filter((pl.col("kind") == "node") & (pl.col("type") != facts.NONE_KEY))
        edges = counts.filter((pl.col("kind") == "graph") & (pl.col("type") == "edges"))
        figures["graph_node_rows"] = int(nodes["count"].sum())
        figures["graph_edges"] = int(edges["count"].sum())
    passed = (
        figures["lake_nodes"] == figures["graph_node_rows"]
        and figures["lake_edges"] == figures["graph_edges"]
    )
    return TotalsCheck(passed, figures)
