"""Plan, execute, verify and sign one erasure request; resume it after a crash.

    >>> from memgraph_ops.erasure import Subject, erase, plan
    >>> plan(mg, Subject("user", "u-42"))             # dry run: what would go, per layer
    >>> erase(mg, Subject("user", "u-42"))            # queue, run, verify; returns the receipt

`mg` is any `Layers` (a `memgraph_ops.Memgraph`): erasure takes the store, lake and vault it
works on, it imports no facade.

Execution holds the erasure lock (one erasure at a time; a second waits its turn) and the
compaction lock (no compaction writes meanwhile). It runs `STEPS` in order, each idempotent
(a no-op for what is done already) and saved in the request's `Progress` after it, so a rerun
after a crash resumes: leftover copies of HOT removed → plan → tombstones (nothing erased can
come back while we work) → HOT rows → DuckDB file rewrite → vault frames → lake rows → each
touched Delta table's history → byte-level verification → signed receipt. A failure marks the
request `failed` with the reason; the next run retries it. Nothing is reported done unless the
verification passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from memgraph_ops import tombstones
from memgraph_ops._failpoints import failpoint
from memgraph_ops.erasure import hot, lake, receipt, vault
from memgraph_ops.erasure.identity import Identity, identifiers_in, resolve, with_found
from memgraph_ops.erasure.keys import ErasureKeys, is_legacy_seal
from memgraph_ops.erasure.layers import Layers
from memgraph_ops.erasure.request import Queue, Request, Sealed, Subject, file_lock
from memgraph_ops.erasure.verify import Hit, SqlScan, scan_objects, scan_root
from memgraph_ops.errors import MemgraphError
from memgraph_ops.lake import objects
from memgraph_ops.lake.compaction import COMPACTION_LOCK
from memgraph_ops.privacy.pseudonyms import Pseudonymizer, load_master_key
from memgraph_ops.privacy.redact import PrivacyConfig
from memgraph_ops.privacy.redact import Redactor as PiiRedactor
from memgraph_ops.store import remove_file_leftovers

SESSION_NODE_TYPES = ("Session", "Prompt", "Response", "ToolInvocation")
"""Node types that belong to one session (Agents, Templates and context sources are shared)."""


class ErasureFailed(MemgraphError):
    """An erasure could not be completed or verified; the request stays queued as failed."""


@dataclass
class Progress:
    """What a request has done so far, kept in it (`Request.progress`, JSON) across attempts."""

    stated_identifiers: int | None = None
    """How many of the sealed identifiers were stated; the rest were found in the subject's
    own rows (kept sealed: once HOT's rows are gone, a rerun cannot find them again)."""
    started: str | None = None
    """When the first attempt planned (ISO time): `found` and `plan` are from then."""
    found: bool = False
    plan: dict[str, Any] = field(default_factory=dict)
    hot_dirty: bool = False
    """HOT's file may keep the subject in free blocks: it must be rewritten."""
    hot_rewritten: bool = False
    dirty_tables: list[str] = field(default_factory=list)
    """Lake tables that held the subject and whose history is not scrubbed yet."""
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step, summed over attempts."""
    seconds: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Progress:
        """From a request's JSON; requests queued by older versions kept the same keys in a
        plain dict (unknown keys are dropped)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, layer: str, values: dict[str, Any]) -> None:
        """Add a step's integer counts to `layer`'s."""
        into = self.counts.setdefault(layer, {})
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            into[key] = into.get(key, 0) + value


@dataclass
class _Target:
    """The subject resolved against the data."""

    identity: Identity
    ids: hot.SubjectIds
    lake_tables: dict[str, str]


@dataclass
class _Found:
    """What every layer holds of the subject."""

    hot: hot.HotHits
    lake: dict[str, lake.TableHits]
    vault: vault.VaultHits

    def summary(self) -> dict[str, Any]:
        findings = self.lake.get("pii_findings")
        return {
            "hot": self.hot.summary(),
            "lake": {n: h.summary() for n, h in self.lake.items() if n != "pii_findings"},
            "pii_findings": findings.summary() if findings is not None else {},
            "vault": self.vault.summary(),
        }

    @property
    def anything(self) -> bool:
        return bool(
            self.hot.total
            or any(h.rows or h.others or h.log_hits or h.superseded for h in self.lake.values())
            or self.vault.total
        )

    @property
    def others(self) -> bool:
        """Whether other people's rows hold the subject's values."""
        return bool(
            self.hot.other_rows or any(h.others for h in self.lake.values()) or self.vault.others
        )


@dataclass
class _Context:
    """One attempt at a request: the steps read it and record in `progress`."""

    layers: Layers
    queue: Queue
    request: Request
    keys: ErasureKeys
    subject: Subject
    target: _Target
    progress: Progress
    found: _Found | None = None
    """What the layers held when this attempt planned (the `plan` step)."""
    verification: dict[str, Any] = field(default_factory=dict)

    @property
    def re_redact(self) -> bool:
        return self.subject.mode == "re-redact"

    def hits(self) -> _Found:
        assert self.found is not None, "the plan step runs first"
        return self.found

    def save(self) -> None:
        self.request.progress = self.progress.as_dict()
        self.queue.save(self.request)


def _keys(layers: Layers) -> tuple[ErasureKeys, Pseudonymizer]:
    master = load_master_key(layers.settings.home)
    return ErasureKeys(master), Pseudonymizer(master)


def _lake_root(layers: Layers) -> str:
    return layers.settings.lake_uri


def _resolve(
    layers: Layers, subject: Subject, known_sessions: list[str], found: list[str] | None = None
) -> _Target:
    """The subject resolved against the data; `found` are identifiers an earlier attempt
    collected from the subject's own rows (HOT may no longer hold them)."""
    _, pseudonyms = _keys(layers)
    store = layers.existing_store()
    tables = objects.delta_tables(_lake_root(layers))
    tenants = set(store.tenants()) if store is not None else set()
    nodes = layers.lake.scan("nodes")
    tenants |= set(nodes.select(pl.col("tenant").unique()).collect()["tenant"].drop_nulls())
    index = layers.vault.index()
    tenants |= set(index["tenant"].drop_nulls().to_list())
    identity = resolve(subject, pseudonyms, sorted(tenants), found or [])
    sessions_found = set(known_sessions)
    if subject.kind == "session":
        sessions_found.add(subject.value.strip())
    if store is not None:
        sessions_found |= set(store.subject_sessions(identity.user_ids, subject.tenant))
    users = identity.user_tokens + identity.user_ids
    if users:
        sessions = (
            nodes.filter((pl.col("type") == "Session") & pl.col("user_id").is_in(users))
            .select(pl.coalesce("session_id", "id").alias("s"))
            .collect()
        )
        sessions_found |= set(sessions["s"].to_list())
        sessions_found |= set(index.filter(pl.col("user_id").is_in(users))["session_id"].to_list())
    identity.sessions = sorted(sessions_found)
    log = layers.lake.scan("event_log").filter(
        pl.col("session_id").is_in(identity.sessions) | pl.col("id").is_in(identity.sessions)
    )
    ids = log.select("event_id", "id", "kind", "type").collect()
    subject_ids = hot.SubjectIds(
        ids["event_id"].to_list(), sorted(set(ids["id"].drop_nulls().to_list()))
    )
    identity.node_ids = sorted(
        set(
            ids.filter((pl.col("kind") == "node") & pl.col("type").is_in(SESSION_NODE_TYPES))[
                "id"
            ].drop_nulls()
        )
    )
    if subject.kind == "user" and store is not None:
        # The user's emails, phones and names typed in their own sessions, while HOT still
        # has them raw: verified (and re-redacted elsewhere) like stated identifiers.
        texts = store.subject_texts(hot.subject_rows(identity, subject_ids))
        typed = _identifiers_typed(layers, texts)
        if set(typed) - set(identity.found):
            identity = with_found(identity, typed, pseudonyms)
    return _Target(identity, subject_ids, tables)


def _identifiers_typed(layers: Layers, texts: list[tuple[str | None, str]]) -> list[str]:
    """`identity.identifiers_in` with the detection redaction uses on this data root (built
    from the settings when redaction is off: the lake then holds these values in clear)."""
    if not texts:
        return []
    redactor = layers.redactor()
    if isinstance(redactor, PiiRedactor):
        return identifiers_in(texts, redactor)
    detector = PiiRedactor(_keys(layers)[1], PrivacyConfig.from_mapping(layers.settings.privacy))
    try:
        return identifiers_in(texts, detector)
    finally:
        detector.scanner.close()


def _find(layers: Layers, target: _Target, *, mentions: bool = True) -> _Found:
    """What every layer holds of the subject now."""
    identity = target.identity
    store = layers.existing_store()
    hot_hits = hot.find(store, identity, target.ids) if store is not None else hot.HotHits()
    tables = {
        name: lake.find(identity, name, path, mentions=mentions)
        for name, path in target.lake_tables.items()
        if name != lake.RECEIPT_TABLE
    }
    return _Found(hot_hits, tables, vault.find(layers.vault, identity))


def plan(layers: Layers, subject: Subject) -> dict[str, Any]:
    """The dry run: what an erasure of `subject` would remove or re-redact, per layer. Reads
    only; changes nothing under the data root."""
    keys, _ = _keys(layers)
    target = _resolve(layers, subject, [])
    found = _find(layers, target)
    lake_files = sorted({f for h in found.lake.values() for f in h.files})
    total_files = sum(h.total_files for h in found.lake.values())
    return {
        "subject_hash": subject.hash(keys),
        "kind": subject.kind,
        "tenant": subject.tenant,
        "mode": subject.mode,
        "found": found.anything,
        "sessions": len(target.identity.sessions),
        "layers": found.summary(),
        "lake_files": lake_files,
        "lake_files_total": total_files,
        "other_people_sessions": sorted(
            set(found.hot.other_sessions)
            | {s for h in found.lake.values() for s in h.other_sessions}
            | set(found.vault.others)
        ),
    }


def submit(layers: Layers, subject: Subject) -> Request:
    """Queue an erasure request (for the Dagster sensor or a later `run`)."""
    keys, _ = _keys(layers)
    return Queue(layers.settings.home).submit(subject, keys)


def erase(layers: Layers, subject: Subject, *, lock_timeout: float = 600.0) -> Request:
    """Queue `subject` and run the request now; returns it finished (or raises ErasureFailed)."""
    request = submit(layers, subject)
    return run(layers, request.request_id, lock_timeout=lock_timeout)


def drain(layers: Layers, *, lock_timeout: float = 600.0) -> list[Request]:
    """Run every pending request (queued, failed, or interrupted), oldest first."""
    out = []
    for request in Queue(layers.settings.home).pending():
        try:
            out.append(run(layers, request.request_id, lock_timeout=lock_timeout))
        except ErasureFailed:
            out.append(Queue(layers.settings.home).get(request.request_id))
    return out


def run(layers: Layers, request_id: str, *, lock_timeout: float = 600.0) -> Request:
    """Execute a queued request to the end, resuming whatever an earlier attempt did."""
    home = layers.settings.home
    queue = Queue(home)
    with queue.lock(timeout=lock_timeout), file_lock(
        home / COMPACTION_LOCK, timeout=lock_timeout,
        what="a compaction is running on this data root",
    ):  # fmt: skip
        request = queue.get(request_id)
        if request.status in ("done", "nothing found"):
            return request
        request.status, request.attempts, request.error = "running", request.attempts + 1, None
        queue.save(request)
        try:
            _execute(_attempt(layers, queue, request))
        except Exception as exc:
            request.status = "failed"
            request.error = f"{type(exc).__name__}: {exc}"
            queue.save(request)
            raise ErasureFailed(
                f"erasure {request_id} failed (attempt {request.attempts}): {exc}. It stays "
                "queued as failed and is retried by the next run (`memgraph-ops erase --resume` "
                "or the Dagster sensor)."
            ) from exc
        return request


def _attempt(layers: Layers, queue: Queue, request: Request) -> _Context:
    """Unseal the subject, resolve it against the data, and seal what was learnt (sessions,
    identifiers found in the subject's rows) before anything is deleted."""
    keys, _ = _keys(layers)
    assert request.sealed is not None, "an unfinished request keeps its sealed subject"
    sealed = Sealed.unseal(keys, request.sealed, request.request_id)
    if is_legacy_seal(request.sealed):  # queued before AES-GCM: read once, sealed anew now
        request.sealed = sealed.seal(keys, request.request_id)
    progress = Progress.from_dict(request.progress)
    if progress.stated_identifiers is None:
        progress.stated_identifiers = len(sealed.identifiers)
    stated = progress.stated_identifiers
    subject = Subject(
        request.kind, sealed.value, request.tenant, tuple(sealed.identifiers[:stated]),
        request.mode,
    )  # fmt: skip
    target = _resolve(layers, subject, sealed.sessions, sealed.identifiers[stated:])
    identity = target.identity
    typed = [*sealed.identifiers[:stated], *identity.found]
    if set(identity.sessions) != set(sealed.sessions) or typed != sealed.identifiers:
        sealed.sessions = identity.sessions
        sealed.identifiers = typed
        request.sealed = sealed.seal(keys, request.request_id)
    ctx = _Context(layers, queue, request, keys, subject, target, progress)
    ctx.save()
    return ctx


Step = Callable[[_Context, Progress], None]


def _execute(ctx: _Context) -> None:
    """Run `STEPS` in order, saving the progress after each (then its failpoint, if any)."""
    progress = ctx.progress
    for step, crash_point in STEPS:
        began = time.perf_counter()
        step(ctx, progress)
        took = time.perf_counter() - began
        name = step.__name__.lstrip("_")
        progress.timings[name] = round(progress.timings.get(name, 0.0) + took, 3)
        progress.seconds = round(progress.seconds + took, 3)
        ctx.save()
        if crash_point:
            failpoint(crash_point)


def _remove_leftovers(ctx: _Context, progress: Progress) -> None:
    """A rewrite killed before its rename left a full copy of HOT (everyone's raw text) that
    nothing else would ever delete."""
    progress.files += remove_file_leftovers(ctx.layers.settings.store_path)


def _plan(ctx: _Context, progress: Progress) -> None:
    """What the layers hold now (the later steps act on it); the first attempt's is recorded."""
    ctx.found = _find(ctx.layers, ctx.target)
    if not progress.started:
        progress.found = ctx.found.anything
        # DuckDB keeps deleted bytes (rows trimmed by compaction too) in free blocks that no
        # scan can read back reliably (strings are compressed): rewrite the file whenever the
        # subject had data anywhere.
        progress.hot_dirty = progress.found
        progress.plan = ctx.found.summary()
        progress.started = datetime.now(UTC).isoformat()


def _tombstone(ctx: _Context, progress: Progress) -> None:
    """Nothing erased can come back (ingest, restore) while we work, or after."""
    identity, request = ctx.target.identity, ctx.request
    tombstones.add(
        ctx.layers.settings.home, ctx.keys.subject_hash, request_id=request.request_id,
        requested_at=request.requested_at, sessions=identity.sessions,
        user_ids=identity.user_ids if ctx.subject.kind != "session" else [],
        tenant=ctx.subject.tenant,
    )  # fmt: skip


def _erase_hot(ctx: _Context, progress: Progress) -> None:
    store = ctx.layers.existing_store()
    if store is None or not ctx.hits().hot.total:
        return
    removed = hot.erase(store, ctx.target.identity, ctx.target.ids, re_redact=ctx.re_redact)
    progress.add("hot", removed.summary())
    progress.hot_dirty = True


def _rewrite_hot(ctx: _Context, progress: Progress) -> None:
    """The store rewrites its own file without free blocks (and keeps running on it)."""
    if not progress.hot_dirty or progress.hot_rewritten:
        return
    store = ctx.layers.existing_store()
    if store is None:
        return
    size = store.rewrite_file()
    progress.files.append(str(ctx.layers.settings.store_path))
    progress.hot_rewritten = True
    progress.add("hot", {"file_bytes_after_rewrite": size})


def _erase_vault(ctx: _Context, progress: Progress) -> None:
    done = vault.erase(
        ctx.layers.vault, ctx.target.identity, ctx.hits().vault, re_redact=ctx.re_redact
    )
    if done["frames_removed"] or done["frames_rewritten"]:
        progress.add("vault", done)
        progress.files += done["files"]


def _erase_lake(ctx: _Context, progress: Progress) -> None:
    """Delete (or re-redact) the subject's rows in every Delta table under the lake root; the
    tables that held anything are marked for `_scrub_history`."""
    identity = ctx.target.identity
    with ctx.layers.vault.exclusive():  # see `_scrub_history`
        for name, hits in ctx.hits().lake.items():
            if hits.rows or hits.others:
                why = f"erasure {ctx.request.request_id}"
                result = lake.erase(identity, hits, re_redact=ctx.re_redact, why=why)
                progress.add("pii_findings" if name == "pii_findings" else f"lake.{name}", result)
                progress.files += [f"{name}/{objects.relative(f, hits.path)}" for f in hits.files]
            if hits.rows or hits.others or hits.log_hits or hits.superseded:
                progress.dirty_tables = sorted({*progress.dirty_tables, name})
                ctx.save()
            failpoint(f"erase:after_lake:{name}")


def _scrub_history(ctx: _Context, progress: Progress) -> None:
    """Make the current version of every touched Delta table its only one (and of the vault's
    index if it still mentions the subject)."""
    request_id = ctx.request.request_id
    # Vacuuming with zero retention deletes every file the log does not name, so no other
    # writer of these tables may be mid-commit: compaction is locked out already, archiving
    # and retention (which delete from the lake) take the vault's lock.
    archive = ctx.layers.vault
    with archive.exclusive():
        for name in progress.dirty_tables:
            if name in ctx.target.lake_tables:
                removed = lake.scrub_history(ctx.target.lake_tables[name], request_id=request_id)
                progress.files += [f"{name}/{f}" for f in removed]
                progress.add("history", {f"{name}.files_deleted": len(removed)})
        for path in vault.delta_tables(archive):
            if lake.has_traces(ctx.target.identity, path):
                removed = lake.scrub_history(path, request_id=request_id)
                progress.files += [f"vault/{f}" for f in removed]
    progress.dirty_tables = []


def _verify(ctx: _Context, progress: Progress) -> None:
    """Structured re-check (no layer holds the subject's rows) and a byte scan of the root;
    raises ErasureFailed unless it passed (or only listed rows of other people remain)."""
    layers, target = ctx.layers, ctx.target
    listed = ctx.subject.mode == "list" and ctx.hits().others
    target.lake_tables = objects.delta_tables(_lake_root(layers))
    found = _find(layers, target, mentions=False)
    rows_left = bool(
        found.hot.total - found.hot.other_rows
        or any(h.rows for h in found.lake.values())
        or found.vault.own
    )
    needles = target.identity.needles + [f'"{s}"' for s in target.identity.sessions]
    hits = scan(layers, needles)
    ctx.verification = {
        "scanned_root": True,
        "needles": len(needles),
        "rows_left": rows_left,
        "passed": not hits and not rows_left,
        "only_listed": listed and not rows_left,
        "left": found.summary(),
        "hits": [h.as_dict() for h in hits],
    }
    verification = ctx.verification
    if not verification["passed"] and not verification["only_listed"]:
        raise ErasureFailed(
            f"verification found the subject in {len(hits)} places after erasure: "
            f"{verification['hits'][:10]}; rows left: {rows_left} ({verification['left']})"
        )


def _sign_receipt(ctx: _Context, progress: Progress) -> None:
    request = ctx.request
    request.status = "done" if progress.found else "nothing found"
    request.completed_at = datetime.now(UTC).isoformat()
    verification = ctx.verification
    done = progress.as_dict()  # a copy: the runner times this step after it is signed
    document = {
        "request_id": request.request_id,
        "subject_hash": request.subject_hash,
        "kind": request.kind,
        "tenant": request.tenant,
        "mode": request.mode,
        "status": request.status,
        "requested_at": request.requested_at,
        "completed_at": request.completed_at,
        "counts": done["counts"],
        "files": sorted(set(done["files"])),
        "verification": {k: v for k, v in verification.items() if k != "hits"}
        | {"places": len(verification["hits"])},
        "seconds": done["seconds"],
        "timings": done["timings"],
    }
    document = receipt.sign(document, ctx.keys)
    failpoint("erase:before_receipt")
    receipt.write(ctx.layers.settings.lake_uri, document)
    request.receipt = document
    request.sealed = None  # the subject is gone: so is the only sealed copy of it


STEPS: tuple[tuple[Step, str | None], ...] = (
    (_remove_leftovers, None),
    (_plan, None),
    (_tombstone, None),
    (_erase_hot, "erase:after_hot"),  # HOT rows gone, DuckDB file not yet rewritten
    (_rewrite_hot, None),
    (_erase_vault, "erase:after_vault"),
    (_erase_lake, None),  # `erase:after_lake:<table>` after each table
    (_scrub_history, "erase:before_verify"),
    (_verify, None),
    (_sign_receipt, None),
)
"""The steps of an erasure, in order, each with the failpoint crash tests kill it at once its
result is saved."""


def scan(layers: Layers, needles: list[str]) -> list[Hit]:
    """Every place under the data root holding any of `needles` (the open store is searched
    through its own connection: DuckDB allows no second one in this process)."""
    store = layers.open_store()
    databases: dict[Path, SqlScan] = {}
    if store is not None:
        databases[layers.settings.store_path] = store.places
    found = scan_root(layers.settings.home, needles, databases=databases)
    if not _under(layers.settings.lake_uri, layers.settings.home):
        found += scan_objects(layers.settings.lake_uri, needles)
    return found


def _under(uri: str, home: Path) -> bool:
    if not objects.is_local(uri):
        return False
    return Path(objects.normalize(uri)).is_relative_to(home.resolve())
