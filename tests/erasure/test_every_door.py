"""After an erasure, the subject's events are refused and their sessions stay unrestorable
through every way into the data root, not only the facade (issue 11, defect 1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import memgraph_ops
from memgraph_ops import Memgraph
from memgraph_ops.cli import main
from memgraph_ops.erasure import Subject, erase
from memgraph_ops.errors import RestoreRefusedError
from memgraph_ops.store import Store
from memgraph_ops.vault import Vault
from pipelines.resources import MemgraphResource
from tests.erasure.conftest import SUBJECT, build
from tests.factories import session


def _subjects_old_events(name: str) -> list[dict[str, Any]]:
    """Events of the erased subject from before the erasure: more of an erased session (each
    door sends other event ids), and a session the lake never had whose Session event names
    the subject."""
    again = [{**e, "event_id": f"{name}-{e['event_id']}"} for e in session("subj-sess-1", 1)]
    new = [
        {**e, "user_id": SUBJECT} if e["type"] == "Session" else e
        for e in session(f"subj-{name}", 1, start=300)
    ]
    return again + [{**e, "event_id": f"{name}-{e['event_id']}"} for e in new]


def _only_refusals(result: Any, sent: list[dict[str, Any]]) -> None:
    assert result.accepted == 0 and result.quarantined == len(sent)
    assert all(reason.startswith("refused:") for reason in result.reasons)


@pytest.fixture
def erased(mg: Memgraph) -> Path:
    build(mg)
    assert erase(mg, Subject("user", SUBJECT)).status == "done"
    home = mg.settings.home
    mg.close()
    return home


def test_every_door_refuses_the_erased_subject(erased: Path, tmp_path: Path) -> None:
    with memgraph_ops.open(erased) as facade:
        sent = _subjects_old_events("facade")
        _only_refusals(facade.ingest(sent), sent)
    with Store.open(erased / "hot.duckdb") as bare:  # the public Store, no facade
        sent = _subjects_old_events("store")
        _only_refusals(bare.ingest(sent), sent)
    with MemgraphResource(home=str(erased)).store() as dagster_store:  # what Dagster assets use
        sent = _subjects_old_events("dagster")
        _only_refusals(dagster_store.ingest(sent), sent)
    sent = _subjects_old_events("cli")
    file = tmp_path / "old.jsonl"
    file.write_text("".join(json.dumps(e) + "\n" for e in sent))
    assert main(["--home", str(erased), "ingest", str(file)]) == 2  # all quarantined
    with Store.open(erased / "hot.duckdb") as store:
        assert store.sessions(SUBJECT).is_empty()
        assert not any(store.node(f"subj-{door}") for door in ("facade", "store", "dagster", "cli"))
        assert store.ingest(session("someone-else", 1, user="frank-66ff")).accepted > 0


def test_no_door_restores_an_erased_session(erased: Path) -> None:
    with (
        Store.open(erased / "hot.duckdb") as store,
        pytest.raises(RestoreRefusedError, match="erased by request"),
    ):
        Vault(erased / "vault").restore(store, "subj-sess-0")
    assert main(["--home", str(erased), "restore", "subj-sess-0"]) != 0
    with memgraph_ops.open(erased) as facade, pytest.raises(RestoreRefusedError):
        facade.restore("subj-sess-0")
