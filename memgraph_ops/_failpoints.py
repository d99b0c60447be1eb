"""Named crash and pause points for crash and race tests.

`MEMGRAPH_FAILPOINT=<name>` makes the process kill itself with SIGKILL when it reaches the
failpoint of that name (after `MEMGRAPH_FAILPOINT_SKIP` earlier hits, default 0): no exception
handler, `finally` block or atexit hook runs, exactly as when the machine loses power or the OOM
killer strikes. Unset (always, outside tests), a failpoint costs one dictionary lookup.

With `MEMGRAPH_FAILPOINT_PAUSE=<dir>` the process pauses there instead: it creates
`<dir>/<name>.reached` and waits (up to 120 s) until `<dir>/<name>.resume` exists. A race test
runs another process while this one is held at exactly that point.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

_hits: dict[str, int] = {}
PAUSE_LIMIT_SECONDS = 120.0


def failpoint(name: str) -> None:
    if os.environ.get("MEMGRAPH_FAILPOINT") != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] <= int(os.environ.get("MEMGRAPH_FAILPOINT_SKIP", "0")):
        return
    pause_dir = os.environ.get("MEMGRAPH_FAILPOINT_PAUSE")
    if not pause_dir:
        os.kill(os.getpid(), signal.SIGKILL)
        return
    marker = Path(pause_dir) / name.replace(":", "_")
    marker.with_suffix(".reached").touch()
    deadline = time.monotonic() + PAUSE_LIMIT_SECONDS
    while not marker.with_suffix(".resume").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
