"""Dagster resources: one per external system this code location reads or writes."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from memgraph_ops import Lake, Settings, Store, load_settings


class StoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The operational store (DuckDB). `home` defaults to `$MEMGRAPH_HOME`, else `./store`."""

    home: str | None = None

    def settings(self) -> Settings:
        return load_settings(self.home)

    @contextmanager
    def open(self) -> Iterator[Store]:
        settings = self.settings()
        settings.home.mkdir(parents=True, exist_ok=True)
        store = Store.open(settings.store_path)
        try:
            yield store
        finally:
            store.close()


class LakeResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The Delta lake. `uri` defaults to `<home>/lake` (a local path or an object-store URI)."""

    home: str | None = None
    uri: str | None = None

    def lake(self) -> Lake:
        return Lake(self.uri or load_settings(self.home).lake_uri)
