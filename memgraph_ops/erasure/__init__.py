"""Compliance erasure: remove a person from every layer, prove it byte by byte, sign a receipt.

Requests (by user id, session id or identifier value) are queued under `<home>/erasure/` with
a keyed subject hash, never the subject in clear. `plan` is the dry run; `erase` / `run` /
`drain` execute with resume after a crash; the tombstones it leaves keep erased data from
coming back through any door (`memgraph_ops.tombstones`: the store and the vault read them
when they open). See `memgraph_ops.erasure.steps` for the steps.
"""

from typing import TYPE_CHECKING

from memgraph_ops._lazy import exports

if TYPE_CHECKING:
    from memgraph_ops.erasure.keys import ErasureKeys
    from memgraph_ops.erasure.receipt import read as receipts
    from memgraph_ops.erasure.request import Queue, Request, Subject
    from memgraph_ops.erasure.steps import ErasureFailed, drain, erase, plan, run, submit

# Imported on first use: `memgraph_ops.erasure.cli` (the parser) must not pull in the steps.
__getattr__ = exports(
    __name__,
    {
        "ErasureKeys": "memgraph_ops.erasure.keys",
        "receipts": "memgraph_ops.erasure.receipt:read",
        **{n: "memgraph_ops.erasure.request" for n in ("Queue", "Request", "Subject")},
        **{
            n: "memgraph_ops.erasure.steps"
            for n in ("ErasureFailed", "drain", "erase", "plan", "run", "submit")
        },
    },
)

__all__ = [
    "ErasureFailed",
    "ErasureKeys",
    "Queue",
    "Request",
    "Subject",
    "drain",
    "erase",
    "plan",
    "receipts",
    "run",
    "submit",
]
