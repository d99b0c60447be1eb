"""Vault benchmarks (issue 4): compression side by side, restore latency, archive throughput.

One run measures, on fresh data roots under `benchmarks/data/vault/`:

1. Compression on two synthetic OpenAI-format corpora built from real prose
   (`benchmarks.chat_corpus`: chat-like conversations and agent traces), at a large and a small
   size: vault bytes (frames only, and all-in with dictionaries and the index) next to the raw
   import JSON, per-session gzip -6, per-session zstd -19 (with and without a trained
   dictionary), Parquet zstd of the same lake rows, and whole-corpus zstd -19. Pipeline:
   `import_chat_file` -> `compact` -> `archive` (the code behind `memgraph-ops import-chat`,
   `compact` and `archive`).
2. Restore latency from a vault built from the generator (`memgraph-ops generate` ->
   `ingest` -> `compact` with redaction off -> `archive` in slices, time-boxed), measured in a
   fresh, then warm, process with `Memgraph.restore`, plus `memgraph-ops restore` wall time.
3. Archive throughput for every archive above; cProfile of one archive and of the restores.

    .venv/bin/python -m benchmarks.vault            # full run (< 25 min on 2 cores)
    .venv/bin/python -m benchmarks.vault --quick    # small sizes, a few minutes

Results: `benchmarks/data/vault/results.json` and `results.md` (tables and profiles), which
`benchmarks/results_vault.md` quotes.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import zstandard

from benchmarks import chat_corpus
from benchmarks._common import machine, percentiles, render_markdown

DATA = Path(__file__).resolve().parent / "data" / "vault"
ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).with_name("memgraph-ops"))
BENCH_KEY = "5eed" * 16
"""A fixed pseudonym key for the one redacted run (benchmark data only)."""


def _env(redaction: bool) -> dict[str, str]:
    env = {**os.environ, "MEMGRAPH_REDACTION": "on" if redaction else "off"}
    env.setdefault("MEMGRAPH_PSEUDONYM_KEY", BENCH_KEY)
    return env


def _tree_bytes(path: Path, *, skip_log: bool = False) -> int:
    return sum(
        p.stat().st_size
        for p in path.rglob("*")
        if p.is_file() and not (skip_log and "_delta_log" in p.parts)
    )


def _profile_top(profile: cProfile.Profile, n: int = 25) -> dict[str, str]:
    out = {}
    for key in ("cumulative", "tottime"):
        buffer = io.StringIO()
        pstats.Stats(profile, stream=buffer).strip_dirs().sort_stats(key).print_stats(n)
        text = buffer.getvalue()
        out[key] = text[text.find("   ncalls") :].rstrip()
    return out


# 1. compression ---------------------------------------------------------------------------------


def baselines(corpus: Path) -> dict[str, int]:
    """Sizes of the raw JSON and of the non-vault ways to compress it."""
    lines = [ln.rstrip(b"\n") for ln in corpus.read_bytes().splitlines() if ln.strip()]
    plain = zstandard.ZstdCompressor(level=19)
    per_zstd = plain.multi_compress_to_buffer(lines, threads=-1)
    samples = lines[:2000]
    dictionary = zstandard.train_dictionary(112_640, samples)
    with_dict = zstandard.ZstdCompressor(level=19, dict_data=dictionary)
    per_dict = with_dict.multi_compress_to_buffer(lines, threads=-1)
    whole = zstandard.ZstdCompressor(level=19, threads=-1).compress(b"\n".join(lines) + b"\n")
    return {
        "raw_json": sum(map(len, lines)),
        "gzip6_per_session": sum(len(gzip.compress(ln, compresslevel=6, mtime=0)) for ln in lines),
        "zstd19_per_session": per_zstd.size(),
        "zstd19_dict_per_session": per_dict.size() + len(dictionary.as_bytes()),
        "zstd19_whole_corpus": len(whole),
    }


def compression_case(kind: str, count: int, *, redaction: bool, profile: bool) -> dict[str, Any]:
    """Import, compact and archive one corpus into a fresh data root; every size."""
    import memgraph_ops
    from memgraph_ops.imports.chat import import_chat_file

    name = f"{kind}-{count}" + ("-redacted" if redaction else "")
    work = DATA / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    corpus = work / f"{kind}.jsonl"
    started = time.perf_counter()
    chat_corpus.write(kind, count, corpus)
    out: dict[str, Any] = {"case": name, "kind": kind, "sessions": count, "redaction": redaction}
    out["corpus_seconds"] = round(time.perf_counter() - started, 2)
    sizes = baselines(corpus)

    home = work / "home"
    os.environ["MEMGRAPH_PSEUDONYM_KEY"] = os.environ.get("MEMGRAPH_PSEUDONYM_KEY", BENCH_KEY)
    mg = memgraph_ops.open(home, redaction=redaction)
    t = time.perf_counter()
    report = import_chat_file(mg.store, corpus, tenant="bench")
    out["import_seconds"] = round(time.perf_counter() - t, 2)
    out["import"] = {
        "events": report.events,
        "accepted": report.accepted,
        "quarantined": report.quarantined,
        "issues": report.issue_count,
    }
    t = time.perf_counter()
    compaction = mg.compact()
    out["compact_seconds"] = round(time.perf_counter() - t, 2)
    out["compacted_events"] = compaction.events

    nodes = mg.lake.scan("nodes").collect()
    edges = mg.lake.scan("edges").collect()
    out["lake_rows"] = {"nodes": nodes.height, "edges": edges.height}
    for level, key in ((None, "parquet_zstd"), (19, "parquet_zstd19")):
        total = 0
        for table, frame in (("nodes", nodes), ("edges", edges)):
            path = work / f"{table}-{key}.parquet"
            pq.write_table(frame.to_arrow(), path, compression="zstd", compression_level=level)
            total += path.stat().st_size
        sizes[key] = total
    lake = Path(mg.settings.lake_uri)
    sizes["lake_delta_files"] = _tree_bytes(lake / "nodes", skip_log=True) + _tree_bytes(
        lake / "edges", skip_log=True
    )
    sessions = sorted(
        nodes.filter(pl.col("type") == "Session")["session_id"].drop_nulls().unique().to_list()
    )
    if profile:
        shutil.copytree(home, work / "home-profile")
    t = time.perf_counter()
    archived = mg.archive(sessions)
    seconds = time.perf_counter() - t
    stats = mg.vault.stats()
    sizes["vault_frames"] = stats["pack_bytes"]
    sizes["vault_all_in"] = stats["physical_bytes"]
    out["vault"] = stats
    out["archive"] = {
        "sessions": archived.archived,
        "seconds": round(seconds, 2),
        "sessions_per_s": round(archived.archived / seconds, 1),
        "payload_mb_per_s": round(archived.payload_bytes / seconds / 1e6, 2),
        "raw_json_mb_per_s": round(sizes["raw_json"] / seconds / 1e6, 2),
        "payload_bytes": archived.payload_bytes,
        "frame_bytes": archived.frame_bytes,
        "block_bytes": archived.block_bytes,
        "new_blocks": archived.new_blocks,
        "dictionary_id": archived.dictionary_id,
    }
    out["sizes"] = sizes
    out["ratios"] = {k: round(sizes["raw_json"] / v, 2) for k, v in sizes.items() if v}
    # Round trip of a few sessions: what comes back is what the lake held.
    rng = random.Random(1)
    checked = 0
    for session in rng.sample(sessions, min(5, len(sessions))):
        result = mg.restore(session)
        expected = nodes.filter(pl.col("session_id") == session).height
        if result.nodes != expected:
            raise AssertionError(f"{session}: restored {result.nodes} nodes, lake had {expected}")
        checked += 1
    out["restore_checked"] = checked
    mg.close()
    if profile:
        again = memgraph_ops.open(work / "home-profile", redaction=redaction)
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        again.archive(sessions)
        prof.disable()
        out["archive_profile_seconds"] = round(time.perf_counter() - t, 2)
        out["archive_profile"] = _profile_top(prof)
        again.close()
        shutil.rmtree(work / "home-profile")
    return out


# 2. restore latency -----------------------------------------------------------------------------


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, str]:
    t = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, done.stdout


def restore_child(home: Path, sessions: list[str], profile_n: int) -> dict[str, Any]:
    """In this (fresh) process: restore each session once, first call separately, then
    profile `profile_n` more restores."""
    import memgraph_ops

    t = time.perf_counter()
    mg = memgraph_ops.open(home)
    opened = time.perf_counter() - t
    samples = []
    for session in sessions[: len(sessions) - profile_n]:
        t = time.perf_counter()
        result = mg.restore(session)
        samples.append(time.perf_counter() - t)
        if not result.restored:
            raise AssertionError(f"{session} was already restored")
    prof = cProfile.Profile()
    prof.enable()
    for session in sessions[len(sessions) - profile_n :]:
        mg.restore(session)
    prof.disable()
    t = time.perf_counter()
    again = mg.restore(sessions[0])
    repeat = time.perf_counter() - t  # restoring the same generation again changes nothing
    mg.close()
    return {
        "open_ms": round(opened * 1000, 2),
        "first_ms": round(samples[0] * 1000, 2),
        "warm": percentiles(samples[1:]),
        "repeat_ms": round(repeat * 1000, 2),
        "repeat_changed": again.restored,
        "profile": _profile_top(prof),
    }


def measure_restore(
    home: Path,
    archived: list[str],
    *,
    n: int,
    profile_n: int,
    cli_runs: int,
    exclude: set[str] | None = None,
) -> dict[str, Any]:
    """Restore latency of sessions never restored before (`exclude`: already restored)."""
    rng = random.Random(len(archived))
    pool = [s for s in archived if s not in (exclude or set())]
    picks = rng.sample(pool, min(len(pool), n + profile_n + cli_runs))
    if exclude is not None:
        exclude.update(picks)
    env = {**_env(False), "MEMGRAPH_HOME": str(home)}
    spec = json.dumps({"home": str(home), "sessions": picks[: n + profile_n], "profile": profile_n})
    t = time.perf_counter()
    seconds, stdout = _run(
        [sys.executable, "-m", "benchmarks.vault", "--restore-child", spec], env, 900
    )
    out: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    out["child_seconds"] = round(time.perf_counter() - t, 2)
    walls = []
    for session in picks[n + profile_n :]:
        seconds, stdout = _run([CLI, "restore", "--home", str(home), session], env, 120)
        walls.append(seconds)
        out["cli_output"] = stdout.strip()
    out["cli_wall_ms"] = [round(s * 1000) for s in walls]
    out["cli_wall_median_ms"] = round(statistics.median(walls) * 1000) if walls else None
    out["vault_sessions"] = len(archived)
    return out


def restore_case(big: int, budget_s: float, *, n: int, profile_n: int) -> dict[str, Any]:
    """Generator workload -> ingest -> compact (redaction off) -> archive in slices until
    `big` sessions are archived or the time budget would be exceeded; restore latency measured
    after the first slice and at the end."""
    import memgraph_ops

    work = DATA / f"generator-{big}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    home = work / "home"
    env = _env(False)
    started = time.perf_counter()
    out: dict[str, Any] = {"target_sessions": big, "budget_s": budget_s, "steps": {}}
    events = work / "events.parquet"
    # `--home` goes after the subcommand: before it, argparse lets the subcommand's default
    # (None) win and the command silently uses ./store. MEMGRAPH_HOME guards against that too.
    env["MEMGRAPH_HOME"] = str(home)
    # At the default 1GB DuckDB limit, ingesting 100k generated sessions (5.7M events) failed
    # with an out-of-memory error on COMMIT; give the build more room.
    env["MEMGRAPH_DUCKDB_MEMORY_LIMIT"] = "4GB"
    out["duckdb_memory_limit"] = "4GB"
    commands = [
        ("generate", [CLI, "generate", "--sessions", str(big), "--out", str(events)]),
        ("ingest", [CLI, "ingest", "--home", str(home), str(events)]),
        ("compact", [CLI, "compact", "--home", str(home)]),
    ]
    for step, cmd in commands:
        seconds, _ = _run(cmd, env, 3600)
        out["steps"][step] = round(seconds, 1)
        print(f"  {step}: {seconds:.1f}s", file=sys.stderr, flush=True)
    mg = memgraph_ops.open(home, redaction=False)
    sessions = sorted(
        mg.lake.scan("nodes")
        .filter(pl.col("type") == "Session")
        .select("session_id")
        .collect()["session_id"]
        .drop_nulls()
        .unique()
        .to_list()
    )
    random.Random(3).shuffle(sessions)
    out["lake_sessions"] = len(sessions)
    slices = [10_000] + [20_000] * ((len(sessions) - 10_000) // 20_000 + 1)
    archived: list[str] = []
    restored: set[str] = set()
    out["slices"] = []
    out["restore"] = []
    last_rate = None
    for size in slices:
        todo = sessions[len(archived) : len(archived) + size]
        if not todo:
            break
        elapsed = time.perf_counter() - started
        if last_rate and elapsed + len(todo) / last_rate + 90 > budget_s:
            out["stopped"] = (
                f"time box: {elapsed:.0f}s spent, the next {len(todo):,} sessions would take "
                f"~{len(todo) / last_rate:.0f}s more"
            )
            break
        t = time.perf_counter()
        report = mg.archive(todo)
        seconds = time.perf_counter() - t
        archived.extend(todo)
        last_rate = len(todo) / seconds
        out["slices"].append(
            {
                "sessions": len(todo),
                "vault_sessions_after": len(archived),
                "seconds": round(seconds, 1),
                "sessions_per_s": round(last_rate, 1),
                "payload_mb_per_s": round(report.payload_bytes / seconds / 1e6, 2),
                "payload_bytes": report.payload_bytes,
                "frame_bytes": report.frame_bytes,
            }
        )
        print(f"  archived {len(archived):,} ({seconds:.0f}s)", file=sys.stderr, flush=True)
        if len(archived) == 10_000:
            mg.close()
            out["restore"].append(
                measure_restore(home, archived, n=200, profile_n=0, cli_runs=0, exclude=restored)
            )
            mg = memgraph_ops.open(home, redaction=False)
    out["vault"] = mg.vault.stats()
    mg.close()
    out["archived_sessions"] = len(archived)
    out["restore"].append(
        measure_restore(home, archived, n=n, profile_n=profile_n, cli_runs=5, exclude=restored)
    )
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def restore_only(home: Path) -> dict[str, Any]:
    """Restore latency on an existing data root, over sessions not restored there yet."""
    import duckdb

    import memgraph_ops

    mg = memgraph_ops.open(home, redaction=False)
    archived = sorted(mg.vault.index()["session_id"].to_list())
    stats = mg.vault.stats()
    mg.close()
    with duckdb.connect(str(home / "hot.duckdb"), read_only=True) as con:
        done = {s for (s,) in con.execute("SELECT session_id FROM vault_restores").fetchall()}
    out = measure_restore(home, archived, n=300, profile_n=100, cli_runs=5, exclude=done)
    out["vault"] = stats
    out["previously_restored"] = len(done)
    (DATA / "restore_only.json").write_text(json.dumps(out, indent=1, default=str))
    return out


# report -----------------------------------------------------------------------------------------

LABELS = {
    "raw_json": "raw import JSON (JSONL lines)",
    "gzip6_per_session": "gzip -6 per session",
    "zstd19_per_session": "zstd -19 per session, no dictionary",
    "zstd19_dict_per_session": "zstd -19 per session + trained dictionary (dict counted)",
    "parquet_zstd": "Parquet zstd (pyarrow default level) of the lake rows",
    "parquet_zstd19": "Parquet zstd -19 of the lake rows",
    "lake_delta_files": "Delta data files of the lake (nodes+edges, before archive)",
    "vault_frames": "**vault, frames only (packs)**",
    "vault_all_in": "**vault, all-in (packs + dictionaries + index)**",
    "zstd19_whole_corpus": "zstd -19 of the whole JSONL (ceiling, not random access)",
}


def render(results: dict[str, Any]) -> str:
    parts = [f"Run {results['started']} at {results['commit']}, {results['seconds']}s total.", ""]
    cases = results["compression"]
    rows = []
    for key, label in LABELS.items():
        row: list[Any] = [label]
        for case in cases:
            size = case["sizes"].get(key)
            row += [size, f"{case['ratios'].get(key, 0):.2f}:1"]
        rows.append(row)
    headers = ["bytes of the same sessions"]
    for case in cases:
        headers += [case["case"], "ratio"]
    parts.append(render_markdown({"title": "Compression", "headers": headers, "rows": rows}))
    rows = []
    for case in cases:
        a, v = case["archive"], case["vault"]
        rows.append(
            [case["case"], case["import"]["events"], case["import_seconds"],
             case["compact_seconds"], a["seconds"], a["sessions_per_s"], a["payload_mb_per_s"],
             a["raw_json_mb_per_s"], v["blocks"], v["dictionary_bytes"], v["index_bytes"],
             v["logical_bytes"]]
        )  # fmt: skip
    headers = ["case", "events", "import s", "compact s", "archive s", "archive sessions/s",
               "payload MB/s", "raw JSON MB/s", "blocks", "dict bytes", "index bytes",
               "payload bytes"]  # fmt: skip
    parts += ["", render_markdown({"title": "Pipeline", "headers": headers, "rows": rows})]
    big = results.get("restore")
    if big:
        parts += ["", f"Generator build: {json.dumps(big['steps'])}; lake sessions "
                  f"{big['lake_sessions']:,}; archived {big['archived_sessions']:,}"
                  + (f"; stopped: {big['stopped']}" if big.get("stopped") else "")]  # fmt: skip
        rows = [
            [s["vault_sessions_after"], s["sessions"], s["seconds"], s["sessions_per_s"],
             s["payload_mb_per_s"], s["payload_bytes"], s["frame_bytes"]]
            for s in big["slices"]
        ]  # fmt: skip
        headers = ["vault sessions after", "slice", "seconds", "sessions/s", "payload MB/s",
                   "payload bytes", "frame bytes"]  # fmt: skip
        parts += ["", render_markdown({"title": "Archive slices", "headers": headers,
                                       "rows": rows})]  # fmt: skip
        rows = []
        for r in big["restore"]:
            w = r["warm"]
            rows.append(
                [r["vault_sessions"], r["open_ms"], r["first_ms"], w["n"], w["p50_ms"],
                 w["p95_ms"], w["p99_ms"], w["max_ms"], r["repeat_ms"],
                 r["cli_wall_median_ms"] or "-"]
            )  # fmt: skip
        headers = ["vault sessions", "open ms", "first restore ms", "n", "p50 ms", "p95 ms",
                   "p99 ms", "max ms", "repeat (no-op) ms", "CLI wall median ms"]  # fmt: skip
        parts += ["", render_markdown({"title": "Restore", "headers": headers, "rows": rows})]
        final = big["restore"][-1]
        parts += ["", "Restore profile (cumulative):", "```", final["profile"]["cumulative"],
                  "```", "", "Restore profile (tottime):", "```", final["profile"]["tottime"],
                  "```"]  # fmt: skip
    for case in cases:
        if "archive_profile" in case:
            parts += ["", f"Archive profile, {case['case']} ({case['archive_profile_seconds']}s "
                      "under the profiler):", "```", case["archive_profile"]["cumulative"], "```",
                      "", "tottime:", "```", case["archive_profile"]["tottime"], "```"]  # fmt: skip
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="vault benchmarks (issue 4)")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument(
        "--big", type=int, default=None, help="generator sessions to archive (default 30,000)"
    )
    parser.add_argument("--budget", type=float, default=None, help="seconds for the big build")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument(
        "--restore-only",
        type=Path,
        default=None,
        help="only measure restore on an existing data root (sessions not restored yet)",
    )
    parser.add_argument("--restore-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.restore_child:
        spec = json.loads(args.restore_child)
        os.environ["MEMGRAPH_REDACTION"] = "off"
        result = restore_child(Path(spec["home"]), spec["sessions"], spec["profile"])
        print(json.dumps(result))
        return
    if args.restore_only:
        print(json.dumps(restore_only(args.restore_only), indent=1, default=str))
        return
    started = time.perf_counter()
    DATA.mkdir(parents=True, exist_ok=True)
    chat_corpus.prose()  # build the prose cache outside the timings
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "memgraph_ops"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit + ("+dirty(memgraph_ops)" if dirty else ""),
        "machine": machine(),
        "load_before": os.getloadavg(),
        "compression": [],
    }
    if args.quick:
        cases = [("chats", 300, False, True), ("agents", 200, False, False)]
        big, budget = args.big or 12_000, args.budget or 300
    else:
        cases = [
            ("chats", 3000, False, False),
            ("agents", 2000, False, True),
            ("chats", 300, False, False),
            ("agents", 300, False, False),
            ("chats", 300, True, False),
        ]
        big, budget = args.big or 30_000, args.budget or 780
    for kind, count, redaction, profile in cases:
        print(f"{kind} {count} (redaction {redaction})", file=sys.stderr, flush=True)
        case = compression_case(kind, count, redaction=redaction, profile=profile)
        results["compression"].append(case)
        (DATA / "results.json").write_text(json.dumps(results, indent=1, default=str))
        print(json.dumps({k: case[k] for k in ("case", "ratios", "archive")}), file=sys.stderr)
    if not args.skip_big:
        print(f"generator build, {big:,} sessions, budget {budget:.0f}s", file=sys.stderr)
        results["restore"] = restore_case(big, budget, n=300, profile_n=100)
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["load_after"] = os.getloadavg()
    (DATA / "results.json").write_text(json.dumps(results, indent=1, default=str))
    text = render(results)
    (DATA / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
