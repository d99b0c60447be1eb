"""Settings, resolved at run time from the environment and an optional TOML file.

Order of precedence (highest first): explicit arguments, environment variables, the config
file (`$MEMGRAPH_CONFIG`, else `<home>/memgraph.toml`), defaults. Nothing is read at import.

| setting (`[memgraph]` key) | env | default |
|---|---|---|
| home (data root) | `MEMGRAPH_HOME` | `./store` |
| `lake_uri` | `MEMGRAPH_LAKE_URI` | `<home>/lake` |
| `hot_window_hours` (hours HOT keeps compacted events) | `MEMGRAPH_HOT_WINDOW_HOURS` | 6 |
| `compact_batch` (events per Delta commit) | `MEMGRAPH_COMPACT_BATCH` | 250000 |
| `compact_every_minutes` (compaction schedule) | `MEMGRAPH_COMPACT_EVERY_MINUTES` | 15 |
| `dedupe_days` (days a compacted event id is remembered) | `MEMGRAPH_DEDUPE_DAYS` | 30 |
| `redaction` before the lake (`on`/`off`) | `MEMGRAPH_REDACTION` | on |
| `duckdb_memory_limit` of the store | `MEMGRAPH_DUCKDB_MEMORY_LIMIT` | 1GB |
| `vault_group_kib` (KiB of sessions per vault frame) | `MEMGRAPH_VAULT_GROUP_KIB` | 1024 |

The whole file is one validated model (`ConfigFile`) that refuses unknown tables and keys: a
misspelt setting is an error naming the file, the table, the key and the accepted keys, never a
default silently left in force. Environment variables are validated the same way, and an error
names the variable.

The `[retention]` table (archive/delete ages, rules per tenant, tag and node type, legal hold)
is checked here for its keys and types, and interpreted by `memgraph_ops.retention`. The
`[privacy]` table (pipeline, threshold, entities, allow-list, operator, per-tenant overrides) is
checked here for its keys and types and interpreted by `memgraph_ops.privacy`. The pseudonym key
is never read from here: it comes from the environment or a key file outside the data root.

The data root holds raw personal data in HOT, so `Settings.secure_home` keeps it owner-only.
"""

from __future__ import annotations

import difflib
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from memgraph_ops.errors import ConfigError

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

DEFAULT_HOME = "store"
HOME_MODE: Final = 0o700
"""The data root's mode: HOT holds raw personal data, so nobody but its owner may enter it."""


def _not_bool(value: Any) -> Any:
    # pydantic would read `true` as 1; a switch given where a number belongs is a mistake.
    if isinstance(value, bool):
        raise ValueError("must be a number")
    return value


NonNegative = Annotated[float, BeforeValidator(_not_bool), Field(ge=0)]
Count = Annotated[int, BeforeValidator(_not_bool), Field(ge=0)]
Positive = Annotated[int, BeforeValidator(_not_bool), Field(ge=1)]
Fraction = Annotated[float, BeforeValidator(_not_bool), Field(ge=0, le=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MemgraphSection(_Section):
    """The `[memgraph]` table (each key also has an environment variable, see `ENV`)."""

    lake_uri: str | None = None
    hot_window_hours: NonNegative = 6.0
    # 100k, not 250k: a compaction's peak RSS follows its batch, not the backlog (2M events:
    # 1.98 GiB at 250k, 1.41 GiB at 100k, 11% slower; benchmarks/RESULTS.md, hot_scale)
    compact_batch: Positive = 100_000
    compact_every_minutes: Count = 15
    dedupe_days: NonNegative = 30.0
    redaction: bool = True
    duckdb_memory_limit: str = "1GB"
    vault_group_kib: Count = 1024


ENV: Final = {
    "lake_uri": "MEMGRAPH_LAKE_URI",
    "hot_window_hours": "MEMGRAPH_HOT_WINDOW_HOURS",
    "compact_batch": "MEMGRAPH_COMPACT_BATCH",
    "compact_every_minutes": "MEMGRAPH_COMPACT_EVERY_MINUTES",
    "dedupe_days": "MEMGRAPH_DEDUPE_DAYS",
    "redaction": "MEMGRAPH_REDACTION",
    "duckdb_memory_limit": "MEMGRAPH_DUCKDB_MEMORY_LIMIT",
    "vault_group_kib": "MEMGRAPH_VAULT_GROUP_KIB",
}
"""`[memgraph]` key -> the environment variable that overrides it."""


class PrivacyTenantSection(_Section):
    """A `[privacy.tenants.NAME]` table: the keys `PrivacyConfig.from_mapping` reads per tenant
    (`memgraph_ops.privacy.redact._policy`)."""

    entities: list[str] | None = None
    threshold: Fraction | None = None
    allow_list: list[str] | None = None
    operator: Literal["pseudonym", "tag"] | None = None


class PrivacySection(PrivacyTenantSection):
    """The `[privacy]` table: the keys `PrivacyConfig.from_mapping` reads."""

    pipeline: str | None = None
    workers: Positive | None = None
    tenants: dict[str, PrivacyTenantSection] = Field(default_factory=dict)


class RetentionRuleSection(_Section):
    """A `[[retention.rules]]` entry (its combinations are checked by `memgraph_ops.retention`)."""

    tenant: str | None = None
    tag: str | None = None
    node_type: str | None = None
    archive_after_days: NonNegative | None = None
    delete_after_days: NonNegative | None = None
    hot_window_hours: NonNegative | None = None


class LegalHoldSection(_Section):
    """The `[retention.legal_hold]` table."""

    users: list[str] = Field(default_factory=list)
    sessions: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class RetentionSection(_Section):
    """The `[retention]` table (defaults in `memgraph_ops.retention.policy.DEFAULTS`)."""

    archive_after_days: NonNegative | None = None
    delete_after_days: NonNegative | None = None
    restored_ttl_days: NonNegative | None = None
    time_travel_days: NonNegative | None = None
    rules: list[RetentionRuleSection] = Field(default_factory=list)
    legal_hold: LegalHoldSection = Field(default_factory=LegalHoldSection)


class ServiceSection(_Section):
    """The `[service]` table: `memgraph-ops serve` defaults (its options override them), and
    `url`, which makes `memgraph_ops.client.connect` talk to a service instead of the file."""

    url: str | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=65535)] = 8765
    commit_window_ms: NonNegative = 2.0
    queue_size: Positive = 1024
    max_body_mib: Positive = 64


class ConfigFile(_Section):
    """The whole config file: these four tables and nothing else."""

    memgraph: MemgraphSection = Field(default_factory=MemgraphSection)
    privacy: PrivacySection = Field(default_factory=PrivacySection)
    retention: RetentionSection = Field(default_factory=RetentionSection)
    service: ServiceSection = Field(default_factory=ServiceSection)


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how the pipeline behaves."""

    home: Path
    lake_uri: str
    hot_window: timedelta = timedelta(hours=6)
    compact_batch: int = 100_000
    compact_every_minutes: int = 15
    dedupe_window: timedelta = timedelta(days=30)
    redaction: bool = True
    duckdb_memory_limit: str = "1GB"
    vault_group_bytes: int = 1 << 20
    """Bytes of sessions (before compression) one vault frame holds."""
    privacy: Mapping[str, Any] = field(default_factory=dict)
    retention: Mapping[str, Any] = field(default_factory=dict)
    service: Mapping[str, Any] = field(default_factory=dict)
    """The `[service]` table as given (defaults in `ServiceSection`)."""
    config_file: Path | None = None
    """The config file that was read, if there was one."""

    @property
    def store_path(self) -> Path:
        return self.home / "hot.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def vault_path(self) -> Path:
        return self.home / "vault"

    def secure_home(self, *, create: bool = True) -> None:
        """Make the data root owner-only (mode 0700): create it so, or narrow an existing root
        of ours that group or others may enter. Files inside need no mode of their own then."""
        secure_dir(self.home, create=create)


def secure_dir(path: Path, *, create: bool = True) -> None:
    """Create `path` (and missing parents) with mode 0700, or narrow it to 0700 if it is ours
    and wider. A directory owned by someone else is left as it is."""
    if create:
        # mkdir's mode is masked by the umask and applies to the last part only: chmod below.
        path.mkdir(mode=HOME_MODE, parents=True, exist_ok=True)
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if os.name != "posix" or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return
    if stat.S_IMODE(info.st_mode) & ~HOME_MODE:
        path.chmod(stat.S_IMODE(info.st_mode) & HOME_MODE)


def load_settings(home: str | Path | None = None, **overrides: Any) -> Settings:
    """Resolve settings now, from arguments, the environment and the config file.

    Raises:
        ConfigError: the config file is not valid TOML or has an unknown table or key or a
            value of the wrong kind, or an environment variable or argument is invalid; the
            message names the file and key, or the variable.
    """
    env = os.environ
    root = Path(home or env.get("MEMGRAPH_HOME") or DEFAULT_HOME).expanduser().absolute()
    named = env.get("MEMGRAPH_CONFIG")
    config_file = Path(named).expanduser() if named else root / "memgraph.toml"
    if named and not config_file.is_file():
        raise ConfigError(f"MEMGRAPH_CONFIG names {config_file}, which is not a file")
    document = read_config_file(config_file) if config_file.is_file() else ConfigFile()

    values: dict[str, Any] = document.memgraph.model_dump(exclude_unset=True)
    sources = {key: f"{_shown(config_file)}: [memgraph] {key}" for key in values}
    for key, env_name in ENV.items():
        if env_name in env:
            values[key], sources[key] = env[env_name], env_name
    for key, value in overrides.items():
        if value is not None:
            values[key], sources[key] = value, f"the argument {key}"
    try:
        merged = MemgraphSection.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_override_problem(exc.errors()[0], sources)) from None

    return Settings(
        home=root,
        lake_uri=merged.lake_uri or str(root / "lake"),
        hot_window=timedelta(hours=merged.hot_window_hours),
        compact_batch=merged.compact_batch,
        compact_every_minutes=merged.compact_every_minutes,
        dedupe_window=timedelta(days=merged.dedupe_days),
        redaction=merged.redaction,
        duckdb_memory_limit=merged.duckdb_memory_limit,
        vault_group_bytes=merged.vault_group_kib * 1024,
        privacy=document.privacy.model_dump(exclude_unset=True),
        retention=document.retention.model_dump(exclude_unset=True),
        service=document.service.model_dump(exclude_unset=True),
        config_file=config_file if config_file.is_file() else None,
    )


def read_config_file(path: Path) -> ConfigFile:
    """Parse and validate a config file; a ConfigError names the file and what is wrong."""
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{_shown(path)} is not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{_shown(path)} cannot be read: {exc}") from exc
    try:
        return ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{_shown(path)}: {_file_problem(exc.errors()[0])}") from None


def unknown_key_message(where: str, key: str, accepted: list[str] | tuple[str, ...]) -> str:
    """`[privacy] has no setting 'threshhold' (did you mean 'threshold'? accepted: …)`."""
    close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{where} has no setting {key!r} ({hint}accepted: {', '.join(sorted(accepted))})"


# error messages -----------------------------------------------------------------------------


def _section_at(path: tuple[int | str, ...]) -> tuple[str, type[_Section]] | None:
    """The table a location in the file points into, as written in TOML, and its model."""
    match path:
        case ():
            return "the top level", ConfigFile
        case ("memgraph",):
            return "[memgraph]", MemgraphSection
        case ("privacy",):
            return "[privacy]", PrivacySection
        case ("privacy", "tenants", str(name)):
            return f"[privacy.tenants.{name}]", PrivacyTenantSection
        case ("retention",):
            return "[retention]", RetentionSection
        case ("retention", "rules", int(position)):
            return f"[[retention.rules]] #{position + 1}", RetentionRuleSection
        case ("retention", "legal_hold"):
            return "[retention.legal_hold]", LegalHoldSection
        case ("service",):
            return "[service]", ServiceSection
    return None


def _file_problem(error: ErrorDetails) -> str:
    loc = tuple(error["loc"])
    whole = _section_at(loc)
    if whole is not None:  # a table given as something else (`memgraph = 3`)
        return f"{whole[0]} {_phrase(error)}" if loc else _phrase(error)
    # The innermost table the location lies in, then the key within it.
    cut = max(i for i in range(len(loc)) if _section_at(loc[:i]) is not None)
    where, model = _section_at(loc[:cut]) or ("the top level", ConfigFile)
    key = str(loc[cut])
    if error["type"] != "extra_forbidden":
        if key == "rules" and error["type"] == "list_type":
            return f"{where} rules must be a list of tables ([[retention.rules]])"
        return f"{where} {key} {_phrase(error)}"
    if model is not ConfigFile:
        return unknown_key_message(where, key, list(model.model_fields))
    if key in MemgraphSection.model_fields:
        return (
            f"{key!r} stands outside any table: settings go in the [memgraph] table (a line "
            "`[memgraph]` above them)"
        )
    close = difflib.get_close_matches(key, list(ConfigFile.model_fields), n=1)
    hint = f"did you mean [{close[0]}]? " if close else ""
    return (
        f"there is no table [{key}] ({hint}accepted: [memgraph], [privacy], [retention], [service])"
    )


def _override_problem(error: ErrorDetails, sources: Mapping[str, str]) -> str:
    key = str(error["loc"][0])
    if error["type"] == "extra_forbidden":
        return unknown_key_message("load_settings()", key, list(MemgraphSection.model_fields))
    return f"{sources.get(key, key)} {_phrase(error)}"


_PHRASES: Final = {
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be on or off (true or false)",
    "bool_type": "must be on or off (true or false)",
    "string_type": "must be a string",
    "list_type": "must be a list of strings",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dict_type": "must be a table",
}


def _phrase(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "string_type" and any(isinstance(part, int) for part in error["loc"]):
        text = "must be a list of strings"
    elif kind == "greater_than_equal":
        text = "must not be negative" if ctx.get("ge") == 0 else f"must be at least {ctx['ge']}"
    elif kind == "less_than_equal":
        text = f"must be at most {ctx['le']}"
    elif kind == "literal_error":
        text = f"must be one of {ctx['expected']}"
    elif kind == "value_error":
        text = str(ctx.get("error", error["msg"]))
    else:
        text = _PHRASES.get(kind, error["msg"][:1].lower() + error["msg"][1:])
    value = error.get("input")
    return text if isinstance(value, Mapping) else f"{text}, got {value!r}"


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    cwd = Path.cwd()
    if cwd.parent == cwd:  # at / every path is "relative"; absolute reads better
        return str(path)
    try:
        return str(path.absolute().relative_to(cwd))
    except ValueError:
        return str(path)
