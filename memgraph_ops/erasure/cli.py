"""`memgraph-ops erase`: the erasure command (registered by `memgraph_ops.cli`).

    memgraph-ops erase --user U [--identifier EMAIL ...] [--tenant T] [--dry-run] [--json]
    memgraph-ops erase --session S | --identifier V [--receipt-out FILE]
    memgraph-ops erase --resume          # run every queued, failed or interrupted request
    memgraph-ops erase receipt REQUEST_ID [--out FILE]   # a finished request's signed receipt
    memgraph-ops erase public-key [--out FILE]           # the PEM key that checks receipts
    memgraph-ops erase verify RECEIPT_FILE [--public-key FILE]

Exit codes: 0 done (or nothing found), 2 bad input, 1 failure (the request stays queued as
failed and is retried). The subject is never printed: output names the request id and the
keyed subject hash. `erase verify` exits 0 if the receipt is valid, 1 if it is not (naming the
changed field or the wrong key), 2 if it cannot be checked (no public key given, or a legacy
HMAC receipt and no pseudonym key here). It needs no secret for Ed25519 receipts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memgraph_ops.errors import ConfigError, InputError

if TYPE_CHECKING:
    from memgraph_ops.erasure.keys import ErasureKeys

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
    p.add_argument(
        "--receipt-out", type=Path, default=None, metavar="FILE",
        help="also write the signed receipt to FILE (JSON), for `erase verify`",
    )  # fmt: skip
    p.set_defaults(run=_erase)
    actions = p.add_subparsers(dest="erase_action", metavar="{receipt,public-key,verify}")
    r = actions.add_parser(
        "receipt", parents=[common], help="print or write the signed receipt of a finished request"
    )
    r.add_argument("request_id", metavar="REQUEST_ID", help="as `erase` printed it")
    r.add_argument("--out", type=Path, default=None, help="write it to this JSON file")
    r.set_defaults(run=_receipt)
    k = actions.add_parser(
        "public-key", parents=[common],
        help="export the Ed25519 public key that checks receipts (PEM SubjectPublicKeyInfo)",
    )  # fmt: skip
    k.add_argument("--out", type=Path, default=None, help="write the PEM to this file")
    k.set_defaults(run=_public_key)
    v = actions.add_parser(
        "verify", parents=[common],
        help="check a receipt file with the public key alone (exit 0 valid, 1 invalid, 2 "
        "cannot check)",
    )  # fmt: skip
    v.add_argument("receipt_file", type=Path, metavar="RECEIPT_FILE", help="a receipt (JSON)")
    v.add_argument(
        "--public-key", type=Path, default=None, metavar="FILE",
        help="the PEM (or raw base64) public key from `erase public-key`; without it, the key "
        "derived from this machine's pseudonym key",
    )  # fmt: skip
    v.set_defaults(run=_verify)


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

    if args.receipt_out is not None and (args.resume or args.dry_run):
        raise InputError(
            "--receipt-out writes the receipt of one erasure: after --resume use "
            "`memgraph-ops erase receipt REQUEST_ID --out FILE`; a dry run signs nothing"
        )
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
        f"  signed: {receipt.get('signature_algorithm')} by key "
        f"{receipt.get('public_key_fingerprint')}",
    ]
    if receipt and args.receipt_out is not None:
        from memgraph_ops.erasure.receipt import save

        save(receipt, args.receipt_out)
        lines.append(f"  receipt written to {args.receipt_out}")
    _emit(args, receipt or _public(request.as_dict()), lines)
    return EXIT_OK


def _receipt(args: argparse.Namespace) -> int:
    from memgraph_ops.config import load_settings
    from memgraph_ops.erasure import receipt

    _no_subject(args, "receipt")
    document = receipt.find(load_settings(args.home).lake_uri, args.request_id)
    if args.out is None:
        print(json.dumps(document, indent=2, sort_keys=True))
        return EXIT_OK
    receipt.save(document, args.out)
    _emit(args, {"request_id": args.request_id, "written": str(args.out)},
          [f"receipt of {args.request_id} written to {args.out}"])  # fmt: skip
    return EXIT_OK


def _public_key(args: argparse.Namespace) -> int:
    from memgraph_ops.erasure import receipt

    _no_subject(args, "public-key")
    key = _require_keys(args).public_key
    payload = {
        "algorithm": "Ed25519",
        "fingerprint": key.fingerprint,
        "public_key_pem": key.pem(),
    }
    if args.out is not None:
        receipt.write_text(args.out, key.pem())
        payload["written"] = str(args.out)
        _emit(args, payload, [f"public key {key.fingerprint} written to {args.out} (PEM)"])
    elif args.json:
        _emit(args, payload, [])
    else:
        print(key.pem(), end="")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from memgraph_ops.erasure import receipt
    from memgraph_ops.erasure.keys import ReceiptKey

    _no_subject(args, "verify")
    document = receipt.load(args.receipt_file)
    public_key = ReceiptKey.load(args.public_key) if args.public_key is not None else None
    # the public key alone checks an Ed25519 receipt; the master key is only looked for when
    # there is nothing else (no --public-key, or a legacy HMAC receipt), and its absence is
    # then a reason the receipt cannot be checked, not an error
    keys, no_key = None, None
    if public_key is None or receipt.is_legacy(document):
        try:
            keys = _require_keys(args)
        except ConfigError as exc:
            no_key = str(exc)
    verdict = receipt.verify(document, public_key=public_key, keys=keys)
    how = f"{verdict.algorithm}" + (
        f", checked with {verdict.checked_with}" if verdict.checked_with else ""
    )
    label = {"valid": "valid", "invalid": "INVALID", "unchecked": "NOT CHECKED"}[verdict.outcome]
    lines = [
        f"receipt {verdict.request_id} ({args.receipt_file}): {label} ({how})",
        *(f"  note: {n}" for n in verdict.notes),
        *(f"  {p}" for p in verdict.problems),
    ]
    payload = verdict.as_dict()
    if verdict.outcome == "unchecked" and no_key:
        lines.append(f"  pseudonym key: {no_key}")
        payload["pseudonym_key_problem"] = no_key
    _emit(args, payload, lines)
    codes = {"valid": EXIT_OK, "invalid": EXIT_FAILURE, "unchecked": EXIT_BAD_INPUT}
    return codes[verdict.outcome]


def _require_keys(args: argparse.Namespace) -> ErasureKeys:
    """The erasure keys of this machine's pseudonym key (a ConfigError says how to set one)."""
    from memgraph_ops.config import load_settings
    from memgraph_ops.erasure.keys import ErasureKeys
    from memgraph_ops.privacy.pseudonyms import load_master_key

    return ErasureKeys(load_master_key(load_settings(args.home).home))


def _no_subject(args: argparse.Namespace, action: str) -> None:
    if args.user or args.session or args.identifier or args.resume or args.dry_run:
        raise InputError(
            f"`erase {action}` takes no subject or --resume/--dry-run: run it on its own"
        )


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
