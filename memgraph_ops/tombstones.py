"""Tombstones: keyed hashes of what was erased, so it never comes back, through any door.

`<home>/erasure/tombstones.json` (written atomically) holds keyed hashes only: of erased
sessions (any event of theirs is refused at ingest, and the vault refuses to restore them) and
of erased user ids with the time of the request (their Session events that happened before it
are refused: re-sending old events cannot bring a person back, while someone who returns later
as a new user is not locked out).

The guards live here, below the store and the vault, because both build them when they open:
whoever opens `hot.duckdb` or the vault — the facade, a bare `Store.open`, the CLI, a Dagster
resource, the service — gets the same refusals. Erasure writes tombstones (`add`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from memgraph_ops._files import atomic_write


@dataclass
class Tombstones:
    sessions: dict[str, str] = field(default_factory=dict)
    """Keyed session hash → request id."""
    users: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Keyed user hash → (request id, requested_at ISO time)."""

    @classmethod
    def load(cls, path: Path) -> Tombstones:
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(raw["sessions"], {k: (v[0], v[1]) for k, v in raw["users"].items()})

    def save(self, path: Path) -> None:
        atomic_write(
            path, json.dumps({"sessions": self.sessions, "users": self.users}, sort_keys=True)
        )


class SubjectHasher:
    """The keyed hash naming a subject in queues, receipts, run tags and tombstones: HMAC-SHA256
    under a key derived from the pseudonym master key, so nobody without that key can confirm
    a guessed subject."""

    def __init__(self, master_key: bytes) -> None:
        self._key = hmac.new(master_key, b"erasure:subject", hashlib.sha256).digest()

    def __call__(self, kind: str, value: str, tenant: str | None = None) -> str:
        message = f"{kind}\x1f{tenant or '*'}\x1f{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]


def path_for(home: Path) -> Path:
    return home / "erasure" / "tombstones.json"


def add(
    home: Path,
    subject_hash: Callable[[str, str, str | None], str],
    *,
    request_id: str,
    requested_at: str,
    sessions: list[str],
    user_ids: list[str],
    tenant: str | None,
) -> None:
    path = path_for(home)
    stones = Tombstones.load(path)
    for session in sessions:
        stones.sessions[subject_hash("session", session, None)] = request_id
    for user in user_ids:
        stones.users[subject_hash("user", user, tenant)] = (request_id, requested_at)
    stones.save(path)


class _Cached:
    """Tombstones re-read only when the file changes (ingest calls this on every batch)."""

    def __init__(self, home: Path) -> None:
        self.path = path_for(home)
        self._stamp: tuple[int, int] | None = None
        self._stones = Tombstones()

    def get(self) -> Tombstones:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return Tombstones()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._stones, self._stamp = Tombstones.load(self.path), stamp
        return self._stones


class _LazyHasher:
    """The subject hasher, with the master key loaded on first need: a data root that never
    erased anything needs no pseudonym key to ingest or restore."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._hasher: SubjectHasher | None = None

    def __call__(self) -> SubjectHasher:
        if self._hasher is None:
            # Imported here: opening a store must not import the redaction stack.
            from memgraph_ops.privacy.pseudonyms import load_master_key

            self._hasher = SubjectHasher(load_master_key(self._home))
        return self._hasher


def ingest_refusal(home: Path) -> Callable[[pl.DataFrame], pl.Series]:
    """The store's ingest guard for the data root `home`: a reason per event of an erased
    session or an erased user's old Session events; null for every other event."""
    cache = _Cached(home)
    lazy = _LazyHasher(home)

    def refuse(events: pl.DataFrame) -> pl.Series:
        stones = cache.get()
        none = pl.Series("reason", [None] * events.height, dtype=pl.String)
        if not stones.sessions and not stones.users:
            return none
        subject_hash = lazy()
        sessions = pl.coalesce(
            pl.col("session_id"),
            pl.when((pl.col("kind") == "node") & (pl.col("type") == "Session")).then(pl.col("id")),
        )
        keyed = events.select(session=sessions, user=pl.col("user_id"), tenant=pl.col("tenant"),
                              at=pl.col("occurred_at"))  # fmt: skip
        session_hits = {
            s: stones.sessions[h]
            for s in keyed["session"].drop_nulls().unique().to_list()
            if (h := subject_hash("session", s)) in stones.sessions
        }
        user_hits: dict[tuple[str, str | None], tuple[str, str]] = {}
        for user, tenant in keyed.select("user", "tenant").drop_nulls("user").unique().iter_rows():
            for scope in (tenant, None):
                hit = stones.users.get(subject_hash("user", user, scope))
                if hit:
                    user_hits[(user, tenant)] = hit
        if not session_hits and not user_hits:
            return none
        requests: list[str | None] = []
        for session, user, tenant, at in keyed.iter_rows():
            request = session_hits.get(session) if session is not None else None
            if request is None and user is not None and (user, tenant) in user_hits:
                request_id, requested_at = user_hits[(user, tenant)]
                if at is None or _before(at, requested_at):
                    request = request_id
                    # the rest of this session's events in the batch carry no user id
                    session_hits.setdefault(session, request_id)
            requests.append(request)
        reasons: list[str | None] = []
        for (session, *_), request in zip(keyed.iter_rows(), requests, strict=True):
            request = request or (session_hits.get(session) if session is not None else None)
            reasons.append(
                None
                if request is None
                else f"refused: this event belongs to a subject erased by request {request} "
                "(re-ingesting erased data is not allowed)"
            )
        return pl.Series("reason", reasons, dtype=pl.String)

    return refuse


def restore_refusal(home: Path) -> Callable[[str], str | None]:
    """The vault's restore guard for the data root `home`: a reason for an erased session,
    None otherwise."""
    cache = _Cached(home)
    lazy = _LazyHasher(home)

    def refuse(session_id: str) -> str | None:
        stones = cache.get()
        if not stones.sessions:
            return None
        request = stones.sessions.get(lazy()("session", session_id))
        return None if request is None else f"it was erased by request {request}"

    return refuse


def _before(at: Any, requested_at: str) -> bool:
    moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    return moment <= datetime.fromisoformat(requested_at)
