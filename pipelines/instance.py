"""Where Dagster keeps its own storage: `<data root>/dagster`, configured by `dagster.yaml`."""

import os
import shutil
from pathlib import Path

from memgraph_ops import Settings

REPO_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


def prepare_dagster_home(settings: Settings) -> Path:
    """Create `<home>/dagster` with the project's `dagster.yaml` and point DAGSTER_HOME at it."""
    settings.secure_home()
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if REPO_DAGSTER_YAML.exists() and (
        not target.exists() or target.read_bytes() != REPO_DAGSTER_YAML.read_bytes()
    ):
        tmp = target.with_suffix(".yaml.tmp")
        shutil.copyfile(REPO_DAGSTER_YAML, tmp)
        os.replace(tmp, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
