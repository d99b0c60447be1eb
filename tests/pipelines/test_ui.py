"""The Dagster UI as a user sees it: `dagster dev` on a temporary data root, headless Chromium
(Debian's package, installed by `make browser`) driven by Playwright to the compaction asset,
materialized from the UI; the run succeeds and its metadata (events, redactions by type, bytes)
is shown. A screenshot is kept in `test-artifacts/`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import memgraph_ops
from memgraph_ops import load_settings
from memgraph_ops.workload import write_workload
from pipelines.instance import prepare_dagster_home
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.heavy

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# As root on a machine with no network beyond the package registries: no sandbox, no GPU, and
# none of Chromium's background connections (refused here, and slow to give up on).
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[str]:
    """`dagster dev` on a data root holding a few ingested sessions; yields its URL."""
    home = tmp_path / "home"
    env = os.environ | {
        "MEMGRAPH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MEMGRAPH_PSEUDONYM_KEY": TEST_KEY,
    }
    env.pop("MEMGRAPH_CONFIG", None)
    workload = tmp_path / "workload.jsonl"
    write_workload(workload, 4, seed=3)
    with memgraph_ops.open(home) as mg:
        assert mg.ingest_file(workload).accepted > 0
    prepare_dagster_home(load_settings(home))
    port = _free_port()
    log = tmp_path / "dagster-dev.log"
    with open(log, "wb") as out:
        dev = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster")), "dev", "-m", "pipelines.definitions",
             "-h", "127.0.0.1", "-p", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert dev.poll() is None, f"dagster dev exited: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"dagster dev never answered: {log}"
            time.sleep(1)
        yield url
    finally:
        os.killpg(dev.pid, signal.SIGTERM)  # the webserver, the daemon, their run workers
        try:
            dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()


def test_compaction_is_materialized_from_the_ui_and_its_metadata_shown(ui: str) -> None:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make browser` installs Debian's chromium"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{ui}/assets/nodes", wait_until="networkidle")
        page.wait_for_timeout(1500)
        community = page.get_by_role("button", name="Skip")  # Dagster's first-visit dialog
        if community.is_visible():
            community.click()
        page.locator("button", has_text="Materialize").first.click()
        # nodes is one output of the compaction multi-asset: the UI asks to confirm the others
        confirm = page.get_by_role("button", name="Confirm")
        confirm.wait_for(timeout=30_000)
        asked = page.inner_text("body")
        assert all(other in asked for other in ("edges", "event_log", "pii_findings"))
        confirm.click()
        page.get_by_text("Launched run").wait_for(timeout=60_000)

        deadline = time.monotonic() + 240
        while True:
            page.goto(f"{ui}/runs", wait_until="networkidle")
            page.wait_for_timeout(1000)
            text = (
                page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
            )
            if "Success" in text or "Failure" in text or time.monotonic() > deadline:
                break
            time.sleep(3)
        page.screenshot(path=str(ARTIFACTS / "dagster-runs.png"))
        assert "Success" in text, f"the run did not succeed in the UI: {text[:600]}"

        shown = {}
        for asset in ("event_log", "pii_findings"):
            page.goto(f"{ui}/assets/{asset}", wait_until="networkidle")
            page.get_by_text("events_compacted").first.wait_for(timeout=30_000)
            shown[asset] = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / f"dagster-{asset}.png"), full_page=True)
        browser.close()
    assert "bytes" in shown["event_log"] and "files" in shown["event_log"]
    assert "redacted EMAIL_ADDRESS" in shown["pii_findings"]
    assert "events_compacted" in shown["pii_findings"]
