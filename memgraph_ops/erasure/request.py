"""Erasure requests: who is to be erased, and the queue that holds requests until they are done.

A request names its subject by user id, session id or identifier value (an email, phone number,
name or address as a person would type it), optionally with more identifiers of the same person.
On disk (`<home>/erasure/requests/<request id>.json`, written atomically) a request carries its
keyed subject hash and its state, never the subject in clear: the subject (and the sessions
found for it, so a rerun after a crash still knows them) is sealed with a key derived from the
pseudonym key, and dropped when the request is done.

States: `queued` → `running` → `done` | `nothing found`; a failure leaves `failed` with the
reason, and the next run retries it (a failed request is never reported done).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from memgraph_ops._files import atomic_write, lock_for, locked
from memgraph_ops.erasure.keys import ErasureKeys
from memgraph_ops.errors import InputError, TransientError

Kind = Literal["user", "session", "identifier"]
Mode = Literal["re-redact", "list"]
Status = Literal["queued", "running", "done", "nothing found", "failed"]
KINDS: tuple[Kind, ...] = ("user", "session", "identifier")
MODES: tuple[Mode, ...] = ("re-redact", "list")
FINAL: frozenset[str] = frozenset({"done", "nothing found"})


@dataclass(frozen=True)
class Subject:
    """Whom to erase.

    `identifiers` are further values of the same person (their email, phone, street address):
    their pseudonym tokens are looked for in other people's sessions too. `mode` says what to do
    with those occurrences: `re-redact` replaces them, `list` only lists them for review.
    """

    kind: Kind
    value: str
    tenant: str | None = None
    identifiers: tuple[str, ...] = ()
    mode: Mode = "re-redact"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"erasure subject kind must be one of {KINDS}, got {self.kind!r}")
        if self.mode not in MODES:
            raise InputError(f"erasure mode must be one of {MODES}, got {self.mode!r}")
        if not self.value or not self.value.strip():
            raise InputError(f"erasure by {self.kind} needs a non-empty value")
        if any(not v.strip() for v in self.identifiers):
            raise InputError("an identifier to erase must not be blank")

    def hash(self, keys: ErasureKeys) -> str:
        return keys.subject_hash(self.kind, self.value.strip(), self.tenant)


class ErasureBusy(TransientError):
    """Another erasure holds the lock for longer than we were willing to wait."""


@dataclass
class Request:
    """A queued erasure request as stored: no subject in clear."""

    request_id: str
    subject_hash: str
    kind: Kind
    tenant: str | None
    mode: Mode
    requested_at: str
    sealed: str | None
    status: Status = "queued"
    attempts: int = 0
    error: str | None = None
    completed_at: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    """Per-step results kept across attempts (counts, files, which layers need a rewrite)."""
    receipt: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sealed:
    """What a request must remember in confidence until it is done."""

    value: str
    identifiers: list[str]
    sessions: list[str] = field(default_factory=list)

    def seal(self, keys: ErasureKeys, request_id: str) -> str:
        return keys.seal(json.dumps(asdict(self)), request_id=request_id)

    @classmethod
    def unseal(cls, keys: ErasureKeys, text: str, request_id: str) -> Sealed:
        return cls(**json.loads(keys.unseal(text, request_id=request_id)))


class Queue:
    """The request queue under `<home>/erasure/`, and the lock one erasure at a time holds."""

    def __init__(self, home: Path) -> None:
        self.root = home / "erasure"
        self.requests = self.root / "requests"

    def submit(self, subject: Subject, keys: ErasureKeys) -> Request:
        """Queue a request; an unfinished request for the same subject is returned instead."""
        subject_hash = subject.hash(keys)
        for existing in self.all():
            if existing.subject_hash == subject_hash and existing.status not in FINAL:
                return existing
        request_id = f"er-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
        request = Request(
            request_id=request_id,
            subject_hash=subject_hash,
            kind=subject.kind,
            tenant=subject.tenant,
            mode=subject.mode,
            requested_at=datetime.now(UTC).isoformat(),
            sealed=Sealed(subject.value.strip(), list(subject.identifiers)).seal(keys, request_id),
        )
        self.save(request)
        return request

    def save(self, request: Request) -> None:
        path = self.requests / f"{request.request_id}.json"
        atomic_write(path, json.dumps(request.as_dict(), indent=1, sort_keys=True))

    def get(self, request_id: str) -> Request:
        path = self.requests / f"{request_id}.json"
        if not path.exists():
            raise InputError(f"no erasure request {request_id!r} under {self.requests}")
        return Request(**json.loads(path.read_text(encoding="utf-8")))

    def all(self) -> list[Request]:
        if not self.requests.exists():
            return []
        return sorted(
            (Request(**json.loads(p.read_text(encoding="utf-8")))
             for p in self.requests.glob("er-*.json")),
            key=lambda r: r.requested_at,
        )  # fmt: skip

    def pending(self, *, max_attempts: int = 5) -> list[Request]:
        """Requests to run: queued, failed (to retry), or left `running` by a crash."""
        return [r for r in self.all() if r.status not in FINAL and r.attempts < max_attempts]

    @contextmanager
    def lock(self, *, timeout: float = 600.0) -> Iterator[None]:
        """Hold the erasure lock: erasures run one at a time, the others wait their turn."""
        with file_lock(
            self.root / "erasure.lock",
            timeout=timeout,
            what="another erasure is running on this data root",
        ):
            yield


@contextmanager
def file_lock(path: Path, *, timeout: float, what: str) -> Iterator[None]:
    """An exclusive lock on `path`, waiting up to `timeout` seconds (then ErasureBusy)."""
    with locked(lock_for(path), timeout=timeout, busy=ErasureBusy, what=what):
        yield
