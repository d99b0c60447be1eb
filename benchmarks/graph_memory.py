"""Shared graph memory (CR-021): cached snapshot reads against serialising on every request,
and diff apply latency, embedded and through the service.

    python -m benchmarks.graph_memory          # about two minutes

Graphs: a system graph of custom FUNC / FLOW / REQ nodes with ~80-character descriptions and
`calls` / `contains` / `satisfies` edges, at CR-021's size (180 nodes, 350 edges) and at 10,000
nodes (20,000 edges), imported through `Memgraph.import_graph` into a fresh data root. Side by
side, in one run:

- *cached*: `Memgraph.snapshot` (the freshness check: HOT's change stamp and one `stat` per
  lake table, then the shared text);
- *serialise per request*: `format_e.serialize` of the graph already in memory (what CR-021
  measured at ~10 ms: the peer without a cache);
- *rebuild per request*: reading the graph from HOT and the lake and serialising it (what a
  server without a cache does);
- through the service: `GET /v1/graphs/{id}` with `If-None-Match` (304) and without (200);
- diff apply: a 20-line diff (10 nodes, 10 edges) against the current version, embedded and
  through the service.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

import memgraph_ops
from benchmarks._common import ROOT, percentiles, ratio
from benchmarks.service import TENANT, served
from memgraph_ops.memory.format_e import parse, serialize

RESULTS = ROOT / "benchmarks" / "data" / "graph_memory.json"
SIZES = ((180, 350), (10_000, 20_000))
READS = 2_000
DIFFS = 50
TYPES = {
    "nodes": {
        "FUNC": {"abbreviation": "FN", "properties": {"module": "string"}},
        "FLOW": {"abbreviation": "FLW"},
        "REQ": {"abbreviation": "REQ"},
    },
    "edges": {
        "calls": {"from": ["FUNC"], "to": ["FUNC"]},
        "contains": {"from": ["FLOW"], "to": ["FUNC"]},
        "satisfies": {"from": ["FUNC", "FLOW"], "to": ["REQ"]},
    },
}
_WORDS = (
    "charge card retry ledger refund invoice customer token webhook settle balance audit "
    "currency fraud score limit notify queue batch export report schedule tax"
).split()


def system_graph(nodes: int, edges: int, seed: int = 7) -> str:
    """A Format E system graph of that many nodes and (about) that many edges."""
    rng = random.Random(seed)
    kinds = [("FUNC", "FN")] * 8 + [("FLOW", "FLW")] + [("REQ", "REQ")]
    made: list[tuple[str, str]] = []
    lines = ["## Nodes"]
    for i in range(nodes):
        kind, abbr = kinds[i % len(kinds)]
        name = " ".join(rng.choice(_WORDS) for _ in range(2)).title()
        node_id = f"{name.replace(' ', '')}.{abbr}.{i + 1:05d}"
        about = " ".join(rng.choice(_WORDS) for _ in range(12))
        props = f'|{{"module":"{rng.choice(_WORDS)}"}}' if kind == "FUNC" else ""
        lines.append(f"+ {name}|{kind}|{node_id}|{about}{props}")
        made.append((node_id, kind))
    funcs = [i for i, k in made if k == "FUNC"]
    flows = [i for i, k in made if k == "FLOW"]
    reqs = [i for i, k in made if k == "REQ"]
    wanted: set[str] = set()
    while len(wanted) < edges:
        pick = rng.random()
        if pick < 0.7:
            wanted.add(f"{rng.choice(funcs)} -calls-> {rng.choice(funcs)}")
        elif pick < 0.85:
            wanted.add(f"{rng.choice(flows)} -contains-> {rng.choice(funcs)}")
        else:
            wanted.add(f"{rng.choice(funcs + flows)} -satisfies-> {rng.choice(reqs)}")
    return "\n".join([*lines, "## Edges", *sorted(wanted)]) + "\n"


def _samples(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _diff(base: str, round_: int, funcs: list[str]) -> str:
    """Ten new FUNC nodes and an edge from each to an existing one."""
    lines = ["<operations>", f"<base_snapshot>{base}</base_snapshot>"]
    for i in range(10):
        lines.append(f"+ Bench {round_} {i}|FUNC|Bench{round_}x{i}.FN.001|added by the benchmark")
    lines += [f"+ Bench{round_}x{i}.FN.001 -calls-> {funcs[i]}" for i in range(10)]
    return "\n".join([*lines, "</operations>"])


def measure(nodes: int, edges: int, work: Path) -> dict[str, Any]:
    text = system_graph(nodes, edges)
    home = work / f"home-{nodes}"
    row: dict[str, Any] = {"nodes": nodes, "edges": edges, "snapshot_bytes": len(text.encode())}
    with memgraph_ops.open(home) as mg:
        mg.register_types(TENANT, TYPES)
        start = time.perf_counter()
        mg.import_graph("system", text, tenant=TENANT)
        row["import_s"] = round(time.perf_counter() - start, 2)
        snapshot = mg.snapshot("system", tenant=TENANT)
        assert snapshot.graph == parse(text), "the imported graph must read back exactly"
        graph = snapshot.graph
        reads = READS if nodes < 1_000 else READS // 4
        row["cached"] = percentiles(_samples(lambda: mg.snapshot("system", tenant=TENANT), reads))
        row["serialise_per_request"] = percentiles(_samples(lambda: serialize(graph), reads // 4))
        rebuild = lambda: serialize(mg.graph_state("system", tenant=TENANT).graph)  # noqa: E731
        row["rebuild_per_request"] = percentiles(_samples(rebuild, 20))
        funcs = [n.id for n in graph.nodes if n.type == "FUNC"]
        applied = []
        for round_ in range(DIFFS):
            base = mg.snapshot("system", tenant=TENANT).version
            start = time.perf_counter()
            mg.apply_diff("system", _diff(base, round_, funcs), tenant=TENANT)
            applied.append(time.perf_counter() - start)
        row["diff_apply_20_lines"] = percentiles(applied)
        first_read = []
        for round_ in range(DIFFS, DIFFS + 10):  # a snapshot read right after a write
            base = mg.snapshot("system", tenant=TENANT).version
            mg.apply_diff("system", _diff(base, round_, funcs), tenant=TENANT)
            first_read += _samples(lambda: mg.snapshot("system", tenant=TENANT), 1)
        row["first_read_after_write"] = percentiles(first_read)
    with served(home, work / f"serve-{nodes}.log") as (url, key):
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=auth, timeout=60) as http:
            path = "/v1/graphs/system"
            full = http.get(path)
            etag = full.headers["ETag"]
            n = reads // 4
            row["http_200"] = percentiles(_samples(lambda: http.get(path), n))
            row["http_304"] = percentiles(
                _samples(lambda: http.get(path, headers={"If-None-Match": etag}), n)
            )
            applied = []
            for round_ in range(DIFFS + 10, 2 * DIFFS + 10):
                base = http.get(path).headers["X-Graph-Version"]
                body = _diff(base, round_, funcs)
                start = time.perf_counter()
                answer = http.post(f"{path}/diff", content=body)
                applied.append(time.perf_counter() - start)
                assert answer.status_code == 200, answer.text
            row["http_diff_apply_20_lines"] = percentiles(applied)
    row["cached_vs_serialise"] = ratio(
        row["serialise_per_request"]["p95_ms"], row["cached"]["p95_ms"]
    )
    row["cached_vs_rebuild"] = ratio(row["rebuild_per_request"]["p95_ms"], row["cached"]["p95_ms"])
    return row


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="graph-memory-") as tmp:
        rows = [measure(n, e, Path(tmp)) for n, e in SIZES]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2))
    columns = [
        "graph", "snapshot", "cached p95", "serialise p95", "rebuild p95", "× serialise",
        "× rebuild", "read after a diff p95", "HTTP 304 p95", "HTTP 200 p95",
        "diff (20 lines) p95", "diff via HTTP p95",
    ]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|---" + "|---:" * (len(columns) - 1) + "|")
    for r in rows:
        print(
            f"| {r['nodes']:,} nodes / {r['edges']:,} edges | {r['snapshot_bytes'] / 1024:.0f} KB "
            f"| {r['cached']['p95_ms']} ms | {r['serialise_per_request']['p95_ms']} ms "
            f"| {r['rebuild_per_request']['p95_ms']} ms | {r['cached_vs_serialise']}x "
            f"| {r['cached_vs_rebuild']}x | {r['first_read_after_write']['p95_ms']} ms "
            f"| {r['http_304']['p95_ms']} ms | {r['http_200']['p95_ms']} ms "
            f"| {r['diff_apply_20_lines']['p95_ms']} ms "
            f"| {r['http_diff_apply_20_lines']['p95_ms']} ms |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
