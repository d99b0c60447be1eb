"""`memgraph-ops`: the command line.

Exit codes: 0 done, 2 bad input or usage (including events sent to quarantine), 1 failure.
`--json` prints one JSON document on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from memgraph_ops.errors import ConfigError, InputError, MemgraphError
from memgraph_ops.home import open_home

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        # Whoever read stdout went away (`memgraph-ops … | head`): stop quietly, and point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE


def _run(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(_stderr())
        return EXIT_BAD_INPUT
    try:
        code: int = args.run(args)
        return code
    except (InputError, ConfigError) as exc:
        _say(f"memgraph-ops: {exc}")
        return EXIT_BAD_INPUT
    except MemgraphError as exc:
        _say(f"memgraph-ops: {exc}")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _say("memgraph-ops: interrupted")
        return EXIT_FAILURE


def _stderr() -> TextIO:
    """stderr, or a sink when it is closed (`2>&-` leaves `sys.stderr` None): progress and
    messages must never be what makes a command fail."""
    stream = sys.stderr
    return _sink() if stream is None or stream.closed else stream


@functools.cache
def _sink() -> TextIO:
    return open(os.devnull, "w")


def _say(message: str) -> None:
    """A message on stderr, if anyone can read it."""
    with contextlib.suppress(OSError, ValueError):
        print(message, file=_stderr())


def _common(default: object) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home", help="data root (default: $MEMGRAPH_HOME, else ./store)", default=default
    )
    common.add_argument(
        "--json", action="store_true", help="print machine-readable JSON", default=default
    )
    return common


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memgraph-ops",
        description="Operations pipeline for LLM-Memory-Graph.",
        parents=[_common(None)],
    )
    parser.set_defaults(json=False)
    # Options given after the subcommand win; left out there, they must not reset the ones
    # given before it (`memgraph-ops --home X status`).
    common = _common(argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("generate", parents=[common], help="write a seeded synthetic workload")
    p.add_argument("--sessions", type=_positive_int, required=True, help="how many sessions")
    p.add_argument("--out", type=Path, required=True, help=".jsonl or .parquet")
    p.add_argument("--seed", type=int, default=7, help="same seed, same events (default 7)")
    p.add_argument("--tenants", type=_positive_int, default=3, help="tenants to spread them over")
    p.add_argument("--pii-rate", type=float, default=0.3, help="share of messages with planted PII")
    p.set_defaults(run=_generate)

    p = sub.add_parser("ingest", parents=[common], help="ingest an event file (JSONL/Parquet)")
    p.add_argument("file", type=Path, help="events as JSONL or Parquet")
    p.add_argument("--batch", type=_positive_int, default=50_000, help="events per batch")
    p.set_defaults(run=_ingest)

    p = sub.add_parser(
        "import-chat", parents=[common], help="import OpenAI-format conversations (JSONL)"
    )
    p.add_argument("file", type=Path, help="conversations, one JSON object per line")
    p.add_argument("--tenant", default="default", help="tenant of the imported sessions")
    p.set_defaults(run=_import_chat)

    p = sub.add_parser(
        "import-otel",
        parents=[common],
        help="import OpenTelemetry traces (OTLP/JSON: a whole request, or one per line)",
    )
    p.add_argument(
        "file", type=Path, help="OTLP/JSON traces, as the Collector's file exporter writes them"
    )
    p.add_argument("--tenant", default="default", help="tenant of the imported sessions")
    p.set_defaults(run=_import_otel)

    p = sub.add_parser("compact", parents=[common], help="compact HOT events into the lake")
    p.add_argument("--batch", type=_positive_int, default=None, help="events per Delta commit")
    p.add_argument(
        "--adopt-store",
        action="store_true",
        help="renumber a store the lake does not know (hot.duckdb lost or replaced) and go on",
    )
    p.set_defaults(run=_compact)

    p = sub.add_parser("pii", parents=[common], help="PII detection tools")
    pii = p.add_subparsers(dest="pii_command", required=True)
    scan = pii.add_parser(
        "scan", parents=[common], help='detect and redact PII in {"id","text"} JSONL'
    )
    scan.add_argument("file", type=Path, help='{"id","text"} JSONL to scan')
    scan.add_argument("--out", type=Path, default=None, help="output JSONL (default: stdout)")
    scan.add_argument("--tenant", default="default", help="whose policy and key to use")
    scan.set_defaults(run=_pii_scan)

    p = sub.add_parser(
        "keygen",
        parents=[common],
        help="create a pseudonym key file (keep it outside the data root)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write it (default: $XDG_CONFIG_HOME/memgraph-ops/pseudonym.key, else "
        "~/.config/memgraph-ops/pseudonym.key, which is read when no key variable is set)",
    )
    p.set_defaults(run=_keygen)

    p = sub.add_parser(
        "archive", parents=[common], help="move sessions from the lake into the vault"
    )
    p.add_argument("--session", action="append", default=None, metavar="ID",
                   help="a session to archive (repeatable)")  # fmt: skip
    p.add_argument("--inactive-days", type=float, default=None,
                   help="archive sessions inactive this long (default: policy's age)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="say what would be archived")
    p.set_defaults(run=_archive)

    p = sub.add_parser(
        "restore", parents=[common], help="bring an archived session back into the store"
    )
    p.add_argument("session", help="the session id")
    p.set_defaults(run=_restore)

    p = sub.add_parser(
        "retention",
        parents=[common],
        help="archive inactive and delete expired sessions, per the [retention] policy",
    )
    p.add_argument("--dry-run", action="store_true",
                   help="print what would be archived and deleted; change nothing")  # fmt: skip
    p.set_defaults(run=_retention)

    p = sub.add_parser("vault", parents=[common], help="vault maintenance")
    vault = p.add_subparsers(dest="vault_command", required=True)
    compact = vault.add_parser(
        "compact", parents=[common], help="rewrite packs holding dead frames; drop unused files"
    )
    compact.add_argument("--min-dead", type=float, default=0.25,
                         help="rewrite packs with at least this share of dead bytes")  # fmt: skip
    compact.add_argument("--dry-run", action="store_true", help="say what would be reclaimed")
    compact.set_defaults(run=_vault_compact)
    rebuild = vault.add_parser(
        "rebuild-index",
        parents=[common],
        help="recover a damaged vault index from its data files, checking every frame",
    )
    rebuild.add_argument("--dry-run", action="store_true", help="say what would be installed")
    rebuild.set_defaults(run=_vault_rebuild_index)

    from memgraph_ops.erasure.cli import register as register_erasure
    from memgraph_ops.memory.cli import register as register_graphs
    from memgraph_ops.observatory.cli import register as register_observatory

    register_graphs(sub, common)
    register_erasure(sub, common)
    register_observatory(sub, common)

    p = sub.add_parser(
        "serve", parents=[common], help="serve the data root over HTTP (owns HOT while it runs)"
    )
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None,
                   help="port (default 8765; 0: a free one, see the endpoint file)")  # fmt: skip
    p.add_argument("--commit-window-ms", type=float, default=None,
                   help="how long a group commit gathers writes (default 2)")  # fmt: skip
    p.add_argument("--queue-size", type=_positive_int, default=None,
                   help="write requests that may wait before 503 (default 1024)")  # fmt: skip
    p.add_argument("--max-body-mib", type=_positive_int, default=None,
                   help="largest events body accepted, in MiB (default 64)")  # fmt: skip
    p.add_argument("--ssl-certfile", default=None, help="TLS certificate (PEM), with --ssl-keyfile")
    p.add_argument("--ssl-keyfile", default=None, help="TLS private key (PEM)")
    p.set_defaults(run=_serve)

    p = sub.add_parser("keys", parents=[common], help="API keys of the service")
    keys = p.add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", parents=[common], help="a new key (shown once)")
    who = create.add_mutually_exclusive_group(required=True)
    who.add_argument("--tenant", help="the tenant the key reads and writes")
    who.add_argument("--admin", action="store_true", help="a key for every tenant and /v1/ops")
    create.set_defaults(run=_keys_create)
    listing = keys.add_parser("list", parents=[common], help="keys and their state (no secrets)")
    listing.set_defaults(run=_keys_list)
    revoke = keys.add_parser("revoke", parents=[common], help="revoke a key at once")
    revoke.add_argument("key_id", help="the id `keys list` shows")
    revoke.set_defaults(run=_keys_revoke)

    p = sub.add_parser(
        "status", parents=[common], help="counts, logical and physical bytes per layer"
    )
    p.set_defaults(run=_status)

    p = sub.add_parser(
        "verify",
        parents=[common],
        help="check every layer for missing or damaged files (exit 1 if any); changes nothing",
    )
    p.add_argument("--layer", action="append", choices=["hot", "lake", "vault"], default=None,
                   help="check only this layer (repeatable; default: all)")  # fmt: skip
    p.set_defaults(run=_verify)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


@contextmanager
def _bar(desc: str, unit: str, total: int | None = None) -> Iterator[Callable[[int, int], None]]:
    """A progress callback (done, total) drawing a bar on stderr when it is a terminal."""
    from tqdm import tqdm  # 50 ms of imports, paid only by the commands that draw a bar

    with tqdm(desc=desc, unit=unit, total=total or None, file=_stderr(), disable=None) as bar:

        def update(done: int, total_now: int) -> None:
            if total_now and bar.total != total_now:
                bar.total = total_now
            bar.update(done - bar.n)

        yield update


def _emit(args: argparse.Namespace, payload: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(payload, default=str, indent=2))
    else:
        print("\n".join(lines))


def _generate(args: argparse.Namespace) -> int:
    from memgraph_ops.workload import write_workload

    if not 0 <= args.pii_rate <= 1:
        raise InputError(f"--pii-rate must lie between 0 and 1, got {args.pii_rate}")
    with _bar("generate", "sessions", args.sessions) as progress:
        summary = write_workload(
            args.out,
            args.sessions,
            seed=args.seed,
            tenants=args.tenants,
            pii_rate=args.pii_rate,
            progress=progress,
        )
    data = summary.as_dict() if hasattr(summary, "as_dict") else vars(summary)
    _emit(args, data, [f"{k}: {v}" for k, v in data.items()])
    return EXIT_OK


def _ingest_report(result: Any, what: str) -> list[str]:
    lines = [
        f"{what}: received {result.received}, accepted {result.accepted}, "
        f"duplicates skipped {result.duplicates}, quarantined {result.quarantined}"
    ]
    for reason, n in sorted(result.reasons.items(), key=lambda kv: -kv[1])[:20]:
        lines.append(f"  quarantined {n:>6} × {reason}")
    if result.quarantined:
        lines.append("  (see the quarantine table: memgraph_ops.open().store.quarantine())")
    return lines


def _ingest(args: argparse.Namespace) -> int:
    with open_home(args.home) as mg, _bar("ingest", "events") as progress:
        result = mg.ingest_file(args.file, batch_rows=args.batch, progress=progress)
    _emit(args, result.as_dict(), _ingest_report(result, str(args.file)))
    return EXIT_BAD_INPUT if result.quarantined else EXIT_OK


def _import_chat(args: argparse.Namespace) -> int:
    from memgraph_ops.imports.chat import import_chat_file

    with open_home(args.home) as mg, _bar("import-chat", "conversations") as progress:
        report = import_chat_file(mg.store, args.file, tenant=args.tenant, progress=progress)
    data = report.as_dict()
    lines = [
        f"{args.file}: {report.conversations} conversations, {report.events} events "
        f"(accepted {report.accepted}, already imported {report.duplicates}, "
        f"quarantined {report.quarantined})",
        *[f"  {k}: {v}" for k, v in report.nodes_by_type.items()],
    ]
    if report.issue_count:
        lines.append(f"{report.issue_count} problems (everything else was imported):")
        lines.extend(
            f"  line {i.line} [{i.conversation_id}]: {i.message}" for i in report.issues[:50]
        )
        if report.issue_count > 50:
            lines.append(f"  … and {report.issue_count - 50} more (use --json for more)")
    _emit(args, data, lines)
    return EXIT_BAD_INPUT if report.quarantined or report.skipped_lines else EXIT_OK


def _import_otel(args: argparse.Namespace) -> int:
    from memgraph_ops.imports.traces import import_otel_file

    with open_home(args.home) as mg, _bar("import-otel", "spans") as progress:
        report = import_otel_file(mg.store, args.file, tenant=args.tenant, progress=progress)
    lines = [
        f"{args.file}: {report.spans} spans in {report.traces} traces, {report.events} events "
        f"(accepted {report.accepted}, already there {report.duplicates}, replaced "
        f"{report.deleted}, quarantined {report.quarantined})",
        *[f"  quarantined {n:>6} × {reason}" for reason, n in sorted(report.reasons.items())],
        *[f"  {issue}" for issue in report.issues[:50]],
    ]
    _emit(args, report.as_dict(), lines)
    return EXIT_BAD_INPUT if report.quarantined else EXIT_OK


def _compact(args: argparse.Namespace) -> int:
    with open_home(args.home) as mg, _bar("compact", "events") as progress:
        report = mg.compact(progress=progress, batch_rows=args.batch, adopt_store=args.adopt_store)
    data = report.as_dict()
    lines = [
        f"compacted {report.events} events in {report.batches} batches "
        f"(seq {report.watermark_before} → {report.watermark_after}) in {report.seconds}s",
        f"  nodes upserted: {report.nodes_upserted}, deleted: {report.nodes_deleted}",
        f"  edges upserted: {report.edges_upserted}, deleted: {report.edges_deleted}, "
        f"dangling: {report.dangling_edges}, resolved: {report.resolved_edges}",
        f"  HOT trimmed: {report.trimmed} events; lake versions: {report.versions}",
    ]
    _emit(args, data, lines)
    return EXIT_OK


def _pii_scan(args: argparse.Namespace) -> int:
    from memgraph_ops.privacy.scan import scan_jsonl

    mg = open_home(args.home)
    redactor = mg.redactor()
    from memgraph_ops.privacy.redact import Redactor as PiiRedactor

    if not isinstance(redactor, PiiRedactor):
        raise ConfigError("redaction is off in this data root's settings (MEMGRAPH_REDACTION)")
    target = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    try:
        with _bar("pii scan", "docs") as progress:
            report = scan_jsonl(args.file, target, redactor, tenant=args.tenant, progress=progress)
    finally:
        if args.out:
            target.close()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(report.entities.items())) or "nothing"
    _say(f"scanned {report.documents} documents: {summary}")
    for problem in report.skipped_lines[:20]:
        _say(f"  skipped {problem}")
    return EXIT_BAD_INPUT if report.skipped_lines else EXIT_OK


def _keygen(args: argparse.Namespace) -> int:
    from memgraph_ops.privacy.pseudonyms import KEY_FILE_ENV, default_key_path, write_key_file

    default = default_key_path()
    path: Path = args.out.expanduser() if args.out else default
    write_key_file(path)
    if path.absolute() == default.absolute():
        print(f"wrote {path} (mode 0600); it is read when no key variable is set")
    else:
        print(f"wrote {path} (mode 0600); use it with: export {KEY_FILE_ENV}={path}")
    return EXIT_OK


def _archive(args: argparse.Namespace) -> int:
    if args.session and args.inactive_days is not None:
        raise InputError("give either --session or --inactive-days, not both")
    with open_home(args.home) as mg, _bar("archive", "sessions") as progress:
        report = mg.archive(
            args.session, inactive_days=args.inactive_days, dry_run=args.dry_run, progress=progress
        )
    verb = "would archive" if report.dry_run else "archived"
    lines = [
        f"{verb} {report.archived} sessions ({report.nodes:,} nodes, {report.edges:,} edges)"
        + ("" if report.dry_run else f" into {report.frame_bytes:,} bytes of frames"
           f" ({report.payload_bytes:,} bytes before compression) in {report.seconds}s"),
        f"  already in the vault: {report.already_archived}",
    ]  # fmt: skip
    if report.held:
        lines.append(f"  under legal hold, not archived: {len(report.held)}")
    if report.not_found:
        lines.append(f"  not found in the lake or the vault: {', '.join(report.not_found[:20])}")
    _emit(args, report.as_dict(), lines)
    return EXIT_BAD_INPUT if report.not_found and args.session else EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    with open_home(args.home) as mg:
        result = mg.restore(args.session)
    state = "restored" if result.restored else "already restored (nothing changed)"
    _emit(
        args,
        result.as_dict(),
        [
            f"{result.session_id}: {state}: {result.nodes} nodes, {result.edges} edges "
            f"(generation {result.generation}), readable in the store until "
            f"{result.expires_at:%Y-%m-%d %H:%M} UTC; {result.seconds * 1000:.1f} ms"
        ],
    )
    return EXIT_OK


def _retention(args: argparse.Namespace) -> int:
    with open_home(args.home) as mg:
        report = mg.retention(dry_run=args.dry_run)
    plan = report.plan
    verb = "would" if report.dry_run else "did"
    lines = [f"retention ({'dry run: nothing changed' if report.dry_run else 'applied'}):"]
    for key, label in (
        ("archive", "archive (lake -> vault)"),
        ("delete_from_lake", "delete from the lake"),
        ("delete_from_vault", "delete from the vault"),
        ("held", "keep under legal hold"),
    ):
        part = plan[key]
        lines.append(
            f"  {verb} {label}: {part['sessions']} sessions, {part['rows']:,} rows, "
            f"{part['bytes']:,} bytes"
        )
        ids = part["session_ids"]
        if ids:
            shown = ", ".join(ids[:10]) + (
                f", … (+{len(ids) - 10}, see --json)" if len(ids) > 10 else ""
            )
            lines.append(f"      {shown}")
    for node_type, cutoff in plan["node_type_deletes"].items():
        lines.append(f"  {verb} delete {node_type} nodes created before {cutoff}")
    if not report.dry_run:
        lines.append(
            f"  aggregates kept: {report.aggregate_rows} rows; restored copies expired: "
            f"{report.restored_copies_expired}; vault bytes reclaimed: "
            f"{report.vault_bytes_reclaimed:,}; lake files vacuumed: {report.lake_files_vacuumed}"
        )
    _emit(args, report.as_dict(), lines)
    return EXIT_OK


def _vault_compact(args: argparse.Namespace) -> int:
    with open_home(args.home) as mg:
        report = mg.vault.compact(min_dead_fraction=args.min_dead, dry_run=args.dry_run)
    verb = "would rewrite" if report.dry_run else "rewrote"
    _emit(
        args,
        report.as_dict(),
        [
            f"{verb} {len(report.packs_rewritten)} packs, delete {len(report.packs_deleted)} "
            f"packs and {len(report.dictionaries_deleted)} dictionaries: "
            f"{report.bytes_before:,} -> {report.bytes_after:,} bytes"
        ],
    )
    return EXIT_OK


def _vault_rebuild_index(args: argparse.Namespace) -> int:
    with open_home(args.home) as mg:
        report = mg.vault.rebuild_index(dry_run=args.dry_run)
    verb = "would recover" if report.dry_run else "recovered"
    lines = [
        f"{verb} {report.sessions:,} sessions and {report.blocks:,} shared blocks; "
        f"{report.rows_dropped:,} rows dropped (frame gone or failing its checksum)"
    ]
    if report.unreadable_files:
        lines.append(f"  unreadable index files: {', '.join(report.unreadable_files)}")
    if report.packs_unindexed:
        where = "would move" if report.dry_run else "moved"
        lines.append(
            f"  {where} {len(report.packs_unindexed)} pack(s) no row names to vault/unindexed/ "
            "(kept, not read): restore the index from a backup to get their sessions back"
        )
    _emit(args, report.as_dict(), lines)
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    with open_home(args.home) as mg:
        data = mg.status()
    hot, lake = data["hot"], data["lake"]["tables"]
    key = data["pseudonym_key"]
    lines = [
        f"data root: {data['home']}",
        f"KEY  {key['in_use'] or 'none'}" + (f": {key['problem']}" if key["problem"] else ""),
        f"HOT  {hot.get('events', 0):>12,} events  {hot.get('bytes', 0):>14,} bytes  "
        f"quarantined {hot.get('quarantined', 0):,}  max seq {hot.get('max_seq', 0):,}",
    ]
    for name, t in lake.items():
        lines.append(
            f"LAKE {name:<10} {t['rows']:>12,} rows  {t['bytes']:>14,} bytes  {t['files']:>5} files"
            f"  version {t['version']}  watermark {t['watermark']:,}"
        )
    if not lake:
        lines.append("LAKE (empty: run `memgraph-ops compact`)")
    for name, t in lake.items():
        if t["data_bytes_on_disk"] > t["bytes"]:
            lines.append(
                f"     {name}: {t['data_bytes_on_disk']:,} data bytes on disk (+{t['log_bytes']:,} "
                f"log); vacuum would reclaim {t['data_bytes_on_disk'] - t['bytes']:,} "
                "(files only older versions use)"
            )
    v = data["vault"]
    lines.append(
        f"VAULT {v['sessions']:>11,} sessions {v['logical_bytes']:>14,} bytes logical  "
        f"{v['physical_bytes']:,} physical ({v['packs']} packs, {v['dictionaries']} dictionaries, "
        f"{v['blocks']} shared blocks); pack compaction would reclaim {v['reclaimable_bytes']:,}"
    )
    if v["stray_packs"]:
        lines.append(
            f"VAULT WARNING: {len(v['stray_packs'])} pack(s) ({v['stray_bytes']:,} bytes) are "
            "named by no index row: the index is damaged. Writers refuse to run until "
            "`memgraph-ops vault rebuild-index` recovers it."
        )
    if hot.get("restored_sessions"):
        lines.append(f"HOT  {hot['restored_sessions']} sessions restored from the vault")
    _emit(args, data, lines)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    # FastAPI and uvicorn load here only: every other command starts without them.
    from memgraph_ops.config import load_settings
    from memgraph_ops.service.server import ServeOptions, serve

    settings = load_settings(args.home)
    given = settings.service

    def pick(option: Any, key: str, default: Any) -> Any:
        return option if option is not None else given.get(key, default)

    options = ServeOptions(
        host=pick(args.host, "host", "127.0.0.1"),
        port=pick(args.port, "port", 8765),
        commit_window_ms=pick(args.commit_window_ms, "commit_window_ms", 2.0),
        queue_size=pick(args.queue_size, "queue_size", 1024),
        max_body_bytes=pick(args.max_body_mib, "max_body_mib", 64) * 1024 * 1024,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )
    if options.commit_window_ms < 0:
        raise InputError(f"--commit-window-ms must not be negative, got {options.commit_window_ms}")
    if not 0 <= options.port <= 65535:
        raise InputError(f"--port must lie between 0 and 65535, got {options.port}")
    serve(settings, options)
    return EXIT_OK


def _key_ring(args: argparse.Namespace) -> Any:
    from memgraph_ops.config import load_settings
    from memgraph_ops.service.keys import KeyRing

    settings = load_settings(args.home)
    settings.secure_home()
    return KeyRing(settings.home)


def _keys_create(args: argparse.Namespace) -> int:
    key_id, secret = _key_ring(args).create(tenant=args.tenant, admin=args.admin)
    whom = "admin (every tenant, /v1/ops)" if args.admin else f"tenant {args.tenant}"
    _emit(
        args,
        {"key_id": key_id, "key": secret, "role": "admin" if args.admin else "tenant",
         "tenant": args.tenant},
        [f"key {key_id} for {whom} (shown once, keep it; only its hash is stored):", secret],
    )  # fmt: skip
    return EXIT_OK


def _keys_list(args: argparse.Namespace) -> int:
    records = [r.public() for r in _key_ring(args).list()]
    lines = [
        f"{r['key_id']}  {r['role']:<6} {r['tenant'] or '*':<20} created {r['created_at']}"
        + (f"  REVOKED {r['revoked_at']}" if r["revoked_at"] else "")
        for r in records
    ] or ["no API keys (create one with `memgraph-ops keys create --tenant T`)"]
    _emit(args, {"keys": records}, lines)
    return EXIT_OK


def _keys_revoke(args: argparse.Namespace) -> int:
    record = _key_ring(args).revoke(args.key_id)
    _emit(args, record.public(), [f"key {record.key_id} revoked at {record.revoked_at}"])
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from memgraph_ops.verify import LAYERS, verify

    layers = tuple(dict.fromkeys(args.layer)) if args.layer else LAYERS
    with open_home(args.home) as mg, contextlib.ExitStack() as bars:
        report = verify(
            mg.settings,
            layers=layers,
            progress=lambda layer: bars.enter_context(_bar(f"verify {layer}", "bytes")),
        )
    lines = []
    for layer in report.layers:
        counts = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in layer.checked.items())
        lines.append(f"{layer.layer.upper():<5} checked {counts or 'nothing (empty)'}")
    for problem in sorted(report.problems, key=lambda p: (p.severity != "error", p.path)):
        lines.append(f"{problem.severity.upper():<7} {problem.path}: {problem.what}")
        lines.append(f"        repair: {problem.repair}")
    warnings = len(report.problems) - len(report.errors)
    lines.append(
        f"{len(report.errors)} damaged or missing, {warnings} warnings in {report.seconds}s"
        + ("" if report.errors else ": every file checked is intact")
    )
    _emit(args, report.as_dict(), lines)
    return EXIT_OK if report.ok else EXIT_FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
