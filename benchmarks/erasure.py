"""Erasure benchmark: time and data files touched to erase one user from lakes of N events.

    .venv/bin/python -m benchmarks.erasure --events 1000000 --dir /tmp/erasure-bench

Builds (once per directory) a data root from the seeded generator: ingest into HOT, compact
into the lake in batches of `--batch` events. Redaction is OFF for the build (`no_redaction`):
Presidio over 10M events takes hours on 2 cores, and erasure's cost does not depend on it
(user ids stay clear in the lake then; erasure matches clear ids and tokens alike). Then erases
the user with the median number of sessions and reports: seconds per phase (plan, execution,
verification by byte scan of the whole root), lake data files rewritten vs data files in the
current version, and that the verification passed. Runs erasure on a copy so the build can
be reused.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import polars as pl

import memgraph_ops
from memgraph_ops.erasure import Subject, erase, plan
from memgraph_ops.lake import no_redaction
from memgraph_ops.workload import generate

KEY = "ab" * 32


def build(root: Path, events: int, batch: int) -> dict[str, float]:
    marker = root / "built.json"
    if marker.exists():
        return dict(json.loads(marker.read_text()))
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    sessions = max(1, events // 40)
    done = 0
    with memgraph_ops.open(root) as mg:
        for chunk in generate(sessions, seed=11, tenants=3, pii_rate=0.0, batch_sessions=5_000):
            mg.ingest(chunk.events)
            done += len(chunk.events)
            if mg.store.counts()["events"] >= batch:
                mg.compact(redact=no_redaction, batch_rows=batch)
            print(f"built {done:,} events", file=sys.stderr, flush=True)
            if done >= events:
                break
        mg.compact(redact=no_redaction, batch_rows=batch)
        built = {"events": done, "seconds": round(time.perf_counter() - started, 1)}
    marker.write_text(json.dumps(built))
    return built


def pick_user(mg: memgraph_ops.Memgraph) -> tuple[str, int]:
    users = (
        mg.lake.scan("nodes")
        .filter(pl.col("type") == "Session")
        .group_by("user_id")
        .len()
        .sort("len", "user_id")
        .collect()
    )
    row = users.row(users.height // 2)
    return str(row[0]), int(row[1])


def data_files(lake: Path) -> int:
    return sum(
        1 for p in lake.rglob("*.parquet") if "_delta_log" not in p.parts and p.stat().st_size
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=250_000)
    args = parser.parse_args()
    os.environ["MEMGRAPH_PSEUDONYM_KEY"] = KEY
    os.environ["MEMGRAPH_HOT_WINDOW_HOURS"] = "0"
    source = args.dir / f"root-{args.events}"
    built = build(source, args.events, args.batch)
    work = args.dir / f"work-{args.events}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    with memgraph_ops.open(work) as mg:
        user, sessions = pick_user(mg)
        current_files = sum(mg.lake.stats()[t]["files"] for t in mg.lake.stats())
        t0 = time.perf_counter()
        planned = plan(mg, Subject("user", user))
        t1 = time.perf_counter()
        request = erase(mg, Subject("user", user))
        t2 = time.perf_counter()
    receipt = request.receipt or {}
    rewritten = sum(
        v.get("files_rewritten", 0) for k, v in receipt["counts"].items() if k.startswith("lake")
    ) + receipt["counts"].get("pii_findings", {}).get("files_rewritten", 0)
    result = {
        "events": built["events"],
        "build_seconds": built["seconds"],
        "user_sessions": sessions,
        "lake_data_files_current": current_files,
        "lake_data_files_rewritten": rewritten,
        "touched_fraction": round(rewritten / max(1, current_files), 4),
        "plan_seconds": round(t1 - t0, 2),
        "erase_seconds_total": round(t2 - t1, 2),
        "erase_seconds_recorded": receipt.get("seconds"),
        "verification": receipt.get("verification", {}).get("passed"),
        "rows": dict(receipt["counts"]),
        "timings": receipt.get("timings"),
        "lake_files_planned": len(planned["lake_files"]),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
