"""The first-party NAS plugin: the spaces (no torch), build_model, parameter count and FLOPs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hyperloom.errors import MissingDependencyError, SearchSpaceError
from hyperloom.plugins.nas import CELL_OPS, KNOWN_OPS, build_model, cell_space, chain_space
from hyperloom.space import SearchSpace

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_thread() -> object:
    """One torch thread: on a small shared machine, more threads are much slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_importing_the_plugin_and_its_spaces_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from hyperloom import registry\n"
        "s = registry.load_search_space('nas_cell', {})\n"
        "s = registry.load_search_space('nas_chain', {'nested': True})\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(len(s))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 0


def test_cell_space_shape() -> None:
    raw = cell_space(num_nodes=3)
    space = SearchSpace.from_nni(raw)
    assert len(space) == 2 * 3 * 4  # normal + reduce, 3 nodes, 2 inputs x (input, op)
    # node k chooses among the two cell inputs and the k earlier nodes
    assert raw["normal_n0_in1"]["_value"] == [0, 1]
    assert raw["normal_n2_in0"]["_value"] == [0, 1, 2, 3]
    assert raw["reduce_n1_op0"]["_value"] == list(CELL_OPS)
    assert "reduce_n0_in0" not in cell_space(num_nodes=3, reduction=False)
    assert space.size() == float((2 * 2 * 3 * 3 * 4 * 4 * 8**6) ** 2)  # inputs, ops; twice


def test_chain_space_shape() -> None:
    raw = chain_space(max_depth=4, min_depth=2, widths=[8, 16])
    assert raw["depth"]["_value"] == [2, 3, 4]
    assert raw["width"]["_value"] == [8, 16]
    assert "layer0_skip" not in raw
    assert raw["layer3_skip"]["_value"] == [0, 2, 3, 4]
    nested = SearchSpace.from_nni(chain_space(max_depth=2, nested=True))
    conds = {p.name: p.condition for p in nested.parameters}
    assert any(name.startswith("layer0/") and c is not None for name, c in conds.items())
    no_skip = chain_space(max_depth=3, skip=False)
    assert not any(k.endswith("_skip") for k in no_skip)


@pytest.mark.parametrize(
    ("fn", "options", "word"),
    [
        (cell_space, {"num_nodes": 0}, "num_nodes"),
        (cell_space, {"ops": ["sep_conv_3x3", "conv_7x7"]}, "conv_7x7"),
        (cell_space, {"ops": []}, "ops"),
        (cell_space, {"reduction": "yes"}, "reduction"),
        (chain_space, {"max_depth": 2, "min_depth": 3}, "min_depth"),
        (chain_space, {"ops": ["zero"]}, "zero"),
        (chain_space, {"widths": [16, -1]}, "widths"),
        (cell_space, {"extra": {"normal_n0_in0": {"_type": "choice", "_value": [1]}}}, "clash"),
    ],
)
def test_bad_options_name_the_option(fn: object, options: dict[str, object], word: str) -> None:
    with pytest.raises(SearchSpaceError, match=word):
        fn(**options)  # type: ignore[operator]


def test_extra_parameters_are_merged_and_ignored_by_build_model() -> None:
    extra = {"lr": {"_type": "loguniform", "_value": [1e-3, 1e-1]}}
    space = SearchSpace.from_nni(cell_space(num_nodes=2, extra=extra))
    arch = space.sample(0)
    assert 1e-3 <= arch["lr"] <= 1e-1
    model = build_model(arch, (1, 8, 8), 10, channels=4, layers=2)
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize(
    ("raw", "shape"),
    [
        (cell_space(num_nodes=2), (1, 8, 8)),
        (cell_space(num_nodes=3, reduction=False), (3, 7, 9)),
        (chain_space(max_depth=4), (1, 8, 8)),
        (chain_space(max_depth=4, nested=True, widths=[4, 8]), (3, 5, 5)),
    ],
)
def test_every_sample_builds_and_runs(raw: dict[str, object], shape: tuple[int, int, int]) -> None:
    space = SearchSpace.from_nni(raw)
    for seed in range(8):
        arch = space.sample(seed)
        model = build_model(arch, shape, 7, channels=4, layers=3)
        out = model(torch.randn(3, *shape))
        assert out.shape == (3, 7)
        assert model.num_parameters() > 0 and model.flops() > 0


def test_all_ops_on_every_edge_of_a_reduction_cell() -> None:
    for op in KNOWN_OPS:
        arch = {f"normal_n0_in{j}": j for j in (0, 1)} | {f"normal_n0_op{j}": op for j in (0, 1)}
        model = build_model(arch, (2, 9, 9), 3, channels=4, layers=3, reduce_at=[0, 1])
        assert model(torch.randn(2, 2, 9, 9)).shape == (2, 3), op


def test_parameter_count_and_flops_are_exact_for_a_plain_chain() -> None:
    # stem conv 1->8 3x3 on 6x6, one conv_3x3 8->8 layer, linear 8->10 (+ BN affine params)
    arch = {"depth": 1, "width": 8, "layer0_op": "conv_3x3"}
    model = build_model(arch, (1, 6, 6), 10)
    convs = 1 * 8 * 9 + 8 * 8 * 9
    bns = 2 * (2 * 8)
    linear = 8 * 10 + 10
    assert model.num_parameters() == convs + bns + linear
    assert model.flops() == 36 * 8 * 1 * 9 + 36 * 8 * 8 * 9 + 8 * 10
    assert model.training  # flops() leaves the mode alone


def test_skip_connections_and_zero_change_the_network() -> None:
    base = {
        "depth": 3,
        "width": 8,
        "layer0_op": "conv_3x3",
        "layer1_op": "conv_3x3",
        "layer2_op": "conv_3x3",
    }
    plain = build_model(base, (1, 8, 8), 10)
    skip = build_model({**base, "layer2_skip": 3}, (1, 8, 8), 10)
    assert plain.num_parameters() == skip.num_parameters()  # identity skip, same widths
    assert len(skip.plan) == 3 and skip.plan[2][2] == 3
    zero = {f"normal_n0_in{j}": j for j in (0, 1)} | {f"normal_n0_op{j}": "zero" for j in (0, 1)}
    sep = {**zero, "normal_n0_op0": "sep_conv_5x5"}
    assert (
        build_model(sep, (1, 8, 8), 10).num_parameters()
        > build_model(zero, (1, 8, 8), 10).num_parameters()
    )


@pytest.mark.parametrize(
    ("arch", "word"),
    [
        (
            {
                "normal_n0_in0": 0,
                "normal_n0_op0": "zero",
                "normal_n0_in1": 5,
                "normal_n0_op1": "zero",
            },
            "normal_n0_in1",
        ),
        ({"normal_n0_in0": 0, "normal_n0_op0": "zero", "normal_n0_in1": 1}, "normal_n0_op1"),
        (
            {
                "normal_n0_in0": 0,
                "normal_n0_op0": "warp",
                "normal_n0_in1": 1,
                "normal_n0_op1": "zero",
            },
            "warp",
        ),
        ({"depth": 2, "width": 8, "layer0_op": "conv_3x3"}, "layer1_op"),
        (
            {
                "depth": 2,
                "width": 8,
                "layer0_op": "conv_3x3",
                "layer1_op": "conv_3x3",
                "layer1_skip": 1,
            },
            "layer1_skip",
        ),
        ({"lr": 0.1}, "cannot tell"),
    ],
)
def test_bad_architectures_name_the_key(arch: dict[str, object], word: str) -> None:
    with pytest.raises(SearchSpaceError, match=word):
        build_model(arch, (1, 8, 8), 10)


def test_missing_torch_is_a_friendly_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError, match=r"torch==2\.13\.0"):
        build_model({"depth": 1, "width": 4, "layer0_op": "identity"}, (1, 4, 4), 2)


def test_a_cell_network_learns() -> None:
    torch.manual_seed(0)
    x = torch.randn(32, 1, 6, 6)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    space = SearchSpace.from_nni(cell_space(num_nodes=2))
    model = build_model(space.sample(1), (1, 6, 6), 2, channels=4, layers=2)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]
