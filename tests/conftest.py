from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import memgraph_ops
from memgraph_ops import Memgraph

TEST_KEY = "0f" * 32


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data root; the environment points at it so nothing touches ./store."""
    root = tmp_path / "home"
    monkeypatch.setenv("MEMGRAPH_HOME", str(root))
    monkeypatch.setenv("MEMGRAPH_HOT_WINDOW_HOURS", "0")
    monkeypatch.delenv("MEMGRAPH_FAILPOINT", raising=False)
    monkeypatch.setenv("MEMGRAPH_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.delenv("MEMGRAPH_PSEUDONYM_KEY_FILE", raising=False)
    return root


@pytest.fixture
def mg(home: Path) -> Iterator[Memgraph]:
    with memgraph_ops.open(home) as handle:
        yield handle
