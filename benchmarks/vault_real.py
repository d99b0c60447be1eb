"""The vault on real logs (issue 16, step 1): where its bytes go, and what grouping buys.

    python -m benchmarks.vault_real            # a few minutes (Presidio redacts the chats)

Corpora, all written by others (`../shared/data/README.md`), mapped to the OpenAI chat format
here and imported with `import-chat`:

- **chats**: the 2,312 `chosen` transcripts of `chats/hh-rlhf-harmless-test.jsonl`
  (`\\n\\nHuman:` / `\\n\\nAssistant:` turns);
- **agent traces**: the 28 SWE-agent `.traj` histories (messages with `tool_calls` and
  `role: tool`) and the OpenHands event streams (3 evaluation runs, 4 recorded sessions;
  an action's `tool_call_metadata.model_response` is the assistant message, its observation
  the tool message).

Per corpus, in one run: the raw JSON and the ways to compress it without the vault
(per-session gzip and zstd-19, zstd-19 with a trained dictionary, the whole corpus as one
zstd-19 frame, Parquet zstd of the lake rows); the pipeline (import, compact with redaction,
archive every session) and the vault's bytes by part; the session payloads the vault
compresses, by column (what the lake rows add over the raw JSON); and the payloads compressed
in groups of K sessions (one zstd-19 frame per group, the window sees the repetition), with the
time to decompress one group, which bounds what a grouped restore would cost.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import zstandard

from benchmarks._common import ROOT
from benchmarks.vault import BENCH_KEY, baselines

DATA = ROOT.parent / "shared" / "data"
WORK = ROOT / "benchmarks" / "data" / "vault_real"
RESULTS = ROOT / "benchmarks" / "data" / "vault_real.json"
GROUPS = (1, 8, 32, 128)


# corpora as OpenAI chat conversations --------------------------------------------------------


def chats() -> list[dict[str, Any]]:
    out = []
    path = DATA / "chats" / "hh-rlhf-harmless-test.jsonl"
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        transcript = json.loads(line)["chosen"]
        turns = re.split(r"\n\n(Human|Assistant): ", "\n\n" + transcript.strip())[1:]
        messages = [
            {"role": "user" if who == "Human" else "assistant", "content": text}
            for who, text in zip(turns[::2], turns[1::2], strict=True)
        ]
        if messages:
            out.append({"id": f"hh-{i:05d}", "messages": messages})
    return out


def _swe_agent() -> list[dict[str, Any]]:
    out = []
    for path in sorted((DATA / "agent-traces" / "swe-agent").rglob("*.traj")):
        history = json.loads(path.read_text(encoding="utf-8")).get("history") or []
        messages = []
        for m in history:
            message = {
                k: m[k] for k in ("role", "content", "tool_calls", "tool_call_id") if m.get(k)
            }
            if message.get("role") in ("system", "user", "assistant", "tool"):
                message.setdefault("content", "")
                messages.append(message)
        if messages:
            # (file names repeat across folders: the path makes the id unique)
            where = hashlib.sha256(str(path.relative_to(DATA)).encode()).hexdigest()[:10]
            out.append({"id": f"swe-{where}-{path.stem[:60]}", "messages": messages})
    return out


def _openhands_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    answered: set[str] = set()
    for e in events:
        meta = e.get("tool_call_metadata") or {}
        if "observation" in e:
            if meta.get("tool_call_id"):
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": meta["tool_call_id"],
                        "content": str(e.get("content", "")),
                    }
                )
            continue
        response = meta.get("model_response")
        if response:
            if response.get("id") in answered:
                continue  # one response, several tool calls: one assistant message
            answered.add(response.get("id"))
            choice = (response.get("choices") or [{}])[0].get("message") or {}
            message = {"role": "assistant", "content": choice.get("content") or ""}
            if choice.get("tool_calls"):
                message["tool_calls"] = [
                    {"id": c["id"], "type": "function", "function": c["function"]}
                    for c in choice["tool_calls"]
                ]
            messages.append(message)
        elif e.get("action") in ("system", "message"):
            role = (
                "system"
                if e["action"] == "system"
                else ("user" if e.get("source") == "user" else "assistant")
            )
            messages.append(
                {
                    "role": role,
                    "content": str((e.get("args") or {}).get("content") or e.get("message") or ""),
                }
            )
    return messages


def _openhands() -> list[dict[str, Any]]:
    root = DATA / "agent-traces" / "openhands"
    out = []
    runs = root / "evaluation" / "benchmarks" / "multi_swe_bench" / "examples" / "output.jsonl"
    for i, line in enumerate(runs.read_text(encoding="utf-8").splitlines()):
        out.append(
            {"id": f"oh-eval-{i}", "messages": _openhands_events(json.loads(line)["history"])}
        )
    for path in sorted((root / "tests" / "runtime" / "trajs").glob("*.json")):
        out.append(
            {"id": f"oh-{path.stem}", "messages": _openhands_events(json.loads(path.read_text()))}
        )
    return [c for c in out if c["messages"]]


def agent_traces() -> list[dict[str, Any]]:
    return _swe_agent() + _openhands()


# measurements --------------------------------------------------------------------------------


def _column_bytes(payloads: list[bytes]) -> dict[str, dict[str, int]]:
    """Per table.column: JSON bytes in the payloads, and zstd-19 bytes of that column's values
    of every session compressed as one stream (how much information the column carries)."""
    raw: dict[str, int] = defaultdict(int)
    streams: dict[str, list[bytes]] = defaultdict(list)
    for payload in payloads:
        doc = json.loads(payload)
        for table in ("nodes", "edges"):
            for column, values in (doc.get(table) or {}).items():
                text = json.dumps(values, ensure_ascii=False).encode()
                raw[f"{table}.{column}"] += len(text)
                streams[f"{table}.{column}"].append(text)
        for key in ("blocks", "derived", "session_id", "format"):
            if key in doc:
                text = json.dumps(doc[key], ensure_ascii=False).encode()
                raw[key] += len(text)
                streams[key].append(text)
    squeeze = zstandard.ZstdCompressor(level=19)
    return {
        column: {"json": raw[column], "zstd19": len(squeeze.compress(b"\n".join(streams[column])))}
        for column in sorted(raw, key=lambda c: -raw[c])
    }


def _grouped(payloads: list[bytes]) -> dict[str, Any]:
    """The payloads (in archive order) compressed K sessions to a frame."""
    out = {}
    for k in GROUPS:
        squeeze = zstandard.ZstdCompressor(level=19)
        frames = [
            squeeze.compress(b"".join(payloads[i : i + k])) for i in range(0, len(payloads), k)
        ]
        open_ = zstandard.ZstdDecompressor()
        times = []
        for frame in frames[: min(len(frames), 200)]:
            start = time.perf_counter()
            open_.decompress(frame)
            times.append(time.perf_counter() - start)
        out[str(k)] = {
            "bytes": sum(map(len, frames)),
            "decompress_one_frame_p95_ms": round(
                float(np.percentile(np.asarray(times) * 1000, 95)), 3
            ),
        }
    return out


def measure(name: str, conversations: list[dict[str, Any]]) -> dict[str, Any]:
    import memgraph_ops
    from memgraph_ops.imports.chat import import_chat_file
    from memgraph_ops.vault.payload import encode_sessions

    work = WORK / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    corpus = work / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations))
    sizes = baselines(corpus)
    out: dict[str, Any] = {"corpus": name, "sessions": len(conversations)}
    os.environ.setdefault("MEMGRAPH_PSEUDONYM_KEY", BENCH_KEY)
    os.environ["MEMGRAPH_HOT_WINDOW_HOURS"] = "0"
    with memgraph_ops.open(work / "home") as mg:
        start = time.perf_counter()
        report = import_chat_file(mg.store, corpus, tenant="real")
        out["import"] = {
            "events": report.events,
            "quarantined": report.quarantined,
            "seconds": round(time.perf_counter() - start, 1),
        }
        start = time.perf_counter()
        out["compacted_events"] = mg.compact().events
        out["compact_seconds"] = round(time.perf_counter() - start, 1)
        nodes = mg.lake.scan("nodes").collect()
        edges = mg.lake.scan("edges").collect()
        parquet = 0
        for table, frame in (("nodes", nodes), ("edges", edges)):
            path = work / f"{table}.parquet"
            pq.write_table(frame.to_arrow(), path, compression="zstd")
            parquet += path.stat().st_size
        sizes["parquet_zstd_lake_rows"] = parquet
        encoded = encode_sessions(nodes, edges)
        sessions = sorted(encoded.payloads)
        payloads = [encoded.payloads[s] for s in sessions]
        out["payload_bytes"] = sum(map(len, payloads))
        out["block_bytes_uncompressed"] = sum(map(len, encoded.blocks.values()))
        start = time.perf_counter()
        archived = mg.archive(sessions)
        out["archive"] = {
            "sessions": archived.archived,
            "seconds": round(time.perf_counter() - start, 1),
        }
        stats = mg.vault.stats()
        out["vault"] = {
            k: stats[k]
            for k in (
                "pack_bytes",
                "dictionary_bytes",
                "index_bytes",
                "physical_bytes",
                "sessions",
                "blocks",
            )
        }
        out["vault"]["frames"] = archived.frames
        out["vault"]["frame_bytes"] = archived.frame_bytes
        out["vault"]["new_block_bytes_uncompressed"] = archived.block_bytes
        sizes["vault_all_in"] = stats["physical_bytes"]
        sizes["vault_frames_only"] = stats["pack_bytes"]
        restore = []
        for session in sessions[: min(50, len(sessions))]:
            start = time.perf_counter()
            mg.restore(session)
            restore.append(time.perf_counter() - start)
        out["restore_p95_ms"] = round(float(np.percentile(np.asarray(restore) * 1000, 95)), 1)
    out["columns"] = _column_bytes(payloads)
    out["grouped_payloads"] = _grouped(payloads)
    out["sizes"] = sizes
    out["ratios"] = {k: round(sizes["raw_json"] / v, 2) for k, v in sizes.items() if v}
    out["ratios"] |= {
        f"payloads_in_groups_of_{k}": round(sizes["raw_json"] / g["bytes"], 2)
        for k, g in out["grouped_payloads"].items()
    }
    return out


def main() -> int:
    results = [measure("chats-hh-rlhf", chats()), measure("agent-traces", agent_traces())]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    for r in results:
        print(
            f"\n## {r['corpus']}: {r['sessions']} sessions, "
            f"raw {r['sizes']['raw_json']:,} bytes, payloads {r['payload_bytes']:,}"
        )
        for k, v in r["ratios"].items():
            print(f"  {k:36} {v:>7}:1")
        print("  vault:", r["vault"], "restore p95", r["restore_p95_ms"], "ms")
        print("  grouped:", r["grouped_payloads"])
        print("  columns (json / zstd19):")
        for column, b in list(r["columns"].items())[:14]:
            print(f"    {column:28} {b['json']:>10,} {b['zstd19']:>9,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
