"""What the light commands import: `--help` and usage errors load none of the engines, and no
command that does not redact loads Presidio or spaCy (seconds each on this machine).

Checked by module name (`python -X importtime`), not by time, so a slow machine cannot make it
flaky and a heavy import cannot hide behind a fast one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ENGINES = ("polars", "pyarrow", "duckdb", "deltalake", "dagster", "presidio_analyzer", "spacy")
DETECTION = ("presidio_analyzer", "spacy")


def _imported(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "memgraph_ops.cli", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert names, done.stderr[-2000:]
    return names


@pytest.mark.parametrize("args", [("--help",), ("graph", "--help"), ("erase", "--help")])
def test_help_loads_no_engine(args: tuple[str, ...]) -> None:
    assert _imported(*args) & set(ENGINES) == set()


def test_status_and_restore_do_not_load_detection(home: Path) -> None:
    status = _imported("status", "--home", str(home))
    assert "duckdb" in status or "deltalake" in status  # it did read the data root
    assert status & set(DETECTION) == set()
    assert "tqdm" not in status  # it draws no progress bar
    restore = _imported("restore", "no-such-session", "--home", str(home))
    assert restore & set(DETECTION) == set()
