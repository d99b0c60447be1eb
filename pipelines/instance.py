"""Where Dagster keeps its own storage: `<data root>/dagster`, configured by `dagster.yaml`.

Runs, event logs, schedule and sensor state go to SQLite files under that folder, or, when
`DAGSTER_PG_URL` is set, to PostgreSQL (`dagster-postgres`; the URL is read from the
environment by Dagster at start, so the file never holds a password)."""

import os
from pathlib import Path

from memgraph_ops import Settings

REPO_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
PG_URL_ENV = "DAGSTER_PG_URL"

POSTGRES_STORAGE = f"""
# written by pipelines/instance.py because {PG_URL_ENV} is set
storage:
  postgres:
    postgres_url:
      env: {PG_URL_ENV}
"""


def instance_yaml() -> str:
    """The project's `dagster.yaml`, with the PostgreSQL storage block when `DAGSTER_PG_URL`
    is set.

    Raises ValueError for a URL that does not name the psycopg2 driver: SQLAlchemy 2.1 reads a
    bare `postgresql://` as psycopg 3, whose SQL dagster-postgres does not speak (its NOTIFY
    fails on every run)."""
    text = REPO_DAGSTER_YAML.read_text() if REPO_DAGSTER_YAML.exists() else ""
    url = os.environ.get(PG_URL_ENV)
    if url:
        scheme = url.split("://", 1)[0]
        if scheme != "postgresql+psycopg2":
            raise ValueError(
                f"{PG_URL_ENV} must start with postgresql+psycopg2:// (it starts with "
                f"{scheme}://): dagster-postgres runs on psycopg2, and SQLAlchemy 2.1 reads a "
                "bare postgresql:// as psycopg 3"
            )
        text = text.rstrip("\n") + "\n" + POSTGRES_STORAGE
    return text


def prepare_dagster_home(settings: Settings) -> Path:
    """Create `<home>/dagster` with the project's `dagster.yaml` and point DAGSTER_HOME at it."""
    settings.secure_home()
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    text = instance_yaml()
    if not target.exists() or target.read_text() != text:
        tmp = target.with_suffix(".yaml.tmp")
        tmp.write_text(text)
        os.replace(tmp, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
