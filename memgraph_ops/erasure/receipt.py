"""Erasure receipts: signed, checkable by anyone with the public key, kept in the `erasure_log`.

A receipt names the request id and the keyed subject hash — never the subject — with the
request and completion times, counts per layer, the files rewritten or deleted, and the result
of the byte-level verification. `sign` adds:

- `signature_algorithm`: `"Ed25519"`;
- `public_key_fingerprint`: `sha256:<hex>` of the raw public key that checks it;
- `field_digests`: the receipt's shape with every leaf replaced by the first 16 hex digits of
  the SHA-256 of its canonical JSON. It is signed like the rest; it only serves to *name* what
  changed when a signature fails (the signature alone says nothing about where);
- `signature`: base64 Ed25519 over `keys.canonical_json` of everything else.

`verify(receipt, public_key=...)` needs no secret. Receipts from before Ed25519 (no
`signature_algorithm`, a hex HMAC-SHA256 `signature`) are *legacy*: only the holder of the
pseudonym key can check them (`verify(receipt, keys=...)`).

One row per finished request goes to the Delta table `erasure_log` (`write`, `read`, `find`);
`save` / `load` move one receipt to and from a JSON file for an auditor.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
import pyarrow as pa
from deltalake import write_deltalake

from memgraph_ops._files import atomic_write
from memgraph_ops.erasure.keys import (
    LEGACY_SIGNATURE_ALGORITHM,
    SIGNATURE_ALGORITHM,
    ReceiptKey,
)
from memgraph_ops.errors import InputError
from memgraph_ops.lake import delta

if TYPE_CHECKING:
    from memgraph_ops.erasure.keys import ErasureKeys

LOG_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("subject_hash", pa.string(), nullable=False),
        pa.field("kind", pa.string()),
        pa.field("tenant", pa.string()),
        pa.field("mode", pa.string()),
        pa.field("status", pa.string()),
        pa.field("requested_at", pa.string()),
        pa.field("completed_at", pa.string()),
        pa.field("counts", pa.string()),
        pa.field("files_rewritten", pa.int64()),
        pa.field("verification", pa.string()),
        pa.field("signature", pa.string()),
        pa.field("receipt", pa.string()),
    ]
)
_CONFIGURATION = {"delta.dataSkippingStatsColumns": "request_id,completed_at"}
_SIGNATURE_FIELDS = ("signature", "signature_algorithm", "public_key_fingerprint", "field_digests")
_DIGEST_HEX = 16
LEGACY_NOTE = (
    "legacy receipt (HMAC-SHA256, signed before Ed25519 receipts): only the holder of the "
    "pseudonym key can check it"
)

Outcome = Literal["valid", "invalid", "unchecked"]


@dataclass(frozen=True)
class Verdict:
    """What checking one receipt found. `unchecked`: nothing to check it with."""

    outcome: Outcome
    algorithm: str
    request_id: str | None
    checked_with: str | None = None
    """The fingerprint of the public key used, or "the pseudonym key" (legacy receipts)."""
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.outcome == "valid"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sign(document: dict[str, Any], keys: ErasureKeys) -> dict[str, Any]:
    """`document` with its Ed25519 signature, algorithm, key fingerprint and field digests."""
    body = {k: v for k, v in document.items() if k not in _SIGNATURE_FIELDS}
    body["signature_algorithm"] = SIGNATURE_ALGORITHM
    body["public_key_fingerprint"] = keys.public_key.fingerprint
    body["field_digests"] = _digests(body)
    return {**body, "signature": keys.sign(body)}


def verify(
    document: dict[str, Any],
    *,
    public_key: ReceiptKey | None = None,
    keys: ErasureKeys | None = None,
) -> Verdict:
    """Check a receipt with `public_key` (enough for Ed25519 receipts) or with the master
    `keys` (which also check legacy ones), and say what failed.

    >>> verify(receipt, public_key=ReceiptKey.load(Path("erasure-receipts.pem"))).problems
    ('counts.hot.deleted was changed after signing',)
    """
    request_id = document.get("request_id")
    algorithm = document.get("signature_algorithm")
    if algorithm is None:
        return _verify_legacy(document, keys)
    if algorithm != SIGNATURE_ALGORITHM:
        return Verdict(
            "invalid", str(algorithm), request_id,
            problems=(f"unknown signature_algorithm {algorithm!r}: this version checks "
                      f"{SIGNATURE_ALGORITHM} and legacy {LEGACY_SIGNATURE_ALGORITHM} receipts",),
        )  # fmt: skip
    key = public_key or (keys.public_key if keys is not None else None)
    if key is None:
        return Verdict(
            "unchecked", SIGNATURE_ALGORITHM, request_id,
            problems=("no public key to check it with: give --public-key FILE (exported by "
                      "`memgraph-ops erase public-key`)",),
        )  # fmt: skip
    if key.check(document):
        return Verdict("valid", SIGNATURE_ALGORITHM, request_id, key.fingerprint)
    problems = []
    if not document.get("signature"):
        problems.append("the receipt carries no signature")
    recorded = document.get("field_digests")
    if isinstance(recorded, dict):
        body = {k: v for k, v in document.items() if k not in ("signature", "field_digests")}
        problems += _differences(recorded, _digests(body), [])
    else:
        problems.append("field_digests is missing or altered: the changed field cannot be named")
    claimed = document.get("public_key_fingerprint")
    if claimed != key.fingerprint and not any(
        p.startswith("public_key_fingerprint ") for p in problems
    ):
        problems.append(
            f"wrong key: the receipt was signed by the key {claimed}, the key given is "
            f"{key.fingerprint} (another data root's key, or a pseudonym key rotated since)"
        )
    if not problems:
        problems.append(
            "the signature does not match the signed fields: the signature or the field "
            "digests were altered after signing"
        )
    return Verdict("invalid", SIGNATURE_ALGORITHM, request_id, key.fingerprint, tuple(problems))


def is_legacy(document: dict[str, Any]) -> bool:
    """Whether the receipt predates Ed25519 signatures (only the master key can check it)."""
    return "signature_algorithm" not in document


def _verify_legacy(document: dict[str, Any], keys: ErasureKeys | None) -> Verdict:
    request_id = document.get("request_id")
    if keys is None:
        return Verdict(
            "unchecked", LEGACY_SIGNATURE_ALGORITHM, request_id,
            problems=("no pseudonym key here: run `memgraph-ops erase verify` where "
                      "MEMGRAPH_PSEUDONYM_KEY or MEMGRAPH_PSEUDONYM_KEY_FILE is set",),
            notes=(LEGACY_NOTE,),
        )  # fmt: skip
    if keys.verify_legacy_receipt(document):
        return Verdict(
            "valid", LEGACY_SIGNATURE_ALGORITHM, request_id, "the pseudonym key",
            notes=(LEGACY_NOTE,),
        )  # fmt: skip
    return Verdict(
        "invalid", LEGACY_SIGNATURE_ALGORITHM, request_id, "the pseudonym key",
        problems=("the HMAC does not match: the receipt was altered after signing or signed "
                  "under another pseudonym key (a legacy receipt cannot say which field)",),
        notes=(LEGACY_NOTE,),
    )  # fmt: skip


def _digests(body: dict[str, Any]) -> dict[str, Any]:
    """The shape of `body` with each leaf (anything but an object) replaced by its digest."""

    def tree(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): tree(v) for k, v in value.items()}
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_HEX]

    plain: dict[str, Any] = json.loads(json.dumps(body, default=str))
    return {k: tree(v) for k, v in plain.items()}


def _differences(recorded: dict[str, Any], actual: dict[str, Any], path: list[str]) -> list[str]:
    out = []
    for name in sorted(set(recorded) | set(actual)):
        where = _path([*path, name])
        if name not in actual:
            out.append(f"{where} was removed after signing")
        elif name not in recorded:
            out.append(f"{where} was added after signing")
        elif isinstance(recorded[name], dict) and isinstance(actual[name], dict):
            out += _differences(recorded[name], actual[name], [*path, name])
        elif recorded[name] != actual[name]:
            out.append(f"{where} was changed after signing")
    return out


def _path(parts: list[str]) -> str:
    return ".".join(json.dumps(p) if "." in p or not p else p for p in parts)


# files ------------------------------------------------------------------------------------------


def save(document: dict[str, Any], path: Path) -> None:
    """Write one receipt as a JSON file (atomically): what `erase verify` reads."""
    write_text(path, json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")


def load(path: Path) -> dict[str, Any]:
    """Read a receipt file written by `save` (or the JSON `memgraph-ops erase --json` prints)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the receipt {path}: {exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a JSON receipt: {exc}") from exc
    if not isinstance(document, dict) or "request_id" not in document:
        raise InputError(
            f"{path} is not an erasure receipt (no request_id): write one with "
            "`memgraph-ops erase receipt REQUEST_ID --out FILE`"
        )
    return document


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    atomic_write(path, text)


# the erasure_log --------------------------------------------------------------------------------


def write(lake_root: str, receipt: dict[str, Any]) -> None:
    """Append the receipt, unless this request's receipt is there already (a rerun)."""
    uri = delta.join(lake_root, "erasure_log")
    table = delta.ensure_table(uri, LOG_SCHEMA, configuration=_CONFIGURATION, partition_by=[])
    if read(lake_root).filter(pl.col("request_id") == receipt["request_id"]).height:
        return
    row = {
        **{k: receipt.get(k) for k in LOG_SCHEMA.names},
        "counts": json.dumps(receipt["counts"], sort_keys=True),
        "verification": json.dumps(receipt["verification"], sort_keys=True),
        "files_rewritten": len(receipt["files"]),
        "receipt": json.dumps(receipt, sort_keys=True, default=str),
    }
    data = pa.Table.from_pylist([row], schema=LOG_SCHEMA)
    delta.with_retries(
        lambda: write_deltalake(table, data, mode="append"),
        what="writing the erasure receipt",
        table=table,
    )


def read(lake_root: str) -> pl.DataFrame:
    """Every receipt, oldest first."""
    table = delta.open_table(delta.join(lake_root, "erasure_log"))
    if table is None:
        return pl.DataFrame(LOG_SCHEMA.empty_table())
    return pl.DataFrame(pa.table(table.to_pyarrow_table())).sort("completed_at")


def find(lake_root: str, request_id: str) -> dict[str, Any]:
    """The receipt of `request_id` from the `erasure_log`, as it was signed."""
    rows = read(lake_root).filter(pl.col("request_id") == request_id)
    if rows.is_empty():
        raise InputError(
            f"no receipt for erasure request {request_id!r} in the erasure_log: it is not done "
            "yet (`memgraph-ops erase --resume`), or the id is wrong"
        )
    document: dict[str, Any] = json.loads(rows["receipt"][0])
    return document
