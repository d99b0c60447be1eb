"""Restore one session out of a vault of 100,000 (issue 16, step 3), with group frames.

    python -m benchmarks.vault_restore [--sessions 100000] [--reuse]   # ~10 minutes

The vault is built from real chats: the 2,312 hh-rlhf conversations of `vault_real`, cycled
to `--sessions` conversations with their own ids (the text repeats, so this run measures
latency, not compression; `vault_real` measures compression). They are imported with
`import-chat`, compacted (redaction off: it does not change restore), and archived.

Then, on sessions never restored before, restore latency end to end:
- **Python API, embedded**: `mg.restore(session)` in this process (store in-process);
- **Python API through the service**: `memgraph-ops serve` owns the data root, and
  `mg.restore(session)` in this process decodes from the vault and sends the rows to the
  server (`POST /v1/ops/restore_session`), as any client on the data root does;
- **CLI**: `memgraph-ops restore --home H SESSION`, wall time of the whole process, with and
  without the server.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from benchmarks._common import ROOT, machine, percentiles
from benchmarks.service import served
from benchmarks.vault import BENCH_KEY, CLI
from benchmarks.vault_real import chats

WORK = ROOT / "benchmarks" / "data" / "vault_restore"
RESULTS = ROOT / "benchmarks" / "data" / "vault_restore.json"
SAMPLES = 300
CLI_RUNS = 5


def build(home: Path, sessions: int) -> dict[str, Any]:
    import memgraph_ops
    from memgraph_ops.imports.chat import import_chat_file

    base = chats()
    corpus = WORK / "corpus.jsonl"
    with corpus.open("w", encoding="utf-8") as out:
        for i in range(sessions):
            conversation = base[i % len(base)]
            out.write(json.dumps({"id": f"c{i:06d}", "messages": conversation["messages"]}))
            out.write("\n")
    steps: dict[str, Any] = {}
    with memgraph_ops.open(home, redaction=False) as mg:
        started = time.perf_counter()
        steps["import_events"] = import_chat_file(mg.store, corpus, tenant="real").events
        steps["import_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        steps["compacted_events"] = mg.compact().events
        steps["compact_s"] = round(time.perf_counter() - started, 1)
        ids = [f"c{i:06d}" for i in range(sessions)]
        started = time.perf_counter()
        archived = mg.archive(
            ids, progress=lambda done, total: print(f"  archived {done:,}/{total:,}", flush=True)
        )
        steps["archive_s"] = round(time.perf_counter() - started, 1)
        steps["archived"] = archived.archived
        steps["archive_sessions_per_s"] = round(archived.archived / steps["archive_s"], 1)
        steps["vault"] = mg.vault.stats()
    return steps


def _restores(home: Path, picks: list[str]) -> dict[str, Any]:
    import memgraph_ops

    started = time.perf_counter()
    mg = memgraph_ops.open(home, redaction=False)
    opened = time.perf_counter() - started
    samples = []
    try:
        for session in picks:
            started = time.perf_counter()
            result = mg.restore(session)
            samples.append(time.perf_counter() - started)
            if not result.restored:
                raise AssertionError(f"{session} was restored before")
        store = type(mg.store).__name__
    finally:
        mg.close()
    return {
        "store": store,
        "open_ms": round(opened * 1000, 1),
        "first_ms": round(samples[0] * 1000, 2),
        "warm": percentiles(samples[1:]),
    }


def _cli(home: Path, picks: list[str]) -> dict[str, Any]:
    walls = []
    env = os.environ | {"MEMGRAPH_HOME": str(home)}
    for session in picks:
        started = time.perf_counter()
        subprocess.run(
            [CLI, "restore", "--home", str(home), session], env=env, check=True,
            capture_output=True, timeout=120,
        )  # fmt: skip
        walls.append(time.perf_counter() - started)
    return {"wall_ms": [round(s * 1000) for s in walls], "median_ms": round(
        sorted(walls)[len(walls) // 2] * 1000)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep an existing built vault")
    args = parser.parse_args()
    os.environ.setdefault("MEMGRAPH_PSEUDONYM_KEY", BENCH_KEY)
    os.environ["MEMGRAPH_HOT_WINDOW_HOURS"] = "0"
    home = WORK / f"home-{args.sessions}"
    out: dict[str, Any] = {"machine": machine(), "sessions": args.sessions}
    if not (args.reuse and home.exists()):
        import shutil

        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        out["build"] = build(home, args.sessions)
        print(json.dumps(out["build"], default=str), flush=True)
    rng = random.Random(16)
    with duckdb.connect(str(home / "hot.duckdb"), read_only=True) as con:
        done = {s for (s,) in con.execute("SELECT session_id FROM vault_restores").fetchall()}
    fresh = [f"c{i:06d}" for i in range(args.sessions) if f"c{i:06d}" not in done]
    picks = rng.sample(fresh, 2 * SAMPLES + 2 * CLI_RUNS)  # never restored before
    out["embedded"] = _restores(home, picks[:SAMPLES])
    out["cli_embedded"] = _cli(home, picks[2 * SAMPLES : 2 * SAMPLES + CLI_RUNS])
    with served(home, WORK / "server.log"):
        out["served"] = _restores(home, picks[SAMPLES : 2 * SAMPLES])
        out["cli_served"] = _cli(home, picks[2 * SAMPLES + CLI_RUNS :])
    RESULTS.write_text(json.dumps(out, indent=1, default=str))
    print(json.dumps({k: v for k, v in out.items() if k != "machine"}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
