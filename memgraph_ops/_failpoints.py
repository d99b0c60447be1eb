"""Named crash points for crash tests.

`MEMGRAPH_FAILPOINT=<name>` makes the process kill itself with SIGKILL when it reaches the
failpoint of that name (after `MEMGRAPH_FAILPOINT_SKIP` earlier hits, default 0): no exception
handler, `finally` block or atexit hook runs, exactly as when the machine loses power or the OOM
killer strikes. Unset (always, outside tests), a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    if os.environ.get("MEMGRAPH_FAILPOINT") != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] > int(os.environ.get("MEMGRAPH_FAILPOINT_SKIP", "0")):
        os.kill(os.getpid(), signal.SIGKILL)
