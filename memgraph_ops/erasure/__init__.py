"""Compliance erasure: remove a person from every layer, prove it byte by byte, sign a receipt.

Requests (by user id, session id or identifier value) are queued under `<home>/erasure/` with
a keyed subject hash, never the subject in clear. `plan` is the dry run; `erase` / `run` /
`drain` execute with resume after a crash; `restore_guard` / `ingest_guard` keep erased data
from coming back. See `memgraph_ops.erasure.run` for the steps.
"""

from memgraph_ops.erasure.keys import ErasureKeys
from memgraph_ops.erasure.receipt import read as receipts
from memgraph_ops.erasure.request import Queue, Request, Subject
from memgraph_ops.erasure.run import (
    ErasureFailed,
    drain,
    erase,
    ingest_guard,
    plan,
    restore_guard,
    run,
    submit,
)

__all__ = [
    "ErasureFailed",
    "ErasureKeys",
    "Queue",
    "Request",
    "Subject",
    "drain",
    "erase",
    "ingest_guard",
    "plan",
    "receipts",
    "restore_guard",
    "run",
    "submit",
]
