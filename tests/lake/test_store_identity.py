"""A lost or replaced hot.duckdb never breaks exactly-once silently (issue 10, item 2)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

import memgraph_ops
from memgraph_ops import Memgraph
from memgraph_ops.cli import main
from memgraph_ops.errors import StoreMismatchError
from memgraph_ops.lake import Lake, compact, no_redaction
from memgraph_ops.store import Store
from tests.factories import event, session


def _lose_store(mg: Memgraph) -> None:
    mg.close()
    path = mg.settings.store_path
    for file in (path, path.with_name(path.name + ".wal")):
        file.unlink(missing_ok=True)


def _assert_exactly_once(lake: Lake, expected_ids: set[str]) -> None:
    log = lake.event_log()
    assert log["event_id"].is_duplicated().sum() == 0, "an event reached the lake twice"
    assert set(log["event_id"]) == expected_ids, "an event never reached the lake"


def test_a_recreated_store_follows_the_lakes_watermark(mg: Memgraph, home: Path) -> None:
    first = session("s1", 20)  # 101 events
    mg.ingest(first)
    mg.compact(redact=no_redaction)
    watermark = mg.lake.watermark()
    _lose_store(mg)

    with memgraph_ops.open(home) as again:
        late = session("s2", 1)
        result = again.ingest(late)
        assert result.first_seq == watermark + 1
        assert again.ingest(first[:10]).accepted == 0, "the lake's event ids are remembered"
        report = again.compact(redact=no_redaction)
        assert report.events == len(late)
        more = session("s3", 30)  # enough to pass the old watermark
        again.ingest(more)
        again.compact(redact=no_redaction)
        _assert_exactly_once(again.lake, {e["event_id"] for e in first + late + more})


def test_a_store_the_lake_does_not_know_is_refused_then_adopted(mg: Memgraph, home: Path) -> None:
    first = session("s1", 20)
    mg.ingest(first)
    mg.compact(redact=no_redaction)
    _lose_store(mg)

    # the public Store, without the facade: nothing seeds its seq
    with Store.open(mg.settings.store_path) as store:
        late = session("s2", 2)
        store.ingest(late)
        with pytest.raises(StoreMismatchError, match="--adopt-store"):
            compact(store, mg.lake)
        assert mg.lake.event_log().height == len(first), "the refusal wrote nothing"
        report = compact(store, mg.lake, adopt=True)
        assert report.events == len(late)
        assert store.ingest(first[:5]).accepted == 0
    _assert_exactly_once(mg.lake, {e["event_id"] for e in first + late})


def test_the_cli_says_how_to_adopt_a_replaced_store(
    mg: Memgraph, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mg.ingest(session("s1", 20))
    mg.compact(redact=no_redaction)
    _lose_store(mg)
    with Store.open(mg.settings.store_path) as store:
        store.ingest(session("s2", 1))
    argv = ["--home", str(home), "compact"]
    assert main(argv) == 1
    assert "--adopt-store" in capsys.readouterr().err
    assert main([*argv, "--adopt-store"]) == 0
    assert mg.lake.event_log().filter(pl.col("session_id") == "s2").height == 6


def test_a_store_from_before_store_ids_keeps_compacting(mg: Memgraph, home: Path) -> None:
    mg.ingest(session("s1", 2))
    mg.compact(redact=no_redaction)
    mg.close()
    con = duckdb.connect(str(mg.settings.store_path))
    con.execute("DELETE FROM meta WHERE key IN ('store_id', 'seq_base')")  # as an old file
    con.close()
    with memgraph_ops.open(home) as again:
        assert again.store.identity().legacy
        again.ingest([event("e-late", "Prompt", "p-late", session_id="s1", content="x")])
        assert again.compact(redact=no_redaction).events == 1
        assert again.lake.event_log().height == len(session("s1", 2)) + 1
