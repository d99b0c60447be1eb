"""The Dagster code location of memgraph_ops, a `dg` project (`[tool.dg]` in pyproject.toml):
every definition lives under `pipelines/defs/`, one folder per concern (compaction,
observatory, retention, restore, erasure) and the resources in `defs/resources.py`.

    dg dev                                   # or: dagster dev -m pipelines.definitions
    dg check defs
"""

from pathlib import Path

import dagster as dg

defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
