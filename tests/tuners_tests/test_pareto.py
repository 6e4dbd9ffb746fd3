"""hyperloom.pareto against brute force: dominance by definition, hypervolume by
inclusion-exclusion (exact) and Monte Carlo (large sets)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hyperloom import pareto
from hyperloom.types import Objective


def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def _brute_mask(p: np.ndarray) -> np.ndarray:
    fin = np.all(np.isfinite(p), axis=1)
    return np.array(
        [
            bool(fin[i]) and not any(fin[j] and _dominates(p[j], p[i]) for j in range(len(p)))
            for i in range(len(p))
        ]
    )


def _brute_ranks(p: np.ndarray) -> np.ndarray:
    ranks = np.full(len(p), -1)
    left = list(range(len(p)))
    r = 0
    while left:
        front = [i for i in left if not any(_dominates(p[j], p[i]) for j in left)]
        for i in front:
            ranks[i] = r
        left = [i for i in left if i not in front]
        r += 1
    return ranks


def _inclusion_exclusion(p: np.ndarray, ref: np.ndarray) -> float:
    p = p[np.all(p < ref, axis=1)]
    total = 0.0
    for size in range(1, len(p) + 1):
        for sub in itertools.combinations(range(len(p)), size):
            corner = p[list(sub)].max(axis=0)
            total += (-1) ** (size + 1) * float(np.prod(ref - corner))
    return total


@pytest.mark.parametrize("m", [2, 3, 4, 5])
def test_pareto_mask_matches_definition_with_ties(m: int) -> None:
    rng = np.random.default_rng(m)
    for _ in range(40):
        p = rng.integers(0, 4, size=(int(rng.integers(1, 40)), m)).astype(float)
        if rng.random() < 0.3:
            p[rng.integers(len(p))] = np.nan
        np.testing.assert_array_equal(pareto.pareto_mask(p), _brute_mask(p))


def test_pareto_mask_two_objectives_sorted_path_with_ties() -> None:
    # above 128 rows two objectives take the one-sort path: ties in x, in y, duplicated front
    # rows and NaN rows against the definition
    rng = np.random.default_rng(7)
    for k in range(60):
        n = int(rng.integers(129, 400))
        p = rng.integers(0, int(rng.integers(2, 15)), size=(n, 2)).astype(float)
        if k % 3 == 0:
            p[rng.integers(0, n, 4), rng.integers(0, 2, 4)] = np.nan
        np.testing.assert_array_equal(pareto.pareto_mask(p), _brute_mask(p))


def test_pareto_mask_large_front_paths() -> None:
    rng = np.random.default_rng(0)
    for m in (2, 3, 4):
        x = rng.random((600, m))
        x /= np.linalg.norm(x, axis=1, keepdims=True)  # every point on the front
        x = np.concatenate([x, x[:50] + 0.01])  # plus some dominated ones
        mask = pareto.pareto_mask(x)
        assert mask[:600].all() and not mask[600:].any()


@pytest.mark.parametrize("m", [2, 3, 4])
def test_non_dominated_sort_matches_peeling(m: int) -> None:
    rng = np.random.default_rng(10 + m)
    for _ in range(20):
        p = rng.integers(0, 5, size=(30, m)).astype(float)
        np.testing.assert_array_equal(pareto.non_dominated_sort(p), _brute_ranks(p))


def test_non_dominated_sort_large_path_agrees_and_nan_last() -> None:
    rng = np.random.default_rng(3)
    p = rng.random((2100, 2))
    big = pareto.non_dominated_sort(p)  # peeling path (> 2000 rows)
    small = pareto.non_dominated_sort(p[:1500])  # pairwise-matrix path
    assert big.max() > 5
    # the ranks of a subset are not those of the whole, but the front of the subset is
    np.testing.assert_array_equal(small == 0, pareto.pareto_mask(p[:1500]))
    np.testing.assert_array_equal(big == 0, pareto.pareto_mask(p))
    q = np.array([[1.0, 2.0], [np.nan, 0.0], [2.0, 1.0], [3.0, 3.0]])
    np.testing.assert_array_equal(pareto.non_dominated_sort(q), [0, 2, 0, 1])


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
def test_hypervolume_equals_inclusion_exclusion(m: int) -> None:
    rng = np.random.default_rng(100 + m)
    for _ in range(25):
        n = int(rng.integers(1, 9))
        p = rng.random((n, m))
        if rng.random() < 0.3:
            p = np.round(p * 3) / 3  # ties and duplicates
        ref = np.full(m, 1.05)
        if rng.random() < 0.3:
            ref = np.full(m, 0.7)  # some points outside the box
        exact = _inclusion_exclusion(p, ref)
        assert pareto.hypervolume(p, ref) == pytest.approx(exact, rel=1e-9, abs=1e-12)


def test_hypervolume_3d_matches_monte_carlo_on_a_large_set() -> None:
    rng = np.random.default_rng(7)
    p = rng.random((400, 3)) ** 0.5
    p /= np.linalg.norm(p, axis=1, keepdims=True) + 0.2 * rng.random((400, 1))
    ref = np.array([1.2, 1.1, 1.3])
    hv = pareto.hypervolume(p, ref)
    n_mc = 200_000
    u = rng.random((n_mc, 3)) * ref
    front = p[pareto.pareto_mask(p)]
    covered = np.zeros(n_mc, dtype=bool)
    for row in front:
        covered |= np.all(u >= row, axis=1)
    box = float(np.prod(ref))
    est = covered.mean() * box
    sd = math.sqrt(covered.mean() * (1 - covered.mean()) / n_mc) * box
    assert abs(hv - est) < 4 * sd + 1e-12


def test_hypervolume_3d_with_constant_third_objective_is_area_times_height() -> None:
    rng = np.random.default_rng(5)
    p2 = rng.random((300, 2))
    p3 = np.column_stack([p2, np.full(300, 0.25)])
    area = pareto.hypervolume(p2, [1.0, 1.0])
    assert pareto.hypervolume(p3, [1.0, 1.0, 2.0]) == pytest.approx(area * 1.75, rel=1e-12)


def test_hypervolume_ignores_bad_rows_and_derives_reference() -> None:
    p = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [np.nan, 0.0], [5.0, 5.0]])
    ref = pareto.reference_point(p[[0, 1, 2]])
    np.testing.assert_allclose(ref, [3.2, 3.2])  # nadir 3 + 10% of range 2
    assert pareto.hypervolume(p, [4.0, 4.0]) == pytest.approx(3 * 1 + 2 * 1 + 1 * 1)
    assert pareto.hypervolume(p[:3]) == pytest.approx(_inclusion_exclusion(p[:3], ref))
    assert pareto.hypervolume(np.empty((0, 2)), [1.0, 1.0]) == 0.0
    assert pareto.hypervolume(p[[4]], [4.0, 4.0]) == 0.0
    with pytest.raises(ValueError, match="reference point has 3"):
        pareto.hypervolume(p, [1.0, 1.0, 1.0])


def test_reference_point_zero_range() -> None:
    np.testing.assert_allclose(pareto.reference_point([[2.0, 0.0], [2.0, 0.0]]), [2.2, 0.1])
    with pytest.raises(ValueError, match="no finite point"):
        pareto.reference_point([[np.nan, 1.0]])


@pytest.mark.parametrize("m", [2, 3])
def test_contributions_are_leave_one_out(m: int) -> None:
    rng = np.random.default_rng(20 + m)
    for _ in range(10):
        p = rng.random((7, m))
        p[3] = p[2]  # a duplicate contributes nothing
        ref = np.full(m, 1.1)
        c = pareto.hypervolume_contributions(p, ref)
        total = _inclusion_exclusion(p, ref)
        for i in range(len(p)):
            rest = np.delete(p, i, axis=0)
            assert c[i] == pytest.approx(total - _inclusion_exclusion(rest, ref), abs=1e-12)


def test_crowding_distance_by_hand() -> None:
    p = np.array([[0.0, 4.0], [1.0, 3.0], [3.0, 1.0], [4.0, 0.0]])
    d = pareto.crowding_distance(p)
    assert math.isinf(d[0]) and math.isinf(d[3])
    assert d[1] == pytest.approx(3 / 4 + 3 / 4)
    assert d[2] == pytest.approx(3 / 4 + 3 / 4)
    assert np.isinf(pareto.crowding_distance(p[:2])).all()


def test_select_by_rank_keeps_fronts_then_hypervolume() -> None:
    p = np.array(
        [
            [0.0, 1.0],  # front 0
            [1.0, 0.0],  # front 0
            [0.5, 0.5],  # front 0, in the middle
            [0.55, 0.52],  # front 1: close to the middle
            [0.2, 0.9],  # front 1
            [0.9, 0.2],  # front 1
            [2.0, 2.0],  # front 2
            [np.nan, 0.0],
        ]
    )
    sel = pareto.select_by_rank(p, 5, ref=[3.0, 3.0])
    # the whole first front, then the two of front 1 that keep the most hypervolume
    assert sel.tolist() == [0, 1, 2, 4, 5]
    assert pareto.select_by_rank(p, 3).tolist() == [0, 1, 2]
    assert pareto.select_by_rank(p, 100).tolist() == list(range(8))


def test_as_losses() -> None:
    objs = [Objective("acc", "maximize"), Objective("lat", "minimize")]
    out = pareto.as_losses([(0.9, 3.0), None, (0.8, float("nan")), (0.5,)], objs)
    np.testing.assert_array_equal(out[0], [-0.9, 3.0])
    assert np.isnan(out[1]).all() and np.isnan(out[2, 1]) and out[2, 0] == -0.8
    assert np.isnan(out[3, 1])
    assert pareto.as_losses([(1, 2)], ["min", "max"]).tolist() == [[1.0, -2.0]]
    with pytest.raises(ValueError, match="mode"):
        pareto.as_losses([(1,)], ["up"])
