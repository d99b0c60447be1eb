"""Carry out a retention plan: archive, keep aggregates, delete, expire restored copies, vacuum.

Every step is safe to rerun after a crash: archiving finishes what it started (see the vault),
aggregates are keyed per session so they are never added twice, and deleting what is gone
already does nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from memgraph_ops._failpoints import failpoint
from memgraph_ops.lake import delta
from memgraph_ops.retention import aggregates
from memgraph_ops.retention.plan import RetentionPlan
from memgraph_ops.retention.policy import RetentionPolicy
from memgraph_ops.vault.payload import SessionRows

if TYPE_CHECKING:
    from memgraph_ops.lake import Lake
    from memgraph_ops.store import Store
    from memgraph_ops.vault import Vault


@dataclass
class RetentionReport:
    plan: dict[str, Any]
    dry_run: bool
    archived: int = 0
    deleted_from_lake: int = 0
    deleted_from_vault: int = 0
    lake_rows_deleted: dict[str, int] = field(default_factory=dict)
    node_type_rows_deleted: dict[str, int] = field(default_factory=dict)
    aggregate_rows: int = 0
    restored_copies_expired: int = 0
    vault_bytes_reclaimed: int = 0
    lake_files_vacuumed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def apply(
    plan: RetentionPlan,
    policy: RetentionPolicy,
    *,
    lake: Lake,
    vault: Vault,
    store: Store | None,
    dry_run: bool = False,
) -> RetentionReport:
    report = RetentionReport(plan=plan.summary(), dry_run=dry_run)
    if dry_run:
        return report
    with vault.exclusive():
        _apply(plan, policy, report, lake=lake, vault=vault, store=store)
    return report


def _apply(
    plan: RetentionPlan,
    policy: RetentionPolicy,
    report: RetentionReport,
    *,
    lake: Lake,
    vault: Vault,
    store: Store | None,
) -> None:
    for node_type, cutoff in plan.node_types.items():
        report.node_type_rows_deleted.update(_delete_node_type(lake, node_type, cutoff))
    if plan.archive.height:
        archived = vault.archive(lake, plan.archive["session_id"].to_list())
        report.archived = archived.archived + archived.already_archived
    # Keep the anonymous aggregates before the rows go.
    doomed_lake = plan.delete_lake["session_id"].to_list()
    doomed_vault = plan.delete_vault["session_id"].to_list()
    rows = _rows_of(lake, vault, doomed_lake, doomed_vault)
    report.aggregate_rows = aggregates.record(lake, aggregates.contributions(rows))
    failpoint("retention:after_aggregates")
    if doomed_lake:
        report.lake_rows_deleted = lake.delete_sessions(doomed_lake, why="retention")
        report.deleted_from_lake = len(doomed_lake)
    if doomed_vault:
        removed = vault.remove_sessions(doomed_vault, why="retention")
        report.deleted_from_vault = removed.sessions_removed
        report.vault_bytes_reclaimed = removed.bytes_before - removed.bytes_after
    if store is not None:
        store.forget_restored(doomed_vault)
        report.restored_copies_expired = store.forget_restored()
    report.lake_files_vacuumed = _vacuum(lake, policy.time_travel_days)


def _rows_of(lake: Lake, vault: Vault, in_lake: list[str], in_vault: list[str]) -> SessionRows:
    wanted = pl.Series(in_lake, dtype=pl.String).implode()
    parts = [
        SessionRows(
            lake.scan("nodes").filter(pl.col("session_id").is_in(wanted)).collect(),
            lake.scan("edges").filter(pl.col("session_id").is_in(wanted)).collect(),
        )
    ]
    parts += [vault.read_session(s) for s in in_vault]
    return SessionRows(
        pl.concat([p.nodes for p in parts], how="vertical_relaxed"),
        pl.concat([p.edges for p in parts], how="vertical_relaxed"),
    )


def _delete_node_type(lake: Lake, node_type: str, cutoff: datetime) -> dict[str, int]:
    """Nodes of a type created before `cutoff`, and the edges touching them."""
    nodes = (
        lake.scan("nodes")
        .filter((pl.col("type") == node_type) & (pl.col("created_at") < cutoff))
        .select("id")
        .collect()
    )
    if nodes.is_empty():
        return {}
    ids = nodes["id"].to_list()
    return lake.delete_rows(
        {
            "nodes": _in("id", ids, f"type = {delta.sql_string(node_type)}"),
            "edges": f"{_in('src', ids)} OR {_in('dst', ids)}",
        },
        why=f"retention of {node_type}",
    )


def _in(column: str, values: list[str], also: str | None = None) -> str:
    condition = f"{column} IN ({delta.sql_list(values)})"
    return f"({also} AND {condition})" if also else f"({condition})"


def _vacuum(lake: Lake, time_travel_days: float) -> int:
    removed = 0
    for name in ("nodes", "edges"):
        table = lake.table(name)
        if table is not None:
            removed += len(
                table.vacuum(
                    retention_hours=int(time_travel_days * 24),
                    enforce_retention_duration=False,
                    dry_run=False,
                )
            )
    return removed
