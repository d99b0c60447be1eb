"""Redaction of one very long message (issue 10, item 6): time per size, and recall.

    python -m benchmarks.pii_long_text time [--sizes 0.1 1 4 16] [--timeout 600] [--workers 1]
    python -m benchmarks.pii_long_text recall

`time` redacts, for each size, one Prompt event whose content is a message of that many bytes,
with `Redactor.__call__` as compaction calls it, in a fresh child process per size (so a size that
runs past `--timeout` is killed and reported as such). The message is built from real chat text:
the `chosen` transcripts of `../shared/data/chats/hh-rlhf-harmless-test.jsonl` (read at run time,
shuffled with a fixed seed; 2,312 conversations, 1.5 MB: a longer message repeats them, which the
NER piece cache then helps with; `--varied` rewrites each repetition), and after each conversation
one sentence with personal data or a secret (a name after "my name is" or "I spoke with", an
email, a US phone, a Luhn-valid card, an API key, a GitHub token, a street address; values vary).
Each size reports seconds, seconds per MB, findings per type, the NER work (distinct pieces and
characters sent to spaCy, the longest piece) and how many planted values are still in the
redacted text (must be 0; past 5,000 planted values, of a fixed sample of 5,000).

`recall` scores the scanner on the labelled presidio-research sets in `../shared/data/pii/`
(`generated_small.json`, 100 texts; `generated_large.json`, 2,109 texts) with the scoring of
`benchmarks.pii_eval` (character recall per type, labels mapped: ADDRESS -> STREET_ADDRESS), once
text by text, as the redactor sees short messages, and once with every text of a set joined into
one long message (blank lines between them): a long message must be redacted as well as its parts.

Results go to `benchmarks/data/pii_long_text.json` (time) and `pii_long_text_recall.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import string
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, emit, run_child, vm_hwm

SHARED = Path(os.environ.get("MEMGRAPH_SHARED_DATA", ROOT.parent / "shared" / "data"))
CHATS = SHARED / "chats" / "hh-rlhf-harmless-test.jsonl"
PII_SETS = {"small": SHARED / "pii" / "generated_small.json",
            "large": SHARED / "pii" / "generated_large.json"}  # fmt: skip
OUT = ROOT / "benchmarks" / "data"
TEST_KEY = bytes(range(32))

FIRST = ("Jane", "Robert", "Aisha", "Carlos", "Mei", "Olusegun", "Katarzyna", "Liam", "Priya",
         "Henrik", "Fatima", "Diego", "Ingrid", "Tomasz", "Yuki", "Amara")  # fmt: skip
LAST = ("Doe", "Okafor", "Garcia", "Nguyen", "Kowalski", "Lindqvist", "Haddad", "Brennan",
        "Moreau", "Tanaka", "Mensah", "Schultz", "Patel", "Ferreira")  # fmt: skip
STREETS = ("Maple Street", "Oak Avenue", "Birch Lane", "Cedar Road", "Elm Drive", "Willow Court")
CITIES = ("Springfield, IL 62704", "Portland, OR 97205", "Austin, TX 78701", "Albany, NY 12207")


def _luhn_card(rng: random.Random) -> str:
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    digits.append((10 - total % 10) % 10)
    s = "".join(map(str, digits))
    return " ".join(s[i : i + 4] for i in range(0, 16, 4))


def _pii_sentence(rng: random.Random) -> tuple[str, list[str]]:
    """One sentence with personal data or a secret, and the values planted in it."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    name = f"{first} {last}"
    alnum = string.ascii_letters + string.digits
    kind = rng.randrange(7)
    if kind == 0:
        return f"My name is {name} and I need help with this.", [name]
    if kind == 1:
        email = f"{first.lower()}.{last.lower()}{rng.randrange(100)}@example.com"
        return f"You can reach me at {email} if that is easier.", [email]
    if kind == 2:
        phone = f"({rng.randrange(201, 990)}) {rng.randrange(200, 999)}-{rng.randrange(10000):04d}"
        return f"Call me on {phone} after six.", [phone]
    if kind == 3:
        card = _luhn_card(rng)
        return f"I paid with my card {card} last week.", [card]
    if kind == 4:
        key = "sk-proj-" + "".join(rng.choice(alnum) for _ in range(40))
        token = "ghp_" + "".join(rng.choice(alnum) for _ in range(36))
        return f"Here is my config: OPENAI_API_KEY={key} and the token {token}.", [key, token]
    if kind == 5:
        street = f"{rng.randrange(10, 9999)} {rng.choice(STREETS)}"
        return f"Ship it to {street}, {rng.choice(CITIES)} please.", [street]
    return f"Yesterday I spoke with {name} about it.", [name]


_LOWER_WORD = re.compile(r"\b[a-z]+\b")


def build_message(size: int, seed: int = 7, varied: bool = False) -> tuple[str, list[str]]:
    """A message of exactly `size` characters (~bytes: the text is nearly all ASCII), and the
    personal values planted in it (those cut off by the end are left out).

    The conversations hold 1.5 MB: a longer message repeats them, and NER then finds most of
    its pieces in its cache. With `varied`, each repetition has a third of its lower-case words
    replaced by random words of the corpus, so that (nearly) no NER piece repeats."""
    rng = random.Random(seed)
    with open(CHATS, encoding="utf-8") as handle:
        conversations = [json.loads(line)["chosen"] for line in handle if line.strip()]
    vocabulary = sorted({w for c in conversations for w in _LOWER_WORD.findall(c)})

    def vary(match: re.Match[str]) -> str:
        return rng.choice(vocabulary) if rng.random() < 1 / 3 else match.group()

    parts: list[str] = []
    planted: list[tuple[int, str]] = []
    length = 0
    order: list[str] = []
    passes = 0
    while length < size:
        if not order:
            order = conversations[:]
            rng.shuffle(order)
            passes += 1
        conversation = order.pop()
        parts.append(_LOWER_WORD.sub(vary, conversation) if varied and passes > 1 else conversation)
        length += len(parts[-1])
        sentence, values = _pii_sentence(rng)
        parts.append(" " + sentence)
        planted.extend((length + 1 + sentence.index(v), v) for v in values)
        length += len(parts[-1])
    text = "".join(parts)[:size]
    return text, [v for at, v in planted if at + len(v) <= size]


def _redactor(workers: int) -> Any:
    from memgraph_ops.privacy import PrivacyConfig, Pseudonymizer, Redactor

    return Redactor(Pseudonymizer(TEST_KEY), PrivacyConfig(workers=workers))


def _frame(text: str) -> Any:
    import polars as pl

    from memgraph_ops.events import normalize

    event = {"event_id": "e1", "op": "upsert", "kind": "node", "type": "Prompt", "id": "p1",
             "tenant": "acme", "session_id": "s1", "occurred_at": "2026-01-01T00:00:00+00:00",
             "content": text}  # fmt: skip
    frame = normalize([event])
    return frame.with_columns(pl.lit(1, dtype=pl.Int64).alias("seq"))


def one(mb: float, workers: int, profile: bool, varied: bool) -> None:
    """Child: redact one message of `mb` MB and report."""
    from memgraph_ops.privacy import scanner as scanner_module

    size = int(mb * 1_000_000)
    text, planted = build_message(size, varied=varied)
    frame = _frame(text)
    redactor = _redactor(workers)
    redactor.redact_text("warm-up: Jane Doe, jane@example.com", "acme")
    pieces: list[int] = []
    ner_spans = scanner_module.ner_spans

    def counting(nlp: Any, batch: list[str], batch_size: int) -> Any:
        pieces.extend(map(len, batch))
        return ner_spans(nlp, batch, batch_size)

    scanner_module.ner_spans = counting  # type: ignore[assignment]
    start = time.perf_counter()
    if profile:
        from benchmarks._common import profile_top

        holder: list[Any] = []
        top = profile_top(lambda: holder.append(redactor(frame)), limit=20)
        redaction = holder[0]
    else:
        top = []
        redaction = redactor(frame)
    seconds = time.perf_counter() - start
    out = redaction.events["content"][0]
    # (each check scans the whole output: past 5,000 values, a fixed sample of them)
    checked = planted if len(planted) <= 5000 else random.Random(0).sample(planted, 5000)
    leaked = [v for v in checked if v in out]
    findings = dict(
        zip(redaction.findings["entity_type"], redaction.findings["count"], strict=True)
    )
    emit(
        event="done",
        mb=mb,
        chars=len(text),
        seconds=round(seconds, 2),
        s_per_mb=round(seconds / mb, 2),
        planted=len(planted),
        checked=len(checked),
        leaked=len(leaked),
        leaked_sample=leaked[:5],
        findings=findings,
        scanner_stats=redactor.scanner.stats,
        ner_pieces_in_process=len(pieces),
        longest_ner_piece=max(pieces, default=0),
        max_rss=vm_hwm(),
        profile=top,
    )
    redactor.scanner.close()


def time_sizes(
    sizes: list[float], timeout: float, workers: int, profile: bool, varied: bool
) -> dict[str, Any]:
    rows = []
    for mb in sizes:
        args = ["one", "--mb", str(mb), "--workers", str(workers)]
        args += [*(["--profile"] if profile else []), *(["--varied"] if varied else [])]
        run = run_child("benchmarks.pii_long_text", args, timeout_s=timeout)
        row = dict(run.final) or {"mb": mb, "seconds": None}
        row.pop("event", None)
        row["timed_out"] = run.timed_out
        row["wall_incl_startup"] = round(run.seconds, 1)
        if run.returncode and not run.timed_out:
            row["error"] = run.stderr[-1500:]
        rows.append(row)
        shown = f">{timeout:.0f} s (killed)" if run.timed_out else f"{row.get('seconds')} s"
        print(f"{mb:>6} MB: {shown:>18}  s/MB {row.get('s_per_mb')}  leaked "
              f"{row.get('leaked')}/{row.get('checked')}  findings {row.get('findings')}  "
              f"longest NER piece {row.get('longest_ner_piece')}", flush=True)  # fmt: skip
    return {"git": _git(), "workers": workers, "varied": varied, "load": os.getloadavg(),
            "sizes": rows}  # fmt: skip


# --- recall on the labelled presidio-research sets --------------------------------------------

LABELS = {"PERSON": "PERSON", "EMAIL_ADDRESS": "EMAIL_ADDRESS", "PHONE_NUMBER": "PHONE_NUMBER",
          "ADDRESS": "STREET_ADDRESS", "LOCATION": "LOCATION", "CREDIT_CARD": "CREDIT_CARD",
          "IBAN_CODE": "IBAN_CODE", "IP_ADDRESS": "IP_ADDRESS", "US_SSN": "US_SSN",
          "US_DRIVER_LICENSE": "US_DRIVER_LICENSE"}  # fmt: skip
"""presidio-research labels we score (DATE_TIME is any date, not a date of birth; ORGANIZATION,
TITLE, PREFIX and DOMAIN_NAME are not redacted by design)."""


def _docs(path: Path) -> list[dict[str, Any]]:
    records = json.loads(path.read_text(encoding="utf-8"))
    return [
        {
            "id": f"{path.stem}-{i}",
            "kind": "chat",
            "template": str(r.get("template_id")),
            "text": r["full_text"],
            "parts": [[0, len(r["full_text"])]],
            "spans": [
                {
                    "type": LABELS[s["entity_type"]],
                    "start": s["start_position"],
                    "end": s["end_position"],
                }
                for s in r["spans"]
                if s["entity_type"] in LABELS
            ],
        }
        for i, r in enumerate(records)
    ]


def _joined(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """All documents as one long message, blank lines between them, spans shifted."""
    texts, spans, offset = [], [], 0
    for d in docs:
        texts.append(d["text"])
        spans.extend(
            {**s, "start": s["start"] + offset, "end": s["end"] + offset} for s in d["spans"]
        )
        offset += len(d["text"]) + 2
    text = "\n\n".join(texts)
    return {"id": "joined", "kind": "chat", "template": "joined", "text": text,
            "parts": [[0, len(text)]], "spans": spans}  # fmt: skip


def recall() -> dict[str, Any]:
    from benchmarks.pii_eval import predict_ours, score
    from benchmarks.pii_evalset import TYPES

    result: dict[str, Any] = {"git": _git()}
    for name, path in PII_SETS.items():
        docs = _docs(path)
        joined = [_joined(docs)]
        views = {}
        for view, subset in (("per_text", docs), ("one_message", joined)):
            preds, info = predict_ours(subset)
            tally, _ = score(subset, preds)
            views[view] = {
                "seconds": info["seconds_incl_load"],
                "types": {t: tally.row(t) for t in TYPES if tally.spans[t]},
            }
        result[name] = {"texts": len(docs), "chars": len(joined[0]["text"]), **views}
        print(f"\n{name}: {len(docs)} texts, {len(joined[0]['text'])} chars")
        print(f"{'type':<18} {'spans':>5}  {'R per text':>10}  {'R one msg':>9}")
        for t, row in views["per_text"]["types"].items():
            other = views["one_message"]["types"][t]["recall"]
            print(f"{t:<18} {row['gold_spans']:>5}  {row['recall']:>10.3f}  {other:>9.3f}")
    return result


def _git() -> str:
    from benchmarks.pii_eval import _git as git

    return git()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pii_long_text")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("time", help="seconds to redact one message per size")
    t.add_argument("--sizes", type=float, nargs="+", default=[0.1, 1, 4, 16])
    t.add_argument("--timeout", type=float, default=600)
    t.add_argument("--workers", type=int, default=1, help="NER processes (compaction: 2)")
    t.add_argument("--profile", action="store_true")
    t.add_argument("--varied", action="store_true", help="no verbatim repetition past 1.5 MB")
    o = sub.add_parser("one", help="(child) one size")
    o.add_argument("--mb", type=float, required=True)
    o.add_argument("--workers", type=int, default=1)
    o.add_argument("--profile", action="store_true")
    o.add_argument("--varied", action="store_true")
    sub.add_parser("recall", help="per-type recall on ../shared/data/pii, per text and joined")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.command == "one":
        one(args.mb, args.workers, args.profile, args.varied)
        return 0
    if args.command == "time":
        result = time_sizes(args.sizes, args.timeout, args.workers, args.profile, args.varied)
        path = OUT / ("pii_long_text_varied.json" if args.varied else "pii_long_text.json")
    else:
        result = recall()
        path = OUT / "pii_long_text_recall.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    os.replace(tmp, path)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
