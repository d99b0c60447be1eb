from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import memgraph_ops
from memgraph_ops.errors import ConfigError
from memgraph_ops.events import normalize
from memgraph_ops.privacy import PrivacyConfig, PrivacyPolicy, Pseudonymizer, Redactor, find_leaks
from memgraph_ops.privacy.pseudonyms import KEY_ENV, KEY_FILE_ENV, load_master_key
from tests.conftest import TEST_KEY
from tests.factories import edge, event

KEY = bytes.fromhex(TEST_KEY)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(Pseudonymizer(KEY))


def _stored(events: list[dict[str, object]]) -> pl.DataFrame:
    frame = normalize(events)
    return frame.with_columns(pl.int_range(1, frame.height + 1).alias("seq"))


def test_every_text_field_is_redacted_and_json_stays_valid(redactor: Redactor) -> None:
    events = [
        event("e1", "Session", "s1", user_id="user-7", tags=["vip", "jane@example.com"],
              metadata={"email": "jane@example.com", "n": 3}),
        event("e2", "Prompt", "p1", session_id="s1", content="I am Mary Johnson, call 555-123-4567",
              variables={"customer": {"address": "12 Oak Street, Springfield, IL 62704"}}),
        event("e3", "ToolInvocation", "t1", session_id="s1", response_id="r1", tool_name="pay",
              parameters={"card": "4111 1111 1111 1111", "amount": 12.5, "items": ["AKIAIOSFODNN7EXAMPLE"]},
              result='"sent to jane@example.com"', error="auth failed for jane@example.com"),
        edge("e4", "TRANSFERS_TO", "r1", "agent-1", context_summary="Mary Johnson wants a refund",
             handoff_reason="escalate: customer jane@example.com"),
    ]  # fmt: skip
    redaction = redactor(_stored(events))
    out = redaction.events
    dump = out.write_ndjson()
    for secret in ("jane@example.com", "555-123-4567", "Mary Johnson", "4111 1111 1111 1111",
                   "AKIAIOSFODNN7EXAMPLE", "12 Oak Street", "user-7"):  # fmt: skip
        assert secret not in dump, secret
    token = redactor.pseudonymizer.token("acme", "EMAIL_ADDRESS", "jane@example.com")
    assert token in out["metadata"][0] and token in out["tags"][0].to_list()
    assert token in out["error"][2] and token in out["handoff_reason"][3]
    params = json.loads(out["parameters"][2])  # still valid JSON, numbers untouched
    assert params["amount"] == 12.5 and params["card"].startswith("<CREDIT_CARD:")
    assert json.loads(out["result"][2]).startswith("sent to <EMAIL_ADDRESS:")
    assert json.loads(out["variables"][1])["customer"]["address"].startswith("<STREET_ADDRESS:")
    assert out["user_id"][0] == redactor.pseudonymizer.subject("acme", "user-7")
    findings = redaction.findings
    assert set(findings.columns) >= {"field", "entity_type", "count", "max_score"}
    assert "jane@example.com" not in findings.write_ndjson()
    by_field = set(zip(findings["field"], findings["entity_type"], strict=True))
    assert ("parameters", "CREDIT_CARD") in by_field and ("tags", "EMAIL_ADDRESS") in by_field


def test_person_under_a_name_key_in_json_is_redacted(redactor: Redactor) -> None:
    events = [
        event("e1", "ToolInvocation", "t1", session_id="s", response_id="r", tool_name="crm",
              result={"name": "Alexis Soto", "tier": "Gold Plus", "product": "Data Cloud"}),
    ]  # fmt: skip
    result = json.loads(redactor(_stored(events)).events["result"][0])
    assert result["name"].startswith("<PERSON:")
    assert result["tier"] == "Gold Plus" and result["product"] == "Data Cloud"


def test_pseudonyms_are_stable_normalised_and_per_tenant() -> None:
    p = Pseudonymizer(KEY)
    assert p.token("a", "EMAIL_ADDRESS", "Jane@Example.com ") == p.token(
        "a", "EMAIL_ADDRESS", "jane@example.com"
    )
    assert p.token("a", "PHONE_NUMBER", "(555) 123-4567") == p.token(
        "a", "PHONE_NUMBER", "+1 555.123.4567"
    )
    assert p.token("a", "EMAIL_ADDRESS", "x@y.io") != p.token("b", "EMAIL_ADDRESS", "x@y.io")
    assert Pseudonymizer(b"\x01" * 32).token("a", "EMAIL_ADDRESS", "x@y.io") != p.token(
        "a", "EMAIL_ADDRESS", "x@y.io"
    )


def test_pseudonyms_are_stable_across_processes() -> None:
    code = (
        "from memgraph_ops.privacy import Pseudonymizer;"
        f"print(Pseudonymizer(bytes.fromhex('{TEST_KEY}')).token('acme','PERSON','Ada Lovelace'))"
    )
    runs = {subprocess.check_output([sys.executable, "-c", code], text=True) for _ in range(2)}
    assert runs == {Pseudonymizer(KEY).token("acme", "PERSON", "Ada Lovelace") + "\n"}


def test_policy_allow_list_threshold_entities_and_tag_operator() -> None:
    config = PrivacyConfig.from_mapping(
        {
            "tenants": {
                "acme": {
                    "allow_list": ["support@acme.example"],
                    "operator": "tag",
                    "entities": ["EMAIL_ADDRESS"],
                }
            }
        }
    )
    r = Redactor(Pseudonymizer(KEY), config)
    text = "mail support@acme.example or bob@corp.example, phone 555-123-4567"
    out, _ = r.redact_text(text, "acme")
    assert out == "mail support@acme.example or <EMAIL_ADDRESS>, phone 555-123-4567"
    other, _ = r.redact_text(text, "globex")  # the default policy redacts all, with tokens
    assert "support@acme.example" not in other and "<PHONE_NUMBER:" in other
    with pytest.raises(ConfigError, match="unknown"):
        PrivacyConfig.from_mapping({"entities": ["SHOE_SIZE"]})
    assert PrivacyPolicy().threshold == 0.5


def test_missing_key_is_a_clear_error_and_nothing_is_written(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    with memgraph_ops.open(home) as mg:
        mg.ingest([event("e1", "Prompt", "p1", session_id="s", content="hi jane@example.com")])
        with pytest.raises(ConfigError, match="no pseudonym key"):
            mg.compact()
        assert not Path(mg.settings.lake_uri).exists()
        assert mg.store.counts()["events"] == 1


def test_key_file_inside_the_data_root_is_refused(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(KEY_ENV)
    inside = home / "key"
    home.mkdir(parents=True, exist_ok=True)
    inside.write_text(TEST_KEY)
    monkeypatch.setenv(KEY_FILE_ENV, str(inside))
    with pytest.raises(ConfigError, match="inside the data root"):
        load_master_key(home)
    outside = tmp_path / "outside.key"
    outside.write_text(TEST_KEY + "\n")
    outside.chmod(0o600)
    monkeypatch.setenv(KEY_FILE_ENV, str(outside))
    assert load_master_key(home) == KEY


NO_NETWORK = """
import socket
def refuse(*args, **kwargs):
    raise SystemExit(f"network use during redaction: {args!r}")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import memgraph_ops
from memgraph_ops.privacy._presidio import stock_analyzer
mg = memgraph_ops.open()
mg.ingest([{"event_id": "e1", "op": "upsert", "kind": "node", "type": "Prompt", "id": "p1",
            "session_id": "s", "tenant": "t", "occurred_at": "2026-01-01T00:00:00Z",
            "content": "Visit https://example.co.uk/x, mail Jane Roe at jane@roe.example"}])
report = mg.compact()
assert report.redactions.get("EMAIL_ADDRESS") == 1, report.redactions
stock_analyzer().analyze("Visit https://example.co.uk and mail jane@roe.example", language="en")
print("offline ok")
"""


def test_no_socket_is_opened_during_redaction(home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", NO_NETWORK], env=os.environ, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "offline ok" in result.stdout


def test_compacted_generated_workload_leaks_no_planted_value(home: Path) -> None:
    from memgraph_ops.workload import pii_sidecar_path, write_workload

    out = home / "workload.jsonl"
    home.mkdir(parents=True, exist_ok=True)
    write_workload(out, 300, seed=11)
    with memgraph_ops.open(home) as mg:
        assert mg.ingest_file(out).quarantined == 0
        report = mg.compact()
    planted = pl.read_ndjson(pii_sidecar_path(out))
    assert planted.height > 50
    leaks = find_leaks(Path(mg.settings.lake_uri), planted["value"].to_list())
    assert leaks.is_empty(), leaks.group_by("column").len()
    assert sum(report.redactions.values()) >= planted.height * 0.9
    # the check can fail: the same scan finds them in the raw workload file
    assert not find_leaks(home, planted["value"].to_list()).is_empty()
