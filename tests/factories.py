"""Small builders of valid events for tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from memgraph_ops import tombstones
from memgraph_ops.privacy.pseudonyms import load_master_key
from memgraph_ops.tombstones import SubjectHasher

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def event(eid: str, type_: str, id_: str, *, at: int = 0, **fields: Any) -> dict[str, Any]:
    """A node upsert event."""
    return {
        "event_id": eid,
        "op": "upsert",
        "kind": "node",
        "type": type_,
        "id": id_,
        "tenant": fields.pop("tenant", "acme"),
        "occurred_at": (BASE + timedelta(seconds=at)).isoformat(),
        **fields,
    }


def edge(eid: str, type_: str, src: str, dst: str, *, at: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": eid,
        "op": "upsert",
        "kind": "edge",
        "type": type_,
        "src": src,
        "dst": dst,
        "tenant": fields.pop("tenant", "acme"),
        "occurred_at": (BASE + timedelta(seconds=at)).isoformat(),
        **fields,
    }


def session(sid: str, turns: int, *, user: str = "user-1", start: int = 0) -> list[dict[str, Any]]:
    """A session with `turns` prompt/response pairs, one tool call per response, and edges."""
    out = [event(f"{sid}-e-s", "Session", sid, at=start, user_id=user, tags=["t"])]
    previous = None
    for i in range(turns):
        t = start + 10 * i + 1
        p, r, tool = f"{sid}-p{i}", f"{sid}-r{i}", f"{sid}-t{i}"
        out += [
            event(f"{sid}-e-p{i}", "Prompt", p, at=t, session_id=sid, content=f"question {i}"),
            event(
                f"{sid}-e-r{i}", "Response", r, at=t + 1, session_id=sid, prompt_id=p,
                content=f"answer {i}", prompt_tokens=10, completion_tokens=5, total_tokens=15,
            ),
            event(
                f"{sid}-e-t{i}", "ToolInvocation", tool, at=t + 2, session_id=sid,
                response_id=r, tool_name="search", parameters={"q": i}, success=True,
            ),
            edge(f"{sid}-e-rt{i}", "RESPONDS_TO", r, p, at=t + 1, session_id=sid, latency_ms=5.0),
            edge(f"{sid}-e-inv{i}", "INVOKES", r, tool, at=t + 2, session_id=sid,
                 invocation_order=0),
        ]  # fmt: skip
        if previous:
            # FOLLOWS points back in time: the later prompt follows the earlier one.
            out.append(edge(f"{sid}-e-f{i}", "FOLLOWS", p, previous, at=t, session_id=sid))
        previous = p
    return out


def tombstone(
    home: Path, *, request_id: str, sessions: Sequence[str] = (), users: Sequence[str] = ()
) -> None:
    """Record erasure tombstones under `home`, as a completed erasure request does (hashed
    with the pseudonym key of the environment)."""
    hasher = SubjectHasher(load_master_key(home))
    tombstones.add(
        home, hasher, request_id=request_id, requested_at=datetime.now(UTC).isoformat(),
        sessions=list(sessions), user_ids=list(users), tenant=None,
    )  # fmt: skip


def hash_tree(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, by relative path (to prove a dry run wrote nothing)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
