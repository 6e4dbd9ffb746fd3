"""The trial page's Architecture panel: a NAS cell read from the trial's architecture.json (a
one-shot search) or from its parameters (multi-trial NAS), through the real API and drawn in
headless Chromium."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hyperloom.dashboard._cell import cell_graph, read_architecture
from hyperloom.store import Store
from hyperloom.types import TrialStatus
from test_browser import CHROMIUM, Page, browser, tab  # noqa: F401  (fixtures)


def _cell(prefix: str, nodes: int, ops: list[str]) -> dict[str, Any]:
    point: dict[str, Any] = {}
    for k in range(nodes):
        for j in (0, 1):
            point[f"{prefix}_n{k}_in{j}"] = (k + j) % (k + 2)
            point[f"{prefix}_n{k}_op{j}"] = ops[(2 * k + j) % len(ops)]
    return point


FOUND = _cell("normal", 3, ["sep_conv_3x3", "max_pool_3x3", "zero"])
RAN = {**_cell("normal", 2, ["conv_3x3", "identity"]), **_cell("reduce", 2, ["avg_pool_3x3"])}


def test_cell_graph_names_inputs_nodes_and_ops() -> None:
    g = cell_graph({**FOUND, "lr": 0.1})
    assert g is not None and list(g) == ["normal"] and g["normal"]["nodes"] == 3
    edges = g["normal"]["edges"]
    assert len(edges) == 6
    # input index 0 / 1 are the cell's inputs, 2 + i the node i
    assert edges[0] == {"node": 0, "slot": 0, "from": "c_{k-2}", "op": "sep_conv_3x3"}
    assert edges[1] == {"node": 0, "slot": 1, "from": "c_{k-1}", "op": "max_pool_3x3"}
    assert edges[2] == {"node": 1, "slot": 0, "from": "c_{k-1}", "op": "zero"}
    assert edges[4] == {"node": 2, "slot": 0, "from": "n0", "op": "max_pool_3x3"}
    assert edges[5]["from"] == "n1"
    both = cell_graph(RAN)
    assert both is not None and list(both) == ["normal", "reduce"]


@pytest.mark.parametrize(
    "point",
    [
        {"lr": 0.1, "method": "darts"},  # no cell keys
        {k: v for k, v in FOUND.items() if k != "normal_n1_op0"},  # a node misses an op
        {**FOUND, "normal_n0_in0": 2},  # node 0 can read only the two cell inputs
        {**FOUND, "normal_n1_in1": True},  # a bool is not an input index
        {**FOUND, "normal_n2_op1": 3},  # an op is a name
    ],
)
def test_cell_graph_refuses_what_is_not_a_complete_cell(point: dict[str, Any]) -> None:
    assert cell_graph(point) is None


def test_read_architecture_serves_only_the_trials_own_object(tmp_path: Path) -> None:
    d = tmp_path / "T1"
    d.mkdir()
    assert read_architecture(d) is None  # missing
    (d / "architecture.json").write_text(json.dumps(FOUND))
    assert read_architecture(d) == FOUND
    (d / "architecture.json").write_text("[1, 2]")
    assert read_architecture(d) is None  # not an object
    (d / "architecture.json").write_text("{not json")
    assert read_architecture(d) is None
    (d / "architecture.json").write_text(json.dumps({"x": "a" * 300_000}))
    assert read_architecture(d) is None  # too big
    elsewhere = tmp_path / "secret.json"
    elsewhere.write_text(json.dumps(FOUND))
    (d / "architecture.json").unlink()
    os.symlink(elsewhere, d / "architecture.json")
    assert read_architecture(d) is None  # a link


def _store(d: Path) -> Store:
    d.mkdir(parents=True)
    space = {"method": {"_type": "choice", "_value": ["darts", "spos"]}}
    config = {"experimentName": "cells", "searchSpace": space, "tuner": {"name": "grid"}}
    store = Store.create(d, experiment_id=d.name, name="cells", config=config, space=space)
    store.set_experiment_status("DONE")
    t0 = time.time() - 100
    for i, (tid, params) in enumerate(
        [("found", {"method": "darts"}), ("ran", RAN), ("plain", {"method": "spos"})]
    ):
        store.add_trial(tid, store.allocate_sequence(), params)
        store.start_trial(tid, started=t0 + i, pid=100 + i, pgid=100 + i, devices=[])
        store.add_metric(tid, 0, 0.5, {}, t=t0 + i + 1)
        store.set_final(tid, 0.6 + i / 10, {})
        store.finish_trial(tid, TrialStatus.SUCCEEDED, ended=t0 + i + 2, exit_code=0)
        (d / "trials" / tid).mkdir(parents=True, exist_ok=True)
    (d / "trials" / "found" / "architecture.json").write_text(json.dumps(FOUND))
    return store


def test_trial_api_gives_the_cell_from_the_file_or_the_params(
    tmp_path: Path, live_server: Any
) -> None:
    store = _store(tmp_path / "cells001")
    srv = live_server([tmp_path / "cells001"])
    found = srv.get("/api/experiments/cells001/trials/found")["architecture"]
    assert found["source"] == "architecture.json" and found["cells"] == cell_graph(FOUND)
    ran = srv.get("/api/experiments/cells001/trials/ran")["architecture"]
    assert ran["source"] == "params" and list(ran["cells"]) == ["normal", "reduce"]
    assert srv.get("/api/experiments/cells001/trials/plain")["architecture"] is None
    store.close()


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"
)
def test_trial_page_draws_the_cell(tmp_path: Path, live_server: Any, tab: Page) -> None:  # noqa: F811
    store = _store(tmp_path / "cells002")
    srv = live_server([tmp_path / "cells002"])
    page = tab.page
    page.goto(f"{srv.base}/#/e/cells002/trials/found")
    page.wait_for_selector("#architecture svg")
    assert "architecture.json" in page.inner_text("#arch-source")
    edges = page.locator("#architecture .cell-edge")
    assert edges.count() == 6
    drawn = [
        (e.get_attribute("data-from"), e.get_attribute("data-node"), e.get_attribute("data-op"))
        for e in edges.all()
    ]
    want = [(e["from"], str(e["node"]), e["op"]) for e in cell_graph(FOUND)["normal"]["edges"]]  # type: ignore[index]
    assert drawn == want
    # a zero edge is dashed; every op is in the legend; 3 nodes + 2 inputs + the output
    dashed = page.locator("#architecture .cell-edge path[stroke-dasharray]")
    assert dashed.count() == 2  # the two zero edges, and only they
    assert {
        g.get_attribute("data-op")
        for g in page.locator(".cell-edge:has(path[stroke-dasharray])").all()
    } == {"zero"}
    legend = page.inner_text("#architecture .cell-legend")
    assert all(op in legend for op in ("sep_conv_3x3", "max_pool_3x3", "zero"))
    assert page.locator("#architecture .cell-box").count() == 6
    # a multi-trial NAS trial: both cells from its parameters; a plain trial: no panel
    page.goto(f"{srv.base}/#/e/cells002/trials/ran")
    page.wait_for_selector("#architecture svg")
    assert page.locator("#architecture .cell-graph").count() == 2
    assert "parameters" in page.inner_text("#arch-source")
    page.goto(f"{srv.base}/#/e/cells002/trials/plain")
    page.wait_for_selector("#trial-value")
    assert page.locator("#architecture").count() == 0
    assert tab.errors == []
    store.close()


def test_cell_graph_reads_every_point_of_the_nas_cell_plugin_space() -> None:
    import random

    from hyperloom.plugins.nas import cell_space

    space = cell_space(
        num_nodes=4, reduction=True, extra={"lr": {"_type": "uniform", "_value": [0, 1]}}
    )
    rng = random.Random(0)
    for _ in range(20):
        point = {
            k: rng.choice(v["_value"]) if v["_type"] == "choice" else 0.5 for k, v in space.items()
        }
        g = cell_graph(point)
        assert g is not None and list(g) == ["normal", "reduce"]
        for kind in g:
            assert g[kind]["nodes"] == 4 and len(g[kind]["edges"]) == 8
            for e in g[kind]["edges"]:
                assert e["op"] == point[f"{kind}_n{e['node']}_op{e['slot']}"]
