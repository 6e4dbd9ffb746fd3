"""One-shot NAS: the supernet, DARTS / ENAS / SPOS, latency, proxies and the data helpers.
Tiny supernets on synthetic 6x6 data, a few steps each."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hyperloom.plugins.nas import cell_space, chain_space
from hyperloom.space import SearchSpace

torch = pytest.importorskip("torch")

from hyperloom.plugins.nas import (  # noqa: E402
    CurveExtrapolator,
    Dataset,
    Supernet,
    build_model,
    darts_search,
    enas_search,
    expected_latency,
    kendall_tau,
    measure_latency,
    one_shot_search,
    op_latency_table,
    size_corrected,
    spos_search,
)
from hyperloom.plugins.nas._darts import _second_order_grads, capped_skips, skip_count  # noqa: E402
from hyperloom.plugins.nas._proxies import fit_size_beta  # noqa: E402

OPS = ("sep_conv_3x3", "max_pool_3x3", "identity", "zero")


@pytest.fixture(autouse=True)
def _one_thread() -> object:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(n: int = 96, seed: int = 0) -> Dataset:
    """Two classes told apart by the sign of the image mean: learnable in a few steps."""
    rng = np.random.default_rng(seed)

    def part(m: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, m)
        x = rng.normal(0, 1, (m, 1, 6, 6)) + (2 * y - 1)[:, None, None, None] * 0.8
        return x.astype(np.float32), y.astype(np.int64)

    (xt, yt), (xv, yv), (xs, ys) = part(n), part(n // 2), part(n // 2)
    return Dataset("toy", xt, yt, xv, yv, xs, ys, num_classes=2)


def _cell(reduction: bool = True) -> Supernet:
    return Supernet(cell_space(2, ops=OPS, reduction=reduction), (1, 6, 6), 2, channels=4, layers=3)


def _valid(net: Supernet, arch: dict[str, object], raw: dict[str, object]) -> None:
    space = SearchSpace.from_nni(raw)
    assert set(arch) == {p.name for p in space.parameters} | set(net.fixed)
    for p in space.parameters:
        assert arch[p.name] in raw[p.name]["_value"]  # type: ignore[index]
    build_model(arch, (1, 6, 6), 2)  # a point build_model accepts


@pytest.mark.parametrize("kind", ["cell", "cell-shared", "chain"])
def test_a_path_is_the_extracted_network_with_inherited_weights(kind: str) -> None:
    torch.manual_seed(0)
    if kind == "chain":
        raw = chain_space(max_depth=3, ops=("conv_3x3", "identity", "avg_pool_3x3"), widths=[4, 8])
        net = Supernet(raw, (1, 6, 6), 2)
    else:
        net = _cell(reduction=kind == "cell")
    x = torch.randn(4, 1, 6, 6)
    rng = np.random.default_rng(1)
    # perturb batch-norm statistics so that copying them matters
    net.train()
    for _ in range(3):
        net(x, net.sample(rng))
    net.eval()
    for _ in range(4):
        arch = net.sample(rng)
        sub = net.extract(arch).eval()
        assert torch.allclose(net(x, arch), sub(x), atol=1e-5)
        fresh = net.extract(arch, inherit=False).eval()
        assert not torch.allclose(net(x, arch), fresh(x), atol=1e-3)


def test_mixed_forward_trains_alphas_and_derive_gives_a_valid_point() -> None:
    raw = cell_space(2, ops=OPS)
    net = Supernet(raw, (1, 6, 6), 2, channels=4, layers=3)
    out = net(torch.randn(3, 1, 6, 6))
    out.sum().backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in net.arch_parameters())
    with torch.no_grad():
        net.alphas["normal_n0_op0"].copy_(torch.tensor([0.0, 0.0, 0.0, 5.0]))  # zero wins
    arch = net.derive()
    assert arch["normal_n0_op0"] != "zero"  # DARTS leaves "zero" out of derived cells
    _valid(net, arch, raw)


def test_chain_supernet_refuses_nested_spaces_and_fixes_the_width() -> None:
    from hyperloom.errors import SearchSpaceError

    with pytest.raises(SearchSpaceError, match="nested"):
        Supernet(chain_space(max_depth=2, nested=True), (1, 6, 6), 2)
    net = Supernet(chain_space(max_depth=2, widths=[4, 8]), (1, 6, 6), 2, width=4)
    assert net.derive()["width"] == 4
    with pytest.raises(SearchSpaceError, match="width"):
        net.extract({**net.derive(), "width": 8})


def test_second_order_gradient_reduces_to_first_order_at_xi_zero() -> None:
    torch.manual_seed(0)
    net = _cell()
    xt, yt = torch.randn(8, 1, 6, 6), torch.randint(0, 2, (8,))
    xv, yv = torch.randn(8, 1, 6, 6), torch.randint(0, 2, (8,))
    net.eval()  # fixed batch-norm statistics: the passes below see the same function
    first = torch.autograd.grad(
        torch.nn.functional.cross_entropy(net(xv), yv), net.arch_parameters()
    )
    weights_before = [p.detach().clone() for p in net.weight_parameters()]
    same = _second_order_grads(net, xt, yt, xv, yv, 0.0, None, 0.0, 1.0)
    for a, b in zip(first, same, strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    unrolled = _second_order_grads(net, xt, yt, xv, yv, 0.5, None, 0.0, 1.0)
    assert any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(first, unrolled, strict=True))
    for p, q in zip(net.weight_parameters(), weights_before, strict=True):
        assert torch.equal(p.detach(), q)  # the virtual step is undone


@pytest.mark.parametrize("order", [1, 2])
def test_darts_search_moves_alphas_and_reports_each_epoch(order: int) -> None:
    net = _cell()
    before = [a.detach().clone() for a in net.arch_parameters()]
    seen: list[int] = []
    res = darts_search(
        net, _data(), epochs=2, batch_size=32, order=order, arch_lr=0.05,
        on_epoch=lambda e, m: seen.append(e) and False,  # type: ignore[func-returns-value]
    )  # fmt: skip
    assert seen == [0, 1] and len(res.history) == 2
    assert 0.0 <= res.history[-1]["supernet_acc"] <= 1.0 and 0.0 <= res.val_acc <= 1.0
    assert any(not torch.equal(a, b) for a, b in zip(before, net.arch_parameters(), strict=True))
    _valid(net, res.arch, cell_space(2, ops=OPS))
    assert skip_count(net, res.arch) <= 2


def test_the_collapse_guard_caps_parameter_free_ops() -> None:
    net = _cell(reduction=False)
    with torch.no_grad():
        for key, a in net.alphas.items():
            if "_op" in key:  # identity first, then sep_conv, then the pool
                a.copy_(torch.tensor([1.0, 0.5, 3.0, -1.0]))
    arch = net.derive()
    assert skip_count(net, arch) == 4  # two nodes, two inputs each: all identity
    capped = capped_skips(net, arch, max_skip=1)
    assert skip_count(net, capped) == 1
    replaced = [k for k in arch if arch[k] != capped[k]]
    assert len(replaced) == 3 and all(capped[k] == "sep_conv_3x3" for k in replaced)
    # early stopping: the guard ends the search at the first epoch past the warm-up
    res = darts_search(net, _data(), epochs=3, batch_size=32, max_skip=0, early_stop=True)
    assert len(res.history) == 1 and "early stop" in res.notes[0]
    assert skip_count(net, res.arch) == 0


def test_spos_evaluates_through_the_evolution_tuner() -> None:
    net = _cell()
    res = spos_search(net, _data(), epochs=1, batch_size=32, n_evals=12, population_size=4,
                      finetune_epochs=0, rerank=0)  # fmt: skip
    assert len(res.evaluations) == 12
    accs = [a for _, a in res.evaluations]
    assert res.val_acc == max(accs)
    assert len({tuple(sorted(a.items())) for a, _ in res.evaluations}) == 12  # distinct
    _valid(net, res.arch, cell_space(2, ops=OPS))


def test_fair_sampling_trains_every_option_equally_often() -> None:
    from hyperloom.plugins.nas._spos import FairSampler

    net = _cell()
    sampler = FairSampler(net, np.random.default_rng(0))
    m = sampler.m
    assert m == max(len(v) for v in net.decisions.values())
    blocks = 6
    paths = [sampler() for _ in range(m * blocks)]
    for key, opts in net.decisions.items():
        counts = [sum(1 for p in paths if p[key] == o) for o in opts]
        # per block every option gets floor(m/n) or ceil(m/n) draws; op keys exactly m/n
        assert all(blocks * (m // len(opts)) <= c <= blocks * -(-m // len(opts)) for c in counts)
        if m % len(opts) == 0:
            assert len(set(counts)) == 1, (key, counts)
    # uniform draws of the same length are (almost surely) unequal somewhere
    rng = np.random.default_rng(0)
    uni = [net.sample(rng) for _ in range(m * blocks)]
    key = "normal_n0_op0"
    assert len({sum(1 for p in uni if p[key] == o) for o in net.decisions[key]}) > 1


def test_lr_warmup_then_cosine() -> None:
    from hyperloom.plugins.nas._spos import _lr_factor

    f = [_lr_factor(t, 4, 20) for t in range(20)]
    assert f[:4] == [0.25, 0.5, 0.75, 1.0]
    assert f[4] == 1.0 and all(a >= b for a, b in itertools.pairwise(f[4:]))
    assert f[-1] < 0.05
    assert _lr_factor(0, 0, 10) == 1.0  # no warmup: plain cosine


def test_spos_fair_sampling_and_enas_warmup_run_and_say_so() -> None:
    net = _cell()
    res = spos_search(
        net, _data(), epochs=2, batch_size=32, n_evals=6, population_size=3, sampling="fair",
        warmup_epochs=1, bn_batches=1, n_val=20,
    )  # fmt: skip
    assert len(res.history) == 2 and len(res.evaluations) == 6
    with pytest.raises(ValueError, match="sampling"):
        spos_search(_cell(), _data(), epochs=1, sampling="nope")
    calls: list[int] = []
    res = enas_search(
        _cell(), _data(), epochs=2, batch_size=32, n_candidates=3, warmup_paths=1,
        controller_args={"batch_size": 2},
        on_epoch=lambda e, m: calls.append(e),
    )  # fmt: skip
    assert calls == [0, 1] and any("fair path sampling" in n for n in res.notes)


def test_capped_single_path_searches_only_derive_cells_within_the_darts_cap() -> None:
    from hyperloom.plugins.nas._spos import within_free_cap

    net = _cell(reduction=False)
    arch = {k: v[0] for k, v in net.decisions.items()}  # inputs 0, sep_conv everywhere
    assert within_free_cap(net, arch, 0)
    ops = [k for k in arch if "_op" in k]
    two_pools = {**arch, ops[0]: "max_pool_3x3", ops[1]: "identity"}
    assert within_free_cap(net, two_pools, 2) and not within_free_cap(net, two_pools, 1)
    assert not within_free_cap(net, {**arch, ops[0]: "zero"}, 4)  # DARTS never derives zero
    res = spos_search(net, _data(), epochs=1, batch_size=32, n_evals=5, population_size=3,
                      max_free=1, finetune_epochs=0, rerank=0)  # fmt: skip
    assert len(res.evaluations) == 5
    assert all(within_free_cap(net, a, 1) for a, _ in res.evaluations)
    assert within_free_cap(net, res.arch, 1)
    res = enas_search(_cell(reduction=False), _data(), epochs=1, batch_size=32, n_candidates=3,
                      max_free=1, controller_args={"batch_size": 2})  # fmt: skip
    assert within_free_cap(net, res.arch, 1) and any("cap 1" in n for n in res.notes)


def test_spos_searches_only_the_cells_a_feasibility_rule_accepts() -> None:
    from hyperloom.plugins.nas._spos import within_free_cap

    net = _cell(reduction=False)
    sizes = {}

    def small(arch: dict) -> bool:  # a parameter budget (the 11th smallest of 30 random cells)
        key = tuple(sorted(arch.items()))
        if key not in sizes:
            sizes[key] = net.extract(arch, inherit=False).num_parameters()
        return sizes[key] <= budget

    rng = np.random.default_rng(0)
    budget = sorted(
        net.extract(net.sample(rng), inherit=False).num_parameters() for _ in range(30)
    )[10]
    res = spos_search(net, _data(), epochs=1, batch_size=32, n_evals=4, population_size=3,
                      feasible=small, finetune_epochs=0, rerank=0)  # fmt: skip
    assert len(res.evaluations) == 4 and all(small(a) for a, _ in res.evaluations)
    assert small(res.arch) and any("infeasible" in n for n in res.notes)
    # with max_free as well, both rules hold
    res = spos_search(net, _data(), epochs=1, batch_size=32, n_evals=3, population_size=3,
                      feasible=small, max_free=2, finetune_epochs=0, rerank=0)  # fmt: skip
    assert all(small(a) and within_free_cap(net, a, 2) for a, _ in res.evaluations)


def test_finetuned_evaluation_trains_a_copy_and_spos_can_rank_by_it() -> None:
    from hyperloom.plugins.nas import evaluate_finetuned

    net, data = _cell(), _data()
    arch = net.sample(np.random.default_rng(0))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    acc = evaluate_finetuned(net, arch, data, epochs=1, batch_size=32)
    assert torch.equal(torch.rand(3), expected)  # torch's global random state is restored
    assert 0.0 <= acc <= 1.0
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # untouched
    assert evaluate_finetuned(net, arch, data, epochs=1, batch_size=32) == acc  # seeded
    res = spos_search(net, data, epochs=1, batch_size=32, n_evals=3, population_size=3,
                      finetune_epochs=1)  # fmt: skip
    assert len(res.evaluations) == 3 and any("fine-tuned 1 epoch" in n for n in res.notes)
    arch0, acc0 = res.evaluations[0]
    assert acc0 == evaluate_finetuned(net, arch0, data, epochs=1)


def test_rerank_compares_distinct_finalists_by_a_longer_finetuning() -> None:
    from hyperloom.plugins.nas import evaluate_finetuned
    from hyperloom.plugins.nas._oneshot import SearchResult
    from hyperloom.plugins.nas._spos import rerank_finetuned

    net, data = _cell(), _data()
    rng = np.random.default_rng(3)
    archs = [net.sample(rng) for _ in range(5)]
    ranked = [(0.9, archs[0]), (0.9, dict(archs[0])), (0.8, archs[1]), (0.1, archs[2]),
              (0.7, archs[3]), (0.0, archs[4])]  # fmt: skip
    res = SearchResult("spos", archs[4], 0.0)
    rerank_finetuned(net, data, ranked, top=3, epochs=2, seed=4, result=res)
    # the 3 best *distinct* cells, each scored by 2 epochs from the inherited weights, seed 5
    assert [a for a, _ in res.reranked] == [archs[0], archs[1], archs[3]]
    for a, acc in res.reranked:
        assert acc == evaluate_finetuned(net, a, data, epochs=2, seed=5)
    assert res.val_acc == max(acc for _, acc in res.reranked)
    assert res.arch == max(res.reranked, key=lambda t: t[1])[0]
    # a score decides when given: the smallest cell wins under "minus parameter count"
    res2 = SearchResult("spos", archs[4], 0.0)
    size = {id(a): net.extract(a, inherit=False).num_parameters() for a in archs}
    rerank_finetuned(net, data, ranked, top=3, epochs=1, seed=4, result=res2,
                     score=lambda a, acc: -net.extract(a, inherit=False).num_parameters())  # fmt: skip
    assert res2.arch == min((archs[0], archs[1], archs[3]), key=lambda a: size[id(a)])
    one = SearchResult("spos", archs[4], 0.0)
    rerank_finetuned(net, data, ranked[:2], top=3, epochs=1, seed=0, result=one)
    assert one.arch == archs[4] and not one.reranked  # one finalist: nothing to compare


def test_single_path_defaults_finetune_the_evaluations_and_rerank_the_top() -> None:
    from hyperloom.plugins.nas import evaluate_finetuned

    net, data = _cell(), _data()
    res = spos_search(net, data, epochs=1, batch_size=32, n_evals=6, population_size=3)
    assert len(res.evaluations) == 6 and len(res.reranked) == 5
    arch0, acc0 = res.evaluations[0]
    assert acc0 == evaluate_finetuned(net, arch0, data, epochs=1)  # 1 fine-tuned epoch
    assert res.val_acc == max(acc for _, acc in res.reranked)
    top5 = sorted(res.evaluations, key=lambda t: -t[1])[:5]
    assert {json.dumps(a, sort_keys=True) for a, _ in res.reranked} == {
        json.dumps(a, sort_keys=True) for a, _ in top5
    }
    assert any("re-ranked the top 5 by 3-epoch" in n for n in res.notes)


def test_enas_default_rewards_its_controller_with_finetuned_candidates(monkeypatch) -> None:
    import hyperloom.registry as registry
    from hyperloom.plugins.nas import evaluate_finetuned

    observed: list[float] = []
    real = registry.load_tuner

    def counting(*args, **kw):
        t = real(*args, **kw)
        obs = t.observe

        def observe(result):
            observed.append(result.value)
            return obs(result)

        t.observe = observe
        return t

    monkeypatch.setattr(registry, "load_tuner", counting)
    data = _data()
    runs = {}
    for ft in (0, 1):
        observed.clear()
        net = _cell()
        res = enas_search(net, data, epochs=1, batch_size=32, n_candidates=4,
                          controller_args={"batch_size": 2}, finetune_epochs=ft,
                          rerank=0 if ft == 0 else 3)  # fmt: skip
        runs[ft] = (len(observed), res, net)
    steps = len(data.y_train) // 32
    assert runs[0][0] == steps  # inherited protocol: rewards during training only
    n_ft, res, net = runs[1]
    draws = int(next(n for n in res.notes if "policy draws" in n).split(" of ")[1].split()[0])
    assert n_ft == steps + draws >= steps + len(res.evaluations)  # ... and per candidate draw
    keys = [json.dumps(a, sort_keys=True) for a, _ in res.evaluations]
    assert len(keys) == len(set(keys)) == 4  # distinct candidates, none evaluated twice
    a0, acc0 = res.evaluations[0]
    assert acc0 == evaluate_finetuned(net, a0, data, epochs=1, seed=0)
    assert len(res.reranked) == 3 and res.val_acc == max(a for _, a in res.reranked)


def test_enas_controller_is_the_rl_tuner_and_learns_from_rewards() -> None:
    net = _cell()
    res = one_shot_search("enas", net, _data(), epochs=1, batch_size=16, n_candidates=5,
                          finetune_epochs=0, rerank=0)  # fmt: skip
    assert len(res.evaluations) <= 5 and res.val_acc == max(a for _, a in res.evaluations)
    _valid(net, res.arch, cell_space(2, ops=OPS))
    with pytest.raises(ValueError, match="unknown one-shot method"):
        one_shot_search("nope", net, _data())
    assert enas_search is not None


def test_expected_latency_of_a_one_hot_supernet_is_its_path_sum() -> None:
    net = _cell(reduction=False)
    table = op_latency_table(net, warmup=1, runs=3)
    assert table and all(v > 0 for v in table.values())
    with torch.no_grad():
        for a in net.arch_parameters():
            a.fill_(-50.0)
            a[0] = 50.0  # input 0 and the first op (sep_conv_3x3) everywhere
    lat = float(expected_latency(net, table).detach())
    want = sum(
        table[(pos, 2 if cell.reduction else 1, 0)] * 4 for pos, cell in enumerate(net.cells)
    )
    assert lat == pytest.approx(want, rel=1e-4)
    net.zero_grad()
    with torch.no_grad():
        for a in net.arch_parameters():
            a.zero_()
    expected_latency(net, table).backward()
    assert net.alphas["normal_n0_op0"].grad is not None
    m = measure_latency(build_model(net.derive(), (1, 6, 6), 2), (1, 6, 6), warmup=1, runs=5)
    assert m["latency_ms"] > 0 and m["device"] == "cpu" and m["batch_size"] == 1


def test_darts_latency_term_moves_towards_cheaper_ops() -> None:
    def run(weight: float) -> float:
        torch.manual_seed(0)
        net = _cell(reduction=False)
        table = {k: (10.0 if k[2] == 0 else 0.1) for k in op_latency_table(net, warmup=0, runs=1)}
        darts_search(
            net, _data(), epochs=2, batch_size=32, arch_lr=0.05,
            latency_table=table, latency_weight=weight, seed=0,
        )  # fmt: skip
        return float(expected_latency(net, table).detach())

    assert run(5.0) < run(0.0)


def test_proxies() -> None:
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    sizes = np.exp(rng.uniform(7, 11, 40))
    final = rng.uniform(0.7, 0.9, 40)
    early = final - 0.03 * (np.log(sizes) - np.log(sizes).mean()) + rng.normal(0, 0.002, 40)
    beta = fit_size_beta(early, final, sizes)
    assert beta == pytest.approx(0.03, abs=0.005)
    fixed = size_corrected(early, sizes, beta)
    assert kendall_tau(fixed, final) > kendall_tau(early, final) + 0.2
    curve = [0.9 - 0.5 * math.exp(-0.4 * t) for t in range(1, 7)]
    pred = CurveExtrapolator(20).predict(curve)
    assert curve[-1] < pred <= 1.0
    assert CurveExtrapolator(20).predict([0.5, 0.6]) == 0.6  # too short to fit: last value


def test_mnist1d_split_is_deterministic() -> None:
    pytest.importorskip("mnist1d")
    from hyperloom.plugins.nas import load_mnist1d

    a, b = load_mnist1d(120, 40, 40, seed=3), load_mnist1d(120, 40, 40, seed=3)
    assert a.input_shape == (1, 1, 40) and a.x_train.shape == (120, 1, 1, 40)
    assert np.array_equal(a.x_val, b.x_val) and np.array_equal(a.y_test, b.y_test)
    assert a.x_test.shape[0] == 40 and set(np.unique(a.y_train)) <= set(range(10))


def test_fashion_mnist_subset(tmp_path: object) -> None:
    from hyperloom.plugins.nas._data import FASHION_MNIST_ROOT, DatasetError, load_fashion_mnist

    if not (FASHION_MNIST_ROOT / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("dataset-fashion-mnist is not installed")
    d = load_fashion_mnist(200, 100, 50, downsample=4, seed=1)
    assert d.input_shape == (1, 7, 7) and len(d.y_val) == 100 and len(d.y_test) == 50
    assert abs(float(d.x_train.mean())) < 1e-4 and len(np.unique(d.y_train)) == 10
    again = load_fashion_mnist(200, 100, 50, downsample=4, seed=1)
    assert np.array_equal(d.x_val, again.x_val)
    with pytest.raises(DatasetError, match="exceeds"):
        load_fashion_mnist(60_000, 10)
    with pytest.raises(DatasetError, match="cannot read"):
        load_fashion_mnist(10, 10, 10, root=str(tmp_path))
