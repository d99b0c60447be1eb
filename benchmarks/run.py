"""Run the benchmarks: `python -m benchmarks.run [--quick] [--only NAME ...]`.

Every benchmark compares the library with the bare engine in the same run and reports
ratios. Data goes to a temporary directory (removed afterwards unless `--keep`). Results are
printed as tables and saved to `benchmarks/results.json` (under the run's mode: `full`, `quick`
or `custom` when sizes were overridden with `--set`); the generated part of
`benchmarks/RESULTS.md` is then rebuilt from that file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import (
    compaction,
    context,
    hot_scale,
    ingest,
    lake_bytes,
    report,
    service,
    single_ingest,
)
from benchmarks._common import RESULTS_JSON, ROOT, Result, machine, render_text
from benchmarks.workspace import Workspace

HISTORY = 3
BENCHMARKS: dict[str, Callable[[Workspace], Result]] = {
    "ingest": ingest.run,
    "single_ingest": single_ingest.run,
    "context": context.run,
    "compaction": compaction.run_throughput,
    "compaction_rss": compaction.run_rss,
    "hot_scale": hot_scale.run,
    "lake_bytes": lake_bytes.run,
    "service_writes": service.run_writes,
    "service_batch": service.run_batch,
    "service_reads": service.run_reads,
    "service_peer": service.run_peer,
    "otlp_peer": service.run_otlp_peer,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument(
        "--only", action="append", choices=list(BENCHMARKS), help="run only this (repeatable)"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=N", help="override a size"
    )
    parser.add_argument("--workdir", type=Path, help="where data goes (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data afterwards")
    parser.add_argument("--no-save", action="store_true", help="do not write results.json")
    args = parser.parse_args(argv)

    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="memgraph-bench-", dir=args.workdir))
    ws = Workspace(quick=args.quick, directory=directory)
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in ws.sizes:
            parser.error(f"--set {key}: unknown size; known: {', '.join(ws.sizes)}")
        ws.sizes[key] = int(value.replace("_", ""))
    mode = "custom" if args.set else "quick" if args.quick else "full"
    command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    ws.log(f"workspace {directory} ({mode}: {ws.sizes})")

    library = _git()  # the code this process imported: take it now, not at the end
    failures = 0
    results: dict[str, Any] = {}
    try:
        for name in args.only or list(BENCHMARKS):
            ws.log(f"== {name}")
            started = time.perf_counter()
            load = LoadMeter()
            try:
                result = BENCHMARKS[name](ws)
            except Exception:
                failures += 1
                traceback.print_exc()
                continue
            entry = result.as_dict()
            entry.update(
                command=command.strip(),
                mode=mode,
                sizes=ws.sizes,
                seconds=round(time.perf_counter() - started, 1),
                finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
                git=library,
                others_cores=load.others_cores(),
                loadavg_1m_end=round(os.getloadavg()[0], 2),
            )
            results[name] = entry
            _print(entry)
            if not args.no_save:
                _save(mode, name, entry)
    finally:
        if args.keep:
            ws.log(f"data kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    if not args.no_save and results:
        report.write_results_md()
    return 1 if failures else 0


class LoadMeter:
    """How many cores other processes kept busy meanwhile (this machine is shared: a busy
    neighbour slows both sides of a comparison, but not always equally)."""

    def __init__(self) -> None:
        self._busy, self._own, self._wall = self._busy_s(), self._own_s(), time.monotonic()

    @staticmethod
    def _busy_s() -> float:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own_s() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def others_cores(self) -> float:
        wall = time.monotonic() - self._wall
        others = (self._busy_s() - self._busy) - (self._own_s() - self._own)
        return round(max(others, 0.0) / wall, 2) if wall > 0 else 0.0


def _git() -> str:
    """The commit, marked `+dirty` when the library has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "memgraph_ops"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return ""
    return head + ("+dirty" if dirty else "")


def _print(entry: dict[str, Any]) -> None:
    print(
        f"\n### {entry['name']}  ({entry['mode']}, {entry['seconds']}s; other processes kept "
        f"{entry['others_cores']} cores busy)  params {entry['params']}"
    )
    for table in entry["tables"]:
        print()
        print(render_text(table))
    print()
    for goal in entry["goals"]:
        mark = "MET   " if goal["met"] else "MISSED"
        print(f"  [{mark}] {goal['goal']}: {goal['measured']}  ({goal['note']})")
    for note in entry["notes"]:
        print(f"  note: {note}")
    sys.stdout.flush()


def _save(mode: str, name: str, entry: dict[str, Any]) -> None:
    data: dict[str, Any] = {}
    if RESULTS_JSON.exists():
        data = json.loads(RESULTS_JSON.read_text())
    data["machine"] = machine()
    previous = data.setdefault(mode, {}).get(name)
    if previous is not None:  # keep the last few runs, to compare library versions
        history = data.setdefault("history", {}).setdefault(mode, {}).setdefault(name, [])
        history.insert(0, previous)
        del history[HISTORY:]
    data[mode][name] = entry
    tmp = RESULTS_JSON.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    tmp.replace(RESULTS_JSON)


if __name__ == "__main__":
    raise SystemExit(main())
