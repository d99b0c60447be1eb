"""The lake on S3 (a real `moto_server` on loopback) against the lake on local disk, same data,
one run (issue 17).

    python -m benchmarks.objectstore [--sessions 1000] [--rounds 2]

Per round and per place: a fresh data root ingests the same generated workload, then
- **compaction**: `mg.compact(redact=no_redaction)` (redaction off: Presidio costs the same on
  both and would hide the storage; `benchmarks.compaction` measures it), events/s;
- **archive**: every session into the vault (the vault is on local disk in both; the lake side
  is reading the sessions and deleting them from the lake), sessions/s;
- **erasure of one user** (lake delete, history scrub, and the byte scan of every file or
  object), seconds.
A small warm-up on both places comes first (not recorded: the first compaction in a process
paid 4 s of first-call costs). The places alternate within a round (local, S3, then S3,
local), so a drift of the machine falls on both; the best of the rounds is compared.

moto keeps objects in memory: this measures the cost of going through the S3 protocol and of
delta-rs' object-store commits, not of a network or of AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import memgraph_ops
from benchmarks._common import ROOT, machine, ratio
from memgraph_ops.erasure import Subject, erase
from memgraph_ops.lake import no_redaction
from memgraph_ops.workload import write_workload
from tests.servers import MotoS3

RESULTS = ROOT / "benchmarks" / "data" / "objectstore.json"
KEY = "0f" * 32


def one(place: str, workload: Path, work: Path, s3: MotoS3) -> dict[str, Any]:
    home = work / f"{place}-{time.monotonic_ns()}"
    lake = f"s3://{s3.new_bucket()}/lake" if place == "s3" else None
    out: dict[str, Any] = {"place": place}
    with memgraph_ops.open(home, **({"lake_uri": lake} if lake else {})) as mg:
        ingested = mg.ingest_file(workload)
        started = time.perf_counter()
        report = mg.compact(redact=no_redaction)
        out["compaction_s"] = round(time.perf_counter() - started, 2)
        out["events"] = report.events
        assert report.events == ingested.accepted, (report.events, ingested.accepted)
        user = mg.lake.nodes(types=["Session"])["user_id"].drop_nulls()[0]
        started = time.perf_counter()
        archived = mg.archive(inactive_days=0)
        out["archive_s"] = round(time.perf_counter() - started, 2)
        out["archived"] = archived.archived
        started = time.perf_counter()
        request = erase(mg, Subject("user", user))
        out["erasure_s"] = round(time.perf_counter() - started, 2)
        assert request.status == "done" and request.receipt is not None
        assert request.receipt["verification"]["passed"]
    shutil.rmtree(home, ignore_errors=True)
    out["compaction_events_per_s"] = round(out["events"] / out["compaction_s"])
    out["archive_sessions_per_s"] = round(out["archived"] / out["archive_s"], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("MEMGRAPH_PSEUDONYM_KEY", KEY)
    os.environ["MEMGRAPH_HOT_WINDOW_HOURS"] = "0"
    work = Path(tempfile.mkdtemp(prefix="bench-objectstore-"))
    try:
        workload = work / "events.jsonl"
        summary = write_workload(workload, args.sessions, seed=11)
        runs: list[dict[str, Any]] = []
        with MotoS3(work / "moto_server.log") as s3:
            os.environ.update(s3.env)
            small = work / "warmup.jsonl"
            write_workload(small, 30, seed=12)
            for place in ("local", "s3"):  # first-call costs (imports, caches), not recorded
                one(place, small, work, s3)
            for round_ in range(args.rounds):
                order = ["local", "s3"] if round_ % 2 == 0 else ["s3", "local"]
                for place in order:
                    result = one(place, workload, work, s3)
                    print(json.dumps(result), flush=True)
                    runs.append(result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = {
        place: {
            key: min(r[key] for r in runs if r["place"] == place)
            for key in ("compaction_s", "archive_s", "erasure_s")
        }
        for place in ("local", "s3")
    }
    ratios = {f"s3/local {k}": ratio(best["s3"][k], best["local"][k]) for k in best["local"]}
    document = {
        "machine": machine(),
        "sessions": args.sessions,
        "events": summary.events,
        "runs": runs,
        "best": best,
        "ratios": ratios,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2))
    print(json.dumps({"best": best, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
