"""Shared builders for erasure tests: a data root with many Delta versions, checkpoints, change
data feed on, vault packs and a restored session."""

from __future__ import annotations

from typing import Any

import polars as pl

from memgraph_ops import Memgraph, observatory
from memgraph_ops.lake.tables import TABLES
from memgraph_ops.privacy.pseudonyms import Pseudonymizer
from memgraph_ops.privacy.redact import JSON_FIELDS, TEXT_FIELDS
from memgraph_ops.privacy.redaction import FINDINGS_SCHEMA, Redaction
from memgraph_ops.vault import Vault
from tests.conftest import TEST_KEY
from tests.factories import event, session

SUBJECT = "subject-7f3a9c"
EMAIL = "zoe.subject@example.org"
OTHER_USERS = ("alice-11aa", "bob-22bb", "carol-33cc")


def pseudonyms() -> Pseudonymizer:
    return Pseudonymizer(bytes.fromhex(TEST_KEY))


def subject_token(tenant: str = "acme") -> str:
    return pseudonyms().subject(tenant, SUBJECT)


def enable_cdf(mg: Memgraph) -> None:
    tables = mg.lake.ensure()
    for name in TABLES:
        tables[name].alter.set_table_properties({"delta.enableChangeDataFeed": "true"})


def token_redactor(batch: pl.DataFrame) -> Redaction:
    """What the real redactor does to these events, without Presidio (fast): user ids become
    their pseudonyms and the subject's email its token, in every text and JSON field."""
    keys = pseudonyms()
    users = [
        None if u is None else keys.subject(t, u)
        for u, t in zip(batch["user_id"], batch["tenant"], strict=True)
    ]
    email = keys.token("acme", "EMAIL_ADDRESS", EMAIL)
    texts = [c for c in TEXT_FIELDS + JSON_FIELDS if c in batch.columns]
    return Redaction(
        batch.with_columns(
            pl.Series("user_id", users, dtype=pl.String),
            *[pl.col(c).str.replace_all(EMAIL, email, literal=True) for c in texts],
        ),
        pl.DataFrame(schema=FINDINGS_SCHEMA),
    )


def build(mg: Memgraph) -> dict[str, list[str]]:
    """Sessions of the subject and of others across several compactions (one Delta version
    each), a checkpoint, an archived pair of sessions and one of them restored into HOT."""
    enable_cdf(mg)
    layout: dict[str, list[str]] = {"subject": [], "others": []}
    for round_ in range(4):
        batch = []
        sid = f"subj-sess-{round_}"
        layout["subject"].append(sid)
        batch += _with_user(session(sid, 2, start=100 * round_), SUBJECT, round_ == 0)
        for user in OTHER_USERS:
            other = f"{user}-sess-{round_}"
            layout["others"].append(other)
            batch += _with_user(session(other, 2, start=100 * round_ + 5), user, False)
        if round_ == 1:
            # another person's session mentions the subject's email (as its token)
            batch.append(
                event("mention-1", "Prompt", "alice-mention-p", at=150,
                      session_id="alice-11aa-sess-1", content=f"forward to {EMAIL} please")
            )  # fmt: skip
        mg.ingest(batch)
        mg.compact(redact=token_redactor)
    table = mg.lake.table("nodes")
    assert table is not None
    table.create_checkpoint()
    observatory.refresh(mg)  # derived tables under the lake root, some with session rows
    vault = Vault(mg.settings.home / "vault")
    vault.archive(mg.lake, ["subj-sess-0", "alice-11aa-sess-0"])
    vault.restore(mg.store, "subj-sess-0")
    return layout


def _with_user(events: list[dict[str, Any]], user: str, email: bool) -> list[dict[str, Any]]:
    out = []
    for e in events:
        if e["type"] == "Session":
            e = {**e, "user_id": user}
            if email:
                e["metadata"] = {"contact": EMAIL}
        elif email and e["type"] == "Prompt":
            e = {**e, "content": f"{e['content']}; mail me at {EMAIL}"}
        out.append(e)
    return out


def others_fingerprint(mg: Memgraph, sessions: list[str]) -> dict[str, object]:
    nodes = mg.lake.nodes().filter(
        pl.col("session_id").is_in(sessions) | pl.col("id").is_in(sessions)
    )
    edges = mg.lake.edges().filter(pl.col("session_id").is_in(sessions))
    return {
        "nodes": nodes.height,
        "edges": edges.height,
        "nodes_hash": int(nodes.select(pl.all().exclude("attrs")).sort("id").hash_rows().sum()),
    }
