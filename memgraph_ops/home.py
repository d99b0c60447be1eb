"""`open_home`: `memgraph_ops.open` for the command line, imported when a command first needs
the data root. The library brings polars, DuckDB, Delta and (for redaction) Presidio and
spaCy; `--help`, usage errors and light commands do without them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memgraph_ops.api import Memgraph


def open_home(home: Path | str | None, **options: Any) -> Memgraph:
    from memgraph_ops.api import open as open_api

    return open_api(home, **options)
