"""`memgraph-ops verify` and the errors of normal operations on damaged files: real DuckDB,
Delta and zstd files, damaged on disk the way disks and crashes damage them."""

from __future__ import annotations

import json
import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

import memgraph_ops
from memgraph_ops.cli import main
from memgraph_ops.errors import LakeCorruptError, StoreCorruptError, VaultCorruptError
from memgraph_ops.findings import LayerReport
from memgraph_ops.lake import _integrity, delta, no_redaction
from memgraph_ops.lake.tables import TABLES
from memgraph_ops.lake.verify import verify_lake, verify_table
from memgraph_ops.store import _duckdb
from memgraph_ops.vault import index as vault_index
from tests.conftest import TEST_KEY
from tests.factories import event, session

SYSTEM = "You are the support agent of Acme Corp. Be brief, cite the policy, never guess. " * 30
ARCHIVED = [f"s{i}" for i in range(66)]  # enough sessions for a trained dictionary


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data root with every layer: HOT, four lake tables (two compactions, so the first one's
    files have digests), and a vault with packs, a shared block and a trained dictionary."""
    root = tmp_path_factory.mktemp("verify") / "home"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MEMGRAPH_HOT_WINDOW_HOURS", "0")
        env.setenv("MEMGRAPH_PSEUDONYM_KEY", TEST_KEY)
        env.setenv("MEMGRAPH_VAULT_GROUP_KIB", "0")  # a frame per session: dictionaries apply
        env.delenv("MEMGRAPH_FAILPOINT", raising=False)
        with memgraph_ops.open(root) as mg:
            events = []
            for i in range(70):
                sid = f"s{i}"
                events += session(sid, 2, user=f"user-{i % 3}")
                events.append(
                    event(f"{sid}-e-sys", "Prompt", f"{sid}-sys", session_id=sid,
                          content=SYSTEM, is_system=True)
                )  # fmt: skip
            mg.ingest(events)
            mg.compact(redact=no_redaction)
            mg.archive(ARCHIVED)
            mg.ingest(session("n0", 2, start=1000))
            mg.compact(redact=no_redaction)
            mg.archive(["s66"])  # the second index commit records the first one's digests
        yield root


@pytest.fixture
def root(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the built data root."""
    home = tmp_path / "home"
    shutil.copytree(built, home)
    monkeypatch.setenv("MEMGRAPH_HOME", str(home))
    monkeypatch.setenv("MEMGRAPH_HOT_WINDOW_HOURS", "0")
    monkeypatch.setenv("MEMGRAPH_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.delenv("MEMGRAPH_FAILPOINT", raising=False)
    return home


def _verify(home: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["--home", str(home), "verify", "--json"])
    return code, json.loads(capsys.readouterr().out)


def _errors(report: dict[str, Any]) -> dict[str, str]:
    return {p["path"]: p["what"] for p in report["problems"] if p["severity"] == "error"}


def _flip(path: Path, offset: int, bit: int = 3) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))


def _digested_file(table: Path) -> Path:
    """A data file of the table's snapshot that has a recorded digest."""
    delta = DeltaTable(str(table))
    manifest = _integrity.load_manifest(table, _integrity.table_id(table, delta))
    for path, _ in _integrity.adds(delta):
        if _integrity.file_key(path) in manifest.files:
            return _integrity.data_file(table, path)
    raise AssertionError(f"no file of {table} has a digest")


def _snapshot(table: Path) -> list[Path]:
    return [_integrity.data_file(table, p) for p, _ in _integrity.adds(DeltaTable(str(table)))]


def _versions(home: Path) -> dict[str, int]:
    lake = home / "lake"
    return {name: DeltaTable(str(lake / name)).version() for name in TABLES}


def test_a_clean_root_verifies(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _verify(root, capsys)
    assert code == 0 and report["ok"] and not _errors(report)
    assert report["layers"]["lake"]["checked"]["tables"] == 4
    assert report["layers"]["vault"]["checked"]["frames"] >= len(ARCHIVED)
    assert report["layers"]["vault"]["checked"]["dictionaries"] == 1
    assert report["layers"]["hot"]["checked"]["tables"] >= 5
    # the text form says the same, and exit 0
    assert main(["--home", str(root), "verify"]) == 0
    assert "every file checked is intact" in capsys.readouterr().out


def test_a_flipped_bit_in_a_lake_data_file_is_named(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = _digested_file(root / "lake" / "event_log")
    _flip(damaged, damaged.stat().st_size // 2)
    code, report = _verify(root, capsys)
    name = str(damaged.relative_to(root))
    assert code == 1 and not report["ok"]
    assert "sha256" in _errors(report)[name]
    (problem,) = [p for p in report["problems"] if p["path"] == name]
    assert "backup" in problem["repair"] and "repair(dry_run=False)" in problem["repair"]


def test_every_one_of_30_bit_flips_in_a_digested_file_is_caught(root: Path) -> None:
    table = root / "lake" / "event_log"
    damaged = _digested_file(table)
    original = damaged.read_bytes()
    rng = random.Random(10)
    caught = 0
    for _ in range(30):
        _flip(damaged, rng.randrange(len(original)), rng.randrange(8))
        report = LayerReport("lake")
        verify_table(table, layer="lake", home=root, report=report)
        caught += any(p.path.endswith(damaged.name) for p in report.errors)
        damaged.write_bytes(original)
    assert caught == 30


def test_a_truncated_lake_file_stops_compaction_and_archive_naming_it(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nodes = root / "lake" / "nodes"
    damaged = next(p for p in _snapshot(nodes) if p.parent.name == "type=Prompt")
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    before = _versions(root)
    with memgraph_ops.open(root) as mg:
        mg.ingest(session("n1", 2, start=2000))
        with pytest.raises(LakeCorruptError, match=re.escape(damaged.name)) as caught:
            mg.compact(redact=no_redaction)
        assert "truncated" in str(caught.value) and "memgraph-ops verify" in str(caught.value)
        with pytest.raises(LakeCorruptError, match=re.escape(damaged.name)):
            mg.archive(["n0"])
        with pytest.raises(LakeCorruptError, match=re.escape(damaged.name)):
            mg.lake.nodes(types=["Prompt"])
    assert _versions(root) == before  # nothing was committed on top of the damaged table
    code, report = _verify(root, capsys)
    assert code == 1
    assert "truncated" in _errors(report)[str(damaged.relative_to(root))]


def test_a_missing_early_log_entry_is_named(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = root / "lake" / "nodes" / "_delta_log" / f"{1:020d}.json"
    missing.unlink()
    with (
        memgraph_ops.open(root) as mg,
        pytest.raises(LakeCorruptError, match=re.escape(missing.name)),
    ):
        mg.lake.nodes()
    assert main(["--home", str(root), "status"]) == 1
    assert missing.name in capsys.readouterr().err
    code, report = _verify(root, capsys)
    assert code == 1
    assert "is missing" in _errors(report)[str(missing.relative_to(root))]


def test_a_damaged_log_entry_is_named(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = root / "lake" / "edges" / "_delta_log" / f"{1:020d}.json"
    text = bytearray(entry.read_bytes())
    digit = text.index(b'"size":') + len(b'"size":')
    text[digit] = ord("1") if text[digit] != ord("1") else ord("2")  # still valid JSON
    entry.write_bytes(bytes(text))
    code, report = _verify(root, capsys)
    assert code == 1
    assert "sha256" in _errors(report)[str(entry.relative_to(root))]


def test_a_flipped_byte_in_hot_duckdb_is_named(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = root / "hot.duckdb"
    size = store.stat().st_size
    last_block = 12_288 + ((size - 12_288) // 262_144 - 1) * 262_144
    _flip(store, last_block + 1_000)
    code, report = _verify(root, capsys)
    assert code == 1
    assert "checksum" in _errors(report)["hot.duckdb"]


def test_a_damaged_hot_header_block_is_a_store_corrupt_error(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = root / "hot.duckdb"
    _flip(store, 12_288 + 100)  # the first block holds the catalog: opening reads it
    with pytest.raises(StoreCorruptError, match=r"hot\.duckdb"):
        _duckdb.connect(store)
    assert main(["--home", str(root), "status"]) == 1
    assert "memgraph-ops verify" in capsys.readouterr().err
    code, report = _verify(root, capsys)
    assert code == 1 and "hot.duckdb" in _errors(report)


def test_hot_open_for_writing_is_reported_not_failed(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with memgraph_ops.open(root) as mg:
        mg.store.max_seq()  # this process now holds the file for writing
        code, report = _verify(root, capsys)
    assert code == 0
    (problem,) = [p for p in report["problems"] if p["layer"] == "hot"]
    assert problem["severity"] == "warning" and "not checked" in problem["what"]


def _dictionary(root: Path) -> Path:
    (path,) = (root / "vault" / "dicts").glob("*.dict")
    return path


def test_a_damaged_dictionary_header_is_named_not_the_pack(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dictionary = _dictionary(root)
    _flip(dictionary, 5)  # inside the dictionary id
    with memgraph_ops.open(root) as mg, pytest.raises(VaultCorruptError) as caught:
        mg.restore("s1")
    assert str(dictionary) in str(caught.value) and ".zst" not in str(caught.value)
    code, report = _verify(root, capsys)
    errors = _errors(report)
    assert code == 1 and str(dictionary.relative_to(root)) in errors
    assert not [p for p in errors if p.endswith(".zst")]


def test_damaged_dictionary_content_is_blamed_on_the_dictionary(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dictionary = _dictionary(root)
    data = bytearray(dictionary.read_bytes())
    for offset in range(len(data) - 4_000, len(data), 97):  # the content, not the tables
        data[offset] ^= 0x10
    dictionary.write_bytes(bytes(data))
    code, report = _verify(root, capsys)
    errors = _errors(report)
    assert code == 1
    assert "content checksum" in errors[str(dictionary.relative_to(root))]
    assert not [p for p in errors if p.endswith(".zst")]


def test_a_missing_dictionary_is_named(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dictionary = _dictionary(root)
    dictionary.unlink()
    with memgraph_ops.open(root) as mg, pytest.raises(VaultCorruptError, match="is missing"):
        mg.restore("s2")
    code, report = _verify(root, capsys)
    assert code == 1 and "is missing" in _errors(report)[str(dictionary.relative_to(root))]


def test_a_damaged_pack_is_named_with_the_sessions_it_holds(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, live = vault_index.read_index(root / "vault")
    row = live.filter(live["key"] == "s3").to_dicts()[0]
    pack = root / "vault" / "packs" / row["pack"]
    _flip(pack, int(row["offset"]) + int(row["length"]) // 2)
    code, report = _verify(root, capsys)
    problem = next(p for p in report["problems"] if p["path"] == str(pack.relative_to(root)))
    assert code == 1 and "sha256" in problem["what"] and "s3" in problem["what"]


def test_a_pack_no_index_row_names_is_reported(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packs = root / "vault" / "packs"
    stray = packs / "20990101T000000-deadbeef.zst"
    shutil.copy(next(packs.glob("*.zst")), stray)
    code, report = _verify(root, capsys)
    assert code == 1 and "no index row" in _errors(report)[str(stray.relative_to(root))]
    (packs / f".{stray.name}.pending").touch()  # a writer was still writing it
    code, report = _verify(root, capsys)
    assert code == 0
    assert any(p["path"].endswith(stray.name) for p in report["problems"])


def test_a_commit_through_with_retries_records_digests(tmp_path: Path) -> None:
    uri = str(tmp_path / "lake" / "t")
    data = pa.table({"id": [str(i) for i in range(500)], "n": list(range(500))})
    delta.with_retries(lambda: write_deltalake(uri, data, mode="append"), what="append", table=uri)
    table = DeltaTable(uri)
    ((path, _),) = _integrity.adds(table)
    manifest = _integrity.load_manifest(Path(uri), _integrity.table_id(Path(uri), table))
    assert _integrity.file_key(path) in manifest.files
    assert f"{0:020d}.json" in manifest.log
    assert not verify_lake(str(tmp_path / "lake"), home=tmp_path).problems
    _flip(Path(uri) / path, 40)
    (problem,) = verify_lake(str(tmp_path / "lake"), home=tmp_path).errors
    assert problem.path == f"lake/t/{path}" and "sha256" in problem.what


def test_a_table_restored_from_a_backup_does_not_trip_its_old_log_digests(
    tmp_path: Path,
) -> None:
    uri = tmp_path / "lake" / "t"
    backup = tmp_path / "backup"

    def append(n: int) -> None:
        rows = pa.table({"n": list(range(n))})
        delta.with_retries(
            lambda: write_deltalake(str(uri), rows, mode="append"), what="append", table=str(uri)
        )

    append(10)
    shutil.copytree(uri, backup)
    append(20)  # version 1, recorded
    shutil.rmtree(uri)
    shutil.copytree(backup, uri)  # back to version 0
    append(30)  # a new version 1, other bytes than the recorded one
    assert not verify_lake(str(tmp_path / "lake"), home=tmp_path).errors
