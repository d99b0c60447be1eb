"""Rebuild the generated part of `benchmarks/RESULTS.md` from `benchmarks/results.json`:
`python -m benchmarks.report`. Text outside the markers (the analysis) is kept as it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS_JSON, render_markdown

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
BEGIN = "<!-- generated: `python -m benchmarks.report` rebuilds this part from results.json -->"
END = "<!-- end of generated part -->"
ORDER = (
    "ingest", "single_ingest", "context", "compaction", "compaction_rss", "hot_scale", "lake_bytes",
    "service_writes", "service_batch", "service_reads", "service_peer", "otlp_peer",
)  # fmt: skip
MODES = {
    "full": "Full run",
    "quick": "Quick run (--quick, smoke sizes)",
    "custom": "Custom sizes (--set)",
}


def render(data: dict[str, Any]) -> str:
    out = [BEGIN, ""]
    m = data.get("machine", {})
    if m:
        out += [
            f"Machine: {m['cores']} cores, {m['memory_gib']} GiB RAM, {m['cpu']}; "
            f"Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
            "",
        ]
    for mode, heading in MODES.items():
        runs = data.get(mode)
        if not runs:
            continue
        out += [f"## {heading}", ""]
        out += ["| benchmark | goal | measured | met | note |", "|---|---|---|---|---|"]
        for name in [n for n in ORDER if n in runs]:
            for g in runs[name]["goals"]:
                met = "yes" if g["met"] else "**no**"
                out.append(f"| {name} | {g['goal']} | {g['measured']} | {met} | {g['note']} |")
        out.append("")
        history = data.get("history", {}).get(mode, {})
        if history:
            out += _history(runs, history)
        for name in [n for n in ORDER if n in runs]:
            entry = runs[name]
            out += [
                f"### {name}",
                "",
                f"`{entry['command']}` — {entry['finished_at']}, {entry['seconds']} s"
                + (f", library at {entry['git']}" if entry.get("git") else "")
                + (
                    f"; other processes kept {entry['others_cores']} of "
                    f"{m.get('cores', '?')} cores busy meanwhile"
                    if "others_cores" in entry
                    else ""
                ),
                "",
            ]
            for table in entry["tables"]:
                out += [render_markdown(table), ""]
            out += [f"- {note}" for note in entry.get("notes", [])]
            if entry.get("notes"):
                out.append("")
    out.append(END)
    return "\n".join(out)


def _history(runs: dict[str, Any], history: dict[str, list[Any]]) -> list[str]:
    """The goal figures of this and the previous runs (the library changes under us)."""
    out = [
        "Goal figures of this run and the previous ones (library commit; cores other "
        "processes kept busy):",
        "",
        "| benchmark | run | library | others' cores | measured |",
        "|---|---|---|---|---|",
    ]
    for name in [n for n in ORDER if n in runs]:
        for entry in [runs[name], *history.get(name, [])]:
            measured = "; ".join(
                f"{g['measured']}{'' if g['met'] else ' ✗'}" for g in entry["goals"]
            )
            out.append(
                f"| {name} | {entry['finished_at']} | {entry.get('git', '?')} | "
                f"{entry.get('others_cores', '?')} | {measured} |"
            )
    return [*out, ""]


def write_results_md() -> None:
    data = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    generated = render(data)
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n\n"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + generated + tail
    else:
        text = text.rstrip("\n") + "\n\n" + generated + "\n"
    tmp = RESULTS_MD.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(RESULTS_MD)


if __name__ == "__main__":
    write_results_md()
