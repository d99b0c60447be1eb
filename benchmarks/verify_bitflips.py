"""How many single-bit flips in a lake data file are noticed, before and after digests.

Builds a data root in a temporary directory (a small compaction of synthetic sessions, then a
second one, whose start records the first one's digests), takes the `nodes` Prompt file of the
first compaction (the largest), and flips 30 random single bits in it, one at a time. For each flip:

- reading the table the way the library does (`lake.nodes()`, polars over Delta): error,
  different rows, or the same rows (what happened before `verify` existed);
- `verify` as if no digest had been recorded (Parquet decoded in full by Arrow and polars);
- `verify` with the digest recorded after the commit.

    .venv/bin/python benchmarks/verify_bitflips.py [--flips 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import memgraph_ops
from memgraph_ops.findings import LayerReport
from memgraph_ops.lake import _integrity, no_redaction
from memgraph_ops.lake.verify import verify_table
from tests.factories import session


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flips", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sessions", type=int, default=200)
    args = parser.parse_args()
    os.environ["MEMGRAPH_HOT_WINDOW_HOURS"] = "0"
    os.environ.setdefault("MEMGRAPH_PSEUDONYM_KEY", "0f" * 32)
    home = Path(tempfile.mkdtemp(prefix="bitflips-")) / "home"
    try:
        run(home, args.flips, args.seed, args.sessions)
    finally:
        shutil.rmtree(home.parent)


def run(home: Path, flips: int, seed: int, sessions: int) -> None:
    with memgraph_ops.open(home) as mg:
        words = "the a of to and in is it you that he was for on are with as his they be".split()
        rng = random.Random(seed)
        events = [e for i in range(sessions) for e in session(f"s{i}", 4, user=f"u{i % 7}")]
        for e in events:  # real prose varies: without it the file is mostly footer
            if "content" in e:
                e["content"] = " ".join(rng.choices(words, k=60)) + f" {rng.random()}"
        mg.ingest(events)
        mg.compact(redact=no_redaction)
        mg.ingest(session("late", 2, start=10_000))
        mg.compact(redact=no_redaction)
        reference = mg.lake.nodes().sort("id")
    table = home / "lake" / "nodes"
    from deltalake import DeltaTable

    delta = DeltaTable(str(table))
    manifest = _integrity.load_manifest(table, _integrity.table_id(table, delta))
    _, target = max(
        (size, _integrity.data_file(table, path))
        for path, size in _integrity.adds(delta)
        if "type=Prompt" in path and _integrity.file_key(path) in manifest.files
    )
    original = target.read_bytes()
    rng = random.Random(seed)
    outcome = {"read error": 0, "different rows": 0, "same rows": 0}
    without_digest = with_digest = 0
    for _ in range(flips):
        data = bytearray(original)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        target.write_bytes(bytes(data))
        try:
            with memgraph_ops.open(home) as mg:
                rows = mg.lake.nodes().sort("id")
            outcome["same rows" if rows.equals(reference) else "different rows"] += 1
        except BaseException as exc:  # a Rust panic is a BaseException
            if isinstance(exc, KeyboardInterrupt):
                raise
            outcome["read error"] += 1
        without_digest += _integrity.parquet_problem(target) is not None
        report = LayerReport("lake")
        verify_table(table, layer="lake", home=home, report=report)
        with_digest += any(p.path.endswith(target.name) for p in report.errors)
        target.write_bytes(original)
    print(f"file: {target.relative_to(home)} ({len(original):,} bytes), {flips} single-bit flips")
    print(f"reading the table (before verify): {outcome}")
    print(f"verify without a digest (Arrow and polars decode it): {without_digest}/{flips}")
    print(f"verify with the recorded digest: {with_digest}/{flips}")


if __name__ == "__main__":
    main()
