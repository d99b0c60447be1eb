"""The files under a lake URI, on local disk or an object store, through one interface.

Erasure lists, reads and deletes a lake's files itself (superseded data files, log entries a
vacuum leaves, the byte scan of every object), and delta-rs offers no such listing; pyarrow's
filesystems do, for local paths and `s3://` alike. S3 credentials and endpoint come from the
standard AWS environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
`AWS_ENDPOINT_URL`, or a profile), as delta-rs and polars read them.

Paths here are always URIs as delta-rs writes them (`s3://bucket/key`, or a local path), so
they compare with `DeltaTable.file_uris()`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from functools import cache

import pyarrow.fs as pafs


@dataclass(frozen=True)
class Entry:
    uri: str
    size: int


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def _split(uri: str) -> tuple[pafs.FileSystem, str, str]:
    """(filesystem, path inside it, the URI prefix that path is written under)."""
    if is_local(uri):
        return _filesystem("", None), os.path.abspath(uri.removeprefix("file://")), ""
    scheme, rest = uri.split("://", 1)
    bucket, _, key = rest.partition("/")
    filesystem = _filesystem(f"{scheme}://{bucket}", os.environ.get("AWS_ENDPOINT_URL"))
    return filesystem, f"{bucket}/{key}".rstrip("/"), f"{scheme}://"


@cache
def _filesystem(root: str, endpoint: str | None) -> pafs.FileSystem:
    """One filesystem per bucket (and endpoint): an erasure's byte scan reads every object of
    the lake, and a new S3 client per object would resolve credentials and connect each time."""
    if not root:
        return pafs.LocalFileSystem()
    filesystem, _ = pafs.FileSystem.from_uri(root)
    return filesystem


def list_files(uri: str) -> list[Entry]:
    """Every file under `uri` (recursively), sorted; none if there is nothing there."""
    filesystem, path, prefix = _split(uri)
    selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
    found = [
        Entry(prefix + info.path, int(info.size or 0))
        for info in filesystem.get_file_info(selector)
        if info.type == pafs.FileType.File
    ]
    return sorted(found, key=lambda e: e.uri)


def read(uri: str) -> bytes:
    filesystem, path, _ = _split(uri)
    with filesystem.open_input_stream(path) as stream:
        return bytes(stream.read())


def delete(uri: str) -> None:
    """Delete one file; one already gone is no error (a rerun after a crash)."""
    filesystem, path, _ = _split(uri)
    with contextlib.suppress(FileNotFoundError):
        filesystem.delete_file(path)


def normalize(uri: str) -> str:
    """One spelling per file: `file://` and relative local paths become absolute paths."""
    if is_local(uri):
        return os.path.normpath(os.path.abspath(uri.removeprefix("file://")))
    return uri


def relative(uri: str, root: str) -> str:
    return normalize(uri).removeprefix(normalize(root).rstrip("/") + "/")


def delta_tables(root: str) -> dict[str, str]:
    """Every Delta table under `root` (a folder holding `_delta_log/`), by its path relative to
    the root."""
    tables: dict[str, str] = {}
    for entry in list_files(root):
        parts = relative(entry.uri, root).split("/")
        if "_delta_log" in parts[:-1]:
            name = "/".join(parts[: parts.index("_delta_log")])
            tables.setdefault(name, f"{root.rstrip('/')}/{name}")
    return dict(sorted(tables.items()))
