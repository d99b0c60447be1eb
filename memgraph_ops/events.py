"""Turning user input into valid events: normalisation to the event schema, then validation.

Input comes as Python dicts, Arrow tables or polars frames. Every input becomes a polars frame
of `EVENT_SCHEMA`; values that cannot be converted become null and leave a reason behind.
Validation is vectorised over the frame and splits it into the events that may land and the
ones that go to quarantine, each with every reason it failed.

Values are never coerced into another type: a string is not a list of its characters, 12.7 is
not the integer 12, `true` is not 1, a number is not a timestamp. What is accepted per field:

- integer fields: integers, and floats with an integral value (12.0); not booleans, not
  numbers written as text ("12");
- number fields: integers and floats (finite); not booleans, not text;
- boolean fields: `true` and `false` only;
- text fields: text (valid Unicode: a lone surrogate such as "\\ud800" is refused);
- list fields (`LIST_FIELDS`): a JSON array of strings;
- `occurred_at`: an RFC 3339 text or a timestamp, from `EARLIEST_OCCURRED_AT` up to
  `MAX_CLOCK_SKEW` ahead of the time of ingest;
- JSON fields (`JSON_FIELDS`): JSON text (or, from Python, a value that is serialised), at most
  `MAX_JSON_DEPTH` levels deep, without escaped lone surrogates; `attrs` must be an object.

Every text and list field holds at most `MAX_FIELD_BYTES` (UTF-8) and an event at most
`MAX_EVENT_BYTES` over all its text and list fields. Within one batch, an event id given again
with the same content is a duplicate (ignored); given again with other content, the repeat is
quarantined.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeAlias

import duckdb
import polars as pl
import pyarrow as pa

from memgraph_ops.errors import InputError
from memgraph_ops.graph_types import TypeRegistry
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
    STR,
    STR_LIST,
    UNIT_INTERVAL_FIELDS,
    edge_key,
)

EventInput: TypeAlias = Iterable[Mapping[str, Any]] | pa.Table | pa.RecordBatch | pl.DataFrame

_COLUMNS = EVENT_SCHEMA.names
_POLARS_SCHEMA = pl.Schema(pl.from_arrow(EVENT_SCHEMA.empty_table()).schema)  # type: ignore[union-attr]
_REASON = "_reason"
_CUSTOM = "_custom"
_POS = "_pos"
_CONFLICT = "_conflict"

MAX_JSON_DEPTH: Final = 64
"""The deepest nesting of arrays and objects accepted in a JSON field. Python's JSON reader and
writer, and the recursive walks downstream (compaction, redaction), fail near 1,000 levels;
graph records need a handful."""
MAX_FIELD_BYTES: Final = 8 * 1024 * 1024
"""The most one text or list field may hold, in UTF-8 bytes (a 4 MB message fits)."""
MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
"""The most all text and list fields of one event may hold together, in UTF-8 bytes."""
MAX_CLOCK_SKEW: Final = timedelta(days=1)
"""How far ahead of the ingesting machine's clock `occurred_at` may lie."""
EARLIEST_OCCURRED_AT: Final = datetime(2000, 1, 1, tzinfo=UTC)
"""The earliest `occurred_at` accepted: earlier times come from unit mistakes (seconds or
milliseconds read as microseconds land in January 1970), not from agent traffic."""


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
    """Events of `EVENT_SCHEMA`, one per event id (the first occurrence; a repeat with other
    content is quarantined, one with the same content counted in `duplicates_in_batch`)."""
    quarantined: pl.DataFrame
    """Columns `event_id`, `reason`, `raw` (the event as JSON, as it was given)."""
    duplicates_in_batch: int


def to_frame(events: EventInput) -> Normalized:
    """Normalise input (dicts, Arrow, polars) to the event schema."""
    if isinstance(events, pa.RecordBatch):
        events = pa.Table.from_batches([events])
    invalid_text: dict[str, list[int]] = {}
    if isinstance(events, pa.Table):
        events, invalid_text = _checked_utf8(events)
        events = pl.DataFrame(events)
    if isinstance(events, pl.DataFrame):
        source = events
        return Normalized(
            _from_polars(source, invalid_text), lambda rows: _raw_of_frame(source, rows)
        )
    if isinstance(events, str | bytes | dict) or not isinstance(events, Iterable):
        # a string would iterate as characters, a dict as its keys: neither is a batch
        raise InputError(
            f"events must be a list of event objects, an Arrow table or a polars frame, "
            f"not {type(events).__name__}"
        )
    rows = list(events)
    return Normalized(_from_dicts(rows), lambda positions: _raw_of_dicts(rows, positions))


REQUEST = "_request"
"""Column `concat` adds: which of the concatenated inputs a row came from."""


def concat(parts: Sequence[Normalized]) -> Normalized:
    """Several normalised inputs as one, each row tagged with its input's index (`REQUEST`), so
    one validation covers them all (the service's group commit) and results split back."""
    if len(parts) == 1:
        return replace(
            parts[0], frame=parts[0].frame.with_columns(pl.lit(0, pl.Int32).alias(REQUEST))
        )
    offsets = list(itertools.accumulate((p.frame.height for p in parts), initial=0))
    frame = pl.concat(
        [
            p.frame.with_columns(pl.col(_POS) + offsets[i], pl.lit(i, pl.Int32).alias(REQUEST))
            for i, p in enumerate(parts)
        ],
        how="vertical_relaxed",
    )

    def raw(positions: list[int]) -> list[str]:
        out = []
        for position in positions:
            part = bisect.bisect_right(offsets, position) - 1
            out += parts[part].raw([position - offsets[part]])
        return out

    return Normalized(frame, raw)


def normalize(events: EventInput) -> pl.DataFrame:
    """Input as a frame of exactly `EVENT_SCHEMA` (conversion failures become nulls)."""
    return to_frame(events).frame.select(_COLUMNS)


def _raw_of_dicts(rows: list[Any], positions: list[int]) -> list[str]:
    return [_raw_json(rows[i]) for i in positions]


def _raw_of_frame(frame: pl.DataFrame, positions: list[int]) -> list[str]:
    picked = frame[positions]
    try:
        return picked.select(pl.struct(pl.all()).struct.json_encode())[:, 0].to_list()
    except pl.exceptions.PolarsError:  # a column type JSON encoding does not know (binary)
        return [_raw_json(row) for row in picked.to_dicts()]


def _raw_json(value: Any) -> str:
    """The JSON text of an input row as given, for the quarantine; whatever the row holds."""
    try:
        text = json.dumps(value, default=_json_default, ensure_ascii=False)
    except (RecursionError, ValueError, TypeError):  # too deep, circular, odd keys
        return _json_without_recursion(value)
    try:
        text.encode()
    except UnicodeEncodeError:  # lone surrogates: keep them as JSON escapes
        return json.dumps(value, default=_json_default)
    return text


class _Text:
    """Literal JSON text on the stack of `_json_without_recursion`."""

    def __init__(self, text: str, closes: int | None = None) -> None:
        self.text = text
        self.closes = closes


def _json_without_recursion(value: Any) -> str:
    """JSON text of a value that `json.dumps` cannot write: nested too deep for its recursion,
    circular (the repeated container is written as a string), or with keys JSON has no form
    for (written as their `str`)."""
    out: list[str] = []
    open_ids: set[int] = set()
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Text):
            out.append(item.text)
            if item.closes is not None:
                open_ids.discard(item.closes)
            continue
        if isinstance(item, Mapping | list | tuple):
            if id(item) in open_ids:
                out.append('"<circular reference>"')
                continue
            open_ids.add(id(item))
            pieces: list[Any] = []
            if isinstance(item, Mapping):
                for n, (key, val) in enumerate(item.items()):
                    pieces += [_Text((", " if n else "") + json.dumps(str(key)) + ": "), val]
                pieces = [_Text("{"), *pieces, _Text("}", closes=id(item))]
            else:
                for n, val in enumerate(item):
                    pieces += [_Text(", "), val] if n else [val]
                pieces = [_Text("["), *pieces, _Text("]", closes=id(item))]
            stack.extend(reversed(pieces))
            continue
        try:
            out.append(json.dumps(item, default=_json_default))
        except (TypeError, ValueError):
            out.append(json.dumps(str(item)))
    return "".join(out)


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
                value = _dump_field(name, value, row_reasons)
            columns[name].append(value)
        reasons.append(row_reasons)
    frame = {}
    for name in _COLUMNS:
        arr, bad = _to_arrow(name, columns[name])
        frame[name] = arr
        for i, reason in bad:
            reasons[i].append(reason)
    table = pa.table(frame, schema=EVENT_SCHEMA)
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    return df.with_columns(
        pl.Series(_REASON, pa.array(reasons, type=pa.list_(pa.string()))),  # Arrow: faster
        pl.int_range(pl.len(), dtype=pl.Int64).alias(_POS),
    )


def _too_deep(name: str) -> str:
    return f"{name}: nested deeper than {MAX_JSON_DEPTH} levels"


def _dump_field(name: str, value: Any, reasons: list[str]) -> str | None:
    """A JSON field given as a Python value, as JSON text (None, with a reason, if it has none)."""
    try:
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    except RecursionError:
        reasons.append(_too_deep(name))
    except (TypeError, ValueError) as exc:  # circular, or keys JSON has no form for
        reasons.append(f"{name}: cannot be written as JSON ({exc})")
    return None


def _merge_attrs(value: Any, extras: dict[str, Any], reasons: list[str]) -> str | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except RecursionError:
            reasons.append(_too_deep("attrs"))
            return None
        except ValueError:
            reasons.append("attrs: not valid JSON")
            return None
    if value is not None and not isinstance(value, dict):
        reasons.append("attrs: must be a JSON object")
        return None
    merged = {**(value or {}), **extras}
    return _dump_field("attrs", merged, reasons) if merged else None


def _to_arrow(name: str, values: list[Any]) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Convert a column to its schema type, with (position, reason) of the values that do not
    convert. Arrow infers the column's type in one pass; only a column whose inferred type is
    not the field's (a float among integers, a string in a list field) is checked value by
    value, since a forced conversion would truncate 12.7 to 12 or split a string into
    characters."""
    type_ = EVENT_SCHEMA.field(name).type
    if pa.types.is_timestamp(type_):
        values = [_parse_ts(v) for v in values]
        try:
            return pa.array(values, type=type_), []
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            pass
    else:
        try:
            inferred = pa.array(values)
            if _same_kind(inferred.type, type_):
                return inferred.cast(type_), []
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            pass  # mixed types, lone surrogates, precision loss: look at each value
    out: list[Any] = []
    bad: list[tuple[int, str]] = []
    for i, v in enumerate(values):
        converted, reason = _convert(name, type_, v)
        out.append(converted)
        if reason is not None:
            bad.append((i, reason))
    return pa.array(out, type=type_), bad


def _same_kind(inferred: pa.DataType, type_: pa.DataType) -> bool:
    if pa.types.is_null(inferred):
        return True
    if pa.types.is_list(type_):
        return bool(
            pa.types.is_list(inferred)
            and (pa.types.is_string(inferred.value_type) or pa.types.is_null(inferred.value_type))
        )
    if type_ == pa.float64():
        return bool(inferred in (pa.float64(), pa.int64()))
    return bool(inferred == type_)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _convert(name: str, type_: pa.DataType, value: Any) -> tuple[Any, str | None]:
    """One value converted for its field, or None and the reason it cannot be."""
    if value is None:
        return None, None
    if pa.types.is_timestamp(type_):
        if isinstance(value, _BadTimestamp):
            return None, f"{name}: must be an RFC 3339 timestamp, got {_shown(value.value)}"
        return value, None
    if type_ == pa.int64():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return None, f"{name}: must be an integer, got {_shown(value)}"
        if isinstance(value, numbers.Integral):
            number = int(value)
        elif float(value).is_integer():  # 12.0 is 12; not NaN, not infinite
            number = int(float(value))
        else:
            return None, f"{name}: must be an integer, got {_shown(value)}"
        if _INT64_MIN <= number <= _INT64_MAX:
            return number, None
        return None, f"{name}: must be an integer that fits in 64 bits, got {_shown(value)}"
    if type_ == pa.float64():
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            try:
                return float(value), None
            except OverflowError:
                pass
        return None, f"{name}: must be a number, got {_shown(value)}"
    if type_ == pa.bool_():
        if isinstance(value, bool):
            return value, None
        return None, f"{name}: must be true or false, got {_shown(value)}"
    if pa.types.is_list(type_):
        if not isinstance(value, list | tuple) or not all(
            isinstance(item, str) or item is None for item in value
        ):
            return None, f"{name}: must be a JSON array of strings, got {_shown(value)}"
        if not all(item is None or _encodes(item) for item in value):
            return None, f"{name}: {_LONE_SURROGATE}"
        return list(value), None
    if isinstance(value, str):
        return (value, None) if _encodes(value) else (None, f"{name}: {_LONE_SURROGATE}")
    return None, f"{name}: must be text, got {_shown(value)}"


_LONE_SURROGATE = "invalid Unicode (a lone surrogate, half of a UTF-16 pair)"


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _shown(value: Any) -> str:
    """A short, ASCII rendering of a value for a reason."""
    try:
        text = json.dumps(value, default=_json_default)
    except (RecursionError, TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


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


def _checked_utf8(table: pa.Table) -> tuple[pa.Table, dict[str, list[int]]]:
    """The table with its invalid UTF-8 text made readable (as backslash escapes, for the
    quarantine copy), and the rows that had some, per column. Parquet and Arrow readers hand
    such bytes through unchecked, and polars assumes text is valid."""
    invalid: dict[str, list[int]] = {}
    columns = list(table.columns)
    for i, (name, column) in enumerate(zip(table.column_names, columns, strict=True)):
        if not _holds_text(column.type):
            continue
        try:
            column.validate(full=True)
        except pa.ArrowInvalid:
            columns[i], rows = _readable_text(column)
            invalid[name] = rows
    if not invalid:
        return table, invalid
    return pa.Table.from_arrays(columns, names=table.column_names), invalid


def _holds_text(type_: pa.DataType) -> bool:
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return True
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return _holds_text(type_.value_type)
    return pa.types.is_struct(type_) and any(_holds_text(f.type) for f in type_)


_AS_BYTES: Final = {
    pa.string(): pa.binary(),
    pa.large_string(): pa.large_binary(),
    pa.list_(pa.string()): pa.list_(pa.binary()),
}


def _readable_text(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, list[int]]:
    """A column of text or lists of text with invalid bytes as backslash escapes, and the
    rows that had some. Any other column holding text (a struct) becomes null, and every
    row with a value is flagged. (Python, value by value: only for a column that failed
    validation.)"""
    type_ = column.type
    as_bytes = _AS_BYTES.get(type_)
    if as_bytes is None:
        rows = [i for i, valid in enumerate(column.is_valid().to_pylist()) if valid]
        return pa.chunked_array([pa.nulls(len(column), type_)]), rows
    values: list[Any] = []
    rows = []
    for i, value in enumerate(column.cast(as_bytes).to_pylist()):
        items = value if isinstance(value, list) else [value]
        decoded = [_decoded(item) for item in items]
        if any(ok is False for _, ok in decoded):
            rows.append(i)
        texts = [text for text, _ in decoded]
        values.append(texts if isinstance(value, list) else texts[0])
    return pa.chunked_array([pa.array(values, type=type_)]), rows


def _decoded(data: bytes | None) -> tuple[str | None, bool]:
    if data is None:
        return None, True
    try:
        return data.decode(), True
    except UnicodeDecodeError:
        return data.decode(errors="backslashreplace"), False


def _from_polars(
    df: pl.DataFrame, invalid_text: Mapping[str, list[int]] | None = None
) -> pl.DataFrame:
    extras = [c for c in df.columns if c not in _POLARS_SCHEMA]
    out: list[pl.Series] = []
    reasons: list[pl.Series] = []
    for name, dtype in _POLARS_SCHEMA.items():
        if name == "attrs" and extras:
            merged, why = _attrs_with_extras(df, extras)
        elif name not in df.columns:
            merged, why = _nulls(name, df.height, dtype), None
        else:
            merged, why = _convert_column(name, df[name], dtype)
        out.append(merged.alias(name))
        if why is not None:
            reasons.append(why)
    for name, rows in (invalid_text or {}).items():
        where = "attrs" if name in extras else name
        reasons.append(_where(_falses(df.height).scatter(rows, True), where))
    frame = pl.DataFrame(out)
    if not reasons:
        empty = pl.repeat([], df.height, dtype=pl.List(pl.String), eager=True)
        return frame.with_columns(
            empty.alias(_REASON), pl.int_range(pl.len(), dtype=pl.Int64).alias(_POS)
        )
    reason_lists = pl.DataFrame({f"r{i}": r for i, r in enumerate(reasons)}).select(
        pl.concat_list(pl.all()).list.drop_nulls().alias(_REASON)
    )
    return frame.hstack(reason_lists).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias(_POS)
    )


def _nulls(name: str, n: int, dtype: pl.DataType) -> pl.Series:
    return pl.repeat(None, n, dtype=dtype, eager=True).alias(name)


def _falses(n: int) -> pl.Series:
    return pl.repeat(False, n, dtype=pl.Boolean, eager=True)


def _where(mask: pl.Series, field: str) -> pl.Series:
    """The reason "`field`: not valid UTF-8" where `mask` holds, else null."""
    return pl.select(
        pl.when(pl.lit(mask)).then(pl.lit(f"{field}: not valid UTF-8")).cast(pl.String)
    ).to_series()


def _attrs_with_extras(df: pl.DataFrame, extras: list[str]) -> tuple[pl.Series, pl.Series | None]:
    """`attrs` with the input's columns outside the schema merged in, and the reasons of rows
    where that fails. (A Python loop, only for input with such columns and an `attrs`.)"""
    encoded = df.select(pl.struct(extras).struct.json_encode())[:, 0]
    if "attrs" not in df.columns or df["attrs"].null_count() == df.height:
        return encoded, None
    given, why = _convert_column("attrs", df["attrs"], pl.String())
    merged: list[str | None] = []
    problems: list[str | None] = []
    for text, extra in zip(given.to_list(), encoded.to_list(), strict=True):
        reasons: list[str] = []
        value = extra if text is None else _merge_attrs(text, json.loads(extra), reasons)
        if value is not None and not _encodes(value):  # keep lone surrogates as JSON escapes
            value = json.dumps(json.loads(value))
        merged.append(value)
        problems.append(reasons[0] if reasons else None)
    problem = pl.Series(problems, dtype=pl.String)
    if why is not None:
        problem = pl.select(pl.coalesce(pl.lit(why), pl.lit(problem))).to_series()
    return pl.Series("attrs", merged, dtype=pl.String), problem


_INTEGER_DTYPES: Final = frozenset(
    {pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64}
)
_TEXT_DTYPES: Final = frozenset({pl.String, pl.Categorical, pl.Enum})


def _dtype_word(dtype: pl.DataType) -> str:
    base = dtype.base_type()
    if base in _TEXT_DTYPES:
        return "text"
    if base == pl.Boolean:
        return "true/false"
    if dtype.is_numeric():
        return "a number"
    if base in (pl.List, pl.Array):
        return "a list"
    if base == pl.Struct:
        return "an object"
    if base == pl.Binary:
        return "binary data"
    return f"a {base.__name__.lower()}"


def _convert_column(
    name: str, col: pl.Series, dtype: pl.DataType
) -> tuple[pl.Series, pl.Series | None]:
    """A column cast to its field's type, and a reason for each value that does not fit (null
    where it does; None if none fail). Only lossless conversions: a column of the wrong kind
    (text for a number, numbers for a timestamp, text for a list) fails for every value."""
    src = col.dtype
    base = src.base_type()
    if base == pl.Null:
        return col.cast(dtype), None
    v = pl.col(name)
    if name in JSON_FIELDS:
        if base == pl.Struct:
            return col.to_frame().select(v.struct.json_encode()).to_series(), None
        if base in _TEXT_DTYPES or base == pl.Boolean or src.is_numeric():
            return col.cast(pl.String), None  # JSON scalars
        expected = "JSON text"
    elif isinstance(dtype, pl.Datetime):
        if base in (pl.String, pl.Datetime):
            converted = _cast(col, dtype)
            failed = col.is_not_null() & converted.is_null()
            if not failed.any():
                return converted, None
            return converted, col.to_frame().select(
                pl.when(pl.lit(failed)).then(
                    pl.format(f"{name}: must be an RFC 3339 timestamp, got {{}}", _shown_expr(v))
                )
            ).to_series()
        expected = "an RFC 3339 timestamp"
    elif dtype == pl.Int64:
        if src == pl.Int64:
            return col, None
        if base in _INTEGER_DTYPES or src.is_float():
            whole = v.is_finite() & (v == v.floor()) if src.is_float() else pl.lit(True)
            cast = v.cast(pl.Int64, strict=False)
            checked = col.to_frame().select(
                pl.when(whole).then(cast).alias("value"),
                pl.when(~whole)
                .then(pl.format(f"{name}: must be an integer, got {{}}", v))
                .when(v.is_not_null() & cast.is_null())
                .then(pl.format(f"{name}: must be an integer that fits in 64 bits, got {{}}", v))
                .alias("reason"),
            )
            why = checked["reason"]
            return checked["value"], (why if why.null_count() < len(why) else None)
        expected = "an integer"
    elif dtype == pl.Float64:
        if src.is_numeric():
            return col.cast(dtype, strict=False), None
        expected = "a number"
    elif dtype == pl.Boolean:
        if base == pl.Boolean:
            return col, None
        expected = "true or false"
    elif isinstance(dtype, pl.List):
        inner = src.inner.base_type() if isinstance(src, pl.List | pl.Array) else None
        if inner in _TEXT_DTYPES or inner == pl.Null:
            return col.cast(dtype), None
        expected = "a JSON array of strings"
    elif base in _TEXT_DTYPES:
        return col.cast(dtype), None
    else:
        expected = "text"
    message = f"{name}: must be {expected}, got {_dtype_word(src)}"
    rejected = col.to_frame().select(pl.when(v.is_not_null()).then(pl.lit(message)))
    return _nulls(name, len(col), dtype), rejected.to_series()


def _shown_expr(text: pl.Expr) -> pl.Expr:
    """Like `_shown`, for a text column (quoted, at most 40 characters)."""
    short = text.str.len_chars() <= 38
    return (
        pl.when(short)
        .then(pl.format('"{}"', text))
        .otherwise(pl.format('"{}...', text.str.slice(0, 33)))
    )


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


def validate(
    normalized: Normalized,
    known_node_types: pl.DataFrame | None = None,
    *,
    now: datetime | None = None,
    keep: Sequence[str] = (),
    custom: Mapping[str, TypeRegistry] | None = None,
) -> Validated:
    """Split normalised input (from `to_frame`) into valid events and quarantined ones.

    Args:
        normalized: output of `to_frame`.
        known_node_types: `id`, `type` of nodes known outside this batch (in the store), used
            to check that edges join the right node types. Unknown endpoints are allowed: the
            edge is kept and flagged as dangling until its nodes arrive.
        now: the time `occurred_at` may lie at most `MAX_CLOCK_SKEW` ahead of (default: the
            current time).
        keep: extra columns of the input to carry into both results (e.g. `REQUEST`).
        custom: the custom node and edge types of each tenant that registered some
            (`memgraph_ops.graph_types`); an event of another type than the built-in ones is
            valid only if its tenant registered it, and is checked against its definition.
    """
    frame = normalized.frame.with_columns(
        # A Session is its own session.
        session_id=pl.when((pl.col("type") == "Session") & pl.col("session_id").is_null())
        .then(pl.col("id"))
        .otherwise(pl.col("session_id")),
    )
    frame, duplicates = _without_repeats(frame)
    frame = frame.hstack(_with_json_validity(frame)).hstack(
        _endpoint_types(frame, known_node_types)
    )
    frame = _with_custom_types(frame, custom or {})
    checks = [
        _rule(
            pl.col(_CONFLICT),
            pl.format(
                "event_id {} was already given with different content in this batch",
                pl.col("event_id"),
            ),
        ),
        *_checks(),
        *_time_checks(now or datetime.now(UTC)),
        *_size_checks(frame),
    ]
    # Most events are valid: find the failing rows with cheap boolean expressions first, and
    # build reason texts only for those.
    bad = frame.select(
        pl.any_horizontal(pl.col(_REASON).list.len() > 0, *[c.fill_null(False) for c, _ in checks])
    ).to_series()
    valid = frame.filter(~bad).select(*_COLUMNS, *keep)
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
        none = _NO_QUARANTINE.with_columns(pl.lit(None, frame.schema[c]).alias(c) for c in keep)
        return Validated(valid=valid, quarantined=none, duplicates_in_batch=duplicates)
    conflict, rest = checks[0], checks[1:]
    reasons = failing.select(
        pl.concat_list([_reason(*conflict), pl.col(_REASON), *[_reason(c, m) for c, m in rest]])
        .list.drop_nulls()
        .list.join("; ")
        .alias("reason")
    )["reason"]
    quarantined = pl.DataFrame(
        {
            "event_id": failing["event_id"],
            "reason": reasons,
            "raw": pl.Series(normalized.raw(failing[_POS].to_list()), dtype=pl.String),
            **{c: failing[c] for c in keep},
        }
    )
    return Validated(valid=valid, quarantined=quarantined, duplicates_in_batch=duplicates)


def _without_repeats(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The frame without repeats of an event id that have the same content as its first
    occurrence (duplicates: counted, not kept), and with `_conflict` set on repeats with
    other content (kept, to be quarantined)."""
    eid = pl.col("event_id")
    repeated = frame.select(eid.is_duplicated() & eid.is_not_null()).to_series()
    if not repeated.any():
        return frame.with_columns(pl.lit(False).alias(_CONFLICT)), 0
    group = frame.filter(repeated)
    # Content as normalised (conversion problems included): "1" and "1.0" are the same.
    content = group.select(*_COLUMNS, _REASON).hash_rows()
    marked = group.select(_POS, "event_id", content.alias("_content")).with_columns(
        first=eid.is_first_distinct(),
        conflict=pl.col("_content") != pl.col("_content").first().over("event_id"),
    )
    dropped = marked.filter(~pl.col("first") & ~pl.col("conflict"))[_POS]
    conflicting = marked.filter(pl.col("conflict"))[_POS]
    kept = frame.filter(~pl.col(_POS).is_in(dropped.implode())).with_columns(
        pl.col(_POS).is_in(conflicting.implode()).alias(_CONFLICT)
    )
    return kept, dropped.len()


def _time_checks(now: datetime) -> list[Rule]:
    at = pl.col("occurred_at")
    return [
        _rule(at > pl.lit(now + MAX_CLOCK_SKEW), f"occurred_at is more than {_SKEW} in the future"),
        _rule(at < pl.lit(EARLIEST_OCCURRED_AT), f"occurred_at is before {_EARLIEST}"),
    ]


_SKEW = (
    f"{MAX_CLOCK_SKEW.days} day{'s' if MAX_CLOCK_SKEW.days != 1 else ''}"
    if MAX_CLOCK_SKEW.days and not MAX_CLOCK_SKEW.seconds
    else str(MAX_CLOCK_SKEW)
)
_EARLIEST = EARLIEST_OCCURRED_AT.date().isoformat()


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
            node & ~type_.is_in(list(NODE_TYPES)) & ~pl.col(_CUSTOM),
            pl.format(
                "unknown node type {} (known: {})",
                type_.fill_null("null"),
                pl.lit(", ".join(NODE_TYPES)),
            ),
        ),
        _rule(
            edge & ~type_.is_in(list(EDGE_TYPES)) & ~pl.col(_CUSTOM),
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
        checks.append(_rule(pl.col(f"_too_deep_{f}"), _too_deep(f)))
        checks.append(_rule(pl.col(f"_lone_surrogate_{f}"), f"{f}: {_LONE_SURROGATE}"))
    checks.append(
        _rule(
            ~pl.col("attrs").str.strip_chars_start().str.starts_with("{"),
            "attrs: must be a JSON object",
        )
    )
    for f in sorted(LIST_FIELDS):
        checks.append(
            _rule(pl.col(f).list.eval(pl.element().is_null()).list.any(), f"{f}: null item")
        )
    return [*checks, *_endpoint_rules()]


_TEXT_FIELDS: Final = tuple(f for f in _COLUMNS if EVENT_SCHEMA.field(f).type in (STR, STR_LIST))


def _size_checks(frame: pl.DataFrame) -> list[Rule]:
    """Rules for the fields (and events) that could be over the size limits in this batch:
    a field whose largest value is under the limit needs no per-event check, and events need
    none when the largest values of all fields together are under the event limit."""
    largest = dict(
        zip(
            _TEXT_FIELDS,
            frame.select(_bytes(f).max() for f in _TEXT_FIELDS).fill_null(0).row(0),
            strict=True,
        )
    )
    checks = [
        _rule(_bytes(f) > MAX_FIELD_BYTES, f"{f}: over {_mib(MAX_FIELD_BYTES)}")
        for f, n in largest.items()
        if n > MAX_FIELD_BYTES
    ]
    if sum(largest.values()) > MAX_EVENT_BYTES:
        total = pl.sum_horizontal(_bytes(f) for f, n in largest.items() if n)
        checks.append(
            _rule(
                total > MAX_EVENT_BYTES,
                f"event over {_mib(MAX_EVENT_BYTES)} (all text and list fields together)",
            )
        )
    return checks


def _bytes(name: str) -> pl.Expr:
    """UTF-8 bytes of a text or list field."""
    if EVENT_SCHEMA.field(name).type == STR_LIST:
        return pl.col(name).list.eval(pl.element().str.len_bytes()).list.sum()
    return pl.col(name).str.len_bytes()


def _mib(n: int) -> str:
    return f"{n / 2**20:g} MiB"


def _with_json_validity(frame: pl.DataFrame) -> pl.DataFrame:
    """`_invalid_json_<field>` flags, computed by DuckDB's vectorised `json_valid`
    (polars has no per-value JSON check: `json_decode` fails the whole column), and
    `_too_deep_<field>`, `_lone_surrogate_<field>` (see `_json_limits`)."""
    fields = sorted(JSON_FIELDS)
    present = [f for f in fields if frame[f].null_count() < frame.height]
    nothing_invalid = _falses(frame.height)
    flags = {
        f"{flag}{f}": nothing_invalid
        for f in fields
        if f not in present
        for flag in ("_invalid_json_", "_too_deep_", "_lone_surrogate_")
    }
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
    for f in present:
        flags[f"_too_deep_{f}"], flags[f"_lone_surrogate_{f}"] = _json_limits(
            frame[f], flags[f"_invalid_json_{f}"]
        )
    return pl.DataFrame(flags)


_JSON_STRING: Final = r'"(?:[^"\\]|\\.)*"'
_SURROGATE_ESCAPE: Final = r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"


def _json_limits(texts: pl.Series, invalid: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Flags of JSON texts nested deeper than `MAX_JSON_DEPTH` and of texts with an escaped
    lone surrogate (`"\\ud800"` is valid JSON syntax, but no text: it cannot be written as
    UTF-8). Vectorised, checking ever fewer candidates: a text that deep has more than
    2 * MAX_JSON_DEPTH characters and more than MAX_JSON_DEPTH opening brackets; in those, the
    brackets outside strings are kept and innermost pairs removed MAX_JSON_DEPTH times: what
    is left was deeper. A surrogate escape is rare: those texts are parsed to see whether it
    has its pair."""
    n = len(texts)
    too_deep = _falses(n)
    positions = (
        ((texts.str.len_bytes() > 2 * MAX_JSON_DEPTH) & ~invalid).fill_null(False).arg_true()
    )
    if len(positions):
        many = texts.gather(positions).str.count_matches(r"[\[{]") > MAX_JSON_DEPTH
        positions = positions.filter(many)
    if len(positions):
        brackets = (
            texts.gather(positions)
            .str.replace_all(_JSON_STRING, "")
            .str.replace_all(r"[^\[\]{}]", "")
        )
        for _ in range(MAX_JSON_DEPTH):
            if brackets.str.len_bytes().max() == 0:
                break
            brackets = brackets.str.replace_all(r"\[\]|\{\}", "")
        too_deep = too_deep.scatter(positions, brackets.str.len_bytes() > 0)
    lone = _falses(n)
    escapes = texts.str.contains(r"\u", literal=True).fill_null(False)
    positions = (escapes & ~invalid & ~too_deep).arg_true()
    if len(positions):
        positions = positions.filter(texts.gather(positions).str.contains(_SURROGATE_ESCAPE))
    if len(positions):
        found = [_has_lone_surrogate(t) for t in texts.gather(positions).to_list()]
        lone = lone.scatter(positions, pl.Series(found, dtype=pl.Boolean))
    return too_deep, lone


def _has_lone_surrogate(text: str) -> bool:
    try:
        return not _encodes(json.dumps(json.loads(text), ensure_ascii=False))
    except (ValueError, RecursionError):
        return False


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
    except RecursionError:  # valid or not, it is flagged as too deep
        return False
    return False


def _endpoint_types(frame: pl.DataFrame, known: pl.DataFrame | None) -> pl.DataFrame:
    """`_src_type`, `_dst_type`: the types of edge endpoints known in this batch or the store."""
    if not frame["kind"].eq("edge").any():
        return pl.DataFrame(
            {"_src_type": [None] * frame.height, "_dst_type": [None] * frame.height},
            schema={"_src_type": pl.String, "_dst_type": pl.String},
        )
    batch_nodes = frame.filter(
        (pl.col("kind") == "node")
        & (pl.col("op") == "upsert")
        & pl.col("id").is_not_null()
        & ~pl.col(_CONFLICT)
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


def _with_custom_types(frame: pl.DataFrame, custom: Mapping[str, TypeRegistry]) -> pl.DataFrame:
    """`_custom`: the event is of a custom type its tenant registered. The reasons such an event
    may not be stored join `_reason` (few events are of custom types: checked one by one)."""
    registered = [
        (tenant, kind, name)
        for tenant, registry in custom.items()
        for kind, names in (("node", registry.nodes), ("edge", registry.edges))
        for name in names
    ]
    if not registered:
        return frame.with_columns(pl.lit(False).alias(_CUSTOM))
    lookup = pl.DataFrame(registered, schema=["tenant", "kind", "type"], orient="row").with_columns(
        pl.lit(True).alias(_CUSTOM)
    )
    frame = frame.join(lookup, on=["tenant", "kind", "type"], how="left", maintain_order="left")
    frame = frame.with_columns(pl.col(_CUSTOM).fill_null(False))
    rows = frame.filter(pl.col(_CUSTOM))
    if rows.is_empty():
        return frame
    extra: dict[int, list[str]] = {}
    for row in rows.iter_rows(named=True):
        registry = custom[row["tenant"]]
        why = registry.reasons(row)
        if row["kind"] == "edge" and row["op"] == "upsert":
            for end in ("src", "dst"):
                problem = registry.endpoint_reason(row["type"], end, row[f"_{end}_type"])
                if problem is not None:
                    why.append(problem)
        if why:
            extra[row[_POS]] = why
    if not extra:
        return frame
    added = pl.Series([extra.get(p, []) for p in frame[_POS].to_list()], dtype=pl.List(pl.String))
    return frame.with_columns(pl.col(_REASON).list.concat(added))


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


__all__ = [
    "EARLIEST_OCCURRED_AT",
    "MAX_CLOCK_SKEW",
    "MAX_EVENT_BYTES",
    "MAX_FIELD_BYTES",
    "MAX_JSON_DEPTH",
    "EventInput",
    "Validated",
    "edge_key",
    "endpoint_ids",
    "to_frame",
    "validate",
]
