"""Erasure of a served data root: `memgraph-ops erase` (another process) runs HOT's step and
the file rewrite inside the server, verifies every byte, and the guard then holds at the
service's door too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from memgraph_ops.client import Client
from tests.factories import session
from tests.service.conftest import Keys, Server

REPO = Path(__file__).resolve().parents[2]


def _erase(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memgraph_ops.cli", "erase", "--home", str(home), "--json", *args],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_erase_on_a_served_root_goes_through_the_server(
    server: Server, keys: Keys, home: Path
) -> None:
    gone = session("s-gone", 2, user="user-gone")
    kept = session("s-kept", 2, user="user-kept")
    with Client(server.url, keys.acme) as client:
        assert client.ingest(gone + kept).accepted == len(gone) + len(kept)

    done = _erase(home, "--user", "user-gone")
    assert done.returncode == 0, done.stderr[-3000:]
    receipt = json.loads(done.stdout)
    assert receipt["status"] == "done", receipt
    assert receipt["verification"]["passed"] is True
    assert receipt["counts"]["hot"]["events"] == len(gone)
    assert receipt["counts"]["hot"]["file_bytes_after_rewrite"] > 0

    # The server never let go of its file: it rewrote it in place and still serves.
    assert server.process.poll() is None
    assert b"user-gone" not in (home / "hot.duckdb").read_bytes()
    with Client(server.url, keys.acme) as client:
        assert client.node("s-gone") is None
        assert client.node("s-kept") is not None
        assert len(client.context("s-kept", last=10)) == 2
        # the erased user's events, sent again through the service, are refused
        again = client.ingest(gone)
        assert again.accepted == 0 and again.quarantined == len(gone)
        assert client.node("s-gone") is None


def test_erasure_endpoints_need_an_admin_and_refuse_unknown_fields(
    server: Server, keys: Keys
) -> None:
    for path in ("/v1/ops/find_subject", "/v1/ops/erase_subject", "/v1/ops/rewrite_file"):
        answer = httpx.post(
            f"{server.url}{path}",
            json={"rows": {"sessions": ["s"]}, "re_redact": False},
            headers={"Authorization": f"Bearer {keys.acme}"},
            timeout=10,
        )
        assert answer.status_code == 403, (path, answer.text)
    # a field this server does not know must not silently erase less than asked
    answer = httpx.post(
        f"{server.url}/v1/ops/erase_subject",
        json={"rows": {"sessions": ["s"], "emails": ["a@b.c"]}, "re_redact": False},
        headers={"Authorization": f"Bearer {keys.admin}"},
        timeout=10,
    )
    assert answer.status_code == 422, answer.text
