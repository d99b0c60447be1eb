"""Quarantine rows stay bounded: huge poison events are summed up, repeats are not piled up."""

from __future__ import annotations

import hashlib
from pathlib import Path

from memgraph_ops.store import QUARANTINE_RAW_CHARS, Store
from tests.factories import event, tombstone


def test_a_huge_poison_event_keeps_its_start_and_digest(tmp_path: Path) -> None:
    with Store.open(tmp_path / "hot.duckdb") as store:
        poison = event("e1", "Prompt", "p1", session_id="s", content="x" * (20 << 20))
        for _ in range(2):
            assert store.ingest([poison]).quarantined == 1
        (row,) = store.quarantine().to_dicts()
        assert len(row["raw"]) < QUARANTINE_RAW_CHARS + 200
        assert row["raw"].startswith('{"event_id": "e1"')
        raw_bytes = int(row["raw"].rsplit(" bytes in all", 1)[0].rsplit("[", 1)[1])
        assert raw_bytes > 20 << 20
        assert len(row["raw"].rsplit("sha256 ", 1)[1].rstrip("]")) == len(
            hashlib.sha256().hexdigest()
        )


def test_refused_events_are_quarantined_once_however_often_they_come(
    tmp_path: Path, home: Path
) -> None:  # `home` sets the pseudonym key the tombstones are hashed with
    with Store.open(tmp_path / "hot.duckdb") as store:
        tombstone(tmp_path, request_id="r-1", sessions=["s1"])
        batch = [
            event("e1", "Prompt", "p1", session_id="s1", content="x"),
            event("e2", "Prompt", "p2", session_id="s1", content="y"),
        ]
        for _ in range(3):
            assert store.ingest(batch).quarantined == 2
        assert sorted(store.quarantine()["event_id"]) == ["e1", "e2"]
