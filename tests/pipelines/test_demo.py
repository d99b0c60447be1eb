"""The demo's own check: no PII value the generator planted reaches any file of the lake."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import memgraph_ops
from memgraph_ops.errors import InputError
from memgraph_ops.lake import no_redaction
from memgraph_ops.workload import pii_sidecar_path, write_workload
from pipelines import demo


def test_planted_pii_leaks_finds_values_compacted_without_redaction(home: Path) -> None:
    home.mkdir(parents=True)
    workload = home / "workload.jsonl"
    write_workload(workload, 4, seed=3, pii_rate=1.0)
    planted = set(pl.read_ndjson(pii_sidecar_path(workload))["value"].to_list())
    assert planted
    with memgraph_ops.open(home) as mg:
        mg.ingest_file(workload)
        mg.compact(redact=no_redaction)
        lake_root = Path(mg.lake.root)
    leaks = demo.planted_pii_leaks(workload, lake_root)
    assert not leaks.is_empty()
    assert set(leaks["value"].to_list()) <= planted


def test_planted_pii_leaks_fails_loudly_without_the_sidecar(tmp_path: Path) -> None:
    workload = tmp_path / "workload.jsonl"
    workload.write_text("")
    with pytest.raises(InputError, match=r"workload\.pii\.jsonl"):
        demo.planted_pii_leaks(workload, tmp_path / "lake")


def test_demo_runs_every_stage_through_dagster_and_ends_with_a_valid_receipt(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the demo points these at its data root; monkeypatch puts them back afterwards
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("MEMGRAPH_HOME", str(home))
    monkeypatch.delenv("MEMGRAPH_CONFIG", raising=False)
    assert demo.main(["--sessions", "6", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    for stage in range(1, 8):
        assert f"== {stage}/7 " in out
    jobs = ["compaction_job", "observatory_days_job", "observatory_job", "retention_job"]
    jobs.append("restore_session_job")
    for job in [*jobs, "erasure_job"]:
        assert f"of {job}: succeeded" in out
    assert "asset checks:   3/3 passed" in out
    assert "planted PII:    no planted value found in any lake file" in out
    assert "after (lake):" in out and "<" in out.split("after (lake):")[1].splitlines()[0]
    assert "vault:          6 sessions" in out
    context = out.split("its context now in the store")[1].split("==")[0]
    assert "  prompt:   " in context and "  response: " in context
    assert "  prompt:   \n" not in context  # the prompt's text is shown
    assert "passed: True" in out and "signature:    valid (Ed25519" in out
    # the workload (planted PII in clear) never lands in the data root, so erasure's scan of
    # every file there can pass; the demo policy stayed out of the user's config
    assert not list(home.glob("workload*")) and not (home / "memgraph.toml").exists()
    with memgraph_ops.open(home) as mg:
        assert mg.store.restored().height == 1  # the restored read copy is in the store
        assert mg.vault.stats()["sessions"] < 6  # the erased user's sessions left the vault
