"""The notebooks run top to bottom against a freshly built lake, and show what it holds.

After a notebook has run, one probe cell (added here, not in the notebook) prints as JSON the
values the notebook computed; the test compares them with what the data root was built from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import memgraph_ops
from memgraph_ops.lake import no_redaction
from tests.factories import edge, event, session

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

# s-short (2 turns) and s-long (6) are compacted first, s-later (3) in a second compaction.
# Each turn is a Prompt, a Response and a ToolInvocation (tool "search").
FIRST = {"Session": 2, "Prompt": 8, "Response": 8, "ToolInvocation": 8, "Template": 2}
NOW = {"Session": 3, "Prompt": 11, "Response": 11, "ToolInvocation": 11, "Template": 2}


def _templates() -> list[dict[str, Any]]:
    """tpl-child inherits from tpl-base; s-long's prompts instantiate tpl-child."""
    return [
        event("tpl-e-base", "Template", "tpl-base", name="base", version="1.0.0", template="{q}"),
        event(
            "tpl-e-child",
            "Template",
            "tpl-child",
            name="child",
            version="2.0.0",
            template="{q}!",
            parent_id="tpl-base",
        ),
        edge("tpl-e-inh", "INHERITS", "tpl-child", "tpl-base"),
        *(
            edge(f"tpl-e-i{i}", "INSTANTIATES", f"s-long-p{i}", "tpl-child", session_id="s-long")
            for i in range(6)
        ),
    ]


def _later_instantiations() -> list[dict[str, Any]]:
    """s-later's prompts instantiate tpl-base, in the second compaction."""
    return [
        edge(f"tpl-e-l{i}", "INSTANTIATES", f"s-later-p{i}", "tpl-base", at=1000,
             session_id="s-later")
        for i in range(3)
    ]  # fmt: skip


@pytest.fixture
def lake_home(home: Path) -> Path:
    with memgraph_ops.open(home) as mg:
        first = mg.ingest(session("s-short", 2) + session("s-long", 6, start=100) + _templates())
        mg.compact(redact=no_redaction)
        later = mg.ingest(session("s-later", 3, start=1000) + _later_instantiations())
        mg.compact(redact=no_redaction)
    assert first.quarantined == later.quarantined == 0, (first.reasons, later.reasons)
    return home


def _run(name: str, probe: str, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """Execute a notebook with `probe` appended; its text outputs and the probe's JSON."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(f"import json\nprint(json.dumps({probe}))"))
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    *cells, probe_cell = notebook.cells
    shown = "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for c in cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    (probe_out,) = probe_cell.outputs
    return shown, json.loads(probe_out["text"])


def test_every_notebook_is_tested() -> None:
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == {
        "lake_tour.ipynb", "lineage_history.ipynb", "observatory.ipynb"
    }  # fmt: skip


def test_lake_tour(lake_home: Path, tmp_path: Path) -> None:
    shown, seen = _run(
        "lake_tour.ipynb",
        '{"session_id": session_id, "first": int(first), "compare": compare.to_dicts(),'
        ' "commits": history.filter(pl.col("seq_to").is_not_null()).height}',
        tmp_path,
    )
    assert seen["session_id"] == "s-long"  # the busiest session is shown as a conversation
    assert "user: question 5" in shown and "question 5" in shown
    assert seen["commits"] >= 2  # one compaction may commit more than once
    first = f"v{seen['first']}"
    assert {r["type"]: r["now"] for r in seen["compare"]} == NOW
    assert {r["type"]: r[first] for r in seen["compare"]} == FIRST


def test_lineage_history(lake_home: Path, tmp_path: Path) -> None:
    shown, seen = _run(
        "lineage_history.ipynb",
        '{"template": template, "first_version": first_version,'
        ' "prompts_then": then.as_dict()["prompts"], "prompts_now": now.as_dict()["prompts"],'
        ' "templates": templates.select("id", "depth", "descendants").to_dicts(),'
        ' "diff": diff.select("template", "prompts_before", "new_prompts").to_dicts(),'
        ' "depths": dict(chains.select("session_id", "depth").rows()),'
        ' "forks": int(chains["forks"].sum())}',
        tmp_path,
    )
    assert seen["template"] == "tpl-base"  # the one with a descendant
    assert f"template: tpl-base | first compaction version: {seen['first_version']}" in shown
    assert seen["templates"] == [
        {"id": "tpl-base", "depth": 0, "descendants": 1},
        {"id": "tpl-child", "depth": 1, "descendants": 0},
    ]
    # tpl-base's family made s-long's 6 prompts (through tpl-child) by the first compaction,
    # and s-later's 3 since
    assert (seen["prompts_then"], seen["prompts_now"]) == (6, 9)
    assert "prompts then: 6  now: 9" in shown
    assert seen["diff"] == [
        {"template": "tpl-base", "prompts_before": 6, "new_prompts": 3},
        {"template": "tpl-child", "prompts_before": 6, "new_prompts": 0},
    ]
    assert seen["depths"] == {"s-short": 1, "s-long": 5, "s-later": 2}  # turns - 1 FOLLOWS hops
    assert seen["forks"] == 0


def test_observatory(lake_home: Path, tmp_path: Path) -> None:
    shown, seen = _run(
        "observatory.ipynb",
        '{"days": len(report.days_computed), "daily_prompts": daily["prompts"].to_list(),'
        ' "tools": per_tool.select("tool", "calls", "errors").to_dicts()}',
        tmp_path,
    )
    assert seen["days"] == 1  # every event is dated 2026-01-01
    assert "1 days computed;" in shown
    assert seen["daily_prompts"] == [11]
    assert seen["tools"] == [{"tool": "search", "calls": 11, "errors": 0}]
