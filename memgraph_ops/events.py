"""Turning user input into valid events: normalisation to the event schema, then validation.

Input comes as Python dicts, Arrow tables or polars frames. Every input becomes a polars frame
of `EVENT_SCHEMA`; values that cannot be converted become null and leave a reason behind.
Validation is vectorised over the frame and splits it into the events that may land and the
ones that go to quarantine, each with every reason it failed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

import duckdb
import polars as pl
import pyarrow as pa

from memgraph_ops.model import (
    EDGE_TYPES,
    EVENT_SCHEMA,
    FIELDS,
    FINISH_REASONS,
    JSON_FIELDS,
    KINDS,
    LIST_FIELDS,
    NODE_TYPES,
    NON_NEGATIVE_FIELDS,
    OPS,
    SEMVER_PATTERN,
    UNIT_INTERVAL_FIELDS,
    edge_key,
)

EventInput: TypeAlias = Iterable[Mapping[str, Any]] | pa.Table | pa.RecordBatch | pl.DataFrame

_COLUMNS = EVENT_SCHEMA.names
_POLARS_SCHEMA = pl.Schema(pl.from_arrow(EVENT_SCHEMA.empty_table()).schema)  # type: ignore[union-attr]
_REASON = "_reason"
_POS = "_pos"


@dataclass(frozen=True)
class Normalized:
    """Input turned into `EVENT_SCHEMA` columns plus `_reason` (conversion problems) and
    `_pos` (position in the input), and a way back to the input rows as given, which only
    quarantined rows need."""

    frame: pl.DataFrame
    raw: Callable[[list[int]], list[str]]


@dataclass(frozen=True)
class Validated:
    """The result of validating a batch: what may land and what goes to quarantine."""

    valid: pl.DataFrame
    """Events of `EVENT_SCHEMA`, one per event id (first occurrence wins)."""
    quarantined: pl.DataFrame
    """Columns `event_id`, `reason`, `raw` (the event as JSON, as it was given)."""
    duplicates_in_batch: int


def to_frame(events: EventInput) -> Normalized:
    """Normalise input (dicts, Arrow, polars) to the event schema."""
    if isinstance(events, pa.RecordBatch):
        events = pa.Table.from_batches([events])
    if isinstance(events, pa.Table):
        events = pl.DataFrame(events)
    if isinstance(events, pl.DataFrame):
        source = events
        return Normalized(_from_polars(source), lambda rows: _raw_of_frame(source, rows))
    rows = list(events)
    return Normalized(_from_dicts(rows), lambda positions: _raw_of_dicts(rows, positions))


def normalize(events: EventInput) -> pl.DataFrame:
    """Input as a frame of exactly `EVENT_SCHEMA` (conversion failures become nulls)."""
    return to_frame(events).frame.select(_COLUMNS)


def _raw_of_dicts(rows: list[Any], positions: list[int]) -> list[str]:
    return [json.dumps(rows[i], default=_json_default, ensure_ascii=False) for i in positions]


def _raw_of_frame(frame: pl.DataFrame, positions: list[int]) -> list[str]:
    picked = frame[positions]
    return picked.select(pl.struct(pl.all()).struct.json_encode())[:, 0].to_list()


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _from_dicts(rows: list[Any]) -> pl.DataFrame:
    columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    reasons: list[list[str]] = []
    known = set(_COLUMNS)
    for row in rows:
        row_reasons: list[str] = []
        if not isinstance(row, Mapping):
            row = {}
            row_reasons.append("event is not a JSON object")
        extras = {k: v for k, v in row.items() if k not in known}
        for name in _COLUMNS:
            value = row.get(name)
            if name == "attrs":
                value = _merge_attrs(value, extras, row_reasons)
            elif value is not None and name in JSON_FIELDS and not isinstance(value, str):
                value = json.dumps(value, default=_json_default, ensure_ascii=False)
            columns[name].append(value)
        reasons.append(row_reasons)
    frame = {}
    for name in _COLUMNS:
        arr, bad = _to_arrow(columns[name], EVENT_SCHEMA.field(name).type)
        frame[name] = arr
        for i in bad:
            reasons[i].append(f"{name}: cannot read {columns[name][i]!r} as {_type_name(name)}")
    table = pa.table(frame, schema=EVENT_SCHEMA)
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    return df.with_columns(
        pl.Series(_REASON, reasons, dtype=pl.List(pl.String)),
        pl.int_range(pl.len(), dtype=pl.Int64).alias(_POS),
    )


def _merge_attrs(value: Any, extras: dict[str, Any], reasons: list[str]) -> str | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            reasons.append("attrs: not valid JSON")
            return None
    if value is not None and not isinstance(value, dict):
        reasons.append("attrs: must be a JSON object")
        return None
    merged = {**(value or {}), **extras}
    return json.dumps(merged, default=_json_default, ensure_ascii=False) if merged else None


def _type_name(name: str) -> str:
    t = EVENT_SCHEMA.field(name).type
    if pa.types.is_timestamp(t):
        return "an RFC 3339 timestamp"
    if pa.types.is_list(t):
        return "a list of strings"
    return str(t)


def _to_arrow(values: list[Any], type_: pa.DataType) -> tuple[pa.Array, list[int]]:
    """Convert a column, returning the positions of values that could not be converted."""
    if pa.types.is_timestamp(type_):
        values = [_parse_ts(v) for v in values]
    try:
        return pa.array(values, type=type_), []
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        pass
    out: list[Any] = []
    bad: list[int] = []
    for i, v in enumerate(values):
        try:
            pa.array([v], type=type_)
            out.append(v)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            out.append(None)
            bad.append(i)
    return pa.array(out, type=type_), bad


class _BadTimestamp:
    """A value that is kept to fail conversion, so the reason names the original."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _parse_ts(value: Any) -> Any:
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return _BadTimestamp(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return _BadTimestamp(value)


def _from_polars(df: pl.DataFrame) -> pl.DataFrame:
    extras = [c for c in df.columns if c not in _POLARS_SCHEMA]
    out: list[pl.Series] = []
    reason_exprs: list[pl.Expr] = []
    for name, dtype in _POLARS_SCHEMA.items():
        if name == "attrs" and extras:
            source = df.select(pl.struct(extras).struct.json_encode())[:, 0]
            if "attrs" in df.columns:
                source = pl.Series(
                    [
                        json.dumps({**json.loads(a), **json.loads(e)}) if a else e
                        for a, e in zip(df["attrs"].to_list(), source.to_list(), strict=True)
                    ]
                )
            out.append(source.alias("attrs"))
            continue
        if name not in df.columns:
            out.append(pl.Series(name, [None] * df.height, dtype=dtype))
            continue
        col = df[name]
        if name in JSON_FIELDS and col.dtype != pl.String:
            col = (
                col.to_frame().select(pl.col(name).struct.json_encode())[name]
                if isinstance(col.dtype, pl.Struct)
                else col.cast(pl.String, strict=False)
            )
        converted = _cast(col, dtype)
        failed = col.is_not_null() & converted.is_null()
        if failed.any():
            reason_exprs.append(
                pl.when(pl.lit(failed)).then(
                    pl.lit(f"{name}: cannot read value as {_type_name(name)}")
                )
            )
        out.append(converted.alias(name))
    frame = pl.DataFrame(out)
    reasons = (
        frame.select(pl.concat_list(reason_exprs).list.drop_nulls().alias(_REASON))[_REASON]
        if reason_exprs
        else pl.repeat([], df.height, dtype=pl.List(pl.String), eager=True).alias(_REASON)
    )
    return frame.with_columns(reasons, pl.int_range(pl.len(), dtype=pl.Int64).alias(_POS))


def _cast(col: pl.Series, dtype: pl.DataType) -> pl.Series:
    if isinstance(dtype, pl.Datetime) and col.dtype == pl.String:
        parsed = col.str.to_datetime(time_zone="UTC", strict=False, time_unit="us")
        missing = col.is_not_null() & parsed.is_null()
        if missing.any():  # mixed formats: let Python's ISO parser try the rest
            fixed = [
                p if p is not None or s is None else _iso_or_none(s)
                for p, s in zip(parsed.to_list(), col.to_list(), strict=True)
            ]
            parsed = pl.Series(col.name, fixed, dtype=dtype)
        return parsed
    if isinstance(dtype, pl.Datetime) and isinstance(col.dtype, pl.Datetime):
        if col.dtype.time_zone is None:
            col = col.dt.replace_time_zone("UTC")
        return col.dt.convert_time_zone("UTC").cast(dtype)
    return col.cast(dtype, strict=False)


def _iso_or_none(value: str) -> datetime | None:
    parsed = _parse_ts(value)
    return parsed if isinstance(parsed, datetime) else None


def validate(normalized: Normalized, known_node_types: pl.DataFrame | None = None) -> Validated:
    """Split normalised input (from `to_frame`) into valid events and quarantined ones.

    Args:
        normalized: output of `to_frame`.
        known_node_types: `id`, `type` of nodes known outside this batch (in the store), used
            to check that edges join the right node types. Unknown endpoints are allowed: the
            edge is kept and flagged as dangling until its nodes arrive.
    """
    frame = normalized.frame.with_columns(
        # A Session is its own session.
        session_id=pl.when((pl.col("type") == "Session") & pl.col("session_id").is_null())
        .then(pl.col("id"))
        .otherwise(pl.col("session_id")),
    )
    is_first = frame.select(
        pl.col("event_id").is_first_distinct() | pl.col("event_id").is_null()
    ).to_series()
    duplicates = int((~is_first).sum())
    frame = frame.filter(is_first)
    frame = frame.hstack(_with_json_validity(frame)).hstack(
        _endpoint_types(frame, known_node_types)
    )
    checks = _checks()
    # Most events are valid: find the failing rows with cheap boolean expressions first, and
    # build reason texts only for those.
    bad = frame.select(
        pl.any_horizontal(pl.col(_REASON).list.len() > 0, *[c.fill_null(False) for c, _ in checks])
    ).to_series()
    valid = frame.filter(~bad).select(_COLUMNS)
    valid = valid.with_columns(
        id=pl.when(pl.col("kind") == "edge")
        .then(
            pl.coalesce(
                pl.col("id"),
                pl.concat_str([pl.col("src"), pl.col("type"), pl.col("dst")], separator="|"),
            )
        )
        .otherwise(pl.col("id"))
    )
    failing = frame.filter(bad)
    if failing.is_empty():
        return Validated(valid=valid, quarantined=_NO_QUARANTINE, duplicates_in_batch=duplicates)
    reasons = failing.select(
        pl.concat_list([pl.col(_REASON), *[_reason(c, m) for c, m in checks]])
        .list.drop_nulls()
        .list.join("; ")
        .alias("reason")
    )["reason"]
    quarantined = pl.DataFrame(
        {
            "event_id": failing["event_id"],
            "reason": reasons,
            "raw": pl.Series(normalized.raw(failing[_POS].to_list()), dtype=pl.String),
        }
    )
    return Validated(valid=valid, quarantined=quarantined, duplicates_in_batch=duplicates)


_NO_QUARANTINE = pl.DataFrame(schema={"event_id": pl.String, "reason": pl.String, "raw": pl.String})


def _missing(name: str) -> pl.Expr:
    col = pl.col(name)
    if EVENT_SCHEMA.field(name).type == pa.string():
        return col.is_null() | (col.str.strip_chars() == "")
    return col.is_null()


Rule = tuple[pl.Expr, pl.Expr]
"""A validation rule: when the condition holds, the event is quarantined with the message."""


def _rule(condition: pl.Expr, message: str | pl.Expr) -> Rule:
    return condition, pl.lit(message) if isinstance(message, str) else message


def _reason(condition: pl.Expr, message: str | pl.Expr) -> pl.Expr:
    msg = pl.lit(message) if isinstance(message, str) else message
    return pl.when(condition).then(msg)


@functools.cache
def _checks() -> list[Rule]:
    kind, type_, op = pl.col("kind"), pl.col("type"), pl.col("op")
    node, edge, upsert = kind == "node", kind == "edge", op == "upsert"
    checks = [
        _rule(_missing("event_id"), "event_id is missing"),
        _rule(
            ~op.is_in(OPS) | op.is_null(),
            pl.format("op must be one of {}, got {}", pl.lit("|".join(OPS)), op.fill_null("null")),
        ),
        _rule(
            ~kind.is_in(KINDS) | kind.is_null(),
            pl.format("kind must be node or edge, got {}", kind.fill_null("null")),
        ),
        _rule(
            node & ~type_.is_in(list(NODE_TYPES)),
            pl.format(
                "unknown node type {} (known: {})",
                type_.fill_null("null"),
                pl.lit(", ".join(NODE_TYPES)),
            ),
        ),
        _rule(
            edge & ~type_.is_in(list(EDGE_TYPES)),
            pl.format(
                "unknown edge type {} (known: {})",
                type_.fill_null("null"),
                pl.lit(", ".join(EDGE_TYPES)),
            ),
        ),
        _rule(node & _missing("id"), "node event without id"),
        _rule(edge & (_missing("src") | _missing("dst")), "edge event needs both src and dst"),
        _rule(_missing("tenant"), "tenant is missing"),
        _rule(pl.col("occurred_at").is_null(), "occurred_at is missing"),
    ]
    scoped = [t.name for t in NODE_TYPES.values() if t.session_scoped]
    checks.append(
        _rule(
            node & upsert & type_.is_in(scoped) & _missing("session_id"),
            pl.format("{} needs a session_id", type_),
        )
    )
    for t in NODE_TYPES.values():
        for f in t.required:
            # Required fields must be present; an empty text is a value (an empty message).
            checks.append(
                _rule(
                    node & upsert & (type_ == t.name) & pl.col(f).is_null(), f"{t.name} needs {f}"
                )
            )
    checks.append(
        _rule(
            pl.col("finish_reason").is_not_null() & ~pl.col("finish_reason").is_in(FINISH_REASONS),
            pl.format(
                "finish_reason must be one of {}, got {}",
                pl.lit("|".join(FINISH_REASONS)),
                pl.col("finish_reason"),
            ),
        )
    )
    for f in sorted(n for n, t in FIELDS.items() if t == pa.float64()):
        # JSON (the vault, most consumers) has no NaN or infinity; neither is a measurement.
        checks.append(_rule(~pl.col(f).is_finite(), f"{f} must be a finite number"))
    for f in NON_NEGATIVE_FIELDS:
        checks.append(_rule(pl.col(f) < 0, f"{f} must not be negative"))
    for f in UNIT_INTERVAL_FIELDS:
        checks.append(_rule((pl.col(f) < 0) | (pl.col(f) > 1), f"{f} must lie between 0 and 1"))
    checks.append(
        _rule(
            (type_ == "Template") & node & upsert & ~pl.col("version").str.contains(SEMVER_PATTERN),
            pl.format("Template version {} is not semver (e.g. 1.4.0)", pl.col("version")),
        )
    )
    checks.append(
        _rule(
            (pl.col("temperature") < 0) | (pl.col("temperature") > 2),
            "temperature must lie between 0 and 2",
        )
    )
    for f in sorted(JSON_FIELDS):
        checks.append(_rule(pl.col(f"_invalid_json_{f}"), f"{f}: not valid JSON"))
    for f in sorted(LIST_FIELDS):
        checks.append(
            _rule(pl.col(f).list.eval(pl.element().is_null()).list.any(), f"{f}: null item")
        )
    return [*checks, *_endpoint_rules()]


def _with_json_validity(frame: pl.DataFrame) -> pl.DataFrame:
    """`_invalid_json_<field>` flags, computed by DuckDB's vectorised `json_valid`
    (polars has no per-value JSON check: `json_decode` fails the whole column)."""
    fields = sorted(JSON_FIELDS)
    present = [f for f in fields if frame[f].null_count() < frame.height]
    nothing_invalid = pl.Series([False] * frame.height, dtype=pl.Boolean)
    flags = {f"_invalid_json_{f}": nothing_invalid for f in fields if f not in present}
    if present and frame.height <= _SMALL_BATCH:
        # A few events (the single-event path): parsing beats setting up a query.
        for f in present:
            flags[f"_invalid_json_{f}"] = pl.Series(
                [v is not None and _not_json(v) for v in frame[f].to_list()], dtype=pl.Boolean
            )
    elif present:
        cursor = _json_checker().cursor()
        try:
            cursor.register("_json", frame.select(present).to_arrow())
            checked = cursor.sql(
                "SELECT "
                + ", ".join(f'coalesce(NOT json_valid("{f}"), false) AS "{f}"' for f in present)
                + " FROM _json"
            ).to_arrow_table()
        finally:
            cursor.close()
        for f in present:
            flags[f"_invalid_json_{f}"] = pl.Series(checked.column(f))
    return pl.DataFrame(flags)


_SMALL_BATCH = 256


@functools.cache
def _json_checker() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process (opening one costs milliseconds)."""
    return duckdb.connect()


def _not_json(value: str) -> bool:
    try:
        json.loads(value)
    except ValueError:
        return True
    return False


def _endpoint_types(frame: pl.DataFrame, known: pl.DataFrame | None) -> pl.DataFrame:
    """`_src_type`, `_dst_type`: the types of edge endpoints known in this batch or the store."""
    if not frame["kind"].eq("edge").any():
        return pl.DataFrame(
            {"_src_type": [None] * frame.height, "_dst_type": [None] * frame.height},
            schema={"_src_type": pl.String, "_dst_type": pl.String},
        )
    batch_nodes = frame.filter(
        (pl.col("kind") == "node") & (pl.col("op") == "upsert") & pl.col("id").is_not_null()
    ).select("id", "type")
    types = pl.concat([known, batch_nodes]) if known is not None else batch_nodes
    lookup = types.unique("id", keep="last").rename({"type": "_t"})
    out = {}
    for end in ("src", "dst"):
        joined = frame.select(end).join(
            lookup, left_on=end, right_on="id", how="left", maintain_order="left"
        )
        out[f"_{end}_type"] = joined["_t"]
    return pl.DataFrame(out, schema={"_src_type": pl.String, "_dst_type": pl.String})


def _endpoint_rules() -> list[Rule]:
    """Edges whose known endpoint types do not match the edge type."""
    rules = []
    for end, verb in (("src", "start"), ("dst", "end")):
        expected = pl.col("type").replace_strict(
            {k: getattr(v, end) for k, v in EDGE_TYPES.items()}, default=None,
            return_dtype=pl.String,
        )  # fmt: skip
        actual = pl.col(f"_{end}_type")
        rules.append(
            (
                (pl.col("kind") == "edge")
                & actual.is_not_null()
                & expected.is_not_null()
                & (actual != expected),
                pl.format(
                    f"{{}} must {verb} at a {{}}, but {{}} is a {{}}",
                    pl.col("type"),
                    expected,
                    pl.col(end),
                    actual,
                ),
            )
        )
    return rules


def endpoint_ids(frame: pl.DataFrame) -> list[str]:
    """Ids referenced by the edges of a frame (to look their types up in the store)."""
    edges = frame.filter(pl.col("kind") == "edge")
    return pl.concat([edges["src"], edges["dst"]]).drop_nulls().unique().to_list()


__all__ = ["EventInput", "Validated", "edge_key", "endpoint_ids", "to_frame", "validate"]
