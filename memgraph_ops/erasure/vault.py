"""Erasure in the vault: the subject's archived sessions, and other people's frames holding
the subject's tokens.

Frames that hold a token are found without decoding every session through the API: the vault
walks its packs frame by frame (`Vault.frames`) and a hit's (pack, offset) is looked up in the
index. The subject's sessions are removed physically (`Vault.remove_sessions`
rewrites packs without their frames and deletes what nobody uses any more); other people's
sessions are re-encoded with the token replaced (`Vault.rewrite_sessions`) or listed for
review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from memgraph_ops.erasure.identity import Identity
from memgraph_ops.erasure.verify import holds
from memgraph_ops.vault import SessionRows, Vault


@dataclass
class VaultHits:
    own: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    blocks: int = 0
    """Shared blocks (repeated long strings) holding the subject's values."""

    @property
    def total(self) -> int:
        return len(self.own) + len(self.others) + self.blocks

    def summary(self) -> dict[str, Any]:
        return {
            "sessions": len(self.own),
            "other_people_sessions": len(self.others),
            "shared_blocks": self.blocks,
        }


def delta_tables(vault: Vault) -> list[str]:
    index = vault.root / "index"
    return [str(index)] if (index / "_delta_log").exists() else []


def find(vault: Vault, identity: Identity) -> VaultHits:
    index = vault.index()
    own = set(identity.sessions) & set(index["session_id"].to_list())
    hits = VaultHits(own=sorted(own))
    needles = [n.encode() for n in identity.needles]
    if not needles:
        return hits
    found = {
        (pack, offset): content
        for pack, offset, content in vault.frames()
        if holds([content], needles)[0]
    }
    if not found:
        return hits
    # A group frame holds many sessions: a hit counts for the session whose bytes hold it; a
    # hit in no session's bytes is in a block (or a dead member awaiting compaction).
    where = pl.DataFrame(list(found), schema={"pack": pl.String, "offset": pl.Int64}, orient="row")
    located = index.join(where, on=["pack", "offset"], how="semi").sort("member_offset")
    by_frame = located.partition_by("pack", "offset", as_dict=True)
    sessions: set[str] = set()
    for frame, content in found.items():
        rows = by_frame.get(frame)
        members = list(rows.iter_rows(named=True)) if rows is not None else []
        ranges = [(int(r["member_offset"]), int(r["member_offset"]) + int(r["raw_bytes"]))
                  for r in members]  # fmt: skip
        edges = [0, *(i for r in ranges for i in r), len(content)]
        rest = b"\x00".join(content[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True))
        *inside, outside = holds([content[a:b] for a, b in ranges] + [rest], needles)
        sessions.update(r["session_id"] for r, hit in zip(members, inside, strict=True) if hit)
        hits.blocks += outside
    hits.others = sorted(sessions - own)
    return hits


def erase(vault: Vault, identity: Identity, hits: VaultHits, *, re_redact: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"frames_removed": 0, "frames_rewritten": 0, "files": []}
    if hits.own:
        report = vault.remove_sessions(hits.own, why="erasure")
        out["frames_removed"] = int(report.sessions_removed)
        out["files"] += [f"vault/packs/{p}" for p in report.packs_rewritten + report.packs_deleted]
    if re_redact and hits.others:
        rewritten = vault.rewrite_sessions(
            hits.others, lambda rows: _re_redact(rows, identity), why="erasure"
        )
        out["frames_rewritten"] = len(hits.others)
        packs = rewritten.packs_rewritten + rewritten.packs_deleted
        out["files"] += [f"vault/packs/{p}" for p in packs]
    return out


def _re_redact(rows: SessionRows, identity: Identity) -> SessionRows:
    def fix(frame: pl.DataFrame) -> pl.DataFrame:
        columns = []
        for name, dtype in frame.schema.items():
            if dtype != pl.String:
                continue
            expr = pl.col(name)
            if identity.token_pattern:
                expr = expr.str.replace_all(identity.token_pattern, "<${1}>")
            if identity.clear_pattern:
                expr = expr.str.replace_all(identity.clear_pattern, "<ERASED>")
            columns.append(expr)
        return frame.with_columns(columns)

    return SessionRows(fix(rows.nodes), fix(rows.edges))
