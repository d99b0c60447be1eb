"""Operations racing each other in real processes lose nothing (issue 10, item 1).

A failpoint in pause mode (`memgraph_ops._failpoints`) holds one process at an exact point while
another runs to completion, so each interleaving is reproduced every time, not by luck.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from memgraph_ops import Memgraph
from memgraph_ops.lake import no_redaction
from tests.factories import event, session

CLI = "import sys; from memgraph_ops.cli import main; sys.exit(main(sys.argv[1:]))"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CLI, *args], env=env or dict(os.environ))


def _held_at(point: str, pause: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start a CLI command that stops at `point` until `_resume` is called."""
    env = {**os.environ, "MEMGRAPH_FAILPOINT": point, "MEMGRAPH_FAILPOINT_PAUSE": str(pause)}
    child = _cli(*args, env=env)
    reached = pause / (point.replace(":", "_") + ".reached")
    deadline = time.monotonic() + 120
    while not reached.exists():
        assert child.poll() is None, f"{args} ended before reaching {point}"
        assert time.monotonic() < deadline, f"{args} never reached {point}"
        time.sleep(0.05)
    return child


def _resume(point: str, pause: Path) -> None:
    (pause / (point.replace(":", "_") + ".resume")).touch()


def test_compaction_while_archive_deletes_loses_no_late_event(
    mg: Memgraph, home: Path, tmp_path: Path
) -> None:
    sessions = [f"s{i}" for i in range(5)]
    mg.ingest([e for s in sessions for e in session(s, 2)])
    mg.compact(redact=no_redaction)
    late = [
        event(f"{s}-e-late", "Prompt", f"{s}-late", at=500, session_id=s, content="late")
        for s in sessions
    ]
    mg.ingest(late)
    mg.close()  # the CLI processes own the store from here

    point = "vault:archive:before_lake_delete"
    archive = _held_at(point, tmp_path, "--home", str(home), "archive", "--inactive-days", "0")
    # archive has read the lake and written the vault; now the late prompts reach the lake
    assert _cli("--home", str(home), "compact").wait(timeout=300) == 0
    _resume(point, tmp_path)
    assert archive.wait(timeout=300) == 0

    for s in sessions:
        in_lake = mg.lake.nodes(session_id=s)["id"].to_list()
        in_vault = mg.vault.read_session(s).nodes["id"].to_list()
        assert f"{s}-late" in in_lake + in_vault, f"the late prompt of {s} was lost"
        assert not set(in_lake) & set(in_vault) - {f"{s}-late"}, "archived rows left in the lake"
    # the next archive run takes the late prompts into the sessions' frames
    mg.archive(sessions)
    for s in sessions:
        nodes = mg.vault.read_session(s).nodes
        assert f"{s}-late" in nodes["id"].to_list()
        assert nodes.filter(pl.col("type") == "Prompt").height == 3
    assert mg.lake.nodes().filter(pl.col("session_id").is_in(sessions)).is_empty()
