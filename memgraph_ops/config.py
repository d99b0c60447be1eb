"""Settings, resolved at run time from the environment and an optional TOML file.

Order of precedence (highest first): explicit arguments, environment variables, the config
file (`$MEMGRAPH_CONFIG`, else `<home>/memgraph.toml`), defaults. Nothing is read at import.

| setting | env | default |
|---|---|---|
| home (data root) | `MEMGRAPH_HOME` | `./store` |
| lake URI | `MEMGRAPH_LAKE_URI` | `<home>/lake` |
| hot window (hours HOT keeps compacted events) | `MEMGRAPH_HOT_WINDOW_HOURS` | 6 |
| compaction batch (events per Delta commit) | `MEMGRAPH_COMPACT_BATCH` | 250000 |
| compaction schedule (minutes) | `MEMGRAPH_COMPACT_EVERY_MINUTES` | 15 |
| dedupe window (days a compacted event id is remembered) | `MEMGRAPH_DEDUPE_DAYS` | 30 |
| redaction before the lake (`on`/`off`) | `MEMGRAPH_REDACTION` | on |
| DuckDB memory limit of the store | `MEMGRAPH_DUCKDB_MEMORY_LIMIT` | 1GB |

The `[retention]` table (archive/delete ages, rules per tenant, tag and node type, legal hold)
is read by `memgraph_ops.retention`. The `[privacy]` table of the config file (pipeline,
threshold, entities, allow-list, operator, per-tenant overrides) is read by
`memgraph_ops.privacy`. The pseudonym key is never read from
here: it comes from the environment or a key file outside the data root.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from memgraph_ops.errors import ConfigError

DEFAULT_HOME = "store"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how the pipeline behaves."""

    home: Path
    lake_uri: str
    hot_window: timedelta = timedelta(hours=6)
    compact_batch: int = 250_000
    compact_every_minutes: int = 15
    dedupe_window: timedelta = timedelta(days=30)
    redaction: bool = True
    duckdb_memory_limit: str = "1GB"
    privacy: Mapping[str, Any] = field(default_factory=dict)
    retention: Mapping[str, Any] = field(default_factory=dict)

    @property
    def store_path(self) -> Path:
        return self.home / "hot.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def vault_path(self) -> Path:
        return self.home / "vault"


def _number(name: str, raw: Any, kind: type[int] | type[float]) -> Any:
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def load_settings(home: str | Path | None = None, **overrides: Any) -> Settings:
    """Resolve settings now, from arguments, the environment and the config file."""
    env = os.environ
    root = Path(home or env.get("MEMGRAPH_HOME") or DEFAULT_HOME).expanduser().absolute()
    config_file = Path(env.get("MEMGRAPH_CONFIG") or root / "memgraph.toml")
    file_values: dict[str, Any] = {}
    if config_file.exists():
        try:
            document = tomllib.loads(config_file.read_text())
            file_values = {
                **document.get("memgraph", {}),
                "privacy": document.get("privacy", {}),
                "retention": document.get("retention", {}),
            }
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file} is not valid TOML: {exc}") from exc

    def pick(key: str, env_name: str, default: Any) -> Any:
        if key in overrides and overrides[key] is not None:
            return overrides[key]
        if env_name in env:
            return env[env_name]
        return file_values.get(key, default)

    hot_hours = _number(
        "hot_window_hours", pick("hot_window_hours", "MEMGRAPH_HOT_WINDOW_HOURS", 6), float
    )
    batch = _number("compact_batch", pick("compact_batch", "MEMGRAPH_COMPACT_BATCH", 250_000), int)
    if batch < 1:
        raise ConfigError("compact_batch must be at least 1")
    return Settings(
        home=root,
        lake_uri=str(pick("lake_uri", "MEMGRAPH_LAKE_URI", str(root / "lake"))),
        hot_window=timedelta(hours=hot_hours),
        compact_batch=batch,
        compact_every_minutes=_number(
            "compact_every_minutes",
            pick("compact_every_minutes", "MEMGRAPH_COMPACT_EVERY_MINUTES", 15),
            int,
        ),
        dedupe_window=timedelta(
            days=_number("dedupe_days", pick("dedupe_days", "MEMGRAPH_DEDUPE_DAYS", 30), float)
        ),
        redaction=_switch("redaction", pick("redaction", "MEMGRAPH_REDACTION", True)),
        duckdb_memory_limit=str(pick("duckdb_memory_limit", "MEMGRAPH_DUCKDB_MEMORY_LIMIT", "1GB")),
        privacy=file_values.get("privacy", {}),
        retention=file_values.get("retention", {}),
    )


def _switch(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, got {raw!r}")
