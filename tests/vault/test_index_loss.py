"""A lost or damaged vault index never deletes the vault (issue 10, item 3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from memgraph_ops import Memgraph
from memgraph_ops.cli import main
from memgraph_ops.errors import VaultCorruptError
from memgraph_ops.lake import no_redaction
from tests.factories import hash_tree, session


def _archived(mg: Memgraph, n: int = 4) -> dict[str, object]:
    sessions = [f"s{i}" for i in range(n)]
    mg.ingest([e for s in sessions for e in session(s, 3)])
    mg.compact(redact=no_redaction)
    mg.archive(sessions)
    return {s: mg.vault.read_session(s) for s in sessions}


def _lose_index_log(mg: Memgraph) -> None:
    for entry in (mg.settings.vault_path / "index" / "_delta_log").glob("*.json"):
        entry.unlink()


def test_vault_compact_after_the_index_log_is_lost_deletes_nothing(
    mg: Memgraph, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _archived(mg)
    packs = mg.settings.vault_path / "packs"
    before = hash_tree(packs)
    _lose_index_log(mg)
    mg.close()

    assert main(["--home", str(home), "vault", "compact"]) == 1
    assert "rebuild-index" in capsys.readouterr().err
    assert main(["--home", str(home), "vault", "compact", "--dry-run"]) == 1
    assert hash_tree(packs) == before, "a pack was touched"
    assert main(["--home", str(home), "--json", "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert len(status["vault"]["stray_packs"]) == len(before)
    assert main(["--home", str(home), "status"]) == 0
    assert "VAULT WARNING" in capsys.readouterr().out
    with pytest.raises(VaultCorruptError, match="rebuild-index"):
        mg.archive(["s0"])
    with pytest.raises(VaultCorruptError):
        mg.vault.remove_sessions(["s0"], why="test")
    assert hash_tree(packs) == before


def test_rebuild_index_recovers_every_session_exactly(
    mg: Memgraph, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archived = _archived(mg)
    _lose_index_log(mg)
    mg.close()
    assert main(["--home", str(home), "vault", "rebuild-index", "--dry-run"]) == 0
    assert mg.vault.index().is_empty(), "a dry run installs nothing"
    assert main(["--home", str(home), "vault", "rebuild-index"]) == 0
    capsys.readouterr()
    # the rebuilt index's checksums are recorded: verify finds nothing to warn about
    assert main(["--home", str(home), "verify", "--json"]) == 0
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [p for p in problems if p["layer"] == "vault"] == []

    assert set(mg.vault.index()["session_id"]) == set(archived)
    for sid, rows in archived.items():
        again = mg.vault.read_session(sid)
        assert_frame_equal(again.nodes, rows.nodes)  # type: ignore[attr-defined]
        assert_frame_equal(again.edges, rows.edges)  # type: ignore[attr-defined]
    assert mg.restore("s1").nodes > 0
    assert mg.vault.compact().packs_deleted == []  # writers work again, and delete nothing live


def test_a_pack_the_index_never_named_is_kept_aside_not_deleted(mg: Memgraph, home: Path) -> None:
    archived = _archived(mg, n=2)
    packs = mg.settings.vault_path / "packs"
    (pack,) = packs.glob("*.zst")
    stray = packs / "20000101T000000-deadbeef.zst"
    shutil.copy(pack, stray)  # e.g. a pack of an index restored from an older backup
    with pytest.raises(VaultCorruptError, match="20000101T000000-deadbeef"):
        mg.vault.compact()
    report = mg.vault.rebuild_index()
    assert report.packs_unindexed == [stray.name]
    assert (mg.settings.vault_path / "unindexed" / stray.name).exists()
    assert not stray.exists()
    assert set(mg.vault.index()["session_id"]) == set(archived)
    mg.vault.compact()  # no longer refused
