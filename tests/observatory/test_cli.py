"""`metrics` and `lineage` through `register`, with a parser like memgraph_ops.cli's."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from memgraph_ops.errors import ConfigError, InputError, MemgraphError
from memgraph_ops.observatory.cli import register


def run(argv: list[str]) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=None)
    common.add_argument("--json", action="store_true")
    parser = argparse.ArgumentParser(prog="memgraph-ops", parents=[common])
    register(parser.add_subparsers(dest="command"), common)
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except (InputError, ConfigError) as exc:
        print(f"memgraph-ops: {exc}", file=__import__("sys").stderr)
        return 2
    except MemgraphError:
        return 1


def test_metrics_then_rerun(writable_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["metrics", "--home", str(writable_home), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["days_computed"] and first["snapshot_rows"]["templates"] == 12
    assert run(["metrics", "--home", str(writable_home)]) == 0
    assert "nothing new" in capsys.readouterr().out


def test_lineage_of_a_template(generated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["lineage", "CodeAssist.TPL.005", "--home", str(generated_home), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in payload["descendants"]] == [
        "CodeReview.TPL.006",
        "SecurityReview.TPL.007",
    ]
    assert payload["prompts"] > 0
    assert (
        run(
            [
                "lineage",
                "CodeAssist.TPL.005",
                "--as-of",
                "1",
                "--since",
                "1",
                "--home",
                str(generated_home),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "CodeAssist@" in out and "since 1:" in out
    assert run(["lineage", "--home", str(generated_home)]) == 0
    assert "SecurityReview.TPL.007" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lineage", "Nope.TPL.1"], "unknown template"),
        (["lineage", "CodeAssist.TPL.005", "--as-of", "last tuesday"], "neither a Delta version"),
        (["lineage", "CodeAssist.TPL.005", "--as-of", "4000"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    generated_home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run([*argv, "--home", str(generated_home)]) == 2
    assert message in capsys.readouterr().err


def test_lineage_on_an_empty_data_root_says_what_to_do(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["lineage", "X", "--home", str(home)]) == 2
    assert "memgraph-ops compact" in capsys.readouterr().err
