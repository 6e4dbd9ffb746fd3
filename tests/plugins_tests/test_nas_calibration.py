"""Size calibration of inherited-weight rewards (SPOS's evolution, ENAS's controller and pick):
the fit, and that the searches rank by the calibrated score. Tiny supernets on synthetic data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hyperloom.plugins.nas import cell_space
from hyperloom.plugins.nas._proxies import fit_size_calibration

torch = pytest.importorskip("torch")

from hyperloom.plugins.nas import Dataset, Supernet, enas_search, spos_search  # noqa: E402
from hyperloom.plugins.nas._calibrate import SizeCalibration  # noqa: E402

OPS = ("sep_conv_3x3", "max_pool_3x3", "identity", "zero")


@pytest.fixture(autouse=True)
def _one_thread() -> object:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(n: int = 96, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)

    def part(m: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, m)
        x = rng.normal(0, 1, (m, 1, 6, 6)) + (2 * y - 1)[:, None, None, None] * 0.8
        return x.astype(np.float32), y.astype(np.int64)

    (xt, yt), (xv, yv), (xs, ys) = part(n), part(n // 2), part(n // 2)
    return Dataset("toy", xt, yt, xv, yv, xs, ys, num_classes=2)


def _net() -> Supernet:
    return Supernet(cell_space(2, ops=OPS, reduction=False), (1, 6, 6), 2, channels=4, layers=2)


def test_fit_recovers_the_ratio_of_the_weights_and_never_punishes_accuracy() -> None:
    rng = np.random.default_rng(0)
    early = rng.uniform(0.3, 0.6, 40)
    sizes = np.exp(rng.uniform(7, 9, 40))
    final = 0.5 * early + 0.1 * np.log(sizes) + rng.normal(0, 0.002, 40)
    w_acc, w_size = fit_size_calibration(early, final, sizes, ridge=0.0)
    assert w_acc == pytest.approx(0.5, abs=0.03)
    assert w_size == pytest.approx(0.1, abs=0.01)
    # accuracy anti-correlated with the target: its weight is 0 and size alone is fitted
    w_acc, w_size = fit_size_calibration(-early, final, sizes, ridge=0.0)
    assert w_acc == 0.0
    assert w_size > 0.05
    with pytest.raises(ValueError):
        fit_size_calibration([0.5], [0.6], [100.0])


def test_spos_ranks_by_the_calibrated_score_and_records_it() -> None:
    data = _data()
    net = _net()
    res = spos_search(
        net, data, epochs=1, batch_size=32, n_evals=6, population_size=3, sample_size=2,
        n_val=None, bn_batches=1, size_calibration=3, calibration_epochs=1, seed=0,
        finetune_epochs=0, rerank=0,
    )  # fmt: skip
    cal = res.calibration
    assert cal is not None and len(cal["archs"]) == 3 and len(cal["inherited"]) == 3
    assert len(res.scores) == len(res.evaluations) == 6
    for (arch, acc), score in zip(res.evaluations, res.scores, strict=True):
        size = net.extract(arch, inherit=False).num_parameters()
        assert score == pytest.approx(cal["w_acc"] * acc + cal["w_size"] * math.log(size))
    best = int(np.argmax(res.scores))
    assert res.arch == res.evaluations[best][0]
    assert res.val_acc == res.evaluations[best][1]
    assert any("size calibration on 3 retrained cells" in n for n in res.notes)


def test_enas_picks_its_candidate_by_the_calibrated_score() -> None:
    data = _data()
    res = enas_search(
        _net(), data, epochs=2, batch_size=32, warmup_paths=1, n_candidates=4,
        reward_batch=16, size_calibration=2, calibration_epochs=1, seed=0,
        finetune_epochs=0, rerank=0,
    )  # fmt: skip
    assert res.calibration is not None
    assert len(res.scores) == len(res.evaluations) == 4
    assert res.arch == res.evaluations[int(np.argmax(res.scores))][0]
    assert sum("size calibration" in n for n in res.notes) == 2  # warm-up fit, then final fit


def test_calibration_leaves_the_torch_random_state_alone() -> None:
    net, data = _net(), _data()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    SizeCalibration(net, data, n_cells=2, epochs=1, batch_size=32)
    assert torch.equal(torch.rand(3), expected)
    with pytest.raises(ValueError, match="at least 2"):
        SizeCalibration(_net(), _data(), n_cells=1)
