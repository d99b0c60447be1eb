"""The `metrics` and `lineage` subcommands of `memgraph-ops`.

`memgraph_ops.cli` calls `register(subparsers, common)`; every handler returns an exit code
and raises `memgraph_ops.errors` exceptions for bad input (exit 2) or failures (exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from memgraph_ops.home import open_home

EXIT_OK = 0


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add `metrics` and `lineage` to the `memgraph-ops` subcommands."""
    p = subparsers.add_parser(
        "metrics",
        parents=[common],
        help="compute Observatory metrics (new day partitions) and graph/lineage snapshots",
    )
    p.add_argument("--full", action="store_true", help="recompute every day and every snapshot")
    p.set_defaults(run=run_metrics)

    p = subparsers.add_parser(
        "lineage",
        parents=[common],
        help="a template's lineage (ancestors, descendants, prompts), now or as of a version/time",
    )
    p.add_argument("template", nargs="?", help="template id (omit to list every template)")
    p.add_argument("--as-of", default=None, help="Delta version of `nodes` or ISO time")
    p.add_argument(
        "--since",
        default=None,
        help="also show what changed since this version or time (descendants gained, prompts)",
    )
    p.set_defaults(run=run_lineage)


def _emit(args: argparse.Namespace, payload: Any, lines: list[str]) -> None:
    if args.json:
        print(json.dumps(payload, default=str, indent=2))
    else:
        print("\n".join(lines))


def run_metrics(args: argparse.Namespace) -> int:
    from memgraph_ops.observatory import tables

    mg = open_home(args.home, read_only=True)
    print("observatory: computing new day partitions and snapshots…", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        print(f"observatory: day chunk {done}/{total}", file=sys.stderr)

    report = tables.refresh(mg.lake, full=args.full, progress=progress)
    days = report.days_computed
    lines = [
        f"days computed: {len(days)}"
        + (f" ({days[0]} … {days[-1]})" if days else " (nothing new)")
        + f" at watermark {report.watermark:,} in {report.seconds}s",
        *[f"  {name:<16} {rows:>10,} rows" for name, rows in report.daily_rows.items()],
        "snapshots: "
        + ("unchanged (lake did not move)" if report.snapshots_skipped else "rewritten"),
        *[f"  {name:<20} {rows:>10,} rows" for name, rows in report.snapshot_rows.items()],
        f"tables under {tables.table_uri(mg.lake, '')}",
    ]
    _emit(args, report.as_dict(), lines)
    return EXIT_OK


def run_lineage(args: argparse.Namespace) -> int:
    import polars as pl

    from memgraph_ops.observatory import history, lineage

    lake = open_home(args.home, read_only=True).lake
    if args.template is None:
        nodes, edges = history.frames_as_of(lake, args.as_of)
        table = lineage.template_table(nodes, edges)
        _emit(
            args,
            table.to_dicts(),
            [f"{r['id']:<28} {r['descendants']:>3} descendants  {r['effective_version']}"
             for r in table.iter_rows(named=True)] or ["no templates in the lake"],
        )  # fmt: skip
        return EXIT_OK
    found = history.lineage_as_of(lake, args.template, args.as_of)
    payload = found.as_dict()
    lines = [
        f"{found.template} as of {args.as_of or 'now'}: {found.row['effective_version']}",
        f"  overrides: {', '.join(found.row['overrides']) or '-'}",
        "  ancestors: "
        + (", ".join(f"{a}@{v}" for a, v in found.ancestors.select("id", "version").rows()) or "-"),
        f"  descendants ({found.descendants.height}):",
        *[
            f"    {'  ' * (d - 1)}{i}@{v} (overrides {', '.join(o) or '-'})"
            for i, d, o, v in found.descendants.select(
                "id", "depth", "overridden", "version"
            ).rows()
        ],
        f"  prompts: {payload['prompts']:,}",
        *[
            f"    {t}@{v}: {n:,}"
            for t, v, n in found.prompts_by_template.select(
                "template_id", "template_version", "prompts"
            ).rows()
        ],
    ]
    if args.since is not None:
        diff = history.lineage_diff(lake, args.since, args.as_of)
        family = {found.template, *found.descendants["id"].to_list()}
        changed = diff.filter(pl.col("template").is_in(list(family)))
        payload["since"] = {"as_of": args.since, "changes": changed.to_dicts()}
        lines.append(f"  since {args.since}:")
        lines += [
            f"    {r['template']}: version {r['version_before']} -> {r['version_after']}, "
            f"+{r['new_prompts']:,} prompts, gained {r['gained_descendants'] or '-'}"
            for r in changed.iter_rows(named=True)
        ]
    _emit(args, payload, lines)
    return EXIT_OK
