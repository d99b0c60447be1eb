"""Shared graphs, embedded: custom types, cached snapshots that never go stale, diffs applied
whole or refused whole, the commute rule, retries, tenants."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memgraph_ops import Memgraph
from memgraph_ops.errors import GraphConflictError, RejectedError
from memgraph_ops.memory.format_e import parse, serialize

TYPES = {
    "nodes": {
        "FUNC": {"abbreviation": "FN", "properties": {"language": "string", "lines": "integer"}},
        "FLOW": {"abbreviation": "FLW"},
    },
    "edges": {
        "calls": {"from": ["FUNC"], "to": ["FUNC"]},
        "contains": {"from": ["FLOW"], "to": ["FUNC"]},
    },
}
SYSTEM = """## Nodes
+ Checkout|FLOW|Checkout.FLW.001|
+ Charge card|FUNC|ChargeCard.FN.002|Calls the PSP \\| logs the answer
+ Process payment|FUNC|ProcessPayment.FN.001|Charges the card|{"language":"py","lines":40}
## Edges
Checkout.FLW.001 -contains-> ProcessPayment.FN.001
ProcessPayment.FN.001 -calls-> ChargeCard.FN.002
"""


def _diff(base: str, *lines: str) -> str:
    return "\n".join(["<operations>", f"<base_snapshot>{base}</base_snapshot>", *lines, "</operations>"])  # fmt: skip


@pytest.fixture
def system(mg: Memgraph) -> Memgraph:
    mg.register_types("acme", TYPES)
    mg.import_graph("payments", SYSTEM, tenant="acme")
    return mg


def _fresh_text(mg: Memgraph, graph_id: str, tenant: str = "acme") -> str:
    """The graph serialised from the store and lake now, bypassing every cache."""
    return serialize(mg.graph_state(graph_id, tenant=tenant).graph)


def test_an_imported_graph_is_the_text_exactly_and_exports_the_same(system: Memgraph) -> None:
    snapshot = system.snapshot("payments", tenant="acme")
    assert snapshot.text == SYSTEM  # SYSTEM is in canonical order already
    assert parse(snapshot.text) == parse(SYSTEM)
    node = system.graph_node("payments", "ProcessPayment.FN.001", tenant="acme")
    assert node is not None and node.properties == '{"language":"py","lines":40}'
    assert system.graph_node("payments", "processpayment.fn.001", tenant="acme") is None  # exact


def test_one_unknown_id_among_valid_lines_changes_nothing_and_says_why(system: Memgraph) -> None:
    before = system.snapshot("payments", tenant="acme")
    events_before = system.store.counts()["events"]
    valid = [f"+ Step {i}|FUNC|Step{i}.FN.{100 + i}|does step {i}" for i in range(30)]
    valid += [f"+ Step{i}.FN.{100 + i} -calls-> ChargeCard.FN.002" for i in range(30)]
    bad = "+ Step3.FN.103 -calls-> Refund.FN.009"
    with pytest.raises(RejectedError) as refused:
        system.apply_diff("payments", _diff(before.version, *valid[:45], bad, *valid[45:]), tenant="acme")  # fmt: skip
    assert refused.value.reasons == [
        "edge Step3.FN.103 -calls-> Refund.FN.009: the graph has no node Refund.FN.009"
    ]
    assert system.store.counts()["events"] == events_before
    after = system.snapshot("payments", tenant="acme")
    assert (after.version, after.text) == (before.version, before.text)
    assert _fresh_text(system, "payments") == before.text


def test_every_reason_is_listed_at_once(system: Memgraph) -> None:
    base = system.snapshot("payments", tenant="acme").version
    with pytest.raises(RejectedError) as refused:
        system.apply_diff(
            "payments",
            _diff(
                base,
                "+ Again|FUNC|ProcessPayment.FN.001|exists already",
                "+ Wrong abbr|FUNC|Wrong.FLW.007|",
                "+ Unknown|TASK|Unknown.TSK.001|",
                '+ Typed|FUNC|Typed.FN.008||{"lines":"forty"}',
                "+ Prompt|PRM|p-1|built-in nodes come from events",
                "+ Checkout.FLW.001 -calls-> ProcessPayment.FN.001",
                "+ ProcessPayment.FN.001 -pays-> ProcessPayment.FN.001",
                "- Nope.FN.404",
                "- ChargeCard.FN.002",
            ),
            tenant="acme",
        )
    reasons = refused.value.reasons
    expected = [
        "cannot add node ProcessPayment.FN.001: the graph has it already",
        "Wrong.FLW.007' is not a semantic id Name.FN.NNN",
        "node Unknown.TSK.001: unknown type TASK",
        "FUNC property 'lines' must be integer, got 'forty'",
        "Prompt nodes come from their own events",
        "calls must start at a FUNC, not a FLOW",
        "unknown relation pays",
        "cannot remove node Nope.FN.404: the graph has no such id",
        "cannot remove node ChargeCard.FN.002: edges still use it",
    ]
    for part in expected:
        assert any(part in r for r in reasons), (part, reasons)
    assert len(reasons) == len(expected)


def test_a_snapshot_after_a_write_is_never_the_old_text(system: Memgraph) -> None:
    """Diffs, plain events into the graph, and the lake changed by another process: every
    read after a write equals the graph read afresh."""
    for i in range(5):
        base = system.snapshot("payments", tenant="acme").version
        system.apply_diff("payments", _diff(base, f"+ F{i}|FUNC|F{i}.FN.{200 + i}|"), tenant="acme")  # fmt: skip
        assert system.snapshot("payments", tenant="acme").text == _fresh_text(system, "payments")
        system.ingest(
            [
                {
                    "event_id": f"plain-{i}", "op": "upsert", "kind": "node", "type": "FUNC",
                    "id": f"F{i}.FN.{200 + i}", "session_id": "payments", "tenant": "acme",
                    "occurred_at": datetime.now(UTC), "name": f"F{i}", "content": f"renamed {i}",
                }
            ]
        )  # fmt: skip
        text = system.snapshot("payments", tenant="acme").text
        assert f"renamed {i}" in text and text == _fresh_text(system, "payments")

    system.compact()  # HOT trimmed, rows in the lake: same graph, same version
    cached = system.snapshot("payments", tenant="acme")
    assert cached.text == _fresh_text(system, "payments")

    # Another process deletes a node's row from the lake: the next read sees it gone.
    code = (
        "import sys; from memgraph_ops.lake import Lake; "
        "Lake(sys.argv[1]).delete_rows({'nodes': \"id = 'F0.FN.200'\"}, why='test')"
    )
    subprocess.run([sys.executable, "-c", code, system.settings.lake_uri], check=True, timeout=120)
    after = system.snapshot("payments", tenant="acme")
    assert "F0.FN.200|" not in after.text and after.version != cached.version
    assert after.text == _fresh_text(system, "payments")


def test_a_stale_base_applies_only_if_the_diff_commutes(system: Memgraph) -> None:
    base = system.snapshot("payments", tenant="acme").version
    first = system.apply_diff(
        "payments", _diff(base, "+ Refund|FUNC|Refund.FN.003|", "+ Refund.FN.003 -calls-> ChargeCard.FN.002"), tenant="acme"
    )  # fmt: skip
    assert not first.commuted
    # Same base, disjoint ids (a new edge to the same hub): commutes, applies.
    second = system.apply_diff(
        "payments", _diff(base, "+ Audit|FUNC|Audit.FN.004|", "+ Audit.FN.004 -calls-> ChargeCard.FN.002"), tenant="acme"
    )  # fmt: skip
    assert second.commuted and second.version != first.version
    text = system.snapshot("payments", tenant="acme").text
    assert "Refund.FN.003 -calls->" in text and "Audit.FN.004 -calls->" in text
    # Same base, but removes a node whose edges changed since: conflict, nothing changes.
    with pytest.raises(GraphConflictError) as conflict:
        system.apply_diff(
            "payments", _diff(base, "- ProcessPayment.FN.001 -calls-> ChargeCard.FN.002", "- ChargeCard.FN.002"), tenant="acme"
        )  # fmt: skip
    assert conflict.value.current == second.version
    assert system.snapshot("payments", tenant="acme").text == text
    # Two agents rewrite the same node from the same base: the second would lose the first's
    # update, so it conflicts.
    base = system.snapshot("payments", tenant="acme").version
    rewrite = "+ Process payment|FUNC|ProcessPayment.FN.001|{}"
    system.apply_diff("payments", _diff(base, "- ProcessPayment.FN.001", rewrite.format("v2")), tenant="acme")  # fmt: skip
    with pytest.raises(GraphConflictError):
        system.apply_diff("payments", _diff(base, "- ProcessPayment.FN.001", rewrite.format("v3")), tenant="acme")  # fmt: skip
    assert "ProcessPayment.FN.001|v2" in system.snapshot("payments", tenant="acme").text
    # the text kept after each diff (built from the graph it was checked against) is the
    # graph as read afresh
    assert system.snapshot("payments", tenant="acme").text == _fresh_text(system, "payments")
    # A base the server never had.
    with pytest.raises(GraphConflictError, match="not a version this server knows"):
        system.apply_diff("payments", _diff("0123456789abcdef", "+ X|FUNC|X.FN.009|"), tenant="acme")  # fmt: skip


def test_sending_the_same_diff_again_applies_it_once(system: Memgraph) -> None:
    base = system.snapshot("payments", tenant="acme").version
    diff = _diff(base, "+ Once|FUNC|Once.FN.010|")
    events = system.store.counts()["events"]
    first = system.apply_diff("payments", diff, tenant="acme")
    again = system.apply_diff("payments", diff, tenant="acme")
    assert again == first
    assert system.store.counts()["events"] == events + 1


def test_custom_types_are_validated_at_ingest_like_built_in_ones(mg: Memgraph) -> None:
    registry = mg.register_types("acme", TYPES)
    assert registry.version == 1 and mg.register_types("acme", TYPES).version == 1  # same set
    now = datetime.now(UTC)
    base = {"op": "upsert", "kind": "node", "session_id": "sys", "occurred_at": now}
    result = mg.ingest(
        [
            {**base, "event_id": "ok", "type": "FUNC", "id": "Pay.FN.001", "tenant": "acme", "name": "Pay", "attrs": {"language": "py"}},
            {**base, "event_id": "abbr", "type": "FUNC", "id": "Pay.FLW.001", "tenant": "acme", "name": "Pay"},
            {**base, "event_id": "prop", "type": "FUNC", "id": "Pay.FN.002", "tenant": "acme", "name": "P", "attrs": {"lines": True}},
            {**base, "event_id": "extra", "type": "FUNC", "id": "Pay.FN.003", "tenant": "acme", "name": "P", "tool_name": "x"},
            {**base, "event_id": "noname", "type": "FUNC", "id": "Pay.FN.004", "tenant": "acme"},
            {**base, "event_id": "tenant", "type": "FUNC", "id": "Pay.FN.005", "tenant": "globex", "name": "P"},
            {**base, "event_id": "edge", "kind": "edge", "type": "contains", "src": "Pay.FN.001", "dst": "Pay.FN.001", "tenant": "acme"},
            {**base, "event_id": "builtin", "kind": "edge", "type": "REFERENCES", "src": "Pay.FN.001", "dst": "Pay.FN.001", "tenant": "acme"},
        ]
    )  # fmt: skip
    reasons = {r["event_id"]: r["reason"] for r in result.rejected}
    assert result.accepted == 1
    assert "not a semantic id Name.FN.NNN" in reasons["abbr"]
    assert "property 'lines' must be integer, got True" in reasons["prop"]
    assert "FUNC has no field tool_name" in reasons["extra"]
    assert "FUNC needs name" in reasons["noname"]
    assert reasons["tenant"].startswith("unknown node type FUNC")  # acme's type, not globex's
    assert "contains must start at a FLOW, not a FUNC" in reasons["edge"]
    assert "REFERENCES must start at a Prompt, but Pay.FN.001 is a FUNC" in reasons["builtin"]


def test_a_bad_type_definition_names_every_problem(mg: Memgraph) -> None:
    with pytest.raises(Exception) as bad:
        mg.register_types(
            "acme",
            {
                "nodes": {"Prompt": {"abbreviation": "P"}, "FUNC": {"abbreviation": "TOOL"}},
                "edges": {"calls": {"from": ["NOPE"], "to": ["FUNC"]}},
            },
        )
    text = str(bad.value)
    assert "'Prompt'" in text and "already ToolInvocation's" in text and "NOPE" in text
    assert mg.graph_types("acme").version == 0


def test_a_tenant_sees_and_changes_only_its_own_graph(system: Memgraph) -> None:
    system.register_types("globex", TYPES)
    theirs = system.snapshot("payments", tenant="globex")
    assert theirs.graph.nodes == ()  # acme's graph of that id is not globex's
    with pytest.raises(RejectedError, match="belongs to another tenant"):
        system.apply_diff(
            "payments", _diff(theirs.version, "+ Mine|FUNC|ProcessPayment.FN.001|taken"), tenant="globex"
        )  # fmt: skip
    with pytest.raises(RejectedError, match="no such id"):
        system.apply_diff("payments", _diff(theirs.version, "- ChargeCard.FN.002"), tenant="globex")
    assert system.snapshot("payments", tenant="acme").text == SYSTEM


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memgraph_ops.cli", *args, "--home", str(home)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_cli_registers_types_imports_applies_and_exports(home: Path, tmp_path: Path) -> None:
    (tmp_path / "types.json").write_text(json.dumps(TYPES))
    (tmp_path / "graph.fe").write_text(SYSTEM)
    registered = _cli(home, "graph", "types", "--tenant", "acme", "--register", str(tmp_path / "types.json"))  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout)["version"] == 1
    dry = _cli(home, "graph", "import", str(tmp_path / "graph.fe"), "--graph", "payments", "--tenant", "acme", "--dry-run")  # fmt: skip
    assert dry.returncode == 0 and "would add or rewrite 3 nodes" in dry.stdout
    assert _cli(home, "graph", "export", "payments").returncode == 2  # nothing imported yet
    done = _cli(home, "graph", "import", str(tmp_path / "graph.fe"), "--graph", "payments", "--tenant", "acme")  # fmt: skip
    assert done.returncode == 0, done.stderr
    exported = _cli(home, "graph", "export", "payments")
    assert exported.returncode == 0 and exported.stdout == SYSTEM
    version = exported.stderr.split()[1].rstrip(":")

    (tmp_path / "bad.diff").write_text(_diff(version, "+ R|FUNC|R.FN.003|", "+ R.FN.003 -calls-> No.FN.1"))  # fmt: skip
    bad = _cli(home, "graph", "apply", str(tmp_path / "bad.diff"), "--graph", "payments")
    assert bad.returncode == 2 and "the graph has no node No.FN.1" in bad.stderr
    (tmp_path / "ok.diff").write_text(_diff(version, "+ R|FUNC|R.FN.003|refunds"))
    ok = _cli(home, "graph", "apply", str(tmp_path / "ok.diff"), "--graph", "payments")
    assert ok.returncode == 0, ok.stderr
    node = _cli(home, "graph", "node", "payments", "R.FN.003")
    assert node.returncode == 0 and node.stdout == "+ R|FUNC|R.FN.003|refunds\n"
    again = _cli(home, "graph", "apply", str(tmp_path / "bad.diff"), "--graph", "payments")
    assert again.returncode == 1 and "read the snapshot again" in again.stderr  # moved, conflicts
