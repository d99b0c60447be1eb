"""Verify the vault: its index (a Delta table), every frame the index names (the pack exists,
the frame's bytes match their sha256, zstd decompresses them and checks their content
checksum), every dictionary those frames need, and packs no index row names.

A frame whose bytes match the index but that fails to decompress with its dictionary points at
the dictionary, not the pack: dictionaries carry no checksum of their own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import zstandard

from memgraph_ops.errors import MemgraphError
from memgraph_ops.findings import LayerReport, Problem, Progress, counter, relative
from memgraph_ops.lake.verify import verify_table
from memgraph_ops.vault import index as vault_index
from memgraph_ops.vault.dictionaries import inspect_dictionary

_SHOWN = 5
_REBUILD = (
    "; or recover the index from its data files with `memgraph-ops vault rebuild-index` "
    "(`--dry-run` first: it keeps the rows whose frames still check)"
)


@dataclass
class _Pack:
    """What went wrong in one pack, gathered before it becomes problems."""

    damaged: list[dict[str, Any]] = field(default_factory=list)
    undecodable: list[dict[str, Any]] = field(default_factory=list)


def verify_vault(root: Path, *, home: Path, progress: Progress | None = None) -> LayerReport:
    """Check the vault under `root`."""
    report = LayerReport("vault")
    index_dir = root / "index"
    if not index_dir.exists():
        _stray(root, set(), home, report)
        return report
    if not verify_table(index_dir, layer="vault", home=home, report=report, hint=_REBUILD):
        return report
    try:
        _, every, live = vault_index.read_index(root)
    except MemgraphError as exc:
        if not report.errors:
            report.problems.append(
                Problem(
                    "vault",
                    relative(index_dir, home),
                    f"cannot be read: {exc}",
                    "restore the index from a backup",
                )
            )
        return report
    advance = counter(progress, int(live["length"].sum() or 0))

    dictionaries = _dictionaries(root, live, home, report)
    packs: dict[str, _Pack] = {}
    for name, rows in sorted(live.partition_by("pack", as_dict=True).items()):
        pack = str(name[0])
        _check_pack(root, pack, rows.sort("offset").to_dicts(), dictionaries, packs, home, report)
        advance(int(rows["length"].sum() or 0))
    _dictionary_blame(root, live, dictionaries, packs, home, report)
    for pack, found in sorted(packs.items()):
        if found.damaged:
            report.problems.append(_frames_problem(root, pack, found.damaged, home, "damaged"))
        if found.undecodable:
            report.problems.append(
                _frames_problem(root, pack, found.undecodable, home, "undecodable")
            )
    _stray(root, set(every["pack"].to_list()), home, report)
    return report


def _dictionaries(
    root: Path, live: pl.DataFrame, home: Path, report: LayerReport
) -> dict[int, zstandard.ZstdCompressionDict | None]:
    """Every dictionary a live frame needs, loaded and checked (None where it cannot be)."""
    out: dict[int, zstandard.ZstdCompressionDict | None] = {}
    for dictionary_id in sorted(set(live["dictionary_id"].to_list()) - {0}):
        path = root / "dicts" / f"{dictionary_id}.dict"
        report.count("dictionaries")
        out[dictionary_id], problem = inspect_dictionary(path, dictionary_id)
        if problem:
            users = live.filter(pl.col("dictionary_id") == dictionary_id)
            report.problems.append(
                Problem("vault", relative(path, home), problem, _dictionary_repair(path, users))
            )
    return out


def _check_pack(
    root: Path,
    pack: str,
    rows: list[dict[str, Any]],
    dictionaries: dict[int, zstandard.ZstdCompressionDict | None],
    packs: dict[str, _Pack],
    home: Path,
    report: LayerReport,
) -> None:
    path = root / "packs" / pack
    report.count("packs")
    # Rows of one group frame share its bytes: the frame is checked once, for all of them.
    frames: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        frames.setdefault(int(row["offset"]), []).append(row)
    report.count("frames", len(frames))
    if not path.exists():
        report.problems.append(
            Problem("vault", relative(path, home), "is missing", _pack_repair(path, rows))
        )
        return
    found = packs.setdefault(pack, _Pack())
    with open(path, "rb") as handle:
        for offset, members in frames.items():
            row = members[0]
            handle.seek(offset)
            frame = handle.read(int(row["length"]))
            report.count("bytes", len(frame))
            if len(frame) != row["length"] or hashlib.sha256(frame).hexdigest() != row["sha256"]:
                found.damaged.extend(members)
                continue
            dictionary_id = int(row["dictionary_id"])
            dictionary = dictionaries.get(dictionary_id) if dictionary_id else None
            if dictionary_id and dictionary is None:
                continue  # the dictionary is reported; the frame's own bytes are intact
            try:
                content = zstandard.ZstdDecompressor(dict_data=dictionary).decompress(frame)
            except zstandard.ZstdError as exc:
                found.undecodable.extend({**m, "error": str(exc)} for m in members)
                continue
            found.undecodable.extend(
                {**m, "error": f"the frame holds {len(content):,} bytes, the index places "
                               f"this member past them"}
                for m in members
                if int(m["member_offset"]) + int(m["raw_bytes"]) > len(content)
            )  # fmt: skip


def _dictionary_blame(
    root: Path,
    live: pl.DataFrame,
    dictionaries: dict[int, zstandard.ZstdCompressionDict | None],
    packs: dict[str, _Pack],
    home: Path,
    report: LayerReport,
) -> None:
    """Frames with intact bytes that fail to decompress with a dictionary that loaded: the
    dictionary's content is damaged. Those frames are reported once, under the dictionary."""
    failing: dict[int, list[dict[str, Any]]] = {}
    for found in packs.values():
        for row in found.undecodable:
            if row["dictionary_id"]:
                failing.setdefault(int(row["dictionary_id"]), []).append(row)
        found.undecodable = [r for r in found.undecodable if not r["dictionary_id"]]
    for dictionary_id, rows in sorted(failing.items()):
        path = root / "dicts" / f"{dictionary_id}.dict"
        users = live.filter(pl.col("dictionary_id") == dictionary_id)
        report.problems.append(
            Problem(
                "vault",
                relative(path, home),
                f"is damaged: {len(rows)} of the {users.height} frames compressed with it fail "
                "zstd's content checksum although their own bytes match the index "
                f"({rows[0]['error']})",
                _dictionary_repair(path, users),
            )
        )


def _frames_problem(
    root: Path, pack: str, rows: list[dict[str, Any]], home: Path, kind: str
) -> Problem:
    path = root / "packs" / pack
    where = ", ".join(f"offset {r['offset']} ({r['entry']} {r['key']})" for r in rows[:_SHOWN])
    more = f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
    if kind == "damaged":
        what = f"{len(rows)} frames do not match the sha256 in the index: {where}{more}"
    else:
        what = (
            f"{len(rows)} frames match the index but zstd cannot decompress them (written "
            f"damaged): {where}{more}"
        )
    return Problem("vault", relative(path, home), what, _pack_repair(path, rows))


def _pack_repair(path: Path, rows: list[dict[str, Any]]) -> str:
    sessions = sorted(r["key"] for r in rows if r["entry"] == "session")
    blocks = sum(1 for r in rows if r["entry"] == "block")
    affected = f"{len(sessions)} archived sessions" + (
        f" ({', '.join(sessions[:_SHOWN])}{', …' if len(sessions) > _SHOWN else ''})"
        if sessions
        else ""
    )
    if blocks:
        affected += f" and {blocks} shared blocks (every session using them)"
    return (
        f"restore {path.name} from a backup (packs never change once written; the index's "
        f"sha256 per frame tells the right copy). Until then {affected} cannot be restored. "
        "The lake's history may still hold them: time travel to a version before they were "
        "archived (`lake.history('nodes')`, `lake.nodes(as_of=…, session_id=…)`) until vacuum "
        "removes those files"
    )


def _dictionary_repair(path: Path, users: pl.DataFrame) -> str:
    sessions = sorted(users.filter(pl.col("entry") == "session")["key"].to_list())
    shown = ", ".join(sessions[:_SHOWN]) + (", …" if len(sessions) > _SHOWN else "")
    return (
        f"restore {path.name} from a backup; until then the {len(sessions)} sessions compressed "
        f"with it cannot be restored ({shown})"
    )


def _stray(root: Path, named: set[str], home: Path, report: LayerReport) -> None:
    """Packs no index row names: left by a writer that stopped before its index commit (a
    `.pending` marker says so), or the only copy of sessions whose index rows were lost."""
    pack_dir = root / "packs"
    if pack_dir.exists():
        for pack in sorted(pack_dir.glob("*.zst")):
            if pack.name in named:
                continue
            if (pack_dir / f".{pack.name}.pending").exists():
                report.problems.append(
                    Problem(
                        "vault",
                        relative(pack, home),
                        "was being written when its writer stopped (no index row names it yet)",
                        "nothing is lost: the next vault writer deletes it",
                        "warning",
                    )
                )
                continue
            report.problems.append(
                Problem(
                    "vault",
                    relative(pack, home),
                    "is named by no index row: the index lost the rows naming it (damaged or "
                    "replaced), and the pack may hold the only copy of archived sessions",
                    "restore `index/` from a backup, or recover the index with `memgraph-ops "
                    "vault rebuild-index` (`--dry-run` first); vault writers refuse to run "
                    "until then",
                )
            )
    for directory in (pack_dir, root / "dicts"):
        if directory.exists():
            for leftover in sorted(directory.glob(".*.tmp-*")):
                report.problems.append(
                    Problem(
                        "vault",
                        relative(leftover, home),
                        "is a temporary file a writer left when it stopped",
                        "nothing is lost: the next vault writer deletes it",
                        "warning",
                    )
                )
    aside = root / "unindexed"
    if aside.exists():
        for pack in sorted(aside.glob("*.zst")):
            report.problems.append(
                Problem(
                    "vault",
                    relative(pack, home),
                    "was set aside by `vault rebuild-index`: no recovered index row names it, so "
                    "its sessions cannot be restored",
                    "restore the vault index from a backup to get its sessions back; delete the "
                    "pack once they are not needed",
                    "warning",
                )
            )
