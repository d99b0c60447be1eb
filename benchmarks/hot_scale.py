"""HOT holding a day of traffic: ingest `scale_events` (10M; 300k with --quick) in batches at the
default DuckDB memory limit, then compact all of them and trim HOT (hot window 0, so every event
moves to the dedupe memory), each in its own process.

Reported: peak RSS and file size as the backlog grows, single-event writes (new ids and
repeats, which the dedupe confirms with a scan) on the full store, and the compaction's peak
RSS and the file after the trim. Goals (issue 12): < 2 GiB RSS, no out-of-memory.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from benchmarks._common import ROOT, Goal, Result, Table, gib, mib, percentiles, run_child
from benchmarks.workspace import Workspace

GiB = 2**30
CHILD = "benchmarks._child"
BATCH_ROWS = 100_000


def run(ws: Workspace) -> Result:
    n = ws.sizes["scale_events"]
    timeout = float(ws.sizes["scale_timeout_s"])
    directory = ws.directory / "hot-scale"
    directory.mkdir(parents=True, exist_ok=True)
    store = directory / "hot.duckdb"
    ws.log(f"  ingest {n:,} events in batches of {BATCH_ROWS:,} (timeout {timeout:.0f}s)")
    # The generator runs in a process of its own, piping Arrow to the one that ingests, so
    # that process's peak RSS is the store's (and the libraries').
    generator = subprocess.Popen(
        [sys.executable, "-m", CHILD, "generate", "--events", str(n + 1_000),
         "--batch-rows", str(BATCH_ROWS)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert generator.stdout is not None
    try:
        ingest = run_child(
            CHILD, ["ingest", "--store", str(store)], timeout_s=timeout, stdin=generator.stdout
        )
    finally:
        generator.stdout.close()
        generator.kill()
        generator.wait()
    batches = [m for m in ingest.messages if m.get("event") == "batch"]
    start = next((m for m in ingest.messages if m.get("event") == "start"), {})
    done = ingest.final
    reached = batches[-1]["done"] if batches else 0
    ws.log(f"  compact them, trimming HOT as it goes ({reached:,} events)")
    compact = run_child(
        CHILD,
        ["compact", "--store", str(store), "--lake", str(directory / "lake"),
         "--batch-rows", str(ws.sizes["compact_batch"]), "--hot-window-s", "0"],
        timeout_s=timeout,
    )  # fmt: skip
    trimmed = next((m for m in compact.messages if m.get("event") == "trimmed"), {})
    compact_batches = [m for m in compact.messages if m.get("event") == "batch"]
    before_trim = compact_batches[-1]["max_rss"] if compact_batches else 0
    compacted = compact.final

    result = Result(
        "hot_scale",
        params={"events": n, "batch_rows": BATCH_ROWS, "timeout_s": timeout},
    )
    picks = sorted({len(batches) * k // 10 for k in range(1, 11)} - {0}) if batches else []
    result.tables.append(
        Table(
            f"Ingesting {n:,} events at the default memory limit (the generator in another "
            f"process; {mib(start.get('max_rss', 0))} MiB of the peak is the libraries)",
            ["events done", "batch seconds", "peak RSS MiB so far", "file MiB", "file bytes/event"],
            [
                [
                    b["done"],
                    b["batch_seconds"],
                    mib(b["max_rss"]),
                    mib(b["file_bytes"]),
                    round(b["file_bytes"] / b["done"]),
                ]
                for b in (batches[i - 1] for i in picks)
            ],
        )
    )
    if done:
        new, repeat = done["single_new_ms"], done["single_repeat_ms"]
        result.tables.append(
            Table(
                f"Single-event ingest on the full store ({done['events']:,} events), ms",
                ["writes", "n", "p50", "p95", "max"],
                [
                    ["new event ids", len(new), *_pcts(new)],
                    ["repeats (dedupe confirms by a scan)", len(repeat), *_pcts(repeat)],
                ],
            )
        )
    rows = [
        [
            "ingest",
            reached,
            round(done.get("seconds", ingest.seconds), 1),
            mib(ingest.max_rss_bytes),
            mib(done.get("file_bytes", 0)),
            "",
        ],
        [
            "compact + trim (hot window 0)",
            (compacted.get("report") or {}).get("events", ""),
            round(compacted.get("seconds", compact.seconds), 1),
            mib(compact.max_rss_bytes),
            mib(trimmed.get("file_bytes", 0)),
            round((compacted.get("steps") or {}).get("trim_hot", 0), 1),
        ],
    ]
    if before_trim:
        result.notes.append(f"compaction's peak RSS before the trim: {mib(before_trim)} MiB")
    result.tables.append(
        Table(
            "Peak RSS and the file, each step in its own process",
            ["step", "events", "seconds", "peak RSS MiB", "file MiB after", "trim s"],
            rows,
        )
    )
    if trimmed:
        result.notes.append(f"after the trim: {trimmed['counts']}")
    for step, run_, ok in (
        ("ingesting", ingest, bool(done) and reached >= n),
        ("compacting and trimming", compact, bool(compacted)),
    ):
        error = "" if run_.returncode == 0 else f"; failed: {run_.stderr.strip()[-300:]}"
        result.goals.append(
            Goal(
                f"peak RSS {step} {n:,} events < 2 GiB, no out-of-memory",
                f"{gib(run_.max_rss_bytes):.2f} GiB",
                ok and run_.max_rss_bytes < 2 * GiB,
                ("TIMED OUT" if run_.timed_out else "finished" if ok else "did not finish") + error,
            )
        )
    result.data = {
        "ingest": done,
        "batches": batches,
        "start": start,
        "ingest_max_rss": ingest.max_rss_bytes,
        "compact": compacted,
        "compact_max_rss": compact.max_rss_bytes,
        "compact_batches": compact_batches,
        "trimmed": trimmed,
    }
    store.unlink(missing_ok=True)
    return result


def _pcts(samples_ms: list[float]) -> list[Any]:
    p = percentiles([s / 1000 for s in samples_ms])
    return [p["p50_ms"], p["p95_ms"], p["max_ms"]]
