"""Relevant subgraphs on real agent traces: fewer tokens than the whole snapshot, and the tool
calls the request is about still in.

    python -m benchmarks.relevant_eval        # a few seconds

Set: the SWE-agent trajectories of `../shared/data/agent-traces/swe-agent/` whose history has
structured tool calls (5 of 28; the others write commands in the assistant's text), imported
with the chat importer and turned into a session graph. The query is the user's request (the
issue text between `ISSUE:` and `INSTRUCTIONS:`). A tool invocation is *needed* when its
parameters name an entity the request names: a file name, a snake_case or CamelCase identifier,
or a backticked word of the issue. Recall is the share of needed invocations in the subgraph;
tokens are Format E text at four characters a token.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT
from memgraph_ops.imports.chat import conversation_events
from memgraph_ops.memory.format_e import Graph
from memgraph_ops.memory.graphs import graph_of
from memgraph_ops.memory.relevant import entities, relevant

TRACES = ROOT.parent / "shared" / "data" / "agent-traces" / "swe-agent"
BUDGETS = (10, 20, 40)
RESULTS = ROOT / "benchmarks" / "data" / "relevant_eval.json"


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def request_of(history: list[dict[str, Any]]) -> str:
    first = next(_text(m.get("content")) for m in history if m.get("role") == "user")
    issue = re.search(r"ISSUE:\s*(.*?)\s*INSTRUCTIONS:", first, re.S)
    return issue.group(1) if issue else first


def session(path: Path) -> tuple[Graph, str]:
    history = json.loads(path.read_text(encoding="utf-8"))["history"]
    events, _ = conversation_events({"id": path.stem, "messages": history})
    nodes = [e for e in events if e["kind"] == "node"]
    edges = [e for e in events if e["kind"] == "edge"]
    return graph_of(nodes, edges), request_of(history)


def openhands_sessions() -> list[tuple[str, Graph, str]]:
    """The OpenHands evaluation runs (mapped to chat messages as `benchmarks.vault_real` does),
    with the user's first message as the request."""
    from benchmarks.vault_real import _openhands

    out = []
    for conversation in _openhands():
        messages = conversation["messages"]
        if not any(m.get("tool_calls") for m in messages):
            continue
        events, _ = conversation_events(conversation)
        nodes = [e for e in events if e["kind"] == "node"]
        edges = [e for e in events if e["kind"] == "edge"]
        first = next((_text(m.get("content")) for m in messages if m["role"] == "user"), "")
        out.append((f"openhands/{conversation['id']}", graph_of(nodes, edges), first))
    return out


def _sessions() -> list[tuple[str, Graph, str]]:
    out = []
    for path in sorted(TRACES.rglob("*.traj")):
        history = json.loads(path.read_text(encoding="utf-8")).get("history", [])
        if any(m.get("tool_calls") for m in history):
            graph, request = session(path)
            out.append((str(path.relative_to(TRACES)), graph, request))
    return out + openhands_sessions()


def evaluate() -> dict[str, Any]:
    rows = []
    for trace, graph, request in _sessions():
        names = entities(request)
        needed = {
            n.id
            for n in graph.nodes
            if n.type == "ToolInvocation" and any(e in n.description for e in names)
        }
        row: dict[str, Any] = {
            "trace": trace,
            "nodes": len(graph.nodes),
            "needed": len(needed),
            "entities": sorted(names)[:20],
        }
        for budget in BUDGETS:
            found = relevant(graph, request, max_nodes=budget)
            kept = {n.id for n in found.graph.nodes}
            row[f"recall@{budget}"] = round(len(needed & kept) / len(needed), 3) if needed else None
            row[f"fewer_tokens@{budget}"] = round(found.full_tokens / max(1, found.tokens), 1)
        rows.append(row)
    summary = {
        f"@{b}": {
            "mean_recall": round(
                sum(r[f"recall@{b}"] for r in rows if r[f"recall@{b}"] is not None)
                / max(1, sum(1 for r in rows if r[f"recall@{b}"] is not None)),
                3,
            ),
            "mean_fewer_tokens": round(sum(r[f"fewer_tokens@{b}"] for r in rows) / len(rows), 1),
        }
        for b in BUDGETS
    }
    return {"traces": rows, "summary": summary}


def main() -> int:
    result = evaluate()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    for row in result["traces"]:
        cells = " ".join(f"r@{b}={row[f'recall@{b}']} x{row[f'fewer_tokens@{b}']}" for b in BUDGETS)
        print(f"{row['trace'][-60:]:60} nodes={row['nodes']:3} needed={row['needed']:2} {cells}")
    print(json.dumps(result["summary"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
