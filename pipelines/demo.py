"""`make demo`: the main job on the embedded default data root.

Generates a seeded workload, ingests it into the operational store, runs the compaction assets
as a real Dagster run (recorded in `<data root>/dagster`, visible in `dagster dev`), checks that
no PII value the generator planted reached any file of the lake, and prints what was done.

    python -m pipelines.demo [--sessions N] [--home DIR]
"""

import argparse
import os
import sys
import time
from pathlib import Path

import dagster as dg
import polars as pl

from memgraph_ops import load_settings
from memgraph_ops import open as open_memgraph
from memgraph_ops.errors import InputError
from memgraph_ops.privacy import find_leaks
from memgraph_ops.privacy.pseudonyms import KEY_ENV, KEY_FILE_ENV, default_key_path, write_key_file
from memgraph_ops.workload import pii_sidecar_path, write_workload
from pipelines.definitions import defs
from pipelines.instance import prepare_dagster_home

DEFAULT_SESSIONS = 5_000


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
    timings: dict[str, float] = {}

    started = time.perf_counter()
    workload = Path(settings.home) / "workload.jsonl"
    summary = write_workload(workload, args.sessions, seed=args.seed)
    timings["generate"] = time.perf_counter() - started
    _say(f"generated {summary.events:,} events for {args.sessions:,} sessions → {workload}")

    started = time.perf_counter()
    with open_memgraph(settings.home) as mg:
        ingested = mg.ingest_file(workload)
    timings["ingest"] = time.perf_counter() - started
    _say(
        f"ingested: accepted {ingested.accepted:,}, duplicates {ingested.duplicates:,}, "
        f"quarantined {ingested.quarantined:,}"
    )

    started = time.perf_counter()
    instance = dg.DagsterInstance.get()
    job = defs.resolve_job_def("compaction_job")
    result = job.execute_in_process(
        instance=instance, run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    )
    timings["compact (dagster run)"] = time.perf_counter() - started
    if not result.success:
        _say(f"the Dagster run {result.run_id} failed; see `dagster dev` for its logs")
        return 1

    mg = open_memgraph(settings.home)
    status = mg.status()
    nodes = mg.lake.scan("nodes").group_by("type").len().sort("type").collect()
    edges = mg.lake.scan("edges").group_by("type").len().sort("type").collect()
    lake_root = Path(mg.lake.root)
    mg.close()
    _report(result.run_id, status, nodes, edges, ingested.quarantined, timings)
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
    return 1 if failed or not leaks.is_empty() else 0


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


def _report(
    run_id: str,
    status: dict,  # type: ignore[type-arg]
    nodes: pl.DataFrame,
    edges: pl.DataFrame,
    quarantined: int,
    timings: dict[str, float],
) -> None:
    tables = status["lake"]["tables"]
    _say("")
    _say(f"Dagster run {run_id} succeeded (storage: {status['home']}/dagster)")
    _say(f"events in the lake: {tables['event_log']['rows']:,}   quarantined: {quarantined:,}")
    _say("nodes by type:  " + ", ".join(f"{t} {n:,}" for t, n in nodes.iter_rows()))
    _say("edges by type:  " + ", ".join(f"{t} {n:,}" for t, n in edges.iter_rows()))
    _say(
        "lake versions:  "
        + ", ".join(
            f"{name} v{t['version']} ({t['bytes'] / 1e6:.1f} MB)" for name, t in tables.items()
        )
    )
    findings = status["lake"]["tables"].get("pii_findings", {}).get("rows", 0)
    _say(f"redaction:      {findings:,} findings recorded in pii_findings (values never stored)")
    _say("seconds:        " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


if __name__ == "__main__":
    sys.exit(main())
