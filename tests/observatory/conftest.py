from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import memgraph_ops
from memgraph_ops.lake import Lake, no_redaction
from memgraph_ops.workload import generate

SESSIONS = 160


def build_lake(home: Path, sessions: int = SESSIONS, *, seed: int = 3) -> Lake:
    """A generated lake compacted in two steps (so time travel sees the graph grow and
    templates change version): the first half of the batches, then the rest."""
    batches = list(generate(sessions, seed=seed, pii_rate=0.0, batch_sessions=sessions // 4))
    with memgraph_ops.open(home, hot_window_hours=0) as mg:
        for batch in batches[:2]:
            mg.ingest(batch.events)
        mg.compact(redact=no_redaction)
        for batch in batches[2:]:
            mg.ingest(batch.events)
        mg.compact(redact=no_redaction)
        return mg.lake


@pytest.fixture(scope="session")
def generated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("observatory") / "home"
    build_lake(home)
    return home


@pytest.fixture(scope="session")
def lake(generated_home: Path) -> Lake:
    """A generated lake, read-only for tests (copy it before writing)."""
    return Lake(str(generated_home / "lake"))


@pytest.fixture
def writable_home(generated_home: Path, tmp_path: Path) -> Iterator[Path]:
    import shutil

    home = tmp_path / "home"
    shutil.copytree(generated_home, home)
    yield home
