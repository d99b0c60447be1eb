"""Integrity of Delta tables on local disk: digests of what was committed, and the checks.

delta-rs writes Parquet without page checksums (deltalake 1.6's `WriterProperties` has no
option for them, and the Rust Parquet writer leaves `PageHeader.crc` unset), so a flipped bit in
a data page often decodes to other values without any error, and a flipped bit in the footer can
change statistics or the schema. Our own digests close that gap: after a commit, the writer
records the size and sha256 of every data file of the snapshot, and of every log file, that has
no digest yet, in one JSON manifest per table version:

    <parent>/_digests/<table>/<version:020>.json
    {"table": "nodes", "version": 7,
     "files": {"<sha256 of the add action's path>": {"size": 11485, "sha256": "…"}},
     "log": {"00000000000000000007.json": {"size": 9165, "sha256": "…"}}}

The manifests live next to the table, not in it, so Delta readers, `vacuum` and the table's byte
counts never see them. Data files are keyed by a hash of their path because a partition value
in a path may be anything; a manifest holds no table content. Each manifest is written
atomically (temp file, fsync, rename); a crash before it leaves files without digests, which
`verify` reports as unverified (and checks only as readable Parquet), never as corrupt, and the
next writer records them.

Everything here works on local paths; object-store tables are neither recorded nor checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError
from polars.exceptions import PolarsError

from memgraph_ops._files import atomic_write

DIGESTS = "_digests"
LOG = "_delta_log"
_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.\d+\.\d+)?\.parquet$")
_CHUNK = 1 << 20

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Digest:
    size: int
    sha256: str
    version: int
    """The table version the digest was recorded at (the file was added at or before it)."""


@dataclass(frozen=True)
class Damage:
    """One thing wrong with one file of a table."""

    path: Path
    what: str
    kind: Literal["log", "data", "table", "digest"]
    expected: Digest | None = None

    def describe(self) -> str:
        return f"{self.path}: {self.what}"


@dataclass
class Manifest:
    """Every digest recorded for one table."""

    files: dict[str, Digest]
    log: dict[str, Digest]
    unreadable: list[Path]


def local_dir(uri: str) -> Path | None:
    """The directory of a table URI on local disk, or None for an object store."""
    if uri.startswith("file://"):
        return Path(unquote(uri.removeprefix("file://"))).resolve()
    if "://" in uri:
        return None
    return Path(uri).resolve()


def table_dir(table: DeltaTable) -> Path | None:
    return local_dir(table.table_uri.rstrip("/"))


def digest_dir(directory: Path) -> Path:
    return directory.parent / DIGESTS / directory.name


def file_key(add_path: str) -> str:
    return hashlib.sha256(add_path.encode()).hexdigest()


def data_file(directory: Path, add_path: str) -> Path:
    """Where an add action's file is: its path is URI-encoded relative to the table."""
    return directory / unquote(add_path)


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def adds(table: DeltaTable) -> list[tuple[str, int]]:
    """(path, size) of every data file of the table's loaded snapshot."""
    actions = pa.table(table.get_add_actions(flatten=True))
    return list(
        zip(
            actions.column("path").to_pylist(),
            actions.column("size_bytes").to_pylist(),
            strict=True,
        )
    )


# manifests ---------------------------------------------------------------------------------

_lock = threading.Lock()
_cache: dict[Path, dict[str, dict[str, Any] | None]] = {}
"""Parsed manifests per digest directory, by file name (None: unreadable); files never change
once written, except when `record` drops stale log digests (it then forgets them here)."""


def _manifests(where: Path) -> dict[str, dict[str, Any] | None]:
    with _lock:
        known = _cache.setdefault(where, {})
        names = sorted(p.name for p in where.glob("*.json")) if where.is_dir() else []
        for name in set(known) - set(names):
            del known[name]
        for name in names:
            if name not in known:
                try:
                    data = json.loads((where / name).read_text())
                    int(data["version"])
                    known[name] = data if isinstance(data, dict) else None
                except (OSError, ValueError, KeyError, TypeError):
                    known[name] = None
        return dict(known)


def load_manifest(directory: Path, table_id: str | None) -> Manifest:
    """Every digest recorded for the table at `directory`. Data-file digests are keyed by the
    file's (unique) path; log-file names repeat when a table is created anew, so log digests
    count only from manifests recorded for this table id."""
    where = digest_dir(directory)
    manifest = Manifest({}, {}, [])
    for name, data in sorted(_manifests(where).items()):
        if data is None:
            manifest.unreadable.append(where / name)
            continue
        try:
            version = int(data["version"])
            for key, entry in data.get("files", {}).items():
                manifest.files[key] = Digest(int(entry["size"]), entry["sha256"], version)
            if table_id is not None and data.get("table_id") == table_id:
                for key, entry in data.get("log", {}).items():
                    manifest.log[key] = Digest(int(entry["size"]), entry["sha256"], version)
        except (ValueError, KeyError, TypeError, AttributeError):
            manifest.unreadable.append(where / name)
    return manifest


def table_id(directory: Path, table: DeltaTable | None = None) -> str | None:
    """The Delta table id (`metaData.id`), from the loaded table or else from the log's JSON."""
    if table is not None:
        return str(table.metadata().id)
    for path in reversed(log_files(directory)):
        if not _COMMIT.match(path.name):
            continue
        try:
            for line in path.read_bytes().splitlines():
                if b'"metaData"' in line:
                    return str(json.loads(line)["metaData"]["id"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def record(table: DeltaTable) -> int:
    """Record the digest of every data file of `table`'s current snapshot and of every log file
    that has none yet; returns how many were recorded. A file already missing or of the wrong
    size is left without a digest (the checks report it). Local tables only; never raises for
    want of recording (digests are a safety net, not a condition of the commit)."""
    directory = table_dir(table)
    if directory is None:
        return 0
    try:
        return _record(table, directory)
    except OSError:
        return 0


def _record(table: DeltaTable, directory: Path) -> int:
    identity = table_id(directory, table)
    where = digest_dir(directory)
    _drop_stale_log_digests(where, directory, identity)
    manifest = load_manifest(directory, identity)
    version = table.version()
    files: dict[str, dict[str, object]] = {}
    for path, size in adds(table):
        key = file_key(path)
        if key in manifest.files:
            continue
        entry = _digest_entry(data_file(directory, path), size)
        if entry is not None:
            files[key] = entry
    log: dict[str, dict[str, object]] = {}
    for entry_path in log_files(directory):
        if entry_path.name in manifest.log:
            continue
        if _COMMIT.match(entry_path.name) and int(entry_path.name[:20]) > version:
            continue  # a concurrent writer's commit: the snapshot we hold does not include it
        entry = _digest_entry(entry_path, None)
        if entry is not None:
            log[entry_path.name] = entry
    if not files and not log:
        return 0
    target = where / f"{version:020d}.json"
    previous = _manifests(where).get(target.name)
    if previous and previous.get("table_id") == identity:  # another writer recorded it too
        files = {**previous.get("files", {}), **files}
        log = {**previous.get("log", {}), **log}
    body = {
        "table": directory.name,
        "table_id": identity,
        "version": version,
        "files": files,
        "log": log,
    }
    where.mkdir(parents=True, exist_ok=True)
    atomic_write(target, json.dumps(body, sort_keys=True).encode())
    return len(files) + len(log)


def forget_stale(table: DeltaTable) -> None:
    """Before a commit: drop log digests the table outgrew by going back in time (see below),
    so the commit's new log file is not compared with an old one of the same name."""
    directory = table_dir(table)
    if directory is not None:
        with contextlib.suppress(OSError):
            _drop_stale_log_digests(digest_dir(directory), directory, table_id(directory, table))


def _drop_stale_log_digests(where: Path, directory: Path, identity: str | None) -> None:
    """A manifest recorded at a version newer than any commit on disk means the table went back
    in time (restored from a backup): the log files it names will be written anew with other
    bytes, so its log digests are dropped (its data-file digests stay valid)."""
    commits = [int(p.name[:20]) for p in log_files(directory) if _COMMIT.match(p.name)]
    newest = max(commits, default=-1)
    for name, data in _manifests(where).items():
        if not data or data.get("table_id") != identity or not data.get("log"):
            continue
        if int(data["version"]) > newest:
            atomic_write(where / name, json.dumps({**data, "log": {}}, sort_keys=True).encode())
            with _lock:
                _cache.get(where, {}).pop(name, None)


def _digest_entry(path: Path, size: int | None) -> dict[str, object] | None:
    try:
        actual = path.stat().st_size
        if size is not None and actual != size:
            return None
        return {"size": actual, "sha256": sha256_file(path)}
    except OSError:
        return None


def log_files(directory: Path) -> list[Path]:
    log = directory / LOG
    if not log.is_dir():
        return []
    return sorted(p for p in log.iterdir() if _COMMIT.match(p.name) or _CHECKPOINT.match(p.name))


# checks ------------------------------------------------------------------------------------

_sized_lock = threading.Lock()
_sized: set[tuple[Path, str, int]] = set()


def missing_or_resized(
    directory: Path, files: Iterable[tuple[str, int]], *, cached: bool = True
) -> list[Damage]:
    """Data files that are missing or not of the size their add action records (a stat per
    file; with `cached`, files found right before are not looked at again in this process)."""
    out = []
    for path, size in files:
        if cached and (directory, path, size) in _sized:
            continue
        where = data_file(directory, path)
        try:
            actual = where.stat().st_size
        except FileNotFoundError:
            out.append(Damage(where, "is missing (the table's log names it)", "data"))
            continue
        except OSError as exc:
            out.append(Damage(where, f"cannot be read: {exc}", "data"))
            continue
        if actual != size:
            what = "truncated" if actual < size else "longer than it should be"
            out.append(
                Damage(where, f"is {actual:,} bytes, the log says {size:,} ({what})", "data")
            )
            continue
        with _sized_lock:
            _sized.add((directory, path, size))
    return out


def log_damage(directory: Path, manifest: Manifest) -> list[Damage]:
    """Log files that are missing from the range a reader needs (from the newest readable
    checkpoint, else version 0, to the newest commit), unreadable, or not what was recorded."""
    log = directory / LOG
    if not log.is_dir():
        return [Damage(log, "is missing: this is no Delta table any more", "log")]
    files = log_files(directory)
    commits = {int(p.name[:20]): p for p in files if _COMMIT.match(p.name)}
    checkpoints: dict[int, list[Path]] = {}
    for p in files:
        if _CHECKPOINT.match(p.name):
            checkpoints.setdefault(int(p.name[:20]), []).append(p)
    out: list[Damage] = []
    for p in files:
        recorded = manifest.log.get(p.name)
        if recorded is not None:
            problem = _against_digest(p, recorded)
        elif _COMMIT.match(p.name):
            problem = _json_lines_problem(p)
        else:
            problem = _checkpoint_problem(p)
        if problem:
            out.append(Damage(p, problem, "log", recorded))
    damaged = {d.path for d in out}
    usable = [v for v, parts in checkpoints.items() if not damaged & set(parts)]
    start = max(usable) + 1 if usable else 0
    newest = max([*commits, *checkpoints], default=-1)
    for version in range(start, newest + 1):
        if version not in commits:
            out.append(
                Damage(
                    log / f"{version:020d}.json",
                    f"is missing: versions {start}..{newest} are needed to load the table "
                    f"(the newest readable checkpoint is "
                    f"{'version ' + str(start - 1) if usable else 'none'})",
                    "log",
                )
            )
    last = log / "_last_checkpoint"
    if last.exists():
        try:
            pointed = int(json.loads(last.read_text())["version"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            out.append(Damage(last, f"is unreadable: {short(exc)}", "log"))
        else:
            if pointed not in checkpoints:
                out.append(Damage(last, f"points at checkpoint {pointed}, which is gone", "log"))
    return out


def content_damage(
    directory: Path,
    files: Iterable[tuple[str, int]],
    manifest: Manifest,
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Damage], list[Path]]:
    """Read every (present, right-sized) data file: a file with a digest must match it; a file
    without one must at least decode as Parquet. Returns (damage, files without a digest)."""
    damage: list[Damage] = []
    unverified: list[Path] = []
    for path, size in files:
        where = data_file(directory, path)
        expected = manifest.files.get(file_key(path))
        if expected is not None:
            problem = _against_digest(where, expected, progress)
            if problem:
                damage.append(Damage(where, problem, "data", expected))
            continue
        unverified.append(where)
        problem = parquet_problem(where)
        if problem:
            damage.append(Damage(where, problem, "data"))
        if progress:
            progress(size)
    return damage, unverified


def parquet_problem(path: Path) -> str | None:
    """Why a file is not readable Parquet, decoded in full by both readers the project uses
    (Arrow's C++ reader and polars' Rust one accept different damage), or None."""
    try:
        pq.ParquetFile(path).read()
        pl.read_parquet(path)
    except BaseException as exc:
        if not is_engine_failure(exc):
            raise
        return f"is not readable Parquet: {short(exc)}"
    return None


def _against_digest(
    path: Path, expected: Digest, progress: Callable[[int], None] | None = None
) -> str | None:
    try:
        size = path.stat().st_size
        if size != expected.size:
            return f"is {size:,} bytes, {expected.size:,} were recorded when it was written"
        if sha256_file(path, progress) != expected.sha256:
            return "does not match the sha256 recorded when it was written (its bytes changed)"
    except FileNotFoundError:
        return "is missing"
    except OSError as exc:
        return f"cannot be read: {exc}"
    return None


def _checkpoint_problem(path: Path) -> str | None:
    try:
        pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        return f"is not a readable checkpoint: {short(exc)}"
    return None


def _json_lines_problem(path: Path) -> str | None:
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        return f"cannot be read: {exc}"
    for number, line in enumerate(lines, 1):
        try:
            if line.strip():
                json.loads(line)
        except ValueError as exc:
            return f"is not valid JSON (line {number}: {exc})"
    return None


def short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def diagnose(uri: str, *, max_bytes: int = 1 << 30) -> list[Damage]:
    """What is wrong with a local table, as far as a check that reads at most `max_bytes` of
    data files can tell: the log, then missing or resized files, then contents (digests, or
    Parquet decoding for files without one). Used when an operation on the table failed."""
    directory = local_dir(uri)
    if directory is None:
        return []
    damage = log_damage(directory, load_manifest(directory, table_id(directory)))
    if damage:
        return damage
    try:
        table = DeltaTable(str(directory))
    except BaseException as exc:  # delta-rs panics are BaseExceptions
        if not is_engine_failure(exc):
            raise
        return [Damage(directory, f"cannot be loaded: {short(exc)}", "table")]
    manifest = load_manifest(directory, table_id(directory, table))
    files = adds(table)
    damage = missing_or_resized(directory, files)
    if damage or sum(size for _, size in files) > max_bytes:
        return damage
    return content_damage(directory, files, manifest)[0]


def is_engine_failure(exc: BaseException) -> bool:
    """An error from delta-rs, Arrow or polars reading or writing files (a Rust panic surfaces
    as `pyo3_runtime.PanicException`, a BaseException: each Rust extension has its own class)."""
    if type(exc).__name__ == "PanicException":
        return True
    return isinstance(exc, DeltaError | OSError | pa.ArrowException | PolarsError)
