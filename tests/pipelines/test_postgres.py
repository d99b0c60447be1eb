"""Dagster on a real PostgreSQL server (Debian's package, `make postgres`), selected by
`DAGSTER_PG_URL`: runs, schedule and sensor state live in the server and survive a restart of
it and of every Dagster process; a run the server drops mid-way fails, and the next succeeds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import memgraph_ops
from memgraph_ops import load_settings
from pipelines.instance import prepare_dagster_home
from tests.factories import session
from tests.servers import Postgres

pytestmark = pytest.mark.heavy

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).with_name("dagster")

RUN_JOB = """
import sys
import dagster as dg
from pipelines.definitions import defs
instance = dg.DagsterInstance.get()
assert type(instance.run_storage).__name__ == "PostgresRunStorage", instance.run_storage
result = defs.resolve_job_def(sys.argv[1]).execute_in_process(instance=instance,
                                                              raise_on_error=False)
print("RUN", result.run_id, result.success)
sys.exit(0 if result.success else 3)
"""

READ_STATE = """
import dagster as dg
instance = dg.DagsterInstance.get()
for run in instance.get_runs():
    print("RUN", run.run_id, run.job_name, run.status.value)
for state in instance.all_instigator_state():
    print("STATE", state.name, state.status.value)
"""


@pytest.fixture
def pg_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Postgres, Path]]:
    with Postgres() as pg:
        monkeypatch.setenv("DAGSTER_PG_URL", pg.url)
        monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
        monkeypatch.delenv("MEMGRAPH_CONFIG", raising=False)
        prepare_dagster_home(load_settings(home))
        yield pg, home


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _dagster(*args: str) -> None:
    done = subprocess.run(
        [str(DAGSTER), *args, "-m", "pipelines.definitions"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _lines(out: str, tag: str) -> list[list[str]]:
    return [line.split()[1:] for line in out.splitlines() if line.startswith(tag + " ")]


def test_runs_schedules_and_sensors_survive_a_restart_of_postgres_and_dagster(
    pg_home: tuple[Postgres, Path],
) -> None:
    pg, home = pg_home
    assert "postgres" in (home / "dagster" / "dagster.yaml").read_text()
    with memgraph_ops.open(home) as mg:
        mg.ingest(session("s1", 3))
    first = _python(RUN_JOB, "compaction_job")
    assert first.returncode == 0, first.stdout + first.stderr
    run_id = _lines(first.stdout, "RUN")[0][0]
    # a user turns on the (deleting, so STOPPED by default) retention schedule and pauses the
    # erasure sensor, from the CLI as they would
    _dagster("schedule", "start", "retention_schedule")
    _dagster("sensor", "stop", "erasure_queue_sensor")

    pg.stop()  # every connection is cut; no Dagster process of the first life is left
    pg.start()

    after = _python(READ_STATE)
    assert after.returncode == 0, after.stderr
    assert [run_id, "compaction_job", "SUCCESS"] in _lines(after.stdout, "RUN")
    states = {name: status for name, status in _lines(after.stdout, "STATE")}
    assert states.get("retention_schedule") == "RUNNING", states
    assert states.get("erasure_queue_sensor") == "STOPPED", states
    # nothing went to SQLite beside it
    assert not list((home / "dagster").rglob("*.db"))


@pytest.mark.parametrize("outage", ["restart", "down"])
def test_postgres_going_away_mid_run(
    pg_home: tuple[Postgres, Path], tmp_path: Path, outage: str
) -> None:
    """`restart`: the server restarts while the run is inside compaction; the run reconnects
    and succeeds. `down`: the server is still down when the run goes on; the run process ends
    with an error (it does not hang), and once the server is back the next run succeeds, with
    every event in the lake exactly once."""
    pg, home = pg_home
    with memgraph_ops.open(home) as mg:
        mg.ingest(session("s1", 3))
    pause = tmp_path / "pause"
    pause.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MEMGRAPH_FAILPOINT": "compact:before_trim",
        "MEMGRAPH_FAILPOINT_PAUSE": str(pause),
    }
    run = subprocess.Popen(
        [sys.executable, "-c", RUN_JOB, "compaction_job"], env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    reached = pause / "compact_before_trim.reached"
    deadline = time.monotonic() + 120
    while not reached.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reached.exists(), run.communicate()[0]
    pg.stop()  # the server goes away in the middle of the run
    if outage == "restart":
        pg.start()
    (pause / "compact_before_trim.resume").touch()
    out, _ = run.communicate(timeout=300)
    if outage == "restart":
        assert run.returncode == 0, out
    else:
        assert run.returncode != 0, out
        assert "OperationalError" in out or "connection" in out.lower(), out[-3000:]
        pg.start()
    with memgraph_ops.open(home) as mg:
        mg.ingest(session("s2", 2))
    second = _python(RUN_JOB, "compaction_job")
    assert second.returncode == 0, second.stdout + second.stderr
    with memgraph_ops.open(home) as mg:
        sessions = set(mg.lake.nodes(types=["Session"])["id"].to_list())
        assert sessions == {"s1", "s2"}
        assert mg.lake.event_log()["event_id"].is_unique().all()
