"""Retention policies, read from the `[retention]` table of the config file.

    [retention]
    archive_after_days = 30     # a session inactive this long leaves the lake for the vault
    delete_after_days = 365     # a session inactive this long is deleted (lake, vault, HOT);
                                # not set: nothing is ever deleted by age
    restored_ttl_days = 7       # a session restored from the vault stays readable in HOT so long
    time_travel_days = 7        # deleted rows stay in old Delta files (time travel) so long

    [[retention.rules]]         # the most specific matching rule wins: tenant+tag > tag > tenant
    tenant = "acme"
    tag = "support"
    archive_after_days = 7
    delete_after_days = 90
    hot_window_hours = 1        # tenant rules may also shorten or lengthen the HOT window

    [[retention.rules]]
    node_type = "ToolInvocation"
    delete_after_days = 30      # nodes of this type (and their edges) go earlier

    [retention.legal_hold]      # overrides archival and deletion
    users = ["u-123"]           # user ids as agents send them
    sessions = ["s-9"]
    tags = ["litigation-2026"]

A value left out falls back to the next less specific rule, then to the defaults. The defaults
archive after 30 days (archiving moves a session into the vault and deletes nothing) and never
delete: deletion happens only where the policy asks for it, with `delete_after_days` here or in a
rule. A value of 0 for `archive_after_days` or `delete_after_days` means never.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from memgraph_ops.errors import ConfigError
from memgraph_ops.model import NODE_TYPES

DEFAULTS: Final[dict[str, float | None]] = {
    "archive_after_days": 30.0,
    "delete_after_days": None,  # never: nothing is deleted unless the policy says so
    "restored_ttl_days": 7.0,
    "time_travel_days": 7.0,
}
_RULE_KEYS: Final = frozenset(
    {"tenant", "tag", "node_type", "archive_after_days", "delete_after_days", "hot_window_hours"}
)


@dataclass(frozen=True)
class Rule:
    tenant: str | None = None
    tag: str | None = None
    node_type: str | None = None
    archive_after_days: float | None = None
    delete_after_days: float | None = None
    hot_window_hours: float | None = None

    @property
    def specificity(self) -> int:
        return (2 if self.tag else 0) + (1 if self.tenant else 0)


@dataclass(frozen=True)
class LegalHold:
    users: frozenset[str] = frozenset()
    sessions: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.users or self.sessions or self.tags)


@dataclass(frozen=True)
class RetentionPolicy:
    archive_after_days: float = 30.0
    delete_after_days: float | None = None
    """None (the default) or 0: sessions are never deleted by age."""
    restored_ttl_days: float = 7.0
    time_travel_days: float = 7.0
    rules: tuple[Rule, ...] = ()
    hold: LegalHold = field(default_factory=LegalHold)

    @property
    def restored_ttl(self) -> timedelta:
        return timedelta(days=self.restored_ttl_days)

    @property
    def session_rules(self) -> list[Rule]:
        """Rules by tenant and tag, least specific first (later ones override)."""
        return sorted((r for r in self.rules if not r.node_type), key=lambda r: r.specificity)

    @property
    def node_type_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.node_type]

    def hot_windows(self) -> dict[str, timedelta]:
        """HOT windows set per tenant."""
        return {
            r.tenant: timedelta(hours=r.hot_window_hours)
            for r in self.rules
            if r.tenant and not r.tag and not r.node_type and r.hot_window_hours is not None
        }

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> RetentionPolicy:
        """Parse the `[retention]` table; every mistake is named with where it is."""
        unknown = set(raw) - {*DEFAULTS, "rules", "legal_hold"}
        if unknown:
            raise ConfigError(
                f"[retention] has unknown keys: {sorted(unknown)} "
                f"(accepted: {', '.join([*DEFAULTS, 'rules', 'legal_hold'])})"
            )
        values = {k: _days(f"retention.{k}", raw[k]) for k in DEFAULTS if k in raw}
        rules = tuple(_rule(r, i) for i, r in enumerate(raw.get("rules", []) or []))
        hold_raw = raw.get("legal_hold", {}) or {}
        if not isinstance(hold_raw, Mapping):
            raise ConfigError("[retention.legal_hold] must be a table")
        extra = set(hold_raw) - {"users", "sessions", "tags"}
        if extra:
            raise ConfigError(f"[retention.legal_hold] has unknown keys: {sorted(extra)}")
        hold = LegalHold(
            **{k: frozenset(_strings(f"retention.legal_hold.{k}", v)) for k, v in hold_raw.items()}
        )
        return cls(**values, rules=rules, hold=hold)


def _rule(raw: Any, position: int) -> Rule:
    where = f"[[retention.rules]] #{position + 1}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise ConfigError(f"{where} has unknown keys: {sorted(unknown)}")
    rule = Rule(
        tenant=_optional_str(where, raw.get("tenant")),
        tag=_optional_str(where, raw.get("tag")),
        node_type=_optional_str(where, raw.get("node_type")),
        **{
            k: _days(f"{where} {k}", raw[k])
            for k in ("archive_after_days", "delete_after_days", "hot_window_hours")
            if k in raw
        },
    )
    if rule.node_type:
        if rule.node_type not in NODE_TYPES:
            raise ConfigError(
                f"{where}: unknown node_type {rule.node_type!r}; one of {list(NODE_TYPES)}"
            )
        if rule.archive_after_days is not None or rule.hot_window_hours is not None:
            raise ConfigError(
                f"{where}: a node_type rule can only set delete_after_days (sessions are "
                "archived whole)"
            )
        if rule.tenant or rule.tag:
            raise ConfigError(f"{where}: a node_type rule cannot also name a tenant or tag")
    elif not rule.tenant and not rule.tag:
        raise ConfigError(f"{where} must name a tenant, a tag or a node_type")
    if rule.hot_window_hours is not None and (rule.tag or not rule.tenant):
        raise ConfigError(f"{where}: hot_window_hours can be set per tenant only")
    return rule


def _days(name: str, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{name} must be a number, got {raw!r}")
    if raw < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return float(raw)


def _optional_str(where: str, raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{where}: tenant, tag and node_type must be non-empty strings")
    return raw


def _strings(name: str, raw: Any) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise ConfigError(f"{name} must be a list of strings, got {raw!r}")
    return list(raw)
