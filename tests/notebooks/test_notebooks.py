"""The notebooks run top to bottom against a freshly built lake."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import memgraph_ops
from tests.factories import session

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.fixture
def lake_home(home: Path) -> Path:
    with memgraph_ops.open(home) as mg:
        mg.ingest(session("s-short", 2) + session("s-long", 6, start=100))
        mg.compact()
        mg.ingest(session("s-later", 3, start=1000))
        mg.compact()
    return home


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path: Path, lake_home: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = "".join(
        o.get("text", "")
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    if path.name == "lake_tour.ipynb":
        assert "s-long" in outputs  # the busiest session is shown as a conversation
        assert "user: question 5" in outputs
