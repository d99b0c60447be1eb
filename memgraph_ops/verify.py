"""`verify`: check every layer of a data root and name each damaged file.

    >>> import memgraph_ops
    >>> from memgraph_ops.verify import verify
    >>> report = verify(memgraph_ops.load_settings("store"))     # doctest: +SKIP
    >>> report.ok, [(p.path, p.what) for p in report.errors]

- HOT (`hot.duckdb`): every block against its checksum, then a full read through DuckDB
  (`memgraph_ops.store.verify`);
- LAKE (every Delta table under the lake root): the log a reader needs, and every data file of
  the current snapshot: present, of the size the log records, matching the sha256 recorded when
  it was written, or at least readable Parquet where none was recorded
  (`memgraph_ops.lake.verify`);
- VAULT: the index (a Delta table, checked like the lake's), every live frame (sha256 and zstd
  content checksum), every dictionary they need, and packs no index row names
  (`memgraph_ops.vault.verify`).

It only reads: nothing under the data root changes, and it takes no writer's lock (a HOT file
another process has open for writing is reported as not checked).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memgraph_ops.config import Settings
from memgraph_ops.findings import Layer, LayerReport, Problem, Progress
from memgraph_ops.lake.verify import verify_lake
from memgraph_ops.store.verify import verify_store
from memgraph_ops.vault.verify import verify_vault

LAYERS: tuple[Layer, ...] = ("hot", "lake", "vault")


@dataclass
class VerifyReport:
    home: str
    layers: list[LayerReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def problems(self) -> list[Problem]:
        return [p for layer in self.layers for p in layer.problems]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        """No file is missing or damaged (warnings allowed)."""
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.problems) - len(self.errors),
            "seconds": self.seconds,
            "layers": {layer.layer: layer.as_dict() for layer in self.layers},
            "problems": [vars(p) for p in self.problems],
        }


def verify(
    settings: Settings,
    *,
    layers: tuple[Layer, ...] = LAYERS,
    progress: Callable[[Layer], Progress | None] | None = None,
) -> VerifyReport:
    """Check the layers of the data root in `settings`; `progress(layer)` gives the callback
    for that layer's (bytes checked, bytes to check)."""
    started = time.perf_counter()
    home = settings.home
    report = VerifyReport(str(home))
    for layer in layers:
        step = progress(layer) if progress else None
        if layer == "hot":
            report.layers.append(verify_store(settings.store_path, home=home, progress=step))
        elif layer == "lake":
            report.layers.append(verify_lake(settings.lake_uri, home=home, progress=step))
        else:
            report.layers.append(verify_vault(settings.vault_path, home=home, progress=step))
    report.seconds = round(time.perf_counter() - started, 3)
    return report
