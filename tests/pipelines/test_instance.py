"""`dagster.yaml` in DAGSTER_HOME: SQLite by default, PostgreSQL when DAGSTER_PG_URL is set."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from memgraph_ops import load_settings
from pipelines.instance import prepare_dagster_home


@pytest.fixture(autouse=True)
def _restore_dagster_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))  # prepare_dagster_home sets it


def test_sqlite_unless_a_postgres_url_is_set(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    target = prepare_dagster_home(load_settings(home)) / "dagster.yaml"
    assert "storage" not in yaml.safe_load(target.read_text())
    secret = "postgresql+psycopg2://dagster:s3cret@db.internal:5432/dagster"
    monkeypatch.setenv("DAGSTER_PG_URL", secret)
    config = yaml.safe_load(_prepared(home))
    assert config["storage"] == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    assert "s3cret" not in (home / "dagster" / "dagster.yaml").read_text()
    assert config["run_queue"]["max_concurrent_runs"] == 4  # the project's settings stay


def _prepared(home: Path) -> str:
    return (prepare_dagster_home(load_settings(home)) / "dagster.yaml").read_text()


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db"])
def test_a_url_without_the_psycopg2_driver_is_refused_clearly(
    home: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DAGSTER_PG_URL", url)
    with pytest.raises(ValueError, match=r"postgresql\+psycopg2://"):
        prepare_dagster_home(load_settings(home))
