"""`make demo`: the whole pipeline on the embedded default data root, stage by stage.

1. generate a seeded workload (outside the data root: it holds the planted PII in clear) and
   ingest it into the operational store;
2. compact it with redaction (Dagster `compaction_job`), show one message before and after, and
   check that no planted PII value reached any lake file;
3. compute the Observatory's metrics and lineage (Dagster `observatory_days_job`, one run over
   the changed days' partitions, and `observatory_job`);
4. archive the sessions into the vault (Dagster `retention_job`, with a demo policy that archives
   every inactive session and deletes nothing) and show the compression;
5. restore one session (Dagster `restore_session_job`) and show its context;
6. erase one user (Dagster `erasure_job`), show the receipt and check its signature;
7. say what to open next.

Every Dagster run is recorded in `<data root>/dagster` and visible in `dagster dev`.

    python -m pipelines.demo [--sessions N] [--home DIR]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from memgraph_ops import erasure, load_settings
from memgraph_ops import open as open_memgraph
from memgraph_ops.erasure.receipt import verify
from memgraph_ops.errors import InputError
from memgraph_ops.privacy import find_leaks
from memgraph_ops.privacy.pseudonyms import (
    KEY_ENV,
    KEY_FILE_ENV,
    default_key_path,
    load_master_key,
    write_key_file,
)
from memgraph_ops.workload import pii_sidecar_path, write_workload
from pipelines.definitions import defs
from pipelines.defs.observatory.assets import changed_days_request
from pipelines.instance import prepare_dagster_home

DEFAULT_SESSIONS = 2_000
DEMO_POLICY = """# written by `make demo`: archive sessions idle for a day (the generated ones
# are months old), delete nothing
[retention]
archive_after_days = 1
"""
LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
"""Dagster's console at INFO: each step's start, end and progress, without the debug events."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.demo", description=__doc__)
    parser.add_argument("--sessions", type=int, default=DEFAULT_SESSIONS)
    parser.add_argument("--home", default=None, help="data root (default: ./store)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    settings = load_settings(args.home)
    settings.home.mkdir(parents=True, exist_ok=True)
    # The Dagster resources resolve the data root from the environment at run time.
    os.environ["MEMGRAPH_HOME"] = str(settings.home)
    _ensure_pseudonym_key()
    prepare_dagster_home(settings)
    with (
        tempfile.TemporaryDirectory(prefix="memgraph-demo-") as scratch,
        _demo_policy(settings.home, Path(scratch)),
    ):
        return _stages(settings.home, Path(scratch) / "workload.jsonl", args)


def _stages(home: Path, workload: Path, args: argparse.Namespace) -> int:
    instance = dg.DagsterInstance.get()
    with _stage("1/7 generate and ingest"):
        summary = write_workload(workload, args.sessions, seed=args.seed)
        _say(f"generated {summary.events:,} events for {args.sessions:,} sessions")
        with open_memgraph(home) as mg:
            ingested = mg.ingest_file(workload)
        _say(
            f"ingested: accepted {ingested.accepted:,}, duplicates {ingested.duplicates:,}, "
            f"quarantined {ingested.quarantined:,}"
        )

    with _stage("2/7 compact with redaction (Dagster compaction_job)"):
        result = _run(instance, "compaction_job")
        if not result.success:
            return 1
        with open_memgraph(home) as mg:
            status = mg.status()
            nodes = mg.lake.scan("nodes").group_by("type").len().sort("type").collect()
            edges = mg.lake.scan("edges").group_by("type").len().sort("type").collect()
            lake_root = Path(mg.lake.root)
            _before_after(mg, workload)
        _report(status, nodes, edges)
        checks = result.get_asset_check_evaluations()
        failed = [c for c in checks if not c.passed]
        _say(f"asset checks:   {len(checks) - len(failed)}/{len(checks)} passed")
        for check in failed:
            _say(f"  FAILED {check.check_name}: {dict(check.metadata)}")
        leaks = planted_pii_leaks(workload, lake_root)
        if leaks.is_empty():
            _say("planted PII:    no planted value found in any lake file")
        else:
            # which files and columns leak, never the values themselves
            where = sorted(set(leaks["column"].drop_nulls().to_list()))
            _say(
                f"  FAILED planted PII: {leaks['value'].n_unique()} planted values found in "
                f"{leaks['file'].n_unique()} lake files (columns: {', '.join(where) or 'none'})"
            )
        if failed or not leaks.is_empty():
            return 1

    with _stage("3/7 metrics and lineage (Dagster observatory_days_job, observatory_job)"):
        with open_memgraph(home) as mg:
            changed = changed_days_request(mg.lake)
        # one run over the changed days' partitions
        if (
            isinstance(changed, dg.RunRequest)
            and not _run(instance, "observatory_days_job", tags=changed.tags).success
        ):
            return 1
        if not _run(instance, "observatory_job").success:
            return 1

    with _stage("4/7 archive inactive sessions (Dagster retention_job)"):
        result = _run(instance, "retention_job")
        if not result.success:
            return 1
        with open_memgraph(home) as mg:
            stats = mg.vault.stats()
            archived = mg.vault.index()
        ratio = stats["logical_bytes"] / max(stats["physical_bytes"], 1)
        _say(
            f"vault:          {stats['sessions']:,} sessions: {stats['logical_bytes']:,} bytes "
            f"of rows (as JSON) in {stats['physical_bytes']:,} bytes on disk ({ratio:.1f}:1)"
        )
        if archived.is_empty():
            _say("nothing was archived: restore and erasure need archived sessions; stopping")
            return 1

    session = str(archived.sort("nodes", descending=True)["session_id"][0])
    with _stage(f"5/7 restore session {session} (Dagster restore_session_job)"):
        config = {"ops": {"restore_session": {"config": {"session_id": session}}}}
        if not _run(instance, "restore_session_job", config).success:
            return 1
        with open_memgraph(home) as mg:
            _show_context(mg.store.context(session, last=2))

    # a user whose sessions are archived, by the id the agents sent (the sidecar has it)
    planted = pl.read_ndjson(pii_sidecar_path(workload))
    archived_ids = set(archived["session_id"].to_list()) - {session}
    user = str(planted.filter(pl.col("session_id").is_in(archived_ids))["user_id"][0])
    with _stage(f"6/7 erase user {user} (Dagster erasure_job)"):
        with open_memgraph(home) as mg:
            sessions = mg.store.sessions(user).height
            request = erasure.submit(mg, erasure.Subject("user", user))
        _say(f"queued {request.request_id}: {sessions} sessions of {user}")
        config = {
            "ops": {
                "run_erasure_request": {
                    "config": {
                        "request_id": request.request_id,
                        "subject_hash": request.subject_hash,
                    }
                }
            }
        }
        if not _run(instance, "erasure_job", config).success:
            return 1
        if not _show_receipt(home, request.request_id):
            return 1

    _stage_next(home)
    return 0


@contextmanager
def _stage(title: str) -> Iterator[None]:
    _say(f"\n== {title}")
    started = time.perf_counter()
    yield
    _say(f"   ({time.perf_counter() - started:.1f} s)")


def _run(
    instance: dg.DagsterInstance,
    job: str,
    config: dict[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """One real Dagster run of `job`, its materialization metadata printed."""
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        run_config={**LOGS, **(config or {})},
        raise_on_error=False,
        tags=tags,
    )
    _say(f"Dagster run {result.run_id} of {job}: {'succeeded' if result.success else 'FAILED'}")
    # a run over many day partitions materializes each: one line per asset, with the count
    by_asset: dict[str, list[dg.AssetMaterialization]] = {}
    for event in result.get_asset_materialization_events():
        by_asset.setdefault(event.materialization.asset_key.to_user_string(), []).append(
            event.materialization
        )
    for key, materializations in by_asset.items():
        shown = {
            k: v.value
            for k, v in materializations[0].metadata.items()
            if isinstance(v.value, int | float | str) and len(str(v.value)) < 40
        }
        partitions = f" ({len(materializations)} partitions)" if len(materializations) > 1 else ""
        _say(f"  {key}{partitions}: {_compact(shown)}")
    if not result.success:
        _say("  see `make dagster-dev` (Runs) for its logs")
    return result


def _before_after(mg: Any, workload: Path) -> None:
    """One message as the agent sent it (HOT keeps it raw) and as the lake holds it."""
    planted = pl.read_ndjson(pii_sidecar_path(workload)).filter(pl.col("field") == "content")
    for node_id, value in planted.select("node_id", "value").iter_rows():
        raw = mg.store.node(node_id)
        lake = mg.lake.nodes().filter(pl.col("id") == node_id)
        if lake.is_empty():
            continue
        redacted = str(lake["content"][0])
        before = _around(str(raw["content"]) if raw else "", value)
        _say("redaction, one message:")
        if before:
            _say(f"  before (HOT, raw): …{before}…")
        _say(f"  after (lake):      …{_around(redacted, '<')}…")
        return


def _around(text: str, needle: str, width: int = 60) -> str:
    at = max(text.find(needle), 0)
    return text[max(at - width // 2, 0) : at + width].replace("\n", " ")


def _show_context(context: list[dict[str, Any]]) -> None:
    _say("its context now in the store (the last 2 prompts, each with its responses):")
    for turn in context:
        _say(f"  prompt:   {_line(turn['prompt'].get('content'))}")
        for response in turn["responses"]:
            calls = len(response.get("tool_calls", []))
            more = f"  (+{calls} tool call{'s' if calls > 1 else ''})" if calls else ""
            _say(f"  response: {_line(response.get('content'))}{more}")


def _line(text: Any, width: int = 90) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _show_receipt(home: Path, request_id: str) -> bool:
    request = erasure.Queue(home).get(request_id)
    receipt = request.receipt or {}
    verification = receipt.get("verification", {})
    _say(f"erasure {request_id}: {request.status}")
    _say(f"  counts:       {_compact(receipt.get('counts', {}))}")
    _say(f"  files:        {len(receipt.get('files', []))} rewritten or deleted")
    passed = verification.get("passed")
    _say(f"  verification: every file under the data root scanned; passed: {passed}")
    keys = erasure.ErasureKeys(load_master_key(home))
    verdict = verify(receipt, public_key=keys.public_key)
    _say(f"  signature:    {verdict.outcome} ({verdict.algorithm}, key {verdict.checked_with})")
    return bool(verification.get("passed")) and verdict.outcome == "valid"


def _stage_next(home: Path) -> None:
    _say("\n== 7/7 what to open next")
    _say("  make dagster-dev                      the Dagster UI: these runs, the asset graph")
    _say("  notebooks/                            the analyst notebooks (Observatory, lineage)")
    _say(f"  memgraph-ops serve --home {home}   the store as a service for agent processes")
    _say(f"  memgraph-ops status --home {home}  what every layer holds")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(", ", "="), default=str)[:300]


def planted_pii_leaks(workload: Path, lake_root: Path) -> pl.DataFrame:
    """The lake files holding any PII value the generator planted in `workload` (from its
    sidecar), current or superseded: columns `file`, `column`, `value`, `rows`.

    Raises InputError when the sidecar is missing: without it nothing can be checked."""
    sidecar = pii_sidecar_path(workload)
    if not sidecar.exists():
        raise InputError(
            f"no PII sidecar {sidecar} next to the workload {workload}: regenerate the workload "
            "with memgraph_ops.workload.write_workload, which writes both"
        )
    planted = pl.read_ndjson(sidecar)["value"].unique()
    return find_leaks(lake_root, planted.to_list())


@contextmanager
def _demo_policy(home: Path, scratch: Path) -> Iterator[None]:
    """Archive every session idle for a day (the default waits 30), for the demo's runs only;
    unless the user has a config of their own: then theirs decides."""
    if os.environ.get("MEMGRAPH_CONFIG") or (home / "memgraph.toml").exists():
        _say("retention: your own config decides what is archived (the demo's policy would "
             "archive every session idle for a day)")  # fmt: skip
        yield
        return
    policy = scratch / "demo.toml"
    policy.write_text(DEMO_POLICY)
    os.environ["MEMGRAPH_CONFIG"] = str(policy)
    try:
        yield
    finally:
        del os.environ["MEMGRAPH_CONFIG"]


def _ensure_pseudonym_key() -> None:
    """Redaction needs a key kept outside the data root; the demo makes one on first run."""
    if os.environ.get(KEY_ENV) or os.environ.get(KEY_FILE_ENV):
        return
    key = default_key_path()
    if not key.exists():
        write_key_file(key)
        _say(f"created a pseudonym key for the demo: {key}")
    os.environ[KEY_FILE_ENV] = str(key)


def _say(text: str) -> None:
    print(text, flush=True)


def _report(status: dict[str, Any], nodes: pl.DataFrame, edges: pl.DataFrame) -> None:
    tables = status["lake"]["tables"]
    _say(f"events in the lake: {tables['event_log']['rows']:,}")
    _say("nodes by type:  " + ", ".join(f"{t} {n:,}" for t, n in nodes.iter_rows()))
    _say("edges by type:  " + ", ".join(f"{t} {n:,}" for t, n in edges.iter_rows()))
    findings = tables.get("pii_findings", {}).get("rows", 0)
    _say(f"redaction:      {findings:,} findings recorded in pii_findings (values never stored)")


if __name__ == "__main__":
    sys.exit(main())
