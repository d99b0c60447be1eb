"""Regression guard on real labelled data (`../shared/data/pii/`, presidio-research's set):
our character recall may not fall below stock Presidio's on any type, nor below the issue's
goal overall (0.85, with precision at least 0.85)."""

from __future__ import annotations

import pytest

from benchmarks import pii_real
from benchmarks.pii_eval import predict_ours, predict_stock, score
from benchmarks.pii_evalset import TYPES

pytestmark = pytest.mark.heavy


def test_recall_on_real_labelled_data_is_at_least_stock_on_every_type() -> None:
    if not all(p.exists() for p in (pii_real.SHARED / f for f in pii_real.FILES)):
        pytest.skip(f"the shared labelled set is not at {pii_real.SHARED}")
    docs = pii_real.load()
    stock, _ = score(docs, predict_stock(docs, fresh=False, which="real")[0])
    ours, _ = score(docs, predict_ours(docs)[0])
    below = {}
    for t in TYPES:
        s, o = stock.row(t), ours.row(t)
        if s["gold_chars"] and o["recall"] < s["recall"] - 0.005:
            below[t] = (o["recall"], s["recall"])
    assert below == {}, f"recall below stock (ours, stock): {below}"
    core = ours.aggregate(("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS",
                           "CREDIT_CARD"))  # fmt: skip
    assert core["micro_recall"] >= 0.85 and core["micro_precision"] >= 0.85, core
