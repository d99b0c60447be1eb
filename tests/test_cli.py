from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from memgraph_ops.cli import main
from memgraph_ops.events import normalize
from tests.factories import event, session


def _write_jsonl(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_ingest_jsonl_then_compact_then_status_json(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = session("s1", 2)
    path = _write_jsonl(tmp_path / "events.jsonl", events)
    assert main(["ingest", str(path)]) == 0
    assert main(["ingest", str(path), "--json"]) == 0  # re-ingest: all duplicates
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{") :])
    assert report["accepted"] == 0 and report["duplicates"] == len(events)
    assert main(["compact"]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["lake"]["tables"]["event_log"]["rows"] == len(events)
    assert status["hot"]["events"] == 0


def test_ingest_with_bad_lines_exits_2_and_keeps_the_good_ones(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = session("s1", 1)
    path = _write_jsonl(
        tmp_path / "mixed.jsonl",
        [good[0], "{not json", "[1, 2]", event("b", "Prompt", "p", session_id="s1"), *good[1:]],
    )
    assert main(["ingest", str(path)]) == 2
    out = capsys.readouterr().out
    assert "quarantined 3" in out
    assert "not valid JSON" in out and "Prompt needs content" in out
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hot"]["events"] == len(good)


def test_ingest_parquet(home: Path, tmp_path: Path) -> None:
    frame = normalize(session("s1", 2))
    pq.write_table(frame.to_arrow(), tmp_path / "events.parquet")
    assert main(["ingest", str(tmp_path / "events.parquet")]) == 0


def test_usage_errors_exit_2(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "events.csv").write_text("a,b\n")
    assert main(["ingest", str(tmp_path / "events.csv")]) == 2
    assert "unknown event file format" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["ingest"])
    assert exc.value.code == 2
    assert main([]) == 2


def test_home_flag_overrides_environment(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    path = _write_jsonl(tmp_path / "e.jsonl", session("s1", 1))
    assert main(["ingest", str(path), "--home", str(other)]) == 0
    assert (other / "hot.duckdb").exists() and not (home / "hot.duckdb").exists()


def test_keygen_writes_a_private_key_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "keys" / "pseudonym.key"
    assert main(["keygen", "--out", str(key)]) == 0
    assert len(bytes.fromhex(key.read_text().strip())) == 32
    assert key.stat().st_mode & 0o777 == 0o600
    assert main(["keygen", "--out", str(key)]) == 2  # never overwrites a key
    assert "refusing to overwrite" in capsys.readouterr().err


def test_options_before_the_subcommand_are_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from memgraph_ops.cli import main

    root = tmp_path / "elsewhere"
    assert main(["--home", str(root), "--json", "status"]) == 0
    assert json.loads(capsys.readouterr().out)["home"] == str(root)
    assert main(["status", "--home", str(root)]) == 0
    assert f"data root: {root}" in capsys.readouterr().out


def test_every_cli_option_and_argument_has_help_text() -> None:
    import argparse

    from memgraph_ops.cli import _parser

    missing = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif not action.help and action.dest != "help":
                missing.append(" ".join([*path, *(action.option_strings or [action.dest])]))

    walk(_parser(), ["memgraph-ops"])
    assert missing == []
