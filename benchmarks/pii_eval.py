"""Character-level precision and recall per entity type: stock Presidio vs our scanner.

`python -m benchmarks.pii_eval [--fresh] [--set project|real]` evaluates both on the project's
set, `benchmarks/data/pii_evalset.jsonl` (built by `benchmarks.pii_evalset` if missing), or on
the shared real labelled set (`--set real`: `../shared/data/pii/`, see `benchmarks.pii_real`),
prints a side-by-side table and writes `benchmarks/data/pii_eval.json` (`pii_eval_real.json`),
including the 30 worst false negatives and false positives of ours. Stock predictions are cached
in `benchmarks/data/pii_stock_preds.json` (`…_real.json`; keyed by the set's hash and the
Presidio version); `--fresh` recomputes them.

Systems (each text of a document — a chat message, or one message of an agent trace — is
analysed on its own, as the redactor sees it):

- stock: `stock_analyzer().analyze(text, language="en")`, Presidio's default recognizers on
  the same spaCy pipeline, all its entities, its default score threshold (0: everything returned).
- ours: `Scanner().scan(texts)`, then `PrivacyPolicy().keep(span, text)` (default entities,
  threshold 0.5). The JSON-key name hint of `Redactor` (names under `"name"`-like keys of JSON
  *fields*) is not part of this path: here JSON is text inside a message.

Scoring rule (the same for both systems):

- Every predicted label maps to one row (a gold type) and is *compatible* with a set of gold
  types: its own; LOCATION and STREET_ADDRESS with each other (a city inside an address is
  part of it); the six secret types with each other (a JWT after "Bearer" is both); stock
  EMAIL with EMAIL_ADDRESS; stock DATE_TIME with DATE_OF_BIRTH; stock URL with URL_CREDENTIALS.
- Recall of gold type G = gold-G characters covered by a prediction compatible with G / gold-G
  characters. Precision of row R = characters of the (merged) predictions in row R that fall in
  gold spans of a compatible type / characters of those predictions.
- Stock labels we do not redact are not scored: DATE_TIME and URL count only where they overlap
  a gold DATE_OF_BIRTH or URL_CREDENTIALS span (a date or URL elsewhere is neither hit nor
  false positive — generous to stock); ORGANIZATION, NRP, AGE, ID, UUID, MAC_ADDRESS, CRYPTO,
  US_BANK_NUMBER, US_PASSPORT, US_ITIN, MEDICAL_LICENSE and UK_NHS are ignored. Stock has no
  recognizer for STREET_ADDRESS (only LOCATION, compatible), DATE_OF_BIRTH (only DATE_TIME) or
  any secret (only URL for URL_CREDENTIALS): its recall there is whatever those labels overlap.
- A second, label-blind view ("any label") counts every prediction of every label, scored or
  not, against every gold span: what would be hidden if every finding were redacted.
- "span R" = share of gold spans with at least 90% of their characters covered (compatible).
- Aggregates: micro (character-weighted: PRIVATE_KEY blocks weigh a lot) and macro (mean over
  types) over the core types (PERSON, EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS, CREDIT_CARD
  and the six secrets) and over all types.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import pii_real
from benchmarks.pii_evalset import DATA, EVALSET, TYPES, load

if TYPE_CHECKING:
    from memgraph_ops.privacy import Scanner

SETS = ("project", "real")
RESULTS = {"project": DATA / "pii_eval.json", "real": DATA / "pii_eval_real.json"}
STOCK_CACHE = {"project": DATA / "pii_stock_preds.json", "real": DATA / "pii_stock_preds_real.json"}

SECRETS = frozenset(
    {"API_KEY", "JWT", "PRIVATE_KEY", "BEARER_TOKEN", "URL_CREDENTIALS", "PASSWORD"}
)
CORE = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "STREET_ADDRESS",
    "CREDIT_CARD",
    *sorted(SECRETS),
)
STOCK_ROW = {"EMAIL": "EMAIL_ADDRESS", "DATE_TIME": "DATE_OF_BIRTH", "URL": "URL_CREDENTIALS"}
OVERLAP_ONLY = frozenset({"DATE_TIME", "URL"})

Pred = tuple[int, int, str, float]  # start, end, label, score (absolute offsets in the doc)


def row_of(label: str) -> str | None:
    if label in TYPES:
        return label
    return STOCK_ROW.get(label)


def compatible(row: str) -> frozenset[str]:
    if row in SECRETS:
        return SECRETS
    if row in ("LOCATION", "STREET_ADDRESS"):
        return frozenset({"LOCATION", "STREET_ADDRESS"})
    return frozenset({row})


# --- predictions ------------------------------------------------------------------------------


def _texts(docs: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """(doc index, offset, text) of every part of every document."""
    return [(i, s, d["text"][s:e]) for i, d in enumerate(docs) for s, e in d["parts"]]


def predict_ours(
    docs: list[dict[str, Any]], scanner: Scanner | None = None
) -> tuple[list[list[Pred]], dict[str, Any]]:
    from memgraph_ops.privacy import PrivacyPolicy, Scanner

    parts = _texts(docs)
    scanner = scanner or Scanner()
    policy = PrivacyPolicy()
    start = time.perf_counter()
    results = scanner.scan([t for _, _, t in parts])
    seconds = time.perf_counter() - start
    preds: list[list[Pred]] = [[] for _ in docs]
    for (i, offset, text), spans in zip(parts, results, strict=True):
        for s in spans:
            if policy.keep(s, text):
                preds[i].append((offset + s.start, offset + s.end, s.entity, s.score))
    return preds, {"seconds_incl_load": round(seconds, 2), "scanner_stats": dict(scanner.stats)}


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()[:16]
    return f"{digest}-presidio-{metadata.version('presidio-analyzer')}"


def _sources(which: str) -> list[Path]:
    return [EVALSET] if which == "project" else pii_real.paths()


def predict_stock(
    docs: list[dict[str, Any]], fresh: bool, which: str = "project"
) -> tuple[list[list[Pred]], dict[str, Any]]:
    key = _fingerprint(_sources(which))
    cache = STOCK_CACHE[which]
    if not fresh and cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return [[tuple(p) for p in doc] for doc in cached["preds"]], cached["info"]  # type: ignore[misc]
    from memgraph_ops.privacy._presidio import stock_analyzer

    analyzer = stock_analyzer()
    parts = _texts(docs)
    memo: dict[str, list[Pred]] = {}  # repeated system prompts: same text, same answer
    start = time.perf_counter()
    preds: list[list[Pred]] = [[] for _ in docs]
    for i, offset, text in parts:
        found = memo.get(text)
        if found is None:
            found = [
                (r.start, r.end, r.entity_type, round(float(r.score), 3))
                for r in analyzer.analyze(text, language="en")
            ]
            memo[text] = found
        preds[i].extend((offset + s, offset + e, label, score) for s, e, label, score in found)
    info = {
        "seconds": round(time.perf_counter() - start, 1),
        "distinct_texts": len(memo),
        "threshold": float(analyzer.default_score_threshold),
    }
    cache.parent.mkdir(parents=True, exist_ok=True)  # (not in a fresh clone: ignored by git)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "info": info, "preds": preds}))
    os.replace(tmp, cache)
    return preds, info


# --- scoring ----------------------------------------------------------------------------------


def _merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def typed_predictions(
    doc: dict[str, Any], preds: list[Pred], threshold: float = 0.0
) -> list[tuple[int, int, str]]:
    """(start, end, row) of the predictions the typed view scores."""
    out = []
    for s, e, label, score in preds:
        row = row_of(label)
        if row is None or score < threshold:
            continue
        if label in OVERLAP_ONLY and not any(
            g["type"] in compatible(row) and _overlap((s, e), (g["start"], g["end"]))
            for g in doc["spans"]
        ):
            continue
        out.append((s, e, row))
    return out


class Tally:
    """Character counts per type, over many documents."""

    def __init__(self) -> None:
        self.gold = defaultdict(int)
        self.covered = defaultdict(int)
        self.spans = defaultdict(int)
        self.spans_whole = defaultdict(int)
        self.pred = defaultdict(int)
        self.hit = defaultdict(int)
        self.any_gold = defaultdict(int)
        self.any_covered = defaultdict(int)
        self.any_pred = 0
        self.any_hit = 0

    def add(
        self, doc: dict[str, Any], preds: list[Pred], typed: list[tuple[int, int, str]]
    ) -> list[dict[str, Any]]:
        """Count one document; return its misses and false positives (for the worst lists)."""
        issues: list[dict[str, Any]] = []
        gold = doc["spans"]
        for g in gold:
            span = (g["start"], g["end"])
            size = span[1] - span[0]
            hits = _merge(
                (max(s, span[0]), min(e, span[1]))
                for s, e, row in typed
                if g["type"] in compatible(row) and _overlap((s, e), span)
            )
            covered = sum(e - s for s, e in hits)
            anywhere = sum(
                e - s
                for s, e in _merge(
                    (max(s, span[0]), min(e, span[1]))
                    for s, e, _, _ in preds
                    if _overlap((s, e), span)
                )
            )
            t = g["type"]
            self.gold[t] += size
            self.covered[t] += covered
            self.spans[t] += 1
            self.spans_whole[t] += covered >= 0.9 * size
            self.any_gold[t] += size
            self.any_covered[t] += anywhere
            if covered < size:
                issues.append(
                    {
                        "kind": "fn",
                        "type": t,
                        "start": span[0],
                        "end": span[1],
                        "missed": size - covered,
                        "got": sorted({row for s, e, row in typed if _overlap((s, e), span)}),
                    }
                )
        by_row: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for s, e, row in typed:
            by_row[row].append((s, e))
        for row, intervals in by_row.items():
            ok = compatible(row)
            for interval in _merge(intervals):
                hit = sum(
                    _overlap(interval, (g["start"], g["end"])) for g in gold if g["type"] in ok
                )
                self.pred[row] += interval[1] - interval[0]
                self.hit[row] += hit
                if hit < interval[1] - interval[0]:
                    issues.append(
                        {
                            "kind": "fp",
                            "type": row,
                            "start": interval[0],
                            "end": interval[1],
                            "extra": interval[1] - interval[0] - hit,
                        }
                    )
        for interval in _merge((s, e) for s, e, _, _ in preds):
            self.any_pred += interval[1] - interval[0]
            self.any_hit += sum(_overlap(interval, (g["start"], g["end"])) for g in gold)
        return issues

    def row(self, t: str) -> dict[str, Any]:
        return {
            "gold_spans": self.spans[t],
            "gold_chars": self.gold[t],
            "precision": _ratio(self.hit[t], self.pred[t]),
            "recall": _ratio(self.covered[t], self.gold[t]),
            "span_recall": _ratio(self.spans_whole[t], self.spans[t]),
            "pred_chars": self.pred[t],
            "any_label_recall": _ratio(self.any_covered[t], self.any_gold[t]),
        }

    def aggregate(self, types: Iterable[str]) -> dict[str, Any]:
        types = list(types)
        rows = [self.row(t) for t in types]
        precisions = [r["precision"] for r in rows if r["precision"] is not None]
        recalls = [r["recall"] for r in rows if r["recall"] is not None]
        return {
            "micro_precision": _ratio(
                sum(self.hit[t] for t in types), sum(self.pred[t] for t in types)
            ),
            "micro_recall": _ratio(
                sum(self.covered[t] for t in types), sum(self.gold[t] for t in types)
            ),
            "macro_precision": round(sum(precisions) / len(precisions), 4) if precisions else None,
            "macro_recall": round(sum(recalls) / len(recalls), 4) if recalls else None,
        }

    def any_label(self) -> dict[str, Any]:
        return {
            "precision": _ratio(self.any_hit, self.any_pred),
            "recall": _ratio(sum(self.any_covered.values()), sum(self.any_gold.values())),
        }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def score(
    docs: list[dict[str, Any]], preds: list[list[Pred]], threshold: float = 0.0
) -> tuple[Tally, list[tuple[dict[str, Any], dict[str, Any]]]]:
    tally = Tally()
    issues = []
    for doc, p in zip(docs, preds, strict=True):
        for issue in tally.add(doc, p, typed_predictions(doc, p, threshold)):
            issues.append((doc, issue))
    return tally, issues


def worst(
    issues: list[tuple[dict[str, Any], dict[str, Any]]], kind: str, n: int = 30
) -> list[dict[str, Any]]:
    """The `n` worst issues of one kind, spread over (type, template) groups by impact."""
    groups: dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    weight = "missed" if kind == "fn" else "extra"
    for doc, issue in issues:
        if issue["kind"] == kind:
            groups[(issue["type"], doc["template"])].append((doc, issue))
    ranked = sorted(groups.items(), key=lambda kv: -sum(i[weight] for _, i in kv[1]))
    for _, members in ranked:
        members.sort(key=lambda m: -m[1][weight])
    out: list[dict[str, Any]] = []
    depth = 0
    while len(out) < n and any(depth < len(m) for _, m in ranked):
        for (etype, template), members in ranked:
            if depth < len(members) and len(out) < n:
                doc, issue = members[depth]
                text = doc["text"]
                s, e = issue["start"], issue["end"]
                value = text[s:e] if e - s <= 80 else text[s : s + 60] + "…" + text[e - 15 : e]
                out.append(
                    {
                        "type": etype,
                        "template": template,
                        "doc": doc["id"],
                        "group_spans": len(members),
                        "group_chars": sum(i[weight] for _, i in members),
                        "snippet": (
                            text[max(0, s - 40) : s] + "«" + value + "»" + text[e : e + 30]
                        ).replace("\n", "⏎"),
                        **({"predicted_over_it": issue["got"]} if kind == "fn" else {}),
                    }
                )
        depth += 1
    return out


# --- report -----------------------------------------------------------------------------------


def _f(value: float | None) -> str:
    return "  —  " if value is None else f"{value:.3f}"


def _line(label: str, a: tuple[float | None, ...], b: tuple[float | None, ...]) -> str:
    left = " ".join(f"{_f(v):>7}" for v in a)
    right = " ".join(f"{_f(v):>7}" for v in b)
    return f"{label:<25} | {left} | {right}"


def table(stock: Tally, ours: Tally) -> str:
    cols = ("stock P", "stock R", "ours P", "ours R", "span R")
    header = f"{'type, gold spans':<25} | " + " ".join(f"{c:>7}" for c in cols[:2])
    header += " | " + " ".join(f"{c:>7}" for c in cols[2:])
    lines = [header, "-" * len(header)]
    for t in TYPES:
        a, b = stock.row(t), ours.row(t)
        label = f"{t:<18} {a['gold_spans']:>6}"
        lines.append(
            _line(
                label,
                (a["precision"], a["recall"]),
                (b["precision"], b["recall"], b["span_recall"]),
            )
        )
    lines.append("-" * len(header))
    for kind in ("micro", "macro"):
        for name, types in (("core", CORE), ("all", TYPES)):
            a, b = stock.aggregate(types), ours.aggregate(types)
            keys = (f"{kind}_precision", f"{kind}_recall")
            lines.append(
                _line(f"{name} {kind}", (a[keys[0]], a[keys[1]]), (b[keys[0]], b[keys[1]]))
            )
    a, b = stock.any_label(), ours.any_label()
    lines.append(
        _line("any label (all)", (a["precision"], a["recall"]), (b["precision"], b["recall"]))
    )
    return "\n".join(lines)


def _git() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "memgraph_ops/privacy"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + (" (privacy modules modified)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def evaluate(fresh: bool = False, which: str = "project") -> dict[str, Any]:
    docs = load() if which == "project" else pii_real.load()
    stock_preds, stock_info = predict_stock(docs, fresh, which)
    ours_preds, ours_info = predict_ours(docs)
    stock, _ = score(docs, stock_preds)
    stock_05, _ = score(docs, stock_preds, threshold=0.5)
    ours, issues = score(docs, ours_preds)
    by_kind = {}
    for kind in sorted({d["kind"] for d in docs}):
        idx = [i for i, d in enumerate(docs) if d["kind"] == kind]
        sub = [docs[i] for i in idx]
        s, _ = score(sub, [stock_preds[i] for i in idx])
        o, _ = score(sub, [ours_preds[i] for i in idx])
        by_kind[kind] = {"stock": s.aggregate(CORE), "ours": o.aggregate(CORE)}
    result = {
        "set": which,
        "documents": len(docs),
        "git": _git(),
        "stock": {
            "info": stock_info,
            "types": {t: stock.row(t) for t in TYPES},
            "core": stock.aggregate(CORE),
            "all": stock.aggregate(TYPES),
            "any_label": stock.any_label(),
        },
        "stock_threshold_0_5": {
            "types": {t: stock_05.row(t) for t in TYPES},
            "core": stock_05.aggregate(CORE),
            "all": stock_05.aggregate(TYPES),
        },
        "ours": {
            "info": ours_info,
            "types": {t: ours.row(t) for t in TYPES},
            "core": ours.aggregate(CORE),
            "all": ours.aggregate(TYPES),
            "any_label": ours.any_label(),
        },
        "core_by_kind": by_kind,
        "worst_false_negatives": worst(issues, "fn"),
        "worst_false_positives": worst(issues, "fp"),
        "table": table(stock, ours),
    }
    out = RESULTS[which]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    os.replace(tmp, out)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pii_eval", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--fresh", action="store_true", help="recompute stock predictions")
    parser.add_argument("--set", choices=SETS, default="project", help="which labelled set")
    args = parser.parse_args(argv)
    r = evaluate(args.fresh, args.set)
    print(f"{r['documents']} documents; stock {r['stock']['info']}; ours {r['ours']['info']}\n")
    print(r["table"])
    s5 = r["stock_threshold_0_5"]["core"]
    print(
        f"\nstock at threshold 0.5, core micro P/R: {s5['micro_precision']} / {s5['micro_recall']}"
    )
    for kind, v in r["core_by_kind"].items():
        st, ou = v["stock"], v["ours"]
        print(
            f"core micro {kind}: stock P/R {st['micro_precision']}/{st['micro_recall']}, "
            f"ours {ou['micro_precision']}/{ou['micro_recall']}"
        )
    for title, key in (
        ("false negatives", "worst_false_negatives"),
        ("false positives", "worst_false_positives"),
    ):
        print(f"\nworst {title} of ours (type, template, group spans/chars, snippet):")
        for w in r[key]:
            group = f"{w['group_spans']:>4}/{w['group_chars']:<6}"
            print(f"  {w['type']:<16} {w['template']:<18} {group} {w['snippet']}")
    print(f"\nwrote {RESULTS[args.set]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
