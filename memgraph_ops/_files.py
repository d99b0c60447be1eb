"""The one atomic writer and the one lock helper every package uses for its own files.

- `atomic_write`: a file is written whole to a temporary name in the same directory, fsynced,
  renamed into place (atomic on POSIX) and its directory fsynced, so a crash leaves the old
  file or the new one, never a torn one.
- `locked`: an exclusive lock on a lock file (`filelock`, which holds across processes of one
  host; reentrant within one lock object). Locks protect a data root on a local disk only: on
  object storage, Delta's optimistic concurrency is what protects the tables.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from memgraph_ops.errors import MemgraphError


def atomic_write(path: Path, data: bytes | str) -> None:
    """Replace `path` with `data` atomically (creating its directory if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    payload = data.encode() if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lock_for(path: Path) -> FileLock:
    """The lock object for a lock file (keep it to hold the lock across several calls)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path, mode=0o600)


@contextmanager
def locked(
    lock: FileLock,
    *,
    timeout: float = -1,
    busy: type[MemgraphError] | None = None,
    what: str = "",
) -> Iterator[None]:
    """Hold `lock`, waiting up to `timeout` seconds (-1: as long as it takes, 0: not at all).
    If it stays taken, raise `busy(what)` — the caller's error class says whether it is worth
    retrying."""
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        if busy is None:
            raise
        waited = f"; waited {timeout:.0f}s" if timeout > 0 else ""
        raise busy(f"{what}{waited}, retry later") from None
    try:
        yield
    finally:
        lock.release()
