"""Dagster resources: one per external system this code location reads or writes."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import PrivateAttr

import memgraph_ops
from memgraph_ops import Lake, Settings, Store, load_settings
from memgraph_ops.client import served_store
from memgraph_ops.lake import Redactor


class StoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The operational store (DuckDB). `home` defaults to `$MEMGRAPH_HOME`, else `./store`."""

    home: str | None = None

    def settings(self) -> Settings:
        return load_settings(self.home)

    @contextmanager
    def memgraph(self) -> Iterator[memgraph_ops.Memgraph]:
        """The whole data root (store, lake, vault), for operations that span layers."""
        with memgraph_ops.open(self.home) as mg:
            yield mg

    @contextmanager
    def open(self) -> Iterator[Store]:
        """HOT: through the server of this data root when one serves it (`memgraph-ops serve`,
        found by its endpoint file), else the DuckDB file itself."""
        settings = self.settings()
        settings.secure_home()
        store = served_store(settings) or Store.open(
            settings.store_path, memory_limit=settings.duckdb_memory_limit, home=settings.home
        )
        try:
            yield store
        finally:
            store.close()


class PrivacyResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Redaction before the lake (Presidio + spaCy + our recognizers, keyed pseudonyms).

    The pseudonym key comes from the environment (`MEMGRAPH_PSEUDONYM_KEY` or
    `MEMGRAPH_PSEUDONYM_KEY_FILE`), never from Dagster config, so it never lands in run storage.
    """

    home: str | None = None
    _memgraph: memgraph_ops.Memgraph | None = PrivateAttr(default=None)

    def redactor(self) -> Redactor:
        if self._memgraph is None:
            self._memgraph = memgraph_ops.open(self.home)
        return self._memgraph.redactor()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Stop the NER worker processes the redactor started (each holds a spaCy model)."""
        if self._memgraph is not None:
            self._memgraph.close()
            self._memgraph = None


class LakeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The Delta lake. `uri` defaults to `<home>/lake` (a local path or an object-store URI)."""

    home: str | None = None
    uri: str | None = None

    def lake(self) -> Lake:
        return Lake(self.uri or load_settings(self.home).lake_uri)
