"""Shared graphs through a real server: ETag/304, 409 and 422 over HTTP, tenant keys, and eight
agent processes applying diffs to one graph at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from memgraph_ops.client import Client
from memgraph_ops.errors import GraphConflictError, RejectedError
from memgraph_ops.memory.format_e import Graph
from tests.memory.test_shared_graphs import SYSTEM, TYPES, _diff
from tests.service.conftest import Keys, Server

AGENTS = 8
DIFFS_PER_AGENT = 6

AGENT = textwrap.dedent(
    """
    import sys
    from memgraph_ops.client import Client
    from memgraph_ops.errors import GraphConflictError

    url, key, agent, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    conflicts = commuted = 0
    with Client(url, key) as client:
        for step in range(count):
            node = f"W{agent}x{step}.FN.001"
            lines = [f"+ Worker {agent} step {step}|FUNC|{node}|agent {agent}",
                     f"+ {node} -calls-> ChargeCard.FN.002"]
            if step:
                lines.append(f"+ W{agent}x{step - 1}.FN.001 -calls-> {node}")
            while True:
                base = client.snapshot("payments").version
                diff = "\\n".join(["<operations>", f"<base_snapshot>{base}</base_snapshot>",
                                   *lines, "</operations>"])
                try:
                    commuted += client.apply_diff("payments", diff).commuted
                    break
                except GraphConflictError:
                    conflicts += 1
    print(conflicts, commuted)
    """
)


def _acme(server: Server, keys: Keys) -> Client:
    return Client(server.url, keys.acme)


def test_snapshots_carry_an_etag_and_an_unchanged_graph_answers_304(
    server: Server, keys: Keys
) -> None:
    with _acme(server, keys) as client:
        assert client.register_types(TYPES) == 1
        client.import_graph("payments", SYSTEM)
        url = f"{server.url}/v1/graphs/payments"
        auth = {"Authorization": f"Bearer {keys.acme}"}
        first = httpx.get(url, headers=auth)
        assert first.status_code == 200 and first.text == SYSTEM
        etag = first.headers["ETag"]
        same = httpx.get(url, headers={**auth, "If-None-Match": etag})
        assert same.status_code == 304 and same.content == b""
        version = first.headers["X-Graph-Version"]
        client.apply_diff("payments", _diff(version, "+ Refund|FUNC|Refund.FN.003|"))
        moved = httpx.get(url, headers={**auth, "If-None-Match": etag})
        assert moved.status_code == 200 and "Refund.FN.003" in moved.text
        assert moved.headers["ETag"] != etag

        node = httpx.get(f"{url}/nodes/Refund.FN.003", headers=auth)
        assert node.status_code == 200 and node.json()["line"] == "+ Refund|FUNC|Refund.FN.003|"
        assert httpx.get(f"{url}/nodes/refund.fn.003", headers=auth).status_code == 404

        # a stale diff that does not commute: 409 with the current version
        conflict = httpx.post(
            f"{url}/diff", content=_diff(version, "+ Again|FUNC|Refund.FN.003|"), headers=auth
        )
        assert conflict.status_code == 409
        assert conflict.json()["current"] == moved.headers["X-Graph-Version"]
        # one unknown id: 422 naming it, nothing changed
        current = moved.headers["X-Graph-Version"]
        bad = httpx.post(
            f"{url}/diff",
            content=_diff(current, "+ Ok|FUNC|Ok.FN.005|", "+ Ok.FN.005 -calls-> Gone.FN.404"),
            headers=auth,
        )
        assert bad.status_code == 422
        assert bad.json()["reasons"] == [
            "edge Ok.FN.005 -calls-> Gone.FN.404: the graph has no node Gone.FN.404"
        ]
        assert httpx.get(url, headers={**auth, "If-None-Match": moved.headers["ETag"]}).status_code == 304  # fmt: skip
        with pytest.raises(RejectedError):
            client.apply_diff("payments", _diff(current, "- Gone.FN.404"))
        with pytest.raises(GraphConflictError):
            client.apply_diff("payments", _diff(version, "- Refund.FN.003"))

        text, note = client.relevant_text("payments", "refund", max_nodes=2)
        assert "Refund.FN.003" in text and "left out" in note


def test_a_tenant_key_reaches_only_its_own_tenants_graphs(server: Server, keys: Keys) -> None:
    with _acme(server, keys) as acme, Client(server.url, keys.globex) as globex:
        acme.register_types(TYPES)
        acme.import_graph("payments", SYSTEM)
        assert globex.snapshot("payments").graph.nodes == ()
        assert globex.graph_node("payments", "ChargeCard.FN.002") is None
        other = httpx.get(
            f"{server.url}/v1/graphs/payments",
            params={"tenant": "acme"},
            headers={"Authorization": f"Bearer {keys.globex}"},
        )
        assert other.status_code == 403
        with pytest.raises(RejectedError):  # globex registered no FUNC type
            globex.apply_diff("payments", _diff(globex.snapshot("payments").version, "+ X|FUNC|X.FN.001|"))  # fmt: skip
        assert acme.snapshot("payments").text == SYSTEM
    with Client(server.url, keys.admin) as admin:
        assert admin.snapshot("payments", tenant="acme").text == SYSTEM


def test_eight_agent_processes_lose_no_update_and_never_show_half_a_diff(
    server: Server, keys: Keys, tmp_path: Path
) -> None:
    with _acme(server, keys) as client:
        client.register_types(TYPES)
        client.import_graph("payments", SYSTEM)
        script = tmp_path / "agent.py"
        script.write_text(AGENT)
        command = [sys.executable, str(script), server.url, keys.acme]
        agents = [
            subprocess.Popen(
                [*command, str(i), str(DIFFS_PER_AGENT)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(AGENTS)
        ]
        seen = 0
        while any(a.poll() is None for a in agents):
            graph = client.snapshot("payments").graph
            _assert_whole_diffs(graph)
            seen += 1
        outputs = [a.communicate(timeout=120) for a in agents]
        for agent, (_, err) in zip(agents, outputs, strict=True):
            assert agent.returncode == 0, err
        final = client.snapshot("payments").graph
    _assert_whole_diffs(final)
    workers = {n.id for n in final.nodes if n.id.startswith("W")}
    assert workers == {
        f"W{a}x{s}.FN.001" for a in range(AGENTS) for s in range(DIFFS_PER_AGENT)
    }  # no update lost
    chain = [e for e in final.edges if e.src.startswith("W") and e.dst.startswith("W")]
    assert len(chain) == AGENTS * (DIFFS_PER_AGENT - 1)
    assert seen > 0
    # Every diff became its events exactly once (none twice, none half): the import's five,
    # then two per agent's first diff and three per later one.
    with Client(server.url, keys.admin) as admin:
        events = admin.status()["store"]["events_by_type"]
    diff_events = AGENTS * (2 + 3 * (DIFFS_PER_AGENT - 1))
    assert events["node:FUNC"] + events["node:FLOW"] + events["edge:calls"] + events["edge:contains"] == 5 + diff_events  # fmt: skip
    conflicts, commuted = (sum(int(out.split()[i]) for out, _ in outputs) for i in (0, 1))
    print(f"{AGENTS} agents, {AGENTS * DIFFS_PER_AGENT} diffs: {commuted} applied to a moved "
          f"graph (they commuted), {conflicts} conflicts retried, {seen} snapshots checked")  # fmt: skip


def _assert_whole_diffs(graph: Graph) -> None:
    """Each worker node arrived with its edge to the hub (and its chain edge): a node without
    them would be half a diff."""
    edges = set(graph.edges)
    for node in graph.nodes:
        if not node.id.startswith("W"):
            continue
        agent, step = node.id[1:].split(".")[0].split("x")
        assert any(e.src == node.id and e.dst == "ChargeCard.FN.002" for e in edges), node.id
        if int(step):
            prev = f"W{agent}x{int(step) - 1}.FN.001"
            assert any(e.src == prev and e.dst == node.id for e in edges), node.id
