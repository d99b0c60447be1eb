"""Lineage history through Delta time travel."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from memgraph_ops.errors import InputError
from memgraph_ops.lake import Lake
from memgraph_ops.observatory import history, lineage


def _first_compaction_version(lake: Lake) -> int:
    commits = lake.history("nodes").filter(pl.col("seq_to").is_not_null()).sort("version")
    first_seq = commits["seq_to"][0]
    return int(commits.filter(pl.col("seq_to") == first_seq)["version"].max())  # type: ignore[arg-type]


def test_lineage_as_of_the_first_compaction_sees_fewer_prompts(lake: Lake) -> None:
    version = _first_compaction_version(lake)
    then = history.lineage_as_of(lake, "AssistantBase.TPL.001", version)
    now = history.lineage_as_of(lake, "AssistantBase.TPL.001")
    assert then.as_dict()["prompts"] < now.as_dict()["prompts"]
    # as of that version exactly the prompts of the first compaction are there
    nodes, edges = history.frames_as_of(lake, version)
    made = lineage.prompt_lineage(nodes, edges).filter(pl.col("root") == "AssistantBase.TPL.001")
    assert then.as_dict()["prompts"] == made.height
    seq = int(lake.history("nodes").filter(pl.col("version") == version)["seq_to"][0])
    assert edges.select(pl.col("last_seq").max()).collect().item() <= seq
    assert nodes.select(pl.col("last_seq").max()).collect().item() <= seq


def test_template_versions_change_over_time(lake: Lake) -> None:
    version = _first_compaction_version(lake)
    diff = history.lineage_diff(lake, before=version)
    changed = diff.filter(pl.col("version_before") != pl.col("version_after"))
    assert changed.height > 0  # releases in the second half of the window
    assert diff["new_prompts"].sum() > 0
    assert (diff["new_prompts"] >= 0).all()
    same = history.lineage_diff(lake, before=version, after=version)
    assert same["new_prompts"].sum() == 0


def test_lineage_as_of_a_time(lake: Lake) -> None:
    stamp = lake.history("nodes")["timestamp"].max()
    found = history.lineage_as_of(lake, "CodeReview.TPL.006", stamp.isoformat())
    assert found.ancestors["id"].to_list() == ["CodeAssist.TPL.005", "AssistantBase.TPL.001"]
    assert found.descendants["id"].to_list() == ["SecurityReview.TPL.007"]


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("yesterday", "neither a Delta version"),
        ("999", "version 999 does not exist"),
        ("1999-01-01", "before the lake's first commit"),
    ],
)
def test_bad_as_of_is_a_clear_input_error(lake: Lake, as_of: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        history.lineage_as_of(lake, "CodeReview.TPL.006", as_of)


def test_unknown_template_is_a_clear_input_error(lake: Lake) -> None:
    with pytest.raises(InputError, match=r"unknown template 'NoSuch\.TPL\.1'"):
        history.lineage_as_of(lake, "NoSuch.TPL.1")


def test_naive_times_mean_utc(lake: Lake) -> None:
    assert history.parse_as_of(lake, "2999-01-01") == datetime(2999, 1, 1, tzinfo=UTC)
