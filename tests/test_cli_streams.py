"""The CLI behaves on closed pipes and closed stderr (issue 10, item 8): no traceback, the work
is done, the exit code says what happened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CLI = f"{sys.executable} -c 'import sys; from memgraph_ops.cli import main; sys.exit(main(sys.argv[1:]))'"


def _conversations(path: Path, n: int) -> Path:
    with open(path, "w") as out:
        for i in range(n):
            messages = [
                {"role": "user", "content": f"question {i}"},
                {"role": "assistant", "content": f"answer {i}"},
            ]
            out.write(json.dumps({"id": f"c{i}", "messages": messages}) + "\n")
    return path


def _sh(command: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEMGRAPH_HOME": str(home)}
    return subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=300
    )


def test_json_output_into_a_closed_pipe_ends_quietly(home: Path, tmp_path: Path) -> None:
    chats = _conversations(tmp_path / "chats.jsonl", 200)
    # the reader is gone before the report is written, as `| head` is after its lines
    done = _sh(f"set -o pipefail; {CLI} --json import-chat {chats} | true", home)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 1  # the output was cut short: say so
    status = _sh(f"{CLI} --json status", home)
    assert json.loads(status.stdout)["hot"]["events"] > 0, "the import itself was done"


def test_a_closed_stderr_does_not_fail_the_command(home: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"event_id": "e1"}\nnot json\n')
    done = _sh(f"{CLI} ingest {events} 2>&-", home)
    assert done.returncode == 2  # bad input, reported through the exit code alone
    assert "Traceback" not in done.stderr
    missing = _sh(f"{CLI} ingest {tmp_path / 'nope.jsonl'} 2>&-", home)
    assert missing.returncode == 2
