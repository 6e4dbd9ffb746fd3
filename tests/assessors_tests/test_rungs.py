"""The rung bookkeeping shared by the asha assessor and the schedulers."""

from __future__ import annotations

import math

from hyperloom.assessors._rungs import Rungs, geometric_levels, resources_of, value_at


def test_levels() -> None:
    assert geometric_levels(1, 3, 81) == (1, 3, 9, 27)
    assert geometric_levels(1, 3, 81, start=2) == (9, 27)
    assert geometric_levels(2, 2, None)[:3] == (2, 4, 8)
    assert geometric_levels(0.5, 2, 3) == (0.5, 1, 2)


def test_resources_and_value_at() -> None:
    assert resources_of([0, 1, 4], 3) == [1.0, 2.0, 5.0]
    assert resources_of(None, 2) == [1.0, 2.0]
    got = resources_of(None, 3, [{"epochs": 2}, {}, {"epochs": math.nan}], resource="epochs")
    assert got == [2.0, None, None]
    # the first report that reaches the level counts; a NaN there falls back to the last finite
    assert value_at([1, 2, 5], [0.3, 0.2, 0.1], 3) == 0.1
    assert value_at([1, 2, 5], [0.3, 0.2, math.nan], 3) == 0.2
    assert value_at([1, 2], [0.3, 0.2], 3) is None


def test_in_top_and_promotable() -> None:
    r = Rungs((1, 3), 3)
    for i, loss in enumerate([0.5, 0.1, 0.9]):
        r.record(0, f"t{i}", loss)
    assert not r.record(0, "t0", 0.0)  # a rung keeps the first value
    assert r.in_top(0, "t1") and not r.in_top(0, "t0") and not r.in_top(0, "t2")
    assert r.promotable(0, ["t0", "t2"]) is None  # only the best third (1 of 3) is promotable
    assert r.promotable(0, ["t2", "t1"]) == "t1"
    r.drop("t1")
    assert r.count(0) == 2 and r.promotable(0, ["t0"]) is None  # 2 // 3 == 0: nobody
    assert r.in_top(0, "t2")  # fewer than 3 values: nobody is below the bar
    assert r.record_reached("u", [1, 2, 3], [0.4, 0.3, 0.2]) == [0, 1]
    assert r.loss_at(1, "u") == 0.2 and r.snapshot()[1]["u"] == 0.4
