"""Speed against recall for each shortcut the scanner takes, on real data.

    python -m benchmarks.pii_frontier        # ~4 min on the 2-core machine

Recall: character level on presidio-research's labelled set (`../shared/data/pii/`), core types
micro and label-blind, as `pii_eval --set real` scores it. Speed: documents per second on the
real chats and real agent traces (as `pii_speed --real`), each mode on a fresh scanner (no cache
carried over), stock Presidio on a sample in the same run for the ratio.

Modes: NER off (patterns only); the default (NER only in windows around capitalised candidates,
none inside pattern findings, all of an all-lowercase chat message); NER on every text whole;
the default with two NER worker processes (the machine has two cores).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any

from benchmarks import pii_real
from benchmarks.pii_eval import CORE, predict_ours, score
from benchmarks.pii_evalset import DATA
from benchmarks.pii_speed import _time, run_stock

RESULTS = DATA / "pii_frontier.json"


def _modes() -> dict[str, Callable[[], Any]]:
    from memgraph_ops.privacy import Scanner

    return {
        "patterns only (no NER)": lambda: Scanner(ner=False),
        "default (NER in candidate windows)": lambda: Scanner(),
        "NER on every text whole": lambda: Scanner(ner_everywhere=True),
        "default, 2 NER workers": lambda: Scanner(workers=2, parallel_from=64),
    }


def _docs_per_s(make: Callable[[], Any], corpus: list[list[str]], batch: int = 512) -> float:
    scanner = make()
    # (64 distinct texts: enough to start the worker processes, which is not what is timed)
    scanner.scan([f"warm up {i}, Mary Smith" for i in range(64)])
    texts = [t for doc in corpus for t in doc]
    seconds = _time(
        lambda: [scanner.scan(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    )
    scanner.close()
    return len(corpus) / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pii_frontier")
    parser.add_argument("--stock-sample", type=int, default=400)
    args = parser.parse_args(argv)
    docs = pii_real.load()
    corpora = {"chat": pii_real.chat_messages(), "agent traces": pii_real.agent_messages()}
    stock = {
        name: run_stock(c, args.stock_sample, seed=11)["docs_per_s"] for name, c in corpora.items()
    }
    rows = []
    for mode, make in _modes().items():
        scanner = make()
        tally, _ = score(docs, predict_ours(docs, scanner)[0])
        scanner.close()
        core, blind = tally.aggregate(CORE), tally.any_label()
        row = {
            "mode": mode,
            "core_recall": core["micro_recall"],
            "core_precision": core["micro_precision"],
            "label_blind_recall": blind["recall"],
        }
        for name, corpus in corpora.items():
            rate = _docs_per_s(make, corpus)
            row[f"{name}_docs_per_s"] = round(rate, 1)
            row[f"{name}_x_stock"] = round(rate / stock[name], 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines = [
        "| mode | core recall | core precision | label-blind recall | chat x stock"
        " | traces x stock |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {r['mode']} | {r['core_recall']:.3f} | {r['core_precision']:.3f} | "
            f"{r['label_blind_recall']:.3f} | {r['chat_x_stock']}x | {r['agent traces_x_stock']}x |"
            for r in rows
        ),
    ]
    result = {"stock_docs_per_s": stock, "rows": rows, "table": "\n".join(lines)}
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, RESULTS)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
