"""What retention would do now: which sessions to archive, which to delete, and why.

A session's activity is the newest `updated_at` of its rows in the lake (or `last_at` in the
vault index) and the newest event still in HOT. Each session gets the ages of the most specific
matching rule (see `policy`); a legal hold on its user, id or one of its tags keeps it where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from memgraph_ops.lake import Lake
from memgraph_ops.retention.policy import RetentionPolicy

Pseudonym = Callable[[str, str], str]
"""(tenant, user_id) -> the user's pseudonym in the lake."""

_SESSION_COLUMNS = {
    "session_id": pl.String,
    "tenant": pl.String,
    "user_id": pl.String,
    "tags": pl.List(pl.String),
    "last_at": pl.Datetime("us", "UTC"),
    "rows": pl.Int64,
    "bytes": pl.Int64,
}


@dataclass(frozen=True)
class RetentionPlan:
    """Sessions per action, each with tenant, last activity, rows and bytes."""

    now: datetime
    archive: pl.DataFrame
    """Lake sessions inactive past their archive age."""
    delete_lake: pl.DataFrame
    """Lake sessions past their delete age (they skip the vault)."""
    delete_vault: pl.DataFrame
    """Vault sessions past their delete age."""
    held: pl.DataFrame
    """Sessions that would be archived or deleted but are under legal hold."""
    node_types: dict[str, datetime]
    """Node type -> nodes created before this time are deleted from the lake."""

    def summary(self) -> dict[str, Any]:
        def part(frame: pl.DataFrame) -> dict[str, Any]:
            return {
                "sessions": frame.height,
                "rows": int(frame["rows"].sum() or 0),
                "bytes": int(frame["bytes"].sum() or 0),
                "session_ids": frame["session_id"].sort().to_list(),
            }

        return {
            "now": self.now.isoformat(),
            "archive": part(self.archive),
            "delete_from_lake": part(self.delete_lake),
            "delete_from_vault": part(self.delete_vault),
            "held": part(self.held),
            "node_type_deletes": {t: c.isoformat() for t, c in self.node_types.items()},
        }


def lake_sessions(lake: Lake) -> pl.DataFrame:
    """Every session in the lake: tenant, user, tags, last activity, rows, approximate bytes."""
    columns = ["session_id", "tenant", "updated_at"]
    rows = pl.concat(
        [
            lake.scan("nodes").select(columns).collect(),
            lake.scan("edges").select(columns).collect(),
        ]
    ).filter(pl.col("session_id").is_not_null())
    stats = lake.stats()
    lake_rows = sum(stats.get(t, {}).get("rows", 0) for t in ("nodes", "edges"))
    lake_bytes = sum(stats.get(t, {}).get("bytes", 0) for t in ("nodes", "edges"))
    per_row = lake_bytes / lake_rows if lake_rows else 0.0
    sessions = (
        lake.scan("nodes")
        .filter(pl.col("type") == "Session")
        .select(pl.col("id").alias("session_id"), "user_id", "tags")
        .collect()
        .unique("session_id")
    )
    return (
        rows.group_by("session_id")
        .agg(
            pl.col("tenant").drop_nulls().first(),
            pl.col("updated_at").max().alias("last_at"),
            pl.len().cast(pl.Int64).alias("rows"),
        )
        .with_columns((pl.col("rows") * per_row).round().cast(pl.Int64).alias("bytes"))
        .join(sessions, on="session_id", how="left")
        .select(list(_SESSION_COLUMNS))
        .cast(_SESSION_COLUMNS)  # type: ignore[arg-type]
    )


def vault_sessions(index: pl.DataFrame) -> pl.DataFrame:
    return index.select(
        "session_id",
        "tenant",
        "user_id",
        "tags",
        "last_at",
        (pl.col("nodes") + pl.col("edges")).alias("rows"),
        pl.col("length").alias("bytes"),
    ).cast(_SESSION_COLUMNS)  # type: ignore[arg-type]


def plan(
    policy: RetentionPolicy,
    lake: pl.DataFrame,
    vault: pl.DataFrame,
    *,
    hot_activity: pl.DataFrame | None = None,
    pseudonym: Pseudonym | None = None,
    now: datetime | None = None,
) -> RetentionPlan:
    """Decide, from session frames (`lake_sessions`, `vault_sessions`) and the newest HOT event
    per session (`session_id`, `last_at`), what retention does now."""
    now = now or datetime.now(UTC)
    if hot_activity is not None and hot_activity.height:
        lake = _with_hot_activity(lake, hot_activity)
    lake = _with_ages(policy, lake, now, pseudonym)
    vault = _with_ages(policy, vault, now, pseudonym)
    due_delete = pl.col("delete_due")
    due_archive = pl.col("archive_due") & ~due_delete
    held = pl.concat(
        [
            lake.filter((due_delete | due_archive) & pl.col("held")),
            vault.filter(due_delete & pl.col("held")),
        ]
    )
    keep = list(_SESSION_COLUMNS)
    node_types = {
        str(r.node_type): now - timedelta(days=r.delete_after_days)
        for r in policy.node_type_rules
        if r.delete_after_days
    }
    return RetentionPlan(
        now=now,
        archive=lake.filter(due_archive & ~pl.col("held")).select(keep),
        delete_lake=lake.filter(due_delete & ~pl.col("held")).select(keep),
        delete_vault=vault.filter(due_delete & ~pl.col("held")).select(keep),
        held=held.select(keep),
        node_types=node_types,
    )


def held_sessions(
    policy: RetentionPolicy, sessions: pl.DataFrame, pseudonym: Pseudonym | None = None
) -> list[str]:
    """The sessions (of a `lake_sessions`/`vault_sessions` frame) under legal hold."""
    held = sessions.filter(_held(policy, sessions, pseudonym))
    return sorted(held["session_id"].to_list())


def _with_hot_activity(sessions: pl.DataFrame, hot: pl.DataFrame) -> pl.DataFrame:
    return (
        sessions.join(
            hot.select("session_id", pl.col("last_at").dt.convert_time_zone("UTC").alias("hot_at")),
            on="session_id",
            how="left",
        )
        .with_columns(pl.max_horizontal("last_at", "hot_at").alias("last_at"))
        .drop("hot_at")
    )


def _with_ages(
    policy: RetentionPolicy, sessions: pl.DataFrame, now: datetime, pseudonym: Pseudonym | None
) -> pl.DataFrame:
    """Adds archive_due, delete_due and held, per the most specific matching rule."""
    archive = pl.lit(policy.archive_after_days)
    delete = pl.lit(policy.delete_after_days or 0.0)  # None and 0 both mean never
    for rule in policy.session_rules:
        matches = pl.lit(True)
        if rule.tenant:
            matches &= pl.col("tenant") == rule.tenant
        if rule.tag:
            matches &= pl.col("tags").list.contains(rule.tag).fill_null(False)
        if rule.archive_after_days is not None:
            archive = pl.when(matches).then(rule.archive_after_days).otherwise(archive)
        if rule.delete_after_days is not None:
            delete = pl.when(matches).then(rule.delete_after_days).otherwise(delete)
    idle_days = (pl.lit(now) - pl.col("last_at")).dt.total_microseconds() / 86_400e6
    return sessions.with_columns(
        ((archive > 0) & (idle_days >= archive)).fill_null(False).alias("archive_due"),
        ((delete > 0) & (idle_days >= delete)).fill_null(False).alias("delete_due"),
        _held(policy, sessions, pseudonym).alias("held"),
    )


def _held(policy: RetentionPolicy, sessions: pl.DataFrame, pseudonym: Pseudonym | None) -> pl.Expr:
    hold = policy.hold
    if not hold:
        return pl.lit(False)
    users = set(hold.users)
    if pseudonym is not None:
        tenants = sessions["tenant"].drop_nulls().unique().to_list()
        users |= {pseudonym(t, u) for t in tenants for u in hold.users}
    tags: Iterable[str] = sorted(hold.tags)
    by_tag = pl.lit(False)
    for tag in tags:
        by_tag |= pl.col("tags").list.contains(tag).fill_null(False)
    return (
        pl.col("session_id").is_in(sorted(hold.sessions))
        | pl.col("user_id").is_in(sorted(users)).fill_null(False)
        | by_tag
    )
