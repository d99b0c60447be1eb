"""Shared plumbing: timing, percentiles, tables, child processes with peak RSS, fixtures."""

from __future__ import annotations

import cProfile
import json
import os
import platform
import pstats
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = Path(__file__).resolve().parent / "results.json"


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max of durations in seconds, in milliseconds."""
    a = np.asarray(samples_s, dtype=float) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p95_ms": round(float(np.percentile(a, 95)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "mean_ms": round(float(a.mean()), 3),
        "max_ms": round(float(a.max()), 3),
        "n": len(a),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("inf")


@contextmanager
def timed(into: dict[str, float], key: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        into[key] = into.get(key, 0.0) + time.perf_counter() - start


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "headers": self.headers, "rows": self.rows}


@dataclass
class Goal:
    goal: str
    measured: str
    met: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"goal": self.goal, "measured": self.measured, "met": self.met, "note": self.note}


@dataclass
class Result:
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self.params,
            "tables": [t.as_dict() for t in self.tables],
            "goals": [g.as_dict() for g in self.goals],
            "data": self.data,
            "notes": self.notes,
        }


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def render_text(table: dict[str, Any]) -> str:
    cells = [table["headers"], *[[fmt(v) for v in row] for row in table["rows"]]]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(table["headers"]))]
    lines = [table["title"]]
    for n, row in enumerate(cells):
        raw = table["rows"][n - 1] if n else row
        lines.append(
            "  ".join(
                str(v).ljust(w) if not n or isinstance(r, str) else str(v).rjust(w)
                for v, w, r in zip(row, widths, raw, strict=True)
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(table: dict[str, Any]) -> str:
    lines = [f"**{table['title']}**", "", "| " + " | ".join(table["headers"]) + " |"]
    lines.append("|" + "|".join("---" for _ in table["headers"]) + "|")
    for row in table["rows"]:
        lines.append("| " + " | ".join(fmt(v) for v in row) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import deltalake
    import duckdb
    import polars
    import psutil
    import pyarrow

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {
            "duckdb": duckdb.__version__,
            "polars": polars.__version__,
            "pyarrow": pyarrow.__version__,
            "deltalake": deltalake.__version__,
        },
    }


@dataclass
class ChildRun:
    """What a benchmark child process reported, and what it cost."""

    messages: list[dict[str, Any]]
    seconds: float
    max_rss_bytes: int
    returncode: int
    timed_out: bool
    stderr: str

    @property
    def final(self) -> dict[str, Any]:
        done = [m for m in self.messages if m.get("event") == "done"]
        return done[-1] if done else {}


def run_child(
    module: str, args: list[str], *, timeout_s: float, stdin: IO[bytes] | None = None
) -> ChildRun:
    """Run `python -m module args` in a fresh process (a clean `spawn`: delta-rs does not
    survive fork) and collect its JSON lines, wall time and peak RSS (VmHWM).

    The child prints one JSON object per line; a line with `"event": "done"` is its result.
    Past `timeout_s` the child is killed and what it reported so far is returned. `stdin`
    (e.g. another process's stdout) feeds the child's standard input.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    messages: list[dict[str, Any]] = []
    err: list[str] = []
    timed_out = False
    peak = 0
    streams = [proc.stdout, proc.stderr]
    while streams:
        peak = max(peak, vm_hwm(proc.pid))
        left = timeout_s - (time.perf_counter() - start)
        if left <= 0:
            timed_out = True
            proc.kill()
            break
        ready, _, _ = select.select(streams, [], [], min(left, 0.2))
        for stream in ready:
            line = stream.readline()
            if not line:
                streams.remove(stream)
            elif stream is proc.stdout:
                try:
                    messages.append(json.loads(line))
                except ValueError:
                    err.append(line)
            else:
                err.append(line)
    _, status, _ = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    # The child's own high-water mark (it reports VmHWM with every line) is exact; polling
    # covers a child that was killed. `wait4`'s ru_maxrss is no use here: Linux carries the
    # parent's peak over fork/exec, so every child would look at least as big as this process.
    reported = [m["max_rss"] for m in messages if "max_rss" in m]
    return ChildRun(
        messages=messages,
        seconds=time.perf_counter() - start,
        max_rss_bytes=max([peak, *reported]),
        returncode=proc.returncode,
        timed_out=timed_out,
        stderr="".join(err)[-4000:],
    )


def vm_hwm(pid: int | str = "self") -> int:
    """Peak resident set size of a process (bytes), from /proc; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def emit(**message: Any) -> None:
    """A child's report line (see `run_child`)."""
    print(json.dumps(message, default=str), flush=True)


def dir_bytes(path: Path, predicate: Callable[[Path], bool] = lambda p: True) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and predicate(p))


def copy_store(src: Path, dst: Path) -> Path:
    """Copy a closed DuckDB file (and its WAL if any) for a benchmark that will change it."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    wal = src.with_name(src.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, dst.with_name(dst.name + ".wal"))
    return dst


def gib(n: float) -> float:
    return round(n / 2**30, 3)


def mib(n: float) -> float:
    return round(n / 2**20, 1)


def profile_top(fn: Callable[[], Any], *, limit: int = 15) -> list[list[Any]]:
    """Run `fn` under cProfile; the functions with the most own time (calls into DuckDB's
    C++ API count as their Python caller's own time)."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        fn()
    finally:
        profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for (file, line, name), (_, calls, own, cumulative, _) in stats.items():
        where = file.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
        label = f"{where}:{line}({name})" if line else name
        rows.append([label, calls, round(own, 3), round(cumulative, 3)])
    rows.sort(key=lambda r: -r[2])
    return rows[:limit]
