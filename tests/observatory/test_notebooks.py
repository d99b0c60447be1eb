"""The Observatory notebooks run top to bottom against a generated lake."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.parametrize("name", ["lineage_history.ipynb", "observatory.ipynb"])
def test_notebook_executes_on_a_generated_lake(
    name: str, writable_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMGRAPH_HOME", str(writable_home))
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert "Traceback" not in outputs
    if name == "lineage_history.ipynb":
        assert "AssistantBase.TPL.001" in outputs and "prompts then:" in outputs
    else:
        assert "days computed" in outputs and "TriageRouter.AG.001" in outputs
