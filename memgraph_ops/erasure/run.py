"""Plan, execute, verify and sign one erasure request; resume it after a crash.

    >>> from memgraph_ops.erasure import Subject, erase, plan
    >>> plan(mg, Subject("user", "u-42"))             # dry run: what would go, per layer
    >>> erase(mg, Subject("user", "u-42"))            # queue, run, verify; returns the receipt

Execution holds the erasure lock (one erasure at a time; a second waits its turn) and the
compaction lock (no compaction writes meanwhile). Steps, each idempotent and recorded in the
request so a rerun after a crash resumes: tombstones (nothing erased can come back while we
work) → HOT rows → DuckDB file rewrite → vault frames → lake rows, then each touched Delta
table's history → byte-level verification → signed receipt. A failure marks the request
`failed` with the reason; the next run retries it. Nothing is reported done unless the
verification passed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from memgraph_ops import tombstones
from memgraph_ops._failpoints import failpoint
from memgraph_ops.erasure import hot, lake, receipt, vault
from memgraph_ops.erasure.identity import Identity, identifiers_in, resolve, with_found
from memgraph_ops.erasure.keys import ErasureKeys, is_legacy_seal
from memgraph_ops.erasure.request import Queue, Request, Sealed, Subject, file_lock
from memgraph_ops.erasure.verify import Hit, duckdb_places, scan_root
from memgraph_ops.errors import MemgraphError
from memgraph_ops.lake.compaction import COMPACTION_LOCK
from memgraph_ops.privacy.pseudonyms import Pseudonymizer, load_master_key
from memgraph_ops.privacy.redact import PrivacyConfig
from memgraph_ops.privacy.redact import Redactor as PiiRedactor

if TYPE_CHECKING:
    from collections.abc import Callable

    from memgraph_ops.api import Memgraph


SESSION_NODE_TYPES = ("Session", "Prompt", "Response", "ToolInvocation")
"""Node types that belong to one session (Agents, Templates and context sources are shared)."""


class ErasureFailed(MemgraphError):
    """An erasure could not be completed or verified; the request stays queued as failed."""


@dataclass
class _Context:
    mg: Memgraph
    keys: ErasureKeys
    identity: Identity
    ids: hot.SubjectIds
    lake_tables: dict[str, Path] = field(default_factory=dict)


def _keys(mg: Memgraph) -> tuple[ErasureKeys, Pseudonymizer]:
    master = load_master_key(mg.settings.home)
    return ErasureKeys(master), Pseudonymizer(master)


def _lake_root(mg: Memgraph) -> Path:
    return Path(mg.settings.lake_uri)


def _context(
    mg: Memgraph, subject: Subject, known_sessions: list[str], found: list[str] | None = None
) -> _Context:
    """The subject resolved against the data; `found` are identifiers an earlier attempt
    collected from the subject's own rows (HOT may no longer hold them)."""
    keys, pseudonyms = _keys(mg)
    store = mg.existing_store()
    root = _lake_root(mg)
    tables = lake.delta_tables(root)
    tenants = set(hot.tenants(store)) if store is not None else set()
    nodes = mg.lake.scan("nodes")
    tenants |= set(nodes.select(pl.col("tenant").unique()).collect()["tenant"].drop_nulls())
    archive = vault.open_vault(mg)
    index = archive.index()
    tenants |= set(index["tenant"].drop_nulls().to_list())
    identity = resolve(subject, pseudonyms, sorted(tenants), found or [])
    sessions_found = set(known_sessions)
    if subject.kind == "session":
        sessions_found.add(subject.value.strip())
    if store is not None:
        sessions_found |= set(hot.sessions(store, identity))
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
    log = mg.lake.scan("event_log").filter(
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
        typed = _identifiers_typed(mg, hot.own_texts(store, identity, subject_ids))
        if set(typed) - set(identity.found):
            identity = with_found(identity, typed, pseudonyms)
    return _Context(mg, keys, identity, subject_ids, tables)


def _identifiers_typed(mg: Memgraph, texts: list[tuple[str, str]]) -> list[str]:
    """`identity.identifiers_in` with the detection redaction uses on this data root (built
    from the settings when redaction is off: the lake then holds these values in clear)."""
    if not texts:
        return []
    redactor = mg.redactor()
    if isinstance(redactor, PiiRedactor):
        return identifiers_in(texts, redactor)
    detector = PiiRedactor(_keys(mg)[1], PrivacyConfig.from_mapping(mg.settings.privacy))
    try:
        return identifiers_in(texts, detector)
    finally:
        detector.scanner.close()


def _find(ctx: _Context, *, mentions: bool = True) -> dict[str, Any]:
    """What every layer holds of the subject now."""
    identity = ctx.identity
    store = ctx.mg.existing_store()
    hot_hits = hot.find(store, identity, ctx.ids) if store is not None else hot.HotHits()
    tables = {
        name: lake.find(identity, name, path, mentions=mentions)
        for name, path in ctx.lake_tables.items()
        if name != lake.RECEIPT_TABLE
    }
    vault_hits = vault.find(vault.open_vault(ctx.mg), identity)
    return {"hot": hot_hits, "lake": tables, "vault": vault_hits}


def _summary(found: dict[str, Any]) -> dict[str, Any]:
    tables = found["lake"]
    return {
        "hot": found["hot"].summary(),
        "lake": {n: h.summary() for n, h in tables.items() if n != "pii_findings"},
        "pii_findings": tables["pii_findings"].summary() if "pii_findings" in tables else {},
        "vault": found["vault"].summary(),
    }


def _anything(found: dict[str, Any]) -> bool:
    return bool(
        found["hot"].total
        or any(h.rows or h.others or h.log_hits or h.superseded for h in found["lake"].values())
        or found["vault"].total
    )


def plan(mg: Memgraph, subject: Subject) -> dict[str, Any]:
    """The dry run: what an erasure of `subject` would remove or re-redact, per layer. Reads
    only; changes nothing under the data root."""
    keys, _ = _keys(mg)
    ctx = _context(mg, subject, [])
    found = _find(ctx)
    lake_files = sorted({f for h in found["lake"].values() for f in h.files})
    total_files = sum(h.total_files for h in found["lake"].values())
    return {
        "subject_hash": subject.hash(keys),
        "kind": subject.kind,
        "tenant": subject.tenant,
        "mode": subject.mode,
        "found": _anything(found),
        "sessions": len(ctx.identity.sessions),
        "layers": _summary(found),
        "lake_files": lake_files,
        "lake_files_total": total_files,
        "other_people_sessions": sorted(
            set(found["hot"].other_sessions)
            | {s for h in found["lake"].values() for s in h.other_sessions}
            | set(found["vault"].others)
        ),
    }


def submit(mg: Memgraph, subject: Subject) -> Request:
    """Queue an erasure request (for the Dagster sensor or a later `run`)."""
    keys, _ = _keys(mg)
    return Queue(mg.settings.home).submit(subject, keys)


def erase(mg: Memgraph, subject: Subject, *, lock_timeout: float = 600.0) -> Request:
    """Queue `subject` and run the request now; returns it finished (or raises ErasureFailed)."""
    request = submit(mg, subject)
    return run(mg, request.request_id, lock_timeout=lock_timeout)


def drain(mg: Memgraph, *, lock_timeout: float = 600.0) -> list[Request]:
    """Run every pending request (queued, failed, or interrupted), oldest first."""
    out = []
    for request in Queue(mg.settings.home).pending():
        try:
            out.append(run(mg, request.request_id, lock_timeout=lock_timeout))
        except ErasureFailed:
            out.append(Queue(mg.settings.home).get(request.request_id))
    return out


def run(mg: Memgraph, request_id: str, *, lock_timeout: float = 600.0) -> Request:
    """Execute a queued request to the end, resuming whatever an earlier attempt did."""
    queue = Queue(mg.settings.home)
    with queue.lock(timeout=lock_timeout), file_lock(
        mg.settings.home / COMPACTION_LOCK, timeout=lock_timeout,
        what="a compaction is running on this data root",
    ):  # fmt: skip
        request = queue.get(request_id)
        if request.status in ("done", "nothing found"):
            return request
        request.status, request.attempts, request.error = "running", request.attempts + 1, None
        queue.save(request)
        try:
            _execute(mg, queue, request, lock_timeout=lock_timeout)
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


def _execute(mg: Memgraph, queue: Queue, request: Request, *, lock_timeout: float) -> None:
    keys, _ = _keys(mg)
    assert request.sealed is not None, "an unfinished request keeps its sealed subject"
    sealed = Sealed.unseal(keys, request.sealed, request.request_id)
    if is_legacy_seal(request.sealed):  # queued before AES-GCM: read once, sealed anew now
        request.sealed = sealed.seal(keys, request.request_id)
        queue.save(request)
    # The sealed identifiers are the stated ones, then those found in the subject's own rows
    # (kept sealed: after HOT's rows are gone, a rerun cannot find them again).
    stated = int(request.progress.setdefault("stated_identifiers", len(sealed.identifiers)))
    subject = Subject(
        request.kind, sealed.value, request.tenant, tuple(sealed.identifiers[:stated]),
        request.mode,
    )  # fmt: skip
    ctx = _context(mg, subject, sealed.sessions, sealed.identifiers[stated:])
    identity = ctx.identity
    typed = [*sealed.identifiers[:stated], *identity.found]
    if set(identity.sessions) != set(sealed.sessions) or typed != sealed.identifiers:
        sealed.sessions = identity.sessions
        sealed.identifiers = typed
        request.sealed = sealed.seal(keys, request.request_id)
        queue.save(request)
    progress = request.progress
    counts: dict[str, Any] = progress.setdefault("counts", {})
    files: list[str] = progress.setdefault("files", [])
    started = time.perf_counter()
    timings: dict[str, float] = progress.setdefault("timings", {})
    mark = [started]

    def lap(phase: str) -> None:
        now = time.perf_counter()
        timings[phase] = round(timings.get(phase, 0.0) + now - mark[0], 3)
        mark[0] = now

    # A rewrite killed before its rename left a full copy of HOT (everyone's raw text) that
    # nothing else would ever delete.
    files.extend(hot.remove_leftovers(mg.settings.store_path))
    found = _find(ctx)
    lap("plan")
    if not progress.get("started"):
        progress["found"] = _anything(found)
        # DuckDB keeps deleted bytes (rows trimmed by compaction too) in free blocks that no
        # scan can read back reliably (strings are compressed): rewrite the file whenever the
        # subject had data anywhere.
        progress["hot_dirty"] = progress["found"]
        progress["plan"] = _summary(found)
        progress["started"] = datetime.now(UTC).isoformat()
        queue.save(request)

    tombstones.add(
        mg.settings.home, keys.subject_hash, request_id=request.request_id,
        requested_at=request.requested_at, sessions=identity.sessions,
        user_ids=identity.user_ids if subject.kind != "session" else [], tenant=subject.tenant,
    )  # fmt: skip
    re_redact = subject.mode == "re-redact"

    store = mg.existing_store()
    if store is not None and found["hot"].total:
        removed = hot.erase(store, identity, ctx.ids, re_redact=re_redact)
        _add(counts, "hot", removed.summary())
        progress["hot_dirty"] = True
        queue.save(request)
    failpoint("erase:after_hot")
    lap("hot")
    rewrite = progress.get("hot_dirty") and not progress.get("hot_rewritten")
    if rewrite and mg.settings.store_path.exists():
        size = _rewrite_store(mg)
        files.append(str(mg.settings.store_path))
        progress["hot_rewritten"] = True
        _add(counts, "hot", {"file_bytes_after_rewrite": size})
        queue.save(request)

    archive = vault.open_vault(mg)
    done = vault.erase(archive, identity, found["vault"], re_redact=re_redact)
    if done["frames_removed"] or done["frames_rewritten"]:
        _add(counts, "vault", done)
        files.extend(done["files"])
        queue.save(request)
    failpoint("erase:after_vault")
    lap("vault")

    # Vacuuming with zero retention deletes every file the log does not name, so no other
    # writer of these tables may be mid-commit: compaction is locked out already, archiving
    # and retention (which delete from the lake) take the vault's lock.
    with archive.exclusive():
        dirty: set[str] = set(progress.get("dirty_tables", []))
        for name, hits in found["lake"].items():
            if hits.rows or hits.others:
                why = f"erasure {request.request_id}"
                result = lake.erase(identity, hits, re_redact=re_redact, why=why)
                _add(counts, "pii_findings" if name == "pii_findings" else f"lake.{name}", result)
                files.extend(f"{name}/{Path(f).relative_to(hits.path)}" for f in hits.files)
            if hits.rows or hits.others or hits.log_hits or hits.superseded:
                dirty.add(name)
                progress["dirty_tables"] = sorted(dirty)
                queue.save(request)
            failpoint(f"erase:after_lake:{name}")
        for name in sorted(dirty):
            if name in ctx.lake_tables:
                removed_files = lake.scrub_history(
                    ctx.lake_tables[name], request_id=request.request_id
                )
                files.extend(f"{name}/{f}" for f in removed_files)
                _add(counts, "history", {f"{name}.files_deleted": len(removed_files)})
        for path in vault.delta_tables(archive):
            if lake.has_traces(identity, path):
                removed_files = lake.scrub_history(path, request_id=request.request_id)
                files.extend(f"vault/{f}" for f in removed_files)
    progress["dirty_tables"] = []
    queue.save(request)
    failpoint("erase:before_verify")
    lap("lake")

    listed = subject.mode == "list" and bool(
        found["hot"].other_rows
        or any(h.others for h in found["lake"].values())
        or found["vault"].others
    )
    verification = _verify(mg, ctx, listed=listed)
    lap("verify")
    progress["seconds"] = round(progress.get("seconds", 0) + time.perf_counter() - started, 3)
    if not verification["passed"] and not verification["only_listed"]:
        raise ErasureFailed(
            f"verification found the subject in {len(verification['hits'])} places after "
            f"erasure: {verification['hits'][:10]}; rows left: {verification['rows_left']} "
            f"({verification['left']})"
        )
    request.status = "done" if progress.get("found") else "nothing found"
    request.completed_at = datetime.now(UTC).isoformat()
    document = {
        "request_id": request.request_id,
        "subject_hash": request.subject_hash,
        "kind": request.kind,
        "tenant": request.tenant,
        "mode": request.mode,
        "status": request.status,
        "requested_at": request.requested_at,
        "completed_at": request.completed_at,
        "counts": counts,
        "files": sorted(set(files)),
        "verification": {k: v for k, v in verification.items() if k != "hits"}
        | {"places": len(verification["hits"])},
        "seconds": progress["seconds"],
        "timings": timings,
    }
    document = receipt.sign(document, keys)
    failpoint("erase:before_receipt")
    receipt.write(mg.settings.lake_uri, document)
    request.receipt = document
    request.sealed = None  # the subject is gone: so is the only sealed copy of it
    queue.save(request)


def _verify(mg: Memgraph, ctx: _Context, *, listed: bool) -> dict[str, Any]:
    """Structured re-check (no layer holds the subject's rows) and a byte scan of the root."""
    ctx.lake_tables = lake.delta_tables(_lake_root(mg))
    found = _find(ctx, mentions=False)
    left = _summary(found)
    rows_left = bool(
        found["hot"].total - found["hot"].other_rows
        or any(h.rows for h in found["lake"].values())
        or found["vault"].own
    )
    needles = ctx.identity.needles + [f'"{s}"' for s in ctx.identity.sessions]
    hits = scan(mg, needles)
    return {
        "scanned_root": True,
        "needles": len(needles),
        "rows_left": rows_left,
        "passed": not hits and not rows_left,
        "only_listed": listed and not rows_left,
        "left": left,
        "hits": [h.as_dict() for h in hits],
    }


def scan(mg: Memgraph, needles: list[str]) -> list[Hit]:
    """Every place under the data root holding any of `needles` (the open store is searched
    through its own connection: DuckDB allows no second one in this process)."""
    store = mg.open_store()
    databases: dict[Path, Callable[[list[str]], list[str]]] = {}
    if store is not None:
        con = store._con

        def through_store(words: list[str]) -> list[str]:
            with store._lock:
                return duckdb_places(mg.settings.store_path, words, con)

        databases[mg.settings.store_path] = through_store
    return scan_root(mg.settings.home, needles, databases=databases)


def _rewrite_store(mg: Memgraph) -> int:
    """Close the store, rewrite its file without free blocks; the next use reopens it."""
    mg.close_store()
    return hot.rewrite_file(mg.settings.store_path)


def _add(counts: dict[str, Any], layer: str, values: dict[str, Any]) -> None:
    into = counts.setdefault(layer, {})
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        into[key] = into.get(key, 0) + value
