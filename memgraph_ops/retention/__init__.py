"""Retention: policies per tenant, tag and node type; archive inactive sessions, delete expired
ones (keeping anonymous daily aggregates), honour legal holds."""

from memgraph_ops.retention.plan import (
    RetentionPlan,
    held_sessions,
    lake_sessions,
    plan,
    vault_sessions,
)
from memgraph_ops.retention.policy import LegalHold, RetentionPolicy, Rule
from memgraph_ops.retention.run import RetentionReport, apply

__all__ = [
    "LegalHold",
    "RetentionPlan",
    "RetentionPolicy",
    "RetentionReport",
    "Rule",
    "apply",
    "held_sessions",
    "lake_sessions",
    "plan",
    "vault_sessions",
]
