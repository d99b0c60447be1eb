"""Detection speed: our scanner vs stock Presidio, same corpus, same process.

`python -m benchmarks.pii_speed [--stock-sample 400] [--batch 512] [--no-profile] [--real]` reads
`benchmarks/data/pii_evalset.jsonl` (built if missing) and writes `benchmarks/data/pii_speed.json`;
with `--real`, real chats (hh-rlhf, per message) and real agent traces (SWE-agent, OpenHands,
per message) from `../shared/data/` instead, into `pii_speed_real.json`.

Corpora:
- chat: the chat documents of the evaluation set (one text each: short prompts, pasted emails,
  code, JSON tool arguments, logs).
- agent: the agent traces, each split into its messages (system prompt, user turn, tool call,
  tool result, answer) as compaction sees them: one text per event. The system prompts are a
  handful of 1-3 KB texts repeated across traces.
- agent, whole trace: the same traces as one text each (nothing repeats verbatim): what the
  content cache cannot help with.

Systems:
- stock: `stock_analyzer().analyze(text, language="en")` in a loop, on a seeded sample of
  `--stock-sample` documents (every message of a sampled trace), to keep the run short.
- ours: `Scanner().scan(texts)` over the whole corpus in batches of `--batch` texts; one scanner
  per corpus, its cache persisting across batches as in compaction.
- ours + redactor: the full `Redactor` path (scan, policy, keyed pseudonyms, findings) over
  events frames of `--batch` Prompt events, with a test key.

Ratios compare documents per second (ours on the full corpus, stock on its sample). Model
loading and warm-up are timed on their own lines; "end to end" adds them to the time for the
full corpus (stock's extrapolated from its sample rate). A cProfile of ours on each corpus shows
where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import time
from collections.abc import Callable
from typing import Any

from benchmarks import pii_real
from benchmarks.pii_evalset import DATA, load

RESULTS = DATA / "pii_speed.json"
RESULTS_REAL = DATA / "pii_speed_real.json"
WARMUP = [
    "Warm-up: Jane Doe lives at 12 Oak Street, Springfield, IL 62704 and her email is jd@x.org.",
    "Another warm-up text with Paris, Berlin and a phone number 415-555-0100.",
]


def _mb(texts: list[str]) -> float:
    return sum(len(t.encode()) for t in texts) / 1e6


def _corpora(docs: list[dict[str, Any]]) -> dict[str, list[list[str]]]:
    """Per corpus: documents, each a list of texts (scanned one by one)."""
    chat = [[d["text"]] for d in docs if d["kind"] == "chat"]
    agent = [[d["text"][s:e] for s, e in d["parts"]] for d in docs if d["kind"] == "agent"]
    whole = [[d["text"]] for d in docs if d["kind"] == "agent"]
    return {"chat": chat, "agent (per message)": agent, "agent (whole trace)": whole}


def _time(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_stock(corpus: list[list[str]], sample: int, seed: int) -> dict[str, Any]:
    from memgraph_ops.privacy._presidio import stock_analyzer

    analyzer = stock_analyzer()
    picked = random.Random(seed).sample(corpus, min(sample, len(corpus)))
    texts = [t for doc in picked for t in doc]

    def loop() -> None:
        for text in texts:
            analyzer.analyze(text, language="en")

    seconds = _time(loop)
    return {
        "docs": len(picked),
        "texts": len(texts),
        "mb": _mb(texts),
        "seconds": seconds,
        "docs_per_s": len(picked) / seconds,
        "mb_per_s": _mb(texts) / seconds,
    }


def _batches(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def run_ours(corpus: list[list[str]], batch: int) -> dict[str, Any]:
    from memgraph_ops.privacy import Scanner

    scanner = Scanner()
    texts = [t for doc in corpus for t in doc]

    def loop() -> None:
        for chunk in _batches(texts, batch):
            scanner.scan(chunk)

    seconds = _time(loop)
    return {
        "docs": len(corpus),
        "texts": len(texts),
        "mb": _mb(texts),
        "seconds": seconds,
        "docs_per_s": len(corpus) / seconds,
        "mb_per_s": _mb(texts) / seconds,
        "stats": dict(scanner.stats),
    }


def run_redactor(corpus: list[list[str]], batch: int) -> dict[str, Any]:
    import polars as pl

    from memgraph_ops.model import EVENT_SCHEMA
    from memgraph_ops.privacy import Pseudonymizer, Redactor

    redactor = Redactor(Pseudonymizer(bytes.fromhex("0f" * 32)))
    texts = [t for doc in corpus for t in doc]
    schema = pl.Schema(pl.from_arrow(EVENT_SCHEMA.empty_table()).schema)  # type: ignore[union-attr]
    frames = []
    for b, chunk in enumerate(_batches(texts, batch)):
        n = len(chunk)
        columns: dict[str, list[Any]] = {name: [None] * n for name in schema}
        columns.update(
            event_id=[f"e{b}-{i}" for i in range(n)],
            op=["upsert"] * n,
            kind=["node"] * n,
            type=["Prompt"] * n,
            id=[f"p{b}-{i}" for i in range(n)],
            tenant=["acme"] * n,
            session_id=[f"s{b}-{i // 5}" for i in range(n)],
            content=chunk,
        )
        frame = pl.DataFrame(columns, schema=schema)
        frames.append(frame.with_columns(pl.int_range(1, n + 1, dtype=pl.Int64).alias("seq")))
    redacted = 0

    def loop() -> None:
        nonlocal redacted
        for frame in frames:
            redacted += redactor(frame).findings.height

    seconds = _time(loop)
    return {
        "docs": len(corpus),
        "texts": len(texts),
        "mb": _mb(texts),
        "seconds": seconds,
        "docs_per_s": len(corpus) / seconds,
        "mb_per_s": _mb(texts) / seconds,
        "finding_rows": redacted,
    }


def profile_ours(corpus: list[list[str]], batch: int, top: int = 18) -> dict[str, Any]:
    from memgraph_ops.privacy import Scanner

    scanner = Scanner()
    texts = [t for doc in corpus for t in doc]
    profiler = cProfile.Profile()
    profiler.enable()
    for chunk in _batches(texts, batch):
        scanner.scan(chunk)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    buckets: dict[str, float] = {}
    for (filename, _, func), (_, _, _tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "privacy" in filename and func in (
            "find_patterns",
            "_ner_windows",
            "_resolve",
            "_add_ner",
            "ner_spans",
            "_detect",
            "scan",
        ):
            buckets[func] = max(buckets.get(func, 0.0), ct)
    spacy = sum(
        ct
        for (filename, _, func), (_, _, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
        if func == "pipe" and "spacy" in filename and "language" in filename
    )
    buckets["spacy Language.pipe"] = spacy
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return {
        "total_s": round(total, 3),
        "cumulative_s": {k: round(v, 3) for k, v in sorted(buckets.items(), key=lambda kv: -kv[1])},
        "top_tottime": lines[start : start + top + 1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pii_speed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--stock-sample", type=int, default=400)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-redactor", action="store_true")
    parser.add_argument(
        "--real", action="store_true", help="real chats and agent traces from ../shared/data"
    )
    args = parser.parse_args(argv)
    process_start = time.perf_counter()

    if args.real:
        corpora = {
            "real chat (per message)": pii_real.chat_messages(),
            "real agent traces (per message)": pii_real.agent_messages(),
        }
    else:
        corpora = _corpora(load())
    load_times: dict[str, float] = {}
    start = time.perf_counter()
    import spacy  # noqa: F401
    from presidio_analyzer import AnalyzerEngine  # noqa: F401

    from memgraph_ops.privacy import Scanner
    from memgraph_ops.privacy._presidio import stock_analyzer

    load_times["imports (spaCy, Presidio, ours)"] = time.perf_counter() - start
    warm = Scanner()
    load_times["ours: load pipeline + warm-up"] = _time(lambda: (warm.nlp, warm.scan(WARMUP)))
    load_times["stock: build AnalyzerEngine + warm-up"] = _time(
        lambda: [stock_analyzer().analyze(t, language="en") for t in WARMUP]
    )

    results: dict[str, Any] = {
        "params": vars(args),
        "load_s": {k: round(v, 2) for k, v in load_times.items()},
        "corpora": {},
    }
    for name, corpus in corpora.items():
        texts = [t for d in corpus for t in d]
        print(f"{name}: {len(corpus)} docs, {len(texts)} texts, {_mb(texts):.2f} MB", flush=True)
        row: dict[str, Any] = {"ours": run_ours(corpus, args.batch)}
        if not args.no_redactor and name != "agent (whole trace)":
            row["ours+redactor"] = run_redactor(corpus, args.batch)
        row["stock"] = run_stock(corpus, args.stock_sample, args.seed)
        row["ratio_docs_per_s"] = row["ours"]["docs_per_s"] / row["stock"]["docs_per_s"]
        if "ours+redactor" in row:
            row["ratio_redactor"] = row["ours+redactor"]["docs_per_s"] / row["stock"]["docs_per_s"]
        stock_full = len(corpus) / row["stock"]["docs_per_s"]
        ours_load = load_times["ours: load pipeline + warm-up"]
        stock_load = load_times["stock: build AnalyzerEngine + warm-up"]
        row["end_to_end_s"] = {
            "ours": ours_load + row["ours"]["seconds"],
            "stock (extrapolated)": stock_load + stock_full,
        }
        row["ratio_end_to_end"] = (
            row["end_to_end_s"]["stock (extrapolated)"] / row["end_to_end_s"]["ours"]
        )
        results["corpora"][name] = row
        ours, stock = row["ours"], row["stock"]
        print(
            f"  ours {ours['docs_per_s']:.0f} docs/s {ours['mb_per_s']:.3f} MB/s | "
            f"stock {stock['docs_per_s']:.1f} docs/s {stock['mb_per_s']:.3f} MB/s | "
            f"ratio {row['ratio_docs_per_s']:.1f}x, end to end {row['ratio_end_to_end']:.1f}x",
            flush=True,
        )
    if not args.no_profile:
        results["profile"] = {
            name: profile_ours(corpus, args.batch)
            for name, corpus in corpora.items()
            if name != "agent (whole trace)"
        }
    results["process_s"] = round(time.perf_counter() - process_start, 1)
    results["table"] = table(results)
    print()
    print(results["table"])
    for name, prof in results.get("profile", {}).items():
        print(f"\nprofile of ours, {name}: total {prof['total_s']} s")
        print(f"cumulative: {prof['cumulative_s']}")
        print("\n".join(prof["top_tottime"]))
    out = RESULTS_REAL if args.real else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, default=float))
    os.replace(tmp, out)
    print(f"\nwhole process {results['process_s']} s; wrote {out}")
    return 0


def table(results: dict[str, Any]) -> str:
    lines = [f"{'load':<44} seconds"]
    lines += [f"  {k:<42} {v:>7.2f}" for k, v in results["load_s"].items()]
    cols = f"{'docs':>6} {'MB':>6} {'s':>7} {'docs/s':>8} {'MB/s':>7} {'ratio':>7}"
    header = f"{'corpus / system':<44} {cols}"
    lines += ["", header, "-" * len(header)]
    for name, row in results["corpora"].items():
        for system in ("stock", "ours", "ours+redactor"):
            if system not in row:
                continue
            r = row[system]
            ratio = r["docs_per_s"] / row["stock"]["docs_per_s"]
            figures = (
                f"{r['docs']:>6} {r['mb']:>6.2f} {r['seconds']:>7.2f} "
                f"{r['docs_per_s']:>8.1f} {r['mb_per_s']:>7.3f} {ratio:>6.1f}x"
            )
            lines.append(f"{name + ' / ' + system:<44} {figures}")
        e2e = row["end_to_end_s"]
        lines.append(
            f"{name + ' / end to end incl. load':<44} ours {e2e['ours']:.1f} s vs stock "
            f"{e2e['stock (extrapolated)']:.1f} s (extrapolated): {row['ratio_end_to_end']:.1f}x"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
