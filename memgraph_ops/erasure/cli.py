"""`memgraph-ops erase`: the erasure command (registered by `memgraph_ops.cli`).

    memgraph-ops erase --user U [--identifier EMAIL ...] [--tenant T] [--dry-run] [--json]
    memgraph-ops erase --session S | --identifier V
    memgraph-ops erase --resume          # run every queued, failed or interrupted request

Exit codes: 0 done (or nothing found), 2 bad input, 1 failure (the request stays queued as
failed and is retried). The subject is never printed: output names the request id and the
keyed subject hash.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from memgraph_ops.errors import InputError

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add `erase` to the `memgraph-ops` sub-commands (`common` carries --home/--json)."""
    p = subparsers.add_parser(
        "erase",
        parents=[common],
        help="erase a person from every layer, verify, and print a signed receipt",
    )
    who = p.add_mutually_exclusive_group()
    who.add_argument("--user", help="a user id (the data subject of Sessions)")
    who.add_argument("--session", help="one session id")
    p.add_argument(
        "--identifier",
        action="append",
        default=[],
        help="an email, phone, name or address as typed (repeat for more; with --user, more "
        "identifiers of the same person)",
    )
    p.add_argument("--tenant", default=None, help="only this tenant (default: every tenant)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    p.add_argument(
        "--others",
        choices=("re-redact", "list"),
        default="re-redact",
        help="other people's sessions holding the subject's identifiers: re-redact them "
        "(default) or list them for review",
    )
    p.add_argument("--resume", action="store_true", help="run every pending request")
    p.set_defaults(run=_erase)


def _subject(args: argparse.Namespace) -> Any:
    from memgraph_ops.erasure.request import Subject

    identifiers = [v for v in args.identifier if v is not None]
    if args.user:
        return Subject("user", args.user, args.tenant, tuple(identifiers), args.others)
    if args.session:
        if identifiers:
            raise InputError("--session takes no --identifier: erase those separately")
        return Subject("session", args.session, args.tenant, (), args.others)
    if identifiers:
        first, *more = identifiers
        return Subject("identifier", first, args.tenant, tuple(more), args.others)
    raise InputError("say whom to erase: --user U, --session S or --identifier V (or --resume)")


def _erase(args: argparse.Namespace) -> int:
    from memgraph_ops import api, erasure

    if args.resume:
        with api.open(args.home) as mg:
            done = erasure.drain(mg)
        payload: dict[str, Any] = {"requests": [_public(r.as_dict()) for r in done]}
        lines = [f"{r.request_id}: {r.status}" + (f" ({r.error})" if r.error else "") for r in done]
        _emit(args, payload, lines or ["no pending erasure requests"])
        return EXIT_FAILURE if any(r.status == "failed" for r in done) else EXIT_OK
    subject = _subject(args)
    if args.dry_run:
        with api.open(args.home, read_only=True) as mg:
            plan = erasure.plan(mg, subject)
        _emit(args, plan, _plan_lines(plan))
        return EXIT_OK
    with api.open(args.home) as mg:
        request = erasure.erase(mg, subject)
    receipt = request.receipt or {}
    lines = [
        f"erasure {request.request_id}: {request.status}"
        + (" — nothing found" if request.status == "nothing found" else ""),
        f"  subject hash {request.subject_hash}",
        *(f"  {layer}: {counts}" for layer, counts in receipt.get("counts", {}).items()),
        f"  files rewritten or deleted: {len(receipt.get('files', []))}",
        f"  verification: {receipt.get('verification')}",
        f"  signature: {receipt.get('signature')}",
    ]
    _emit(args, receipt or _public(request.as_dict()), lines)
    return EXIT_OK


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "sealed"}


def _plan_lines(plan: dict[str, Any]) -> list[str]:
    layers = plan["layers"]
    lines = [
        f"dry run (subject hash {plan['subject_hash']}): "
        + ("would erase" if plan["found"] else "nothing found"),
        f"  sessions of the subject: {plan['sessions']}",
        f"  HOT: {layers['hot']}",
        *(f"  lake {name}: {hits}" for name, hits in layers["lake"].items()),
        f"  pii_findings: {layers['pii_findings']}",
        f"  vault: {layers['vault']}",
        f"  lake data files to rewrite: {len(plan['lake_files'])} of {plan['lake_files_total']}",
        f"  other people's sessions with the subject's identifiers: "
        f"{len(plan['other_people_sessions'])} ({plan['mode']})",
    ]
    return lines


def _emit(args: argparse.Namespace, payload: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(payload, default=str, indent=2))
    else:
        print("\n".join(lines), file=sys.stdout)
