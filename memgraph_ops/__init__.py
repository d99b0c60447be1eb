"""memgraph_ops: the operations pipeline for LLM-Memory-Graph.

Start with `memgraph_ops.open(home)`; see `memgraph_ops.api`.
"""

from memgraph_ops.api import Memgraph, open
from memgraph_ops.config import Settings, load_settings
from memgraph_ops.errors import MemgraphError
from memgraph_ops.lake import Lake
from memgraph_ops.model import SCHEMA_VERSION
from memgraph_ops.store import Store

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
