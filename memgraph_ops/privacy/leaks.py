"""Searching stored files for values that must not be there (planted PII, erased identifiers).

Parquet pages are compressed, so a raw byte search would find nothing even where a value is
stored: every Parquet file under a root (current and superseded Delta files alike) is decoded
and each string column searched with polars' Aho-Corasick `contains_any`. Every other file
(`_delta_log` JSON, checkpoints are Parquet too) is searched as raw bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl


def find_leaks(root: Path, values: Iterable[str]) -> pl.DataFrame:
    """Files under `root` holding any of `values`: columns `file`, `column`, `value`, `rows`."""
    needles = sorted({v for v in values if v})
    found: list[dict[str, object]] = []
    if not needles or not root.exists():
        return pl.DataFrame(schema={"file": pl.String, "column": pl.String, "value": pl.String,
                                    "rows": pl.Int64})  # fmt: skip
    encoded = [n.encode() for n in needles]
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            found.extend(_parquet_hits(path, needles))
        else:
            data = path.read_bytes()
            for needle, raw in zip(needles, encoded, strict=True):
                if raw in data:
                    found.append({"file": str(path), "column": None, "value": needle, "rows": 1})
    return pl.DataFrame(found, schema={"file": pl.String, "column": pl.String,
                                       "value": pl.String, "rows": pl.Int64})  # fmt: skip


def _parquet_hits(path: Path, needles: list[str]) -> list[dict[str, object]]:
    frame = pl.read_parquet(path)
    hits: list[dict[str, object]] = []
    text_columns = [c for c, t in frame.schema.items() if t == pl.String or t == pl.List(pl.String)]
    for column in text_columns:
        series = frame[column]
        if series.dtype != pl.String:
            series = series.list.join("\x1f")
        series = series.drop_nulls()
        if series.is_empty():
            continue
        mask = series.str.contains_any(needles)
        if not mask.any():
            continue
        matched = series.filter(mask).str.extract_many(needles, overlapping=True).explode()
        for value, rows in matched.value_counts().iter_rows():
            hits.append({"file": str(path), "column": column, "value": value, "rows": rows})
    return hits
