"""memgraph_ops: the operations pipeline for LLM-Memory-Graph.

Start with `memgraph_ops.open(home)`; see `memgraph_ops.api`.

The names below are imported on first use (PEP 562): `import memgraph_ops.cli` must not pay
for polars, DuckDB, Delta and Presidio before it knows which command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memgraph_ops._lazy import exports
from memgraph_ops.errors import MemgraphError

if TYPE_CHECKING:
    from memgraph_ops.api import Memgraph, open
    from memgraph_ops.config import Settings, load_settings
    from memgraph_ops.lake import Lake
    from memgraph_ops.model import SCHEMA_VERSION
    from memgraph_ops.store import Store

__getattr__ = exports(
    __name__,
    {
        "Memgraph": "memgraph_ops.api",
        "open": "memgraph_ops.api",
        "Settings": "memgraph_ops.config",
        "load_settings": "memgraph_ops.config",
        "Lake": "memgraph_ops.lake",
        "SCHEMA_VERSION": "memgraph_ops.model",
        "Store": "memgraph_ops.store",
    },
)

__all__ = [
    "SCHEMA_VERSION",
    "Lake",
    "Memgraph",
    "MemgraphError",
    "Settings",
    "Store",
    "load_settings",
    "open",
]
