"""The one lock helper and the one atomic writer."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from memgraph_ops._files import atomic_write, lock_for, locked
from memgraph_ops.errors import TransientError


class Busy(TransientError):
    pass


def _hold(
    path: str, ready: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event
) -> None:
    with locked(lock_for(Path(path))):
        ready.set()
        done.wait(30)


def test_a_lock_held_by_another_process_is_a_clear_busy_error(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path / "x.lock"), ready, done))
    holder.start()
    try:
        assert ready.wait(30)
        with (
            pytest.raises(Busy, match=r"^someone else holds it; waited 1s, retry later$"),
            locked(
                lock_for(tmp_path / "x.lock"), timeout=1, busy=Busy, what="someone else holds it"
            ),
        ):
            pass
    finally:
        done.set()
        holder.join(30)
    with locked(lock_for(tmp_path / "x.lock"), timeout=5, busy=Busy, what="free now"):
        pass


def test_a_lock_object_is_reentrant(tmp_path: Path) -> None:
    lock = lock_for(tmp_path / "y.lock")
    with locked(lock), locked(lock, timeout=0, busy=Busy, what="held by myself"):
        assert lock.is_locked


def test_atomic_write_replaces_whole_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "doc.json"
    atomic_write(target, "first")
    atomic_write(target, b"second")
    assert target.read_bytes() == b"second"
    with pytest.raises(TypeError):
        atomic_write(target, 3)  # type: ignore[arg-type]
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["doc.json"]
