from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.database import DirectoryBasedExampleDatabase

import memgraph_ops
from memgraph_ops import Memgraph

TEST_KEY = "0f" * 32

# Hypothesis: in CI (CI=true) every run tries the same examples and stores none, so a test passes
# or fails the same way on every landing (a failure prints a blob to replay it with
# @reproduce_failure); locally, failing examples are kept in an untracked database (.gitignore has
# .hypothesis/) and tried first next time. Per-test @settings inherit these values; the profile
# can be forced with HYPOTHESIS_PROFILE or pytest's --hypothesis-profile.
_defaults = settings.get_profile("default")  # not whatever profile is loaded now
settings.register_profile(
    "ci", _defaults, derandomize=True, database=None, print_blob=True, deadline=None
)
settings.register_profile(
    "dev",
    _defaults,
    database=DirectoryBasedExampleDatabase(
        Path(__file__).parent.parent / ".hypothesis" / "examples"
    ),
)
_in_ci = os.environ.get("CI", "").lower() not in ("", "0", "false")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _in_ci else "dev"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data root; the environment points at it so nothing touches ./store."""
    root = tmp_path / "home"
    monkeypatch.setenv("MEMGRAPH_HOME", str(root))
    # never a developer's own ~/.config/memgraph-ops/pseudonym.key
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("MEMGRAPH_HOT_WINDOW_HOURS", "0")
    monkeypatch.delenv("MEMGRAPH_FAILPOINT", raising=False)
    monkeypatch.setenv("MEMGRAPH_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.delenv("MEMGRAPH_PSEUDONYM_KEY_FILE", raising=False)
    return root


@pytest.fixture
def mg(home: Path) -> Iterator[Memgraph]:
    with memgraph_ops.open(home) as handle:
        yield handle
