"""Sealing of queued subjects (AES-256-GCM, bound to the request id) and Ed25519 receipts that
an auditor checks with the public key alone; legacy (HMAC) queue entries and receipts."""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from memgraph_ops import Memgraph
from memgraph_ops.cli import main
from memgraph_ops.erasure import ErasureFailed, ErasureKeys, Queue, Subject, drain, receipt, run
from memgraph_ops.erasure.keys import SEAL_PREFIX, ReceiptKey
from memgraph_ops.errors import ConfigError
from tests.conftest import TEST_KEY
from tests.factories import session

ROOT = Path(__file__).resolve().parents[2]
KEYS = ErasureKeys(bytes.fromhex(TEST_KEY))
OTHER_KEYS = ErasureKeys(bytes.fromhex("a5" * 32))
USER = "legacy-user-1"

# Made by the HMAC-SHA256 counter-mode code this replaced (memgraph_ops/erasure/keys.py before
# the `cryptography` package), under TEST_KEY: the sealed subject of a request queued back then,
# and a receipt signed back then.
LEGACY_SEALED = (
    "rupq+O3o/dLEudf73C4m9lpfZD3GRu91BBJ2XhoeYVKvD9rz4J+JgOcO0+90suDnr+xbw2aEYRfovDeN/d/u+9HvXA"
    "QFhknfeowWCUU8Mpv8eVfh7N2CASetmfjZBxriXaTT3jcgd/YDTO5gRA=="
)
LEGACY_RECEIPT: dict[str, Any] = {
    "request_id": "er-20250101000000-0123abcd",
    "subject_hash": "575d6b700f618db1cf92782be64a9587",
    "kind": "user", "tenant": None, "mode": "re-redact", "status": "done",
    "requested_at": "2025-01-01T00:00:00+00:00", "completed_at": "2025-01-01T00:00:05+00:00",
    "counts": {"hot": {"deleted": 3}}, "files": ["hot.duckdb"],
    "verification": {"passed": True, "places": 0}, "seconds": 5.0, "timings": {"plan": 1.0},
    "signature": "4b45fedff13ab6b02b83b32cf0c9d061e3afc1340bce14131de2fb2ae1c24dd6",
}  # fmt: skip


def _document() -> dict[str, Any]:
    return {
        "request_id": "er-20260102030405-deadbeef",
        "subject_hash": KEYS.subject_hash("user", "someone"),
        "kind": "user", "tenant": "acme", "mode": "re-redact", "status": "done",
        "requested_at": "2026-01-02T03:04:05+00:00", "completed_at": "2026-01-02T03:04:09+00:00",
        "counts": {"hot": {"deleted": 12}, "lake.nodes": {"deleted": 7}, "vault": {}},
        "files": ["hot.duckdb", "nodes/part-0.parquet"],
        "verification": {"passed": True, "places": 0, "rows_left": False},
        "seconds": 4.25, "timings": {"plan": 0.5, "verify": 1.75},
    }  # fmt: skip


def _flip(sealed: str, index: int) -> str:
    raw = bytearray(base64.b64decode(sealed.removeprefix(SEAL_PREFIX)))
    raw[index] ^= 0x01
    return SEAL_PREFIX + base64.b64encode(bytes(raw)).decode()


# sealing ----------------------------------------------------------------------------------------


def test_a_seal_round_trips_and_two_seals_of_one_subject_differ() -> None:
    text = json.dumps({"value": "zoe@example.org", "identifiers": ["+1 555 0100"]})
    first, second = (KEYS.seal(text, request_id="er-1") for _ in range(2))
    assert first.startswith(SEAL_PREFIX) and first != second  # a random nonce per seal
    assert "zoe" not in first
    assert KEYS.unseal(first, request_id="er-1") == text
    assert KEYS.unseal(second, request_id="er-1") == text


@pytest.mark.parametrize("where", ["nonce", "ciphertext", "tag"])
def test_a_flipped_byte_anywhere_in_a_seal_is_refused(where: str) -> None:
    sealed = KEYS.seal("subject-7f3a9c", request_id="er-1")
    length = len(base64.b64decode(sealed.removeprefix(SEAL_PREFIX)))
    index = {"nonce": 0, "ciphertext": 12, "tag": length - 1}[where]
    with pytest.raises(ConfigError, match="er-1 does not open: it was altered"):
        KEYS.unseal(_flip(sealed, index), request_id="er-1")


def test_a_seal_moved_to_another_request_does_not_open() -> None:
    sealed = KEYS.seal("subject-7f3a9c", request_id="er-20260101000000-aaaaaaaa")
    with pytest.raises(ConfigError, match="belongs to another request"):
        KEYS.unseal(sealed, request_id="er-20260101000000-bbbbbbbb")


def test_a_seal_under_another_key_says_how_to_requeue() -> None:
    sealed = OTHER_KEYS.seal("subject-7f3a9c", request_id="er-1")
    with pytest.raises(ConfigError, match=r"delete erasure/requests/er-1\.json"):
        KEYS.unseal(sealed, request_id="er-1")


def test_a_legacy_seal_still_opens_but_not_when_altered() -> None:
    assert json.loads(KEYS.unseal(LEGACY_SEALED, request_id="er-any"))["value"] == USER
    raw = bytearray(base64.b64decode(LEGACY_SEALED))
    raw[20] ^= 0x01
    with pytest.raises(ConfigError, match="legacy format and was altered"):
        KEYS.unseal(base64.b64encode(bytes(raw)).decode(), request_id="er-any")
    with pytest.raises(ConfigError, match="legacy format"):
        OTHER_KEYS.unseal(LEGACY_SEALED, request_id="er-any")


def test_the_signing_key_is_derived_from_the_master_key_alone() -> None:
    again = ErasureKeys(bytes.fromhex(TEST_KEY))
    assert again.public_key.pem() == KEYS.public_key.pem()  # nothing new to store
    assert OTHER_KEYS.public_key.fingerprint != KEYS.public_key.fingerprint
    pem = KEYS.public_key.pem()
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    raw = base64.b64encode(KEYS.public_key.raw()).decode()
    assert ReceiptKey.from_text(raw).fingerprint == ReceiptKey.from_text(pem).fingerprint


# receipts ---------------------------------------------------------------------------------------


def test_a_signed_receipt_verifies_with_the_public_key_and_survives_a_file() -> None:
    signed = receipt.sign(_document(), KEYS)
    assert signed["signature_algorithm"] == "Ed25519"
    assert signed["public_key_fingerprint"] == KEYS.public_key.fingerprint
    # a reordered, re-indented copy (as read back from a file) has the same canonical bytes
    reread = json.loads(json.dumps(dict(reversed(signed.items())), indent=4))
    verdict = receipt.verify(reread, public_key=ReceiptKey.from_text(KEYS.public_key.pem()))
    assert verdict.valid and verdict.problems == (), verdict
    assert KEYS.verify(reread)


def test_a_changed_count_fails_verification_naming_it() -> None:
    signed = receipt.sign(_document(), KEYS)
    forged = copy.deepcopy(signed)
    forged["counts"]["hot"]["deleted"] = 13
    verdict = receipt.verify(forged, public_key=KEYS.public_key)
    assert verdict.outcome == "invalid"
    assert verdict.problems == ("counts.hot.deleted was changed after signing",)
    dotted = copy.deepcopy(signed)
    dotted["counts"]["lake.nodes"]["deleted"] = 0
    assert receipt.verify(dotted, public_key=KEYS.public_key).problems == (
        'counts."lake.nodes".deleted was changed after signing',
    )
    assert not KEYS.verify(forged)


def test_added_removed_and_unnamed_changes_are_reported() -> None:
    signed = receipt.sign(_document(), KEYS)
    added = {**signed, "note": "all good"}
    assert receipt.verify(added, public_key=KEYS.public_key).problems == (
        "note was added after signing",
    )
    removed = {k: v for k, v in signed.items() if k != "files"}
    assert receipt.verify(removed, public_key=KEYS.public_key).problems == (
        "files was removed after signing",
    )
    # the forger recomputes the (unkeyed) field digests: the signature still fails
    forged = copy.deepcopy(signed)
    forged["verification"]["passed"] = False
    forged["field_digests"] = receipt._digests(
        {k: v for k, v in forged.items() if k not in ("signature", "field_digests")}
    )
    (problem,) = receipt.verify(forged, public_key=KEYS.public_key).problems
    assert "signature does not match" in problem


def test_a_receipt_checked_with_the_wrong_key_names_both_keys() -> None:
    signed = receipt.sign(_document(), KEYS)
    verdict = receipt.verify(signed, public_key=OTHER_KEYS.public_key)
    assert verdict.outcome == "invalid"
    (problem,) = verdict.problems
    assert problem.startswith("wrong key")
    assert KEYS.public_key.fingerprint in problem and OTHER_KEYS.public_key.fingerprint in problem


def test_a_legacy_receipt_is_named_legacy_and_checked_only_with_the_master_key() -> None:
    unchecked = receipt.verify(LEGACY_RECEIPT, public_key=KEYS.public_key)
    assert unchecked.outcome == "unchecked" and unchecked.algorithm == "HMAC-SHA256"
    assert "only the holder of the pseudonym key" in unchecked.notes[0]
    assert receipt.verify(LEGACY_RECEIPT, keys=KEYS).valid
    assert KEYS.verify(LEGACY_RECEIPT)
    forged = {**LEGACY_RECEIPT, "counts": {"hot": {"deleted": 4}}}
    assert receipt.verify(forged, keys=KEYS).outcome == "invalid"


# the command line -------------------------------------------------------------------------------


def _no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No pseudonym key anywhere: not in the environment, not in a default key file."""
    monkeypatch.delenv("MEMGRAPH_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("MEMGRAPH_PSEUDONYM_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.setenv("HOME", str(tmp_path / "no-home"))


def test_erase_verify_returns_0_for_valid_and_1_for_tampered_without_the_master_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEMGRAPH_PSEUDONYM_KEY", TEST_KEY)
    pem = tmp_path / "receipts.pem"
    assert main(["erase", "public-key", "--out", str(pem)]) == 0
    assert pem.read_text() == KEYS.public_key.pem()
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    signed = receipt.sign(_document(), KEYS)
    receipt.save(signed, good)
    forged = copy.deepcopy(signed)
    forged["files"] = ["hot.duckdb"]
    receipt.save(forged, bad)
    _no_key(monkeypatch, tmp_path)
    capsys.readouterr()

    assert main(["erase", "verify", str(good), "--public-key", str(pem)]) == 0
    assert "valid (Ed25519" in capsys.readouterr().out
    assert main(["erase", "verify", str(bad), "--public-key", str(pem)]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "files was changed after signing" in out
    other = tmp_path / "other.pem"
    other.write_text(OTHER_KEYS.public_key.pem())
    assert main(["erase", "verify", str(good), "--public-key", str(other), "--json"]) == 1
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["outcome"] == "invalid" and verdict["problems"][0].startswith("wrong key")
    # without a public key and without the master key there is nothing to check with
    assert main(["erase", "verify", str(good)]) == 2
    out = capsys.readouterr().out
    assert "NOT CHECKED" in out and "--public-key" in out and "no pseudonym key" in out


def test_erase_verify_on_a_legacy_receipt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "legacy.json"
    path.write_text(json.dumps(LEGACY_RECEIPT))
    pem = tmp_path / "receipts.pem"
    pem.write_text(KEYS.public_key.pem())
    _no_key(monkeypatch, tmp_path)
    assert main(["erase", "verify", str(path), "--public-key", str(pem)]) == 2
    out = capsys.readouterr().out
    assert "legacy receipt" in out and "only the holder of the pseudonym key" in out
    monkeypatch.setenv("MEMGRAPH_PSEUDONYM_KEY", TEST_KEY)
    assert main(["erase", "verify", str(path), "--public-key", str(pem)]) == 0
    assert "valid (HMAC-SHA256, checked with the pseudonym key)" in capsys.readouterr().out
    path.write_text(json.dumps({**LEGACY_RECEIPT, "status": "nothing found"}))
    assert main(["erase", "verify", str(path)]) == 1


def test_an_erasure_receipt_verifies_in_a_process_that_has_no_secret(
    mg: Memgraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mg.ingest(session("s-crypto-1", 1, user="crypto-subject") + session("s-crypto-2", 1))
    mg.compact()
    mg.close()
    home = str(mg.settings.home)
    out, pem, again = tmp_path / "receipt.json", tmp_path / "receipts.pem", tmp_path / "r2.json"
    args = ["erase", "--home", home, "--user", "crypto-subject", "--receipt-out", str(out)]
    assert main(args) == 0
    assert main(["erase", "public-key", "--home", home, "--out", str(pem)]) == 0
    document = json.loads(out.read_text())
    assert (
        main(["erase", "receipt", document["request_id"], "--home", home, "--out", str(again)]) == 0
    )
    assert json.loads(again.read_text()) == document  # the erasure_log holds the same receipt
    capsys.readouterr()

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMGRAPH_")}
    env |= {"HOME": str(tmp_path / "no-home"), "XDG_CONFIG_HOME": str(tmp_path / "no-config")}
    code = "import sys; from memgraph_ops.cli import main; sys.exit(main(sys.argv[1:]))"
    check = [sys.executable, "-c", code, "erase", "verify", str(out), "--public-key", str(pem)]
    child = subprocess.run(
        check, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stdout + child.stderr
    assert f"receipt {document['request_id']}" in child.stdout and "valid (Ed25519" in child.stdout
    document["counts"]["lake.nodes"]["deleted"] -= 1  # "only 3 rows went"
    out.write_text(json.dumps(document))
    child = subprocess.run(
        check, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 1
    assert 'counts."lake.nodes".deleted was changed after signing' in child.stdout


def test_a_request_queued_with_the_legacy_seal_is_read_once_then_resealed(mg: Memgraph) -> None:
    mg.ingest(session("s-legacy-1", 1, user=USER) + session("s-legacy-2", 1))
    mg.compact()
    queue = Queue(mg.settings.home)
    request = queue.submit(Subject("user", USER), KEYS)
    request.sealed = LEGACY_SEALED  # as a request queued before the upgrade holds it
    queue.save(request)
    stray = mg.settings.home / "notes.txt"
    stray.write_text(f"call {USER} back")  # makes the first attempt fail after the unseal
    with pytest.raises(ErasureFailed, match="verification found"):
        run(mg, request.request_id)
    failed = queue.get(request.request_id)
    assert failed.status == "failed"
    assert failed.sealed is not None and failed.sealed.startswith(SEAL_PREFIX)
    assert json.loads(KEYS.unseal(failed.sealed, request_id=request.request_id))["value"] == USER
    stray.unlink()
    (done,) = drain(mg)
    assert done.status == "done" and done.sealed is None
    assert done.receipt is not None
    assert receipt.verify(done.receipt, public_key=KEYS.public_key).valid
