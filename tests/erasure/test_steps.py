"""An erasure is a list of typed steps over a `Progress` saved in the request."""

from __future__ import annotations

import json

from memgraph_ops.erasure.steps import STEPS, Progress

# what a request queued by the version whose `_execute` kept a plain dict had on disk
OLD_PROGRESS = {
    "stated_identifiers": 1,
    "found": True,
    "hot_dirty": True,
    "plan": {"hot": {"events": 3}},
    "started": "2026-01-01T00:00:00+00:00",
    "counts": {"hot": {"events": 3}},
    "files": ["/data/hot.duckdb"],
    "timings": {"plan": 0.5, "hot": 0.25},
    "dirty_tables": ["nodes"],
    "seconds": 0.75,
}


def test_a_request_queued_before_the_steps_resumes_from_its_dict() -> None:
    progress = Progress.from_dict(json.loads(json.dumps(OLD_PROGRESS)))
    assert progress.hot_dirty and not progress.hot_rewritten
    assert progress.dirty_tables == ["nodes"] and progress.stated_identifiers == 1
    assert progress.as_dict() == {**OLD_PROGRESS, "hot_rewritten": False}
    assert Progress.from_dict({**OLD_PROGRESS, "retired": 1}) == progress  # unknown keys dropped


def test_counts_add_up_across_attempts_and_skip_what_is_not_a_count() -> None:
    progress = Progress()
    progress.add("vault", {"frames_removed": 2, "files": ["p1"], "ok": True})
    progress.add("vault", {"frames_removed": 1})
    assert progress.counts == {"vault": {"frames_removed": 3}}


def test_steps_run_in_order_and_keep_the_crash_points_tests_kill_at() -> None:
    names = [step.__name__.lstrip("_") for step, _ in STEPS]
    assert names == [
        "remove_leftovers", "plan", "tombstone", "erase_hot", "rewrite_hot", "erase_vault",
        "erase_lake", "scrub_history", "verify", "sign_receipt",
    ]  # fmt: skip
    points = {step.__name__.lstrip("_"): point for step, point in STEPS if point}
    assert points == {
        "erase_hot": "erase:after_hot",
        "erase_vault": "erase:after_vault",
        "scrub_history": "erase:before_verify",
    }
