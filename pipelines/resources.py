"""The one Dagster resource: the data root, as the library's `Memgraph` (HOT, lake, vault,
redaction), opened on first use in a run's process and closed when the run's step ends."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import PrivateAttr

import memgraph_ops
from memgraph_ops import Memgraph, Settings, Store, load_settings


class MemgraphResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The data root. `home` defaults to `$MEMGRAPH_HOME`, else `./store`; the lake is wherever
    its settings put it (`MEMGRAPH_LAKE_URI`: a local path or `s3://…`).

    The pseudonym key comes from the environment (`MEMGRAPH_PSEUDONYM_KEY` or
    `MEMGRAPH_PSEUDONYM_KEY_FILE`), never from Dagster config, so it never lands in run storage.
    """

    home: str | None = None
    _memgraph: Memgraph | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        """The data root's settings, without opening it (for sensors)."""
        return load_settings(self.home)

    def open(self) -> Memgraph:
        """The data root, opened once per process and kept until teardown."""
        if self._memgraph is None:
            self._memgraph = memgraph_ops.open(self.home)
        return self._memgraph

    @contextmanager
    def store(self) -> Iterator[Store]:
        """HOT for one operation (through the server of this data root when one serves it),
        let go after it: DuckDB lets one process hold the file, and a step that waits and
        retries must not keep it meanwhile."""
        mg = self.open()
        try:
            yield mg.store
        finally:
            mg.close_store()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Close the store and stop the NER worker processes the redactor started (each holds
        a spaCy model)."""
        if self._memgraph is not None:
            self._memgraph.close()
            self._memgraph = None
