"""Observatory benchmark: full recompute at scale vs networkx, traversal p95, incremental hour.

    .venv/bin/python -m benchmarks.observatory [--edges 10000000] [--nx-edges 1000000]

The lake is synthesised straight into Delta with numpy (sessions of FOLLOWS chains, responses,
tool calls, HANDLED_BY / INSTANTIATES / TRANSFERS_TO to 9 agents and 12 templates): the workload
generator would need hours for 10M edges. Each phase runs in a child process that reports its
own peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from deltalake import write_deltalake

T0 = datetime(2025, 5, 1, tzinfo=UTC)
AGENTS = [f"Agent{i}.AG.{i:03d}" for i in range(9)]
TEMPLATES = [f"T{i}.TPL.{i:03d}" for i in range(12)]
PARENT = {i: (i - 1) // 2 if i else None for i in range(12)}  # a binary inheritance tree


def synth(
    root: Path,
    edges_target: int,
    *,
    seed: int = 1,
    start: datetime = T0,
    prefix: str = "",
    days: float = 30.0,
    write_globals: bool = True,
) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    n_prompts = int(edges_target / 3.83)
    per_session = 8
    sessions = np.arange(n_prompts) // per_session
    pos = np.arange(n_prompts) % per_session
    pid = np.char.add(f"{prefix}p", np.arange(n_prompts).astype(str))
    sid = np.char.add(f"{prefix}s", sessions.astype(str))
    t = (
        start
        + pl.Series(rng.uniform(0, days * 86400e6, n_prompts).astype(np.int64))
        .cast(pl.Duration("us"))
        .to_list()[0]
        * 0
    )  # placeholder keeps types simple
    created = pl.Series(
        (
            np.int64(int(start.timestamp() * 1e6))
            + (sessions * (days * 86400e6 / max(1, sessions.max() + 1))).astype(np.int64)
            + pos * 60_000_000
        ),
    ).cast(pl.Datetime("us", "UTC"))
    _ = t
    tmpl = rng.integers(0, 12, n_prompts)
    has_t = rng.random(n_prompts) < 0.35
    agent = rng.integers(0, 9, n_prompts)
    rid = np.char.add(f"{prefix}r", np.arange(n_prompts).astype(str))
    has_tool = rng.random(n_prompts) < 0.38
    tid = np.char.add(f"{prefix}t", np.arange(n_prompts).astype(str))
    transfer = rng.random(n_prompts) < 0.10
    tenants = np.array(["acme", "globex", "initech"])[sessions % 3]
    prompts = pl.DataFrame(
        {
            "id": pid,
            "type": "Prompt",
            "tenant": tenants,
            "session_id": sid,
            "created_at": created,
            "model": "gpt-4o",
            "template_id": pl.Series(np.array(TEMPLATES)[tmpl]).zip_with(
                pl.Series(has_t), pl.Series([None], dtype=pl.String)
            ),
            "template_version": pl.Series(["1.0.0"] * n_prompts).zip_with(
                pl.Series(has_t), pl.Series([None], dtype=pl.String)
            ),
            "is_system": False,
        }
    )
    responses = pl.DataFrame(
        {
            "id": rid,
            "type": "Response",
            "tenant": tenants,
            "session_id": sid,
            "created_at": created,
            "prompt_id": pid,
            "prompt_tokens": rng.integers(100, 8000, n_prompts),
            "completion_tokens": rng.integers(10, 800, n_prompts),
            "model": "gpt-4o-2024-11-20",
        }
    ).with_columns((pl.col("prompt_tokens") + pl.col("completion_tokens")).alias("total_tokens"))
    tools = pl.DataFrame(
        {
            "id": tid,
            "type": "ToolInvocation",
            "tenant": tenants,
            "session_id": sid,
            "created_at": created,
            "response_id": rid,
            "tool_name": np.array(["search", "sql", "http", "ticket"])[
                rng.integers(0, 4, n_prompts)
            ],
            "success": rng.random(n_prompts) > 0.08,
            "duration_ms": rng.lognormal(6, 1, n_prompts),
        }
    ).filter(pl.Series(has_tool))
    nodes = pl.concat([prompts, responses, tools], how="diagonal_relaxed")
    if write_globals:
        glob = pl.DataFrame(
            {
                "id": AGENTS + TEMPLATES,
                "type": ["Agent"] * 9 + ["Template"] * 12,
                "created_at": [start] * 21,
                "name": AGENTS + TEMPLATES,
                "version": [None] * 9 + ["1.0.0"] * 12,
                "parent_id": [None] * 9
                + [TEMPLATES[p] if p is not None else None for p in PARENT.values()],
            }
        )
        nodes = pl.concat([nodes, glob], how="diagonal_relaxed")
    nodes = nodes.with_columns(pl.lit(1, pl.Int64).alias("last_seq"))
    follows = pl.DataFrame(
        {
            "src": pid[pos > 0],
            "dst": pid[np.flatnonzero(pos > 0) - 1],
            "type": "FOLLOWS",
            "session_id": sid[pos > 0],
            "created_at": created.filter(pl.Series(pos > 0)),
        }
    )
    base = {"tenant": tenants, "session_id": sid, "created_at": created}
    e = [
        follows,
        pl.DataFrame(
            {
                "src": rid,
                "dst": pid,
                "type": "RESPONDS_TO",
                **base,
                "latency_ms": rng.lognormal(7, 0.6, n_prompts),
            }
        ),
        pl.DataFrame(
            {
                "src": pid,
                "dst": np.array(AGENTS)[agent],
                "type": "HANDLED_BY",
                **base,
                "duration_ms": rng.lognormal(8, 0.5, n_prompts),
            }
        ),
        pl.DataFrame(
            {"src": pid, "dst": np.array(TEMPLATES)[tmpl], "type": "INSTANTIATES", **base}
        ).filter(pl.Series(has_t)),
        pl.DataFrame({"src": rid, "dst": tid, "type": "INVOKES", **base}).filter(
            pl.Series(has_tool)
        ),
        pl.DataFrame(
            {
                "src": rid,
                "dst": np.array(AGENTS)[rng.integers(0, 9, n_prompts)],
                "type": "TRANSFERS_TO",
                **base,
            }
        ).filter(pl.Series(transfer)),
    ]
    if write_globals:
        e.append(
            pl.DataFrame(
                {
                    "src": [TEMPLATES[c] for c, p in PARENT.items() if p is not None],
                    "dst": [TEMPLATES[p] for p in PARENT.values() if p is not None],
                    "type": "INHERITS",
                    "created_at": [start] * 11,
                }
            )
        )
    edges = pl.concat(e, how="diagonal_relaxed").with_columns(
        (pl.col("src") + "|" + pl.col("type") + "|" + pl.col("dst")).alias("id"),
        pl.lit(1, pl.Int64).alias("last_seq"),
        pl.lit(None, pl.List(pl.String)).alias("override_sections"),
        pl.lit(None, pl.String).alias("template_version"),
        pl.lit(None, pl.String).alias("handoff_reason"),
    )
    nodes = nodes.with_columns(pl.lit(None, pl.String).alias("error"))
    mode = "overwrite" if write_globals else "append"
    for name, frame in (("nodes", nodes), ("edges", edges)):
        write_deltalake(
            str(root / "lake" / name),
            frame.to_arrow(),
            mode=mode,
            partition_by=["type"],
            schema_mode="merge",
        )
    return {"nodes": nodes.height, "edges": edges.height}


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def phase(args: list[str]) -> dict[str, Any]:
    from memgraph_ops.lake import Lake
    from memgraph_ops.observatory import tables
    from memgraph_ops.observatory.graph import TraversalIndex, encode
    from memgraph_ops.observatory.structure import structure_of

    kind, root = args[0], Path(args[1])
    lake = Lake(str(root / "lake"))
    out: dict[str, Any] = {"phase": kind}
    started = time.perf_counter()
    if kind == "gen":
        out.update(synth(root, int(args[2])))
    elif kind == "full":
        report = tables.refresh(lake, full=True)
        out.update(days=len(report.days_computed), snapshot_rows=report.snapshot_rows)
    elif kind == "structure":
        graph = encode(lake.scan("nodes"), lake.scan("edges"))
        structure_of(graph)
        out["edges"] = len(graph.src)
    elif kind == "networkx":
        import networkx as nx
        from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python

        nodes, edges = lake.nodes(), lake.edges()
        t = time.perf_counter()
        graph = nx.MultiDiGraph()
        graph.add_nodes_from(nodes["id"].to_list())
        graph.add_edges_from(edges.select("src", "dst").iter_rows())
        _pagerank_python(graph, tol=1e-10, max_iter=200)
        nx.number_weakly_connected_components(graph)
        _ = [d for _, d in graph.degree()]
        out["networkx_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        structure_of(encode(nodes, edges))
        out["ours_s"] = round(time.perf_counter() - t, 2)
        out["edges"] = edges.height
    elif kind == "traverse":
        graph = encode(lake.scan("nodes"), lake.scan("edges"))
        built = time.perf_counter()
        index = TraversalIndex(graph)
        out["index_build_s"] = round(time.perf_counter() - built, 2)
        rng = np.random.default_rng(5)
        starts = graph.ids.filter(graph.ids.str.starts_with("p")).sample(500, seed=5).to_list()
        samples = []
        for s in starts:
            t = time.perf_counter()
            index.traverse(s, depth=5, direction="out")
            samples.append(time.perf_counter() - t)
        out["nodes"] = graph.n
        out["p50_ms"] = round(float(np.percentile(samples, 50)) * 1000, 3)
        out["p95_ms"] = round(float(np.percentile(samples, 95)) * 1000, 3)
        _ = rng
    elif kind == "hour":
        last = lake.scan("nodes").select(pl.col("created_at").max()).collect().item()
        synth(
            root,
            20_000,
            seed=9,
            start=last + timedelta(days=1),
            prefix="h",
            days=1 / 24,
            write_globals=False,
        )
        t = time.perf_counter()
        # the synthetic lake has no compaction watermarks, so name the new day explicitly
        new_day = (last + timedelta(days=1)).date()
        report = tables.refresh_metrics(lake, days=[new_day])
        out["incremental_s"] = round(time.perf_counter() - t, 2)
        out["days"] = report.days_computed
        t = time.perf_counter()
        tables.refresh_metrics(lake, full=True)
        out["full_daily_s"] = round(time.perf_counter() - t, 2)
    out["seconds"] = round(time.perf_counter() - started, 2)
    out["peak_rss_mb"] = _rss_mb()
    return out


def child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.observatory", "--phase", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result), file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--nx-edges", type=int, default=1_000_000)
    parser.add_argument("--traverse-edges", type=int, default=1_600_000)
    parser.add_argument("--phase", nargs="+")
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase), default=str))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        big, small, mid = Path(tmp, "big"), Path(tmp, "nx"), Path(tmp, "trav")
        results.append(child("gen", str(small), str(args.nx_edges)))
        results.append(child("networkx", str(small)))
        results.append(child("gen", str(mid), str(args.traverse_edges)))
        results.append(child("traverse", str(mid)))
        results.append(child("gen", str(big), str(args.edges)))
        results.append(child("structure", str(big)))
        results.append(child("full", str(big)))
        results.append(child("hour", str(big)))
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
