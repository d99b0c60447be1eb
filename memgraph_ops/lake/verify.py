"""Verify the Delta tables of a lake: every log file a reader needs, every data file of the
current snapshot (present, of the size the log records, and matching the digest recorded when
it was written, or at least readable Parquet where no digest was recorded).

    >>> report = verify_lake("store/lake", home=Path("store"))      # doctest: +SKIP
    >>> [p.path for p in report.errors]
    ['lake/nodes/type=Session/part-00000-….zstd.parquet']
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from deltalake import DeltaTable

from memgraph_ops.findings import Layer, LayerReport, Problem, Progress, counter, relative
from memgraph_ops.lake import _integrity, objects
from memgraph_ops.lake._integrity import Damage, Digest
from memgraph_ops.lake.tables import TABLES


def find_tables(root: Path) -> list[Path]:
    """Every Delta table under `root` (a directory holding `_delta_log`), outermost first."""
    if (root / _integrity.LOG).is_dir():
        return [root]
    found: list[Path] = []
    for log in sorted(root.rglob(_integrity.LOG)):
        table = log.parent
        if _integrity.DIGESTS in table.relative_to(root).parts:
            continue
        if not any(table.is_relative_to(t) for t in found):
            found.append(table)
    return found


def verify_lake(lake_uri: str, *, home: Path, progress: Progress | None = None) -> LayerReport:
    """Check every Delta table under the lake root."""
    report = LayerReport("lake")
    root = _integrity.local_dir(lake_uri)
    if root is None:
        return verify_remote_lake(lake_uri)
    if not root.exists():
        return report
    tables = find_tables(root)
    total = sum(_data_bytes(t) for t in tables)
    advance = counter(progress, total)

    for directory in tables:
        verify_table(directory, layer="lake", home=home, report=report, advance=advance)
    if progress:
        progress(total, total)
    return report


def verify_remote_lake(lake_uri: str) -> LayerReport:
    """Check every Delta table under an object-store lake: its log loads, and every data file
    of its snapshot exists with the size the log records. Contents are not hashed: the digests
    `verify` checks on local lakes are recorded on local disk only (a warning says so)."""
    report = LayerReport("lake")
    for name, uri in objects.delta_tables(lake_uri).items():
        report.count("tables")
        try:
            table = DeltaTable(uri)
        except BaseException as exc:  # delta-rs panics are BaseExceptions
            if not _integrity.is_engine_failure(exc):
                raise
            report.problems.append(
                Problem(
                    "lake",
                    uri,
                    f"cannot be loaded by Delta: {_integrity.short(exc)}",
                    "restore the table's `_delta_log` from the bucket's versions or a backup",
                )
            )
            continue
        sizes = {objects.relative(e.uri, uri): e.size for e in objects.list_files(uri)}
        files = _integrity.adds(table)
        report.count("data_files", len(files))
        report.count("bytes", sum(size for _, size in files))
        for path, size in files:
            key = unquote(path)
            found = sizes.get(key)
            if found == size:
                continue
            what = "is missing" if found is None else f"is {found:,} bytes, the log says {size:,}"
            report.problems.append(
                Problem(
                    "lake",
                    f"{uri}/{key}",
                    f"{what} (a data file of {name} version {table.version()})",
                    f"restore it from the bucket's versions or a backup, or read {name} as of a "
                    "version before the one that added it",
                )
            )
    if report.checked.get("tables"):
        report.problems.append(
            Problem(
                "lake",
                lake_uri,
                "data files on object storage were checked for presence and size only, not "
                "content (no digests are recorded for them)",
                "enable the object store's own checksums (S3 additional checksums) for content",
                "warning",
            )
        )
    return report


def verify_table(
    directory: Path,
    *,
    layer: Layer,
    home: Path,
    report: LayerReport,
    advance: Callable[[int], None] | None = None,
    hint: str = "",
) -> bool:
    """Check one table into `report`; returns whether its snapshot could be loaded. `hint` is
    added to the repair advice of every damaged file (a repair its owner offers)."""
    report.count("tables")
    name = relative(directory, home)
    table: DeltaTable | None = None
    failure = ""
    try:
        table = DeltaTable(str(directory))
    except BaseException as exc:  # delta-rs panics are BaseExceptions
        if not _integrity.is_engine_failure(exc):
            raise
        failure = _integrity.short(exc)
    manifest = _integrity.load_manifest(directory, _integrity.table_id(directory, table))
    for path in manifest.unreadable:
        report.problems.append(
            Problem(
                layer,
                relative(path, home),
                "is an unreadable digest manifest: the files it covered count as unverified",
                "delete it; the next write to the table records their digests again",
                "warning",
            )
        )
    log_damage = _integrity.log_damage(directory, manifest)
    for damage in log_damage:
        report.problems.append(_problem(layer, damage, home, directory, hint=hint))
    report.count("log_files", len(_integrity.log_files(directory)))
    if table is None:
        if not log_damage:
            report.problems.append(
                Problem(
                    layer,
                    name,
                    f"cannot be loaded by Delta: {failure}",
                    "restore the table's `_delta_log` from a backup" + hint,
                )
            )
        return False
    files = _integrity.adds(table)
    report.count("data_files", len(files))
    missing = _integrity.missing_or_resized(directory, files, cached=False)
    gone = {d.path for d in missing}
    present = [(p, s) for p, s in files if _integrity.data_file(directory, p) not in gone]
    if advance:
        advance(sum(s for p, s in files if _integrity.data_file(directory, p) in gone))
    damaged, unverified = _integrity.content_damage(directory, present, manifest, progress=advance)
    report.count("bytes", sum(s for _, s in present))
    added = _added_in(directory) if missing or damaged else {}
    for damage in missing + damaged:
        version = added.get(damage.path)
        report.problems.append(
            _problem(layer, damage, home, directory, added_in=version, hint=hint)
        )
    report.unverified.extend(relative(p, home) for p in unverified)
    if unverified:
        report.problems.append(
            Problem(
                layer,
                name,
                f"{len(unverified)} of its {len(files)} data files have no recorded digest "
                "(written before digests were recorded, or by a writer that records them at its "
                "next commit): they decode as Parquet, all that can be checked without one",
                "nothing to do: the next write to the table records their digests",
                "warning",
            )
        )
    return True


def _problem(
    layer: Layer,
    damage: Damage,
    home: Path,
    directory: Path,
    *,
    added_in: int | None = None,
    hint: str = "",
) -> Problem:
    if damage.kind == "log":
        repair = _log_repair(damage)
    else:
        repair = _data_repair(directory, damage.expected, added_in)
    return Problem(layer, relative(damage.path, home), damage.what, repair + hint)


def _log_repair(damage: Damage) -> str:
    recorded = (
        f" (it must be {damage.expected.size:,} bytes with sha256 {damage.expected.sha256})"
        if damage.expected
        else ""
    )
    return (
        f"restore this log file from a backup{recorded}; the table's data files are not "
        "affected. Until then Delta cannot load the versions that need it"
    )


def _data_repair(directory: Path, expected: Digest | None, added_in: int | None) -> str:
    parts = ["restore the file from a backup to the same path"]
    if expected is not None:
        parts[0] += f" (it must be {expected.size:,} bytes with sha256 {expected.sha256})"
    if added_in is not None and added_in > 1:  # version 0 is the empty table
        reader = (
            f"memgraph_ops.open(home).lake.scan({directory.name!r}, as_of={added_in - 1})"
            if directory.name in TABLES
            else f"DeltaTable({str(directory)!r}, version={added_in - 1})"
        )
        parts.append(
            f"versions before {added_in} do not use it, so time travel still reads them "
            f"(`{reader}`) until vacuum removes their files"
        )
    parts.append(
        "or give up the rows it holds: move it out of the table, then "
        f"`DeltaTable({str(directory)!r}).repair(dry_run=False)` drops it from the snapshot "
        "(Delta FSCK; those rows are lost)"
    )
    return "; ".join(parts)


def _added_in(directory: Path) -> dict[Path, int]:
    """The version whose commit added each data file, from the commit files still present."""
    out: dict[Path, int] = {}
    for path in _integrity.log_files(directory):
        if not path.name.endswith(".json"):
            continue
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                action = json.loads(line)
            except ValueError:
                continue
            if "add" in action:
                out.setdefault(directory / unquote(action["add"]["path"]), int(path.name[:20]))
    return out


def _data_bytes(directory: Path) -> int:
    try:
        table = DeltaTable(str(directory))
    except BaseException as exc:
        if not _integrity.is_engine_failure(exc):
            raise
        return 0
    return sum(size for _, size in _integrity.adds(table))
