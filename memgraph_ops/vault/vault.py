"""The session vault: archive sessions out of the lake, restore them on demand, remove them.

Layout under the vault root (default `<home>/vault`), documented for decoding without this code
in `docs/vault-format.md`:

- `packs/*.zst`: packs of independent zstd frames (see `packs`); a frame holds sessions and
  shared blocks one after another (a group frame, up to `group_bytes` before compression), each
  member found by its byte range in the decompressed frame;
- `dicts/<id>.dict`: trained zstd dictionaries, by dictionary id;
- `index/`: the Delta table saying where each frame is (see `index`).

Writers (archive, remove, compact) take an exclusive lock on `<vault>/.lock`, one at a time.
Readers (restore) take no lock: they read the index (cached, refreshed on a miss) and one byte
range, and retry once with a fresh index if a pack was just compacted away.

Order of writes, so that a crash anywhere leaves every session in exactly one place:
archive writes the pack (atomically), then commits the index rows, then deletes the sessions
from the lake; a rerun finds sessions already archived and only deletes them from the lake.
Pack compaction writes the new pack, commits the new index, then deletes the old packs; packs
that no index row names (left by a crash) are deleted by the next writer.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa
import zstandard
from filelock import FileLock

from memgraph_ops import tombstones
from memgraph_ops._failpoints import failpoint
from memgraph_ops._files import atomic_write, locked
from memgraph_ops.errors import (
    NotArchivedError,
    RestoreRefusedError,
    VaultCorruptError,
)
from memgraph_ops.model import STORED_EVENT_SCHEMA
from memgraph_ops.vault import index as vault_index
from memgraph_ops.vault.packs import (
    LEVEL,
    FrameRef,
    compress,
    iter_frames,
    read_bytes,
    read_frame,
    write_pack,
)
from memgraph_ops.vault.payload import (
    FORMAT_VERSION,
    SessionRows,
    decode_session,
    encode_sessions,
)

if TYPE_CHECKING:
    from memgraph_ops.lake import Lake
    from memgraph_ops.store import Store

Progress = Callable[[int, int], None]
RestoreGuard = Callable[[str], "str | None"]

MIN_DICTIONARY_SAMPLES = 64
DICTIONARY_SIZES = (16_384, 65_536, 112_640, 262_144, 1_048_576)
BLOCK_CACHE_BYTES = 64 << 20
GROUP_BYTES = 1 << 20
"""Default bytes (before compression) of the sessions one frame holds: zstd's window then sees
what neighbouring sessions repeat, and a restore decompresses at most this much (~1-2 ms)."""


@dataclass
class ArchiveReport:
    """What one archive run did (or, with dry_run, would do)."""

    requested: int = 0
    archived: int = 0
    """Sessions written as new frames."""
    already_archived: int = 0
    """Sessions found in the vault unchanged (a rerun after a crash): only left the lake."""
    not_found: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    """Sessions not archived because of a legal hold."""
    nodes: int = 0
    edges: int = 0
    payload_bytes: int = 0
    """Bytes before compression: the sessions' payloads and the new blocks."""
    frames: int = 0
    frame_bytes: int = 0
    """Bytes of the frames written (sessions and blocks)."""
    new_blocks: int = 0
    block_bytes: int = 0
    """Bytes of the new blocks before compression."""
    dictionary_id: int = 0
    packs: list[str] = field(default_factory=list)
    lake_rows_deleted: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RestoreResult:
    session_id: str
    generation: int
    nodes: int
    edges: int
    restored: bool
    """False when this generation of the session was already restored (nothing changed)."""
    expires_at: datetime
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CompactReport:
    """What a removal or pack compaction did."""

    sessions_removed: int = 0
    frames_dropped: int = 0
    packs_rewritten: list[str] = field(default_factory=list)
    packs_deleted: list[str] = field(default_factory=list)
    dictionaries_deleted: list[int] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RebuildReport:
    """What recovering the vault index found (or, with dry_run, would install)."""

    sessions: int = 0
    blocks: int = 0
    rows_dropped: int = 0
    """Rows whose frame is gone from its pack or fails its checksum."""
    unreadable_files: list[str] = field(default_factory=list)
    packs_unindexed: list[str] = field(default_factory=list)
    """Packs no recovered row names, moved to `unindexed/` (kept, never read)."""
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Vault:
    """Archived sessions under a root directory.

    Example:
        >>> vault = Vault(Path("store/vault"))                 # doctest: +SKIP
        >>> vault.archive(lake, ["session-1"])                 # lake -> vault
        >>> vault.restore(store, "session-1")                  # vault -> HOT (read copy)
    """

    def __init__(
        self, root: Path, *, home: Path | None = None, group_bytes: int = GROUP_BYTES
    ) -> None:
        """`home` is the data root whose erasure tombstones restore enforces (default: the
        vault's parent directory, where the data root keeps it). New frames hold sessions up
        to `group_bytes` before compression (0: one session per frame)."""
        self.root = root
        self.group_bytes = group_bytes
        self.pack_dir = root / "packs"
        self.dict_dir = root / "dicts"
        # Erased sessions never come back, whoever opened the vault (see `tombstones`).
        self._erased: RestoreGuard = tombstones.restore_refusal(home or root.parent)
        self._version = -2
        self._all = pl.DataFrame(vault_index.INDEX_SCHEMA.empty_table())
        self._live = self._all
        self._sessions = _Keyed(self._live)
        self._blocks = _Keyed(self._live)
        self._dictionaries: dict[int, zstandard.ZstdCompressionDict] = {}
        self._block_text: OrderedDict[str, bytes] = OrderedDict()
        self._frame_text: dict[str, bytes] = {}
        self._lock = FileLock(root / ".lock", mode=0o600)

    # reading ----------------------------------------------------------------------------------

    def index(self) -> pl.DataFrame:
        """Archived sessions: where each frame is, and what it holds."""
        self._refresh()
        return self._live.filter(pl.col("entry") == "session").rename({"key": "session_id"})

    def frames(self) -> Iterator[tuple[str, int, bytes]]:
        """`(pack name, offset, content)` of every frame on disk, each decompressed alone with
        the vault's dictionaries, pack by pack: dead frames too (no index entry points at them,
        but their bytes are there). For searches of what the vault physically holds; a frame
        whose dictionary is missing yields what could be decoded and ends its pack."""
        from memgraph_ops.vault.dictionaries import dictionaries_under

        dictionaries = dictionaries_under(self.dict_dir)
        for pack in self._packs():
            for offset, content in iter_frames(pack.read_bytes(), dictionaries):
                yield pack.name, offset, content

    def contains(self, session_id: str) -> bool:
        return self._entry(session_id) is not None

    def read_session(self, session_id: str) -> SessionRows:
        """An archived session's nodes and edges, exactly as they were in the lake."""
        entry = self._entry(session_id)
        if entry is None:
            raise NotArchivedError(f"session {session_id!r} is not in the vault at {self.root}")
        return self._decode(entry)

    def restore(
        self, store: Store, session_id: str, *, ttl: timedelta = timedelta(days=7)
    ) -> RestoreResult:
        """Put an archived session back into the operational store for `ttl` (a read copy:
        the vault keeps the session). Restoring it again changes nothing. A frame that fails
        its checksum raises VaultCorruptError and restores nothing."""
        started = time.perf_counter()
        if why := self._erased(session_id):
            raise RestoreRefusedError(f"session {session_id!r} may not be restored: {why}")
        entry = self._entry(session_id)
        if entry is None:
            raise NotArchivedError(
                f"session {session_id!r} is not in the vault at {self.root}; "
                "see `memgraph-ops status` or Vault.index() for archived sessions"
            )
        rows = self._decode(entry)
        now = datetime.now(UTC)
        expires = now + ttl
        done = store.restore_session(
            session_id, int(entry["generation"]), as_events(rows, now), expires_at=expires
        )
        return RestoreResult(
            session_id,
            int(entry["generation"]),
            rows.nodes.height,
            rows.edges.height,
            done,
            expires,
            round(time.perf_counter() - started, 6),
        )

    # archiving --------------------------------------------------------------------------------

    def archive(
        self,
        lake: Lake,
        session_ids: Sequence[str],
        *,
        dry_run: bool = False,
        batch_sessions: int = 5_000,
        retrain_dictionary: bool = False,
        progress: Progress | None = None,
    ) -> ArchiveReport:
        """Move these sessions from the lake into the vault (one frame each), then delete them
        from the lake. Safe to rerun after a crash."""
        started = time.perf_counter()
        wanted = sorted(set(session_ids))
        report = ArchiveReport(requested=len(wanted), dry_run=dry_run)
        with self._exclusive(dry_run):
            if dry_run:
                self._refuse_if_damaged()
            else:
                self._sweep()
            for chunk in _chunks(wanted, batch_sessions):
                self._archive_chunk(lake, chunk, report, dry_run, retrain_dictionary)
                retrain_dictionary = False
                if progress:
                    progress(report.archived + report.already_archived, len(wanted))
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _archive_chunk(
        self, lake: Lake, chunk: list[str], report: ArchiveReport, dry_run: bool, retrain: bool
    ) -> None:
        nodes, edges = _lake_rows(lake, chunk)
        lake_nodes, lake_edges = nodes, edges  # exactly what is deleted from the lake at the end
        in_lake = set(nodes["session_id"].to_list()) | set(edges["session_id"].to_list())
        self._refresh()
        prior = {s: self._sessions[s] for s in chunk if s in self._sessions}
        report.not_found.extend(s for s in chunk if s not in in_lake and s not in prior)
        # A session in the vault and in the lake: either a rerun after a crash (the lake rows are
        # what was archived) or the session got new events since; merge those into a new frame.
        newer = _newer_than(nodes, edges, {s: int(e["max_seq"] or 0) for s, e in prior.items()})
        unchanged = sorted((in_lake & set(prior)) - newer)
        report.already_archived += len(set(prior) - newer)
        fresh = sorted(in_lake - set(unchanged))
        if fresh:
            merged = [self._decode(prior[s]) for s in fresh if s in prior]
            nodes = _latest(pl.concat([*(m.nodes for m in merged), nodes]))
            edges = _latest(pl.concat([*(m.edges for m in merged), edges]))
            nodes = nodes.filter(pl.col("session_id").is_in(fresh))
            edges = edges.filter(pl.col("session_id").is_in(fresh))
            report.nodes += nodes.height
            report.edges += edges.height
            report.archived += len(fresh)
            if not dry_run:
                self._write_sessions(nodes, edges, prior, report, retrain)
        if not dry_run and in_lake:
            failpoint("vault:archive:before_lake_delete")
            deleted = lake.delete_versions(
                {"nodes": lake_nodes, "edges": lake_edges}, why="archive"
            )
            for name, n in deleted.items():
                report.lake_rows_deleted[name] = report.lake_rows_deleted.get(name, 0) + n

    def _write_sessions(
        self,
        nodes: pl.DataFrame,
        edges: pl.DataFrame,
        prior: dict[str, dict[str, Any]],
        report: ArchiveReport,
        retrain: bool,
    ) -> None:
        encoded = encode_sessions(nodes, edges, known_blocks=frozenset(self._blocks))
        summaries = _summaries(nodes, edges)
        summary = summaries.rows_by_key("session_id", named=True, unique=True)
        # Sessions of one tenant and user sit side by side, so that a group frame's zstd
        # window sees what they repeat (system prompts, tool schemas, phrasing).
        order = summaries.sort("tenant", "user_id", "first_at", "session_id", nulls_last=True)
        members = [("block", k, encoded.blocks[k]) for k in sorted(encoded.blocks)] + [
            ("session", s, encoded.payloads[s]) for s in order["session_id"].to_list()
        ]
        groups = _groups(members, self.group_bytes)
        singles = [g[0][2] for g in groups if len(g) == 1 and g[0][0] == "session"]
        dictionary = self._dictionary(singles, retrain) if singles else None
        dictionary_id = dictionary.dict_id() if dictionary is not None else 0
        # A dictionary helps a frame that holds one small session; a group frame has its own
        # context, and blocks never use one (see docs/vault-format.md).
        with_dictionary = [
            dictionary is not None and len(g) == 1 and g[0][0] == "session" for g in groups
        ]
        contents = [b"".join(m[2] for m in g) for g in groups]
        frames = _compress_frames(contents, with_dictionary, dictionary)
        self.pack_dir.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.zst"
        pending = self._pending(name)
        pending.touch()
        ids = [dictionary_id if d else 0 for d in with_dictionary]
        refs = write_pack(self.pack_dir / name, frames, dictionary_ids=ids)
        failpoint("vault:archive:after_pack")
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        for group, content, ref in zip(groups, contents, refs, strict=True):
            at = 0
            for entry, key, payload in group:
                where = {
                    **_ref_columns(ref),
                    "raw_bytes": len(payload),
                    "member_offset": at,
                    "frame_raw_bytes": len(content),
                    "archived_at": now,
                }
                at += len(payload)
                if entry == "block":
                    block = {"entry": "block", "key": key, "generation": 1, "blocks": []}
                    rows.append({**block, **where})
                    continue
                generation = int(prior[key]["generation"]) + 1 if key in prior else 1
                rows.append(
                    {
                        **summary[key],
                        "entry": "session",
                        "key": key,
                        "generation": generation,
                        **where,
                        "blocks": encoded.refs.get(key, []),
                    }
                )
        vault_index.append(
            self.root, pl.DataFrame(rows, infer_schema_length=None), what="archive sessions"
        )
        pending.unlink()
        report.frames += len(frames)
        report.frame_bytes += sum(r.length for r in refs)
        report.payload_bytes += sum(map(len, contents))
        report.new_blocks += len(encoded.blocks)
        report.block_bytes += sum(map(len, encoded.blocks.values()))
        report.dictionary_id = dictionary_id
        report.packs.append(name)
        self._refresh()

    # removing and compacting ----------------------------------------------------------------

    def remove_sessions(
        self, session_ids: Sequence[str], *, why: str, dry_run: bool = False
    ) -> CompactReport:
        """Remove these sessions' frames physically: the index forgets them, their packs are
        rewritten without them, blocks and dictionaries nobody uses any more are deleted, and
        the index's old data files are vacuumed."""
        with self._exclusive(dry_run):
            self._refresh()
            gone = set(session_ids) & set(self._sessions)
            keep = self._live.filter(
                ~((pl.col("entry") == "session") & pl.col("key").is_in(sorted(gone)))
            )
            report = self._rewrite(keep, min_dead_fraction=0.0, dry_run=dry_run, why=why)
            report.sessions_removed = len(gone)
            return report

    def rewrite_sessions(
        self,
        session_ids: Sequence[str],
        transform: Callable[[SessionRows], SessionRows],
        *,
        why: str,
    ) -> CompactReport:
        """Re-encode these sessions' frames through `transform` (e.g. re-redaction), then remove
        the old frames physically. A session the transform leaves without rows is removed."""
        with self._exclusive(False):
            self._sweep()
            targets = [s for s in sorted(set(session_ids)) if s in self._sessions]
            if not targets:
                return CompactReport()
            prior = {s: self._sessions[s] for s in targets}
            rewritten = [transform(self._decode(prior[s])) for s in targets]
            nodes = pl.concat([r.nodes for r in rewritten], how="vertical_relaxed")
            edges = pl.concat([r.edges for r in rewritten], how="vertical_relaxed")
            kept = set(nodes["session_id"].to_list()) | set(edges["session_id"].to_list())
            if kept:
                self._write_sessions(nodes, edges, prior, ArchiveReport(), retrain=False)
            failpoint("vault:rewrite_sessions:after_write")
            emptied = sorted(set(targets) - kept)
            keep = self._live.filter(
                ~((pl.col("entry") == "session") & pl.col("key").is_in(emptied))
            )
            report = self._rewrite(keep, min_dead_fraction=0.0, dry_run=False, why=why)
            report.sessions_removed = len(emptied)
            return report

    def compact(self, *, min_dead_fraction: float = 0.25, dry_run: bool = False) -> CompactReport:
        """Rewrite packs in which at least `min_dead_fraction` of the bytes belong to frames no
        longer used (superseded or removed sessions, unreferenced blocks)."""
        with self._exclusive(dry_run):
            self._refresh()
            return self._rewrite(
                self._live, min_dead_fraction=min_dead_fraction, dry_run=dry_run, why="compact"
            )

    def _rewrite(
        self, keep: pl.DataFrame, *, min_dead_fraction: float, dry_run: bool, why: str
    ) -> CompactReport:
        if dry_run:
            self._refuse_if_damaged()
        else:
            self._sweep()
        sessions = keep.filter(pl.col("entry") == "session")
        used = set(itertools.chain.from_iterable(sessions["blocks"].to_list()))
        live = pl.concat(
            [sessions, keep.filter((pl.col("entry") == "block") & pl.col("key").is_in(used))]
        )
        # Only packs the index names: a pack it does not name is a crash's leftover (removed by
        # `_sweep`) or, with the index damaged, the only copy of sessions (never touched).
        named = set(self._all["pack"].to_list())
        sizes = {p.name: p.stat().st_size for p in self._packs() if p.name in named}
        live_bytes = _live_bytes(live)
        doomed = sorted(
            p
            for p, size in sizes.items()
            if size
            and (size - live_bytes.get(p, 0)) / size > min_dead_fraction - 1e-12
            and size > live_bytes.get(p, 0)
        )
        report = CompactReport(
            frames_dropped=self._all.height - live.height,
            bytes_before=sum(sizes.values()),
            dry_run=dry_run,
        )
        moving = live.filter(pl.col("pack").is_in(doomed))
        report.packs_deleted = [p for p in doomed if p not in set(moving["pack"].to_list())]
        report.packs_rewritten = sorted(set(moving["pack"].to_list()))
        used_dicts = set(live["dictionary_id"].to_list()) - {0}
        report.dictionaries_deleted = sorted(
            i for i in self._dictionary_files() if i not in used_dicts
        )
        if dry_run:
            report.bytes_after = report.bytes_before - round(
                sum(sizes[p] - live_bytes.get(p, 0) for p in doomed)
            )
            return report
        if moving.height:
            name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.zst"
            self._pending(name).touch()
            moved = self._repack(moving, name)
            failpoint("vault:rewrite:after_pack")
            live = pl.concat([live.filter(~pl.col("pack").is_in(doomed)), moved])
        for pack in doomed:  # to be deleted once the index no longer names them
            self._pending(pack).touch()
        if doomed or live.height != self._all.height:
            vault_index.replace(self.root, live.sort("entry", "key"), what=f"vault {why}")
        failpoint("vault:rewrite:after_index")
        if moving.height:
            self._pending(name).unlink()
        for pack in doomed:
            (self.pack_dir / pack).unlink(missing_ok=True)
            self._pending(pack).unlink()
        for dictionary_id in report.dictionaries_deleted:
            (self.dict_dir / f"{dictionary_id}.dict").unlink(missing_ok=True)
            self._dictionaries.pop(dictionary_id, None)
        self._refresh()
        report.bytes_after = sum(p.stat().st_size for p in self._packs())
        return report

    def _repack(self, moving: pl.DataFrame, name: str) -> pl.DataFrame:
        """Write the frames of these live rows into a new pack `name`; returns the rows
        pointing there. A frame whose members are all live is copied byte for byte; one that
        holds dead members (removed or superseded sessions, unused blocks) is decompressed and
        compressed again with only the live ones, so that nothing of the dead stays on disk."""
        frames: list[bytes] = []
        ids: list[int] = []
        parts = []
        for rows in moving.sort("pack", "offset", "member_offset").partition_by(
            "pack", "offset", maintain_order=True
        ):
            first = rows.row(0, named=True)
            ref = _ref(first)
            if int(rows["raw_bytes"].sum()) == int(first["frame_raw_bytes"]):
                frames.append(read_bytes(self.pack_dir, ref))
                parts.append(rows.with_columns(_frame=pl.lit(len(frames) - 1)))
            else:
                self._frame_text.clear()
                members = [self._read(row) for row in rows.iter_rows(named=True)]
                self._frame_text.clear()
                content = b"".join(members)
                dictionary = self._load_dictionary(ref.dictionary_id) if ref.dictionary_id else None
                frames.append(compress(content, dictionary))
                starts = list(itertools.accumulate(map(len, members), initial=0))[:-1]
                parts.append(
                    rows.with_columns(
                        _frame=pl.lit(len(frames) - 1),
                        member_offset=pl.Series(starts, dtype=pl.Int64),
                        frame_raw_bytes=pl.lit(len(content), dtype=pl.Int64),
                    )
                )
            ids.append(ref.dictionary_id)
        refs = write_pack(self.pack_dir / name, frames, dictionary_ids=ids)
        placed = pl.DataFrame(
            {
                "_frame": range(len(refs)),
                "offset": [r.offset for r in refs],
                "length": [r.length for r in refs],
                "sha256": [r.sha256 for r in refs],
            },
            schema={"_frame": pl.Int32, "offset": pl.Int64, "length": pl.Int64,
                    "sha256": pl.String},
        )  # fmt: skip
        return (
            pl.concat(parts)
            .with_columns(pl.col("_frame").cast(pl.Int32))
            .drop("offset", "length", "sha256")
            .join(placed, on="_frame")
            .drop("_frame")
            .with_columns(pack=pl.lit(name))
            .select(moving.columns)
        )

    def _sweep(self) -> None:
        """Delete what a crashed writer left: temp files, and packs marked pending that no
        index row names (written for a commit that never happened, or rewritten away by one
        that did). Then refuse to go on if a pack the index does not name remains: the index
        lost it, and that pack may be the only copy of its sessions."""
        self._refresh()
        named = set(self._all["pack"].to_list())
        for directory in (self.pack_dir, self.dict_dir):
            if directory.exists():
                for path in directory.glob(".*.tmp-*"):
                    path.unlink(missing_ok=True)
        if self.pack_dir.exists():
            for marker in self.pack_dir.glob(".*.pending"):
                pack = self.pack_dir / marker.name[1 : -len(".pending")]
                if pack.name not in named:
                    pack.unlink(missing_ok=True)
                marker.unlink()
        self._refuse_if_damaged()

    def stray_packs(self) -> list[str]:
        """Packs that no index row names and that no writer left pending: the index lost
        them (a damaged or replaced `index/`), so they may hold the only copy of sessions."""
        self._refresh()
        named = set(self._all["pack"].to_list())
        return [
            p.name
            for p in self._packs()
            if p.name not in named and not self._pending(p.name).exists()
        ]

    def rebuild_index(self, *, dry_run: bool = False) -> RebuildReport:
        """Recover a damaged index from its own Parquet data files (they outlive a lost
        `_delta_log`), keeping only rows whose frame is still in its pack with the recorded
        checksum. Packs that no recovered row names are moved to `unindexed/`: kept, never
        read, so that writers can go on."""
        with self._exclusive(dry_run):
            rows, unreadable = vault_index.salvage(self.root)
            valid = [self._frame_intact(row) for row in rows.iter_rows(named=True)]
            kept = rows.filter(pl.Series(valid, dtype=pl.Boolean))
            named = set(kept["pack"].to_list())
            report = RebuildReport(
                sessions=kept.filter(pl.col("entry") == "session")["key"].n_unique(),
                blocks=kept.filter(pl.col("entry") == "block")["key"].n_unique(),
                rows_dropped=rows.height - kept.height,
                unreadable_files=[str(p.relative_to(self.root)) for p in unreadable],
                packs_unindexed=[p.name for p in self._packs() if p.name not in named],
                dry_run=dry_run,
            )
            if dry_run:
                return report
            vault_index.install(self.root, kept.sort("entry", "key", "generation"))
            if report.packs_unindexed:
                aside = self.root / "unindexed"
                aside.mkdir(exist_ok=True)
                for pack in report.packs_unindexed:
                    os.replace(self.pack_dir / pack, aside / pack)
            self._version = -2  # the new index may have the old one's version number
            self._refresh()
            return report

    def _frame_intact(self, row: dict[str, Any]) -> bool:
        try:
            read_bytes(self.pack_dir, _ref(row))
        except (VaultCorruptError, OSError):
            return False
        return True

    def _refuse_if_damaged(self) -> None:
        stray = self.stray_packs()
        if stray:
            size = sum((self.pack_dir / p).stat().st_size for p in stray)
            raise VaultCorruptError(
                f"the vault index at {self.root / 'index'} does not name {len(stray)} pack(s) "
                f"({size:,} bytes: {', '.join(stray[:3])}{', …' if len(stray) > 3 else ''}): "
                "the index was damaged or replaced, and those packs may hold the only copy of "
                "archived sessions. Nothing was changed. Run `memgraph-ops vault rebuild-index` "
                "to recover the index, or restore `index/` from a backup."
            )

    def _pending(self, pack: str) -> Path:
        """Marks a pack whose fate an index commit in progress decides: a new pack, kept if the
        commit names it, and a pack being rewritten away, deleted once the commit no longer
        names it. `_sweep` applies the one rule after a crash: named stays, unnamed goes."""
        return self.pack_dir / f".{pack}.pending"

    # storage ----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Logical vs physical bytes, and what compaction would reclaim."""
        self._refresh()
        sessions = self._live.filter(pl.col("entry") == "session")
        used = set(itertools.chain.from_iterable(sessions["blocks"].to_list()))
        blocks = self._live.filter((pl.col("entry") == "block") & pl.col("key").is_in(used))
        stray = self.stray_packs()
        sizes = {p.name: p.stat().st_size for p in self._packs()}
        packs = sum(sizes.values())
        stray_bytes = sum(sizes[p] for p in stray)
        dicts = (
            sum(p.stat().st_size for p in self.dict_dir.glob("*.dict"))
            if self.dict_dir.exists()
            else 0
        )
        index_bytes = _tree_bytes(self.root / "index")
        live_frames = sum(_live_bytes(pl.concat([sessions, blocks])).values())
        used_dicts = set(pl.concat([sessions, blocks])["dictionary_id"].to_list()) - {0}
        return {
            "root": str(self.root),
            "stray_packs": stray,
            "stray_bytes": stray_bytes,
            "sessions": sessions.height,
            "blocks": blocks.height,
            "packs": len(list(self._packs())),
            "dictionaries": len(self._dictionary_files()),
            "logical_bytes": int(sessions["raw_bytes"].sum() or 0)
            + int(blocks["raw_bytes"].sum() or 0),
            "physical_bytes": packs + dicts + index_bytes,
            "pack_bytes": packs,
            "dictionary_bytes": dicts,
            "index_bytes": index_bytes,
            "reclaimable_bytes": packs
            - stray_bytes
            - round(live_frames)
            + sum(
                (self.dict_dir / f"{i}.dict").stat().st_size
                for i in self._dictionary_files()
                if i not in used_dicts
            ),
        }

    # internals --------------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Reload the index if another commit happened since it was read."""
        table = vault_index.open_index(self.root)
        version = table.version() if table is not None else -1
        if version == self._version:
            return
        self._version, self._all, self._live = vault_index.read_index(self.root)
        self._sessions = _Keyed(self._live.filter(pl.col("entry") == "session"))
        self._blocks = _Keyed(self._live.filter(pl.col("entry") == "block"))

    def _entry(self, session_id: str) -> dict[str, Any] | None:
        entry = self._sessions.get(session_id)
        if entry is None:
            self._refresh()
            entry = self._sessions.get(session_id)
        return entry

    def _decode(self, entry: dict[str, Any]) -> SessionRows:
        self._frame_text.clear()
        try:
            payload = self._frame(entry)
            blocks = {digest: self._block(digest) for digest in entry["blocks"] or []}
        finally:
            self._frame_text.clear()
        try:
            return decode_session(payload, blocks)
        except (ValueError, KeyError) as exc:
            raise VaultCorruptError(
                f"pack {entry['pack']} at offset {entry['offset']}: the frame decompressed but "
                f"is not a readable session: {exc}"
            ) from exc

    def _frame(self, entry: dict[str, Any]) -> bytes:
        try:
            return self._read(entry)
        except FileNotFoundError:
            # A writer compacted the pack away after we read the index: look again, once.
            self._refresh()
            fresh = (self._sessions if entry["entry"] == "session" else self._blocks).get(
                entry["key"]
            )
            if fresh is None:
                raise NotArchivedError(
                    f"{entry['entry']} {entry['key']!r} left the vault"
                ) from None
            try:
                return self._read(fresh)
            except FileNotFoundError:
                raise VaultCorruptError(
                    f"pack {fresh['pack']} is missing from {self.pack_dir}"
                ) from None

    def _read(self, entry: dict[str, Any]) -> bytes:
        """The member's bytes: its slice of the decompressed frame (the whole frame for a
        frame of one)."""
        content = self._content(_ref(entry))
        start = int(entry["member_offset"] or 0)
        end = start + int(entry["raw_bytes"])
        if end > len(content):
            raise VaultCorruptError(
                f"pack {entry['pack']} at offset {entry['offset']}: the frame holds "
                f"{len(content):,} bytes, the index places {entry['entry']} {entry['key']!r} "
                f"at {start:,}-{end:,}"
            )
        return content[start:end]

    def _content(self, ref: FrameRef) -> bytes:
        """A frame decompressed, once per `_decode`: a session and the blocks it uses often sit
        in one group frame. (Not kept longer: every read checks the bytes on disk.)"""
        content = self._frame_text.get(ref.sha256)
        if content is not None:
            return content
        dictionary = self._load_dictionary(ref.dictionary_id) if ref.dictionary_id else None
        try:
            content = read_frame(self.pack_dir, ref, dictionary=dictionary)
        except VaultCorruptError as exc:
            if dictionary is None or "cannot decompress" not in str(exc):
                raise
            # The frame's bytes match their sha256, so what fails is the dictionary.
            raise VaultCorruptError(
                f"dictionary {self.dict_dir / f'{ref.dictionary_id}.dict'} is probably damaged: "
                f"the frame at {ref.pack} offset {ref.offset} matches its sha256 but does not "
                f"decompress with it ({exc}); run `memgraph-ops verify`"
            ) from exc
        self._frame_text[ref.sha256] = content
        return content

    def _block(self, digest: str) -> bytes:
        text = self._block_text.get(digest)
        if text is not None:
            self._block_text.move_to_end(digest)
            return text
        entry = self._blocks.get(digest)
        if entry is None:
            self._refresh()
            entry = self._blocks.get(digest)
        if entry is None:
            raise VaultCorruptError(f"block {digest} is not in the vault index")
        text = self._frame(entry)
        self._block_text[digest] = text
        while sum(map(len, self._block_text.values())) > BLOCK_CACHE_BYTES:
            self._block_text.popitem(last=False)
        return text

    def _load_dictionary(self, dictionary_id: int) -> zstandard.ZstdCompressionDict:
        """A trained dictionary, checked on first use: VaultCorruptError names the dictionary
        file (not the pack being read) if it is missing or damaged."""
        from memgraph_ops.vault.dictionaries import load_dictionary

        dictionary = self._dictionaries.get(dictionary_id)
        if dictionary is None:
            dictionary = load_dictionary(self.dict_dir / f"{dictionary_id}.dict", dictionary_id)
            self._dictionaries[dictionary_id] = dictionary
        return dictionary

    def _dictionary(
        self, payloads: list[bytes], retrain: bool
    ) -> zstandard.ZstdCompressionDict | None:
        """The dictionary for new frames: the one used last, or one trained on these payloads
        (of the size that makes payloads plus dictionary smallest), or none."""
        used = self._live.filter(pl.col("dictionary_id") != 0).sort("archived_at")
        if used.height and not retrain:
            return self._load_dictionary(int(used["dictionary_id"][-1]))
        dictionary = choose_dictionary(payloads)
        if dictionary is not None:
            self.dict_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(self.dict_dir / f"{dictionary.dict_id()}.dict", dictionary.as_bytes())
            self._dictionaries[dictionary.dict_id()] = dictionary
        return dictionary

    def _dictionary_files(self) -> list[int]:
        if not self.dict_dir.exists():
            return []
        return sorted(int(p.stem) for p in self.dict_dir.glob("*.dict"))

    def _packs(self) -> list[Path]:
        return sorted(self.pack_dir.glob("*.zst")) if self.pack_dir.exists() else []

    @contextmanager
    def _exclusive(self, dry_run: bool) -> Iterator[None]:
        if dry_run and not self.root.exists():
            yield  # a dry run creates nothing
            return
        self.root.mkdir(parents=True, exist_ok=True)
        # Reentrant: `exclusive()` may hold it around a writer that takes it again.
        with locked(self._lock):
            yield

    def exclusive(self) -> AbstractContextManager[None]:
        """Hold the vault's writer lock across several operations (retention deletes from the
        lake under it, so an erasure's zero-retention vacuum never runs in between)."""
        return self._exclusive(False)


def choose_dictionary(payloads: Sequence[bytes]) -> zstandard.ZstdCompressionDict | None:
    """Train dictionaries of a few sizes on (up to 2,000 of) the payloads and keep the one that
    makes sample plus dictionary smallest; None if no dictionary beats going without."""
    samples = list(payloads[:2000])
    if len(samples) < MIN_DICTIONARY_SAMPLES:
        return None
    total = sum(map(len, samples))
    plain = zstandard.ZstdCompressor(level=3)
    best_size = sum(len(plain.compress(s)) for s in samples)
    best: zstandard.ZstdCompressionDict | None = None
    for size in DICTIONARY_SIZES:
        if size > total // 8:
            break
        try:
            candidate = zstandard.train_dictionary(
                size, list[bytes | bytearray | memoryview](samples)
            )
        except zstandard.ZstdError:
            continue
        with_dict = zstandard.ZstdCompressor(level=3, dict_data=candidate)
        cost = sum(len(with_dict.compress(s)) for s in samples) + len(candidate.as_bytes())
        if cost < best_size:
            best, best_size = candidate, cost
    return best


def as_events(rows: SessionRows, now: datetime) -> pa.Table:
    """A session's lake rows as stored events (`STORED_EVENT_SCHEMA`): each node and edge as
    the upsert that last wrote it (its event id and seq), dated when it was created."""
    renamed = {"seq": "last_seq", "event_id": "last_event_id", "occurred_at": "created_at"}
    parts = []
    for frame, kind in ((rows.nodes, "node"), (rows.edges, "edge")):
        table = frame.to_arrow()
        n = table.num_rows
        constants = {"ingested_at": now, "op": "upsert", "kind": kind}
        columns = []
        for target in STORED_EVENT_SCHEMA:
            source = renamed.get(target.name, target.name)
            if target.name in constants:
                column = pa.array([constants[target.name]] * n, target.type)
            elif source in table.column_names:
                column = table[source].cast(target.type)
            else:
                column = pa.nulls(n, target.type)
            columns.append(column)
        parts.append(pa.Table.from_arrays(columns, schema=STORED_EVENT_SCHEMA))
    return pa.concat_tables(parts)


def _lake_rows(lake: Lake, sessions: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    wanted = pl.Series(sessions, dtype=pl.String).implode()
    with lake.reading("nodes"):
        nodes = lake.scan("nodes").filter(pl.col("session_id").is_in(wanted)).collect()
    with lake.reading("edges"):
        edges = lake.scan("edges").filter(pl.col("session_id").is_in(wanted)).collect()
    return nodes, edges


def _newer_than(nodes: pl.DataFrame, edges: pl.DataFrame, archived: dict[str, int]) -> set[str]:
    """Sessions whose lake rows include something written after they were archived."""
    if not archived:
        return set()
    marks = pl.DataFrame(
        {"session_id": list(archived), "archived_seq": list(archived.values())},
        schema={"session_id": pl.String, "archived_seq": pl.Int64},
    )
    rows = pl.concat(
        [nodes.select("session_id", "last_seq"), edges.select("session_id", "last_seq")]
    )
    newer = rows.join(marks, on="session_id").filter(pl.col("last_seq") > pl.col("archived_seq"))
    return set(newer["session_id"].to_list())


def _latest(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per id from archived and newer lake rows of the same items: each column's latest
    non-null value (a row the lake re-created from a partial upsert after the item was archived
    holds only the fields that upsert carried), the earliest `created_at`."""
    return (
        frame.sort("last_seq", nulls_last=False)
        .group_by("id", maintain_order=True)
        .agg(
            pl.col("created_at").min(),
            pl.all().exclude("id", "created_at").drop_nulls().last(),
        )
        .select(frame.columns)
    )


def _summaries(nodes: pl.DataFrame, edges: pl.DataFrame) -> pl.DataFrame:
    """Per session: tenant, user pseudonym, tags, time range, counts, highest seq."""
    columns = ["session_id", "tenant", "created_at", "updated_at", "last_seq"]
    sessions = (
        nodes.filter(pl.col("type") == "Session")
        .select("session_id", "user_id", "tags")
        .unique("session_id")
    )
    return (
        pl.concat([nodes.select(columns), edges.select(columns)])
        .group_by("session_id")
        .agg(
            pl.col("tenant").drop_nulls().first(),
            pl.col("created_at").min().alias("first_at"),
            pl.col("updated_at").max().alias("last_at"),
            pl.col("last_seq").max().alias("max_seq"),
        )
        .join(
            nodes.group_by("session_id").agg(
                nodes=pl.len(),
                prompts=(pl.col("type") == "Prompt").sum(),
                responses=(pl.col("type") == "Response").sum(),
                tool_invocations=(pl.col("type") == "ToolInvocation").sum(),
            ),
            on="session_id",
            how="left",
        )
        .join(edges.group_by("session_id").agg(edges=pl.len()), on="session_id", how="left")
        .join(sessions, on="session_id", how="left")
        .with_columns(
            pl.col("nodes", "edges", "prompts", "responses", "tool_invocations")
            .cast(pl.Int64)
            .fill_null(0)
        )
    )


class _Keyed(Mapping[str, dict[str, Any]]):
    """Index rows of one kind by key, each made a dict only when asked for: a restore needs one
    row of 100,000, and making them all dicts took 0.8 s."""

    def __init__(self, rows: pl.DataFrame) -> None:
        self._rows = rows
        self._at = dict(zip(rows["key"].to_list(), range(rows.height), strict=True))

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self._rows.row(self._at[key], named=True)

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __len__(self) -> int:
        return len(self._at)

    def __contains__(self, key: object) -> bool:
        return key in self._at


def _live_bytes(live: pl.DataFrame) -> dict[str, float]:
    """Per pack, the compressed bytes that live rows need: each frame's length in proportion
    to the share of its content that live members hold."""
    frames = live.group_by("pack", "offset").agg(
        pl.col("length").first(),
        (pl.col("raw_bytes").sum() / pl.col("frame_raw_bytes").first()).clip(0, 1).alias("share"),
    )
    return dict(frames.group_by("pack").agg((pl.col("length") * pl.col("share")).sum()).iter_rows())


Member = tuple[str, str, bytes]
"""What a frame holds: (entry, key, bytes), as in the index."""


def _groups(members: list[Member], group_bytes: int) -> list[list[Member]]:
    """Members in order, cut into frames of at most `group_bytes` (a larger member alone)."""
    groups: list[list[Member]] = []
    size = 0
    for member in members:
        if not groups or size + len(member[2]) > group_bytes:
            groups.append([])
            size = 0
        groups[-1].append(member)
        size += len(member[2])
    return groups


def _compress_frames(
    contents: list[bytes],
    with_dictionary: list[bool],
    dictionary: zstandard.ZstdCompressionDict | None,
) -> list[bytes]:
    """Each content as one frame, with the dictionary where `with_dictionary` says so."""
    frames: list[bytes] = [b""] * len(contents)
    for use in (True, False):
        at = [i for i, d in enumerate(with_dictionary) if d is use]
        done = _compress_all([contents[i] for i in at], dictionary if use else None)
        for i, frame in zip(at, done, strict=True):
            frames[i] = frame
    return frames


def _compress_all(
    payloads: list[bytes], dictionary: zstandard.ZstdCompressionDict | None
) -> list[bytes]:
    if len(payloads) < 16:
        return [compress(p, dictionary) for p in payloads]
    # zstd compresses independent frames on all cores, outside the GIL.
    compressor = zstandard.ZstdCompressor(
        level=LEVEL, write_checksum=True, write_content_size=True, dict_data=dictionary
    )
    out = compressor.multi_compress_to_buffer(
        list[bytes | bytearray | memoryview](payloads), threads=-1
    )
    return [out[i].tobytes() for i in range(len(out))]


def _ref(row: dict[str, Any]) -> FrameRef:
    return FrameRef(
        row["pack"],
        int(row["offset"]),
        int(row["length"]),
        row["sha256"],
        int(row["dictionary_id"]),
    )


def _ref_columns(ref: FrameRef) -> dict[str, Any]:
    return {
        "pack": ref.pack,
        "offset": ref.offset,
        "length": ref.length,
        "sha256": ref.sha256,
        "dictionary_id": ref.dictionary_id,
        "format_version": FORMAT_VERSION,
    }


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _tree_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
