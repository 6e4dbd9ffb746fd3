"""The explaining views in real headless Chromium: importance, contour and slices; curves with a
colour, legend entry and hover per trial; the fitted best-so-far axis; events in words and the
stop reason once; read-only vs live; 12 categorical parallel axes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import FakeControl
from explain_support import build_explain, build_nas

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (the dev extra)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: Any) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("explain")
    build_explain(root / "resnet01", n=90, seed=2, running=1).close()
    build_nas(root / "nascell1", n=120).close()
    return {"resnet": root / "resnet01", "nas": root / "nascell1"}


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    yield pg
    ctx.close()


def _option(page: Any, sel: str) -> Any:
    return page.evaluate(
        f"() => echarts.getInstanceByDom(document.querySelector('{sel}')).getOption()"
    )


def test_importance_contour_and_slices(
    stores: dict[str, Path], live_server: Any, page: Any
) -> None:
    srv = live_server([stores["resnet"]])
    api = srv.get("/api/experiments/resnet01/importance")
    page.goto(f"{srv.base}/#/e/resnet01/importance")
    page.wait_for_selector("#contour-chart canvas")
    page.wait_for_selector("#slice-0 canvas")
    # bars: the API's shares, most important on top (the category axis runs bottom-up)
    bars = _option(page, "#imp-chart")
    names = bars["yAxis"][0]["data"][::-1]
    assert names == [p["name"] for p in api["params"]]
    assert bars["series"][0]["data"][::-1] == pytest.approx(
        [p["importance"] for p in api["params"]]
    )
    assert "fANOVA on" in page.inner_text("#imp-note") and "R²" in page.inner_text("#imp-note")
    assert "How importance is computed" in page.inner_text("#method")
    # contour: one cell per grid point of the two most important parameters, and the trials
    ct = _option(page, "#contour-chart")
    assert len(ct["series"][0]["data"]) == len(api["contour"]["xs"]) * len(api["contour"]["ys"])
    assert len(ct["series"][1]["data"]) == api["n_trials"]
    assert ct["xAxis"][0]["name"] == names[0] and ct["yAxis"][0]["name"] == names[1]
    # a slice per parameter, ordered by importance, with the forest's marginal line
    assert page.locator("#slices .chart").count() == len(names)
    assert page.get_attribute("#slice-0", "data-param") == names[0]
    sl = _option(page, "#slice-0")
    assert [s["name"] for s in sl["series"]][-1] == "marginal"
    # choose another pair: the address keeps it and the contour follows
    page.select_option("#cx", "dropout")
    page.wait_for_function(
        "() => echarts.getInstanceByDom(document.querySelector('#contour-chart'))"
        ".getOption().xAxis[0].name === 'dropout'"
    )
    assert "x=dropout" in page.url
    page.reload()
    page.wait_for_selector("#contour-chart canvas")
    assert page.eval_on_selector("#cx", "e => e.value") == "dropout"
    assert page.errors == []


def test_curves_colour_legend_and_hover(
    stores: dict[str, Path], live_server: Any, page: Any
) -> None:
    srv = live_server([stores["resnet"]])
    charts = srv.get("/api/experiments/resnet01/charts?curves=40")
    page.goto(f"{srv.base}/#/e/resnet01/charts")
    page.wait_for_selector("#curves canvas")
    opt = _option(page, "#curves")
    legend = opt["legend"][0]["data"]
    assert sorted(legend) == sorted(c["trial_id"] for c in charts["curves"])
    best = max((c for c in charts["curves"] if c["value"] is not None), key=lambda c: c["value"])
    assert legend[0] == best["trial_id"]  # best first
    colours = {s["name"]: s["lineStyle"]["color"] for s in opt["series"]}
    assert len({colours[n] for n in legend[:20]}) == 20  # twenty distinct colours
    kinds = {s["name"]: s["lineStyle"]["type"] for s in opt["series"]}
    running = [c["trial_id"] for c in charts["curves"] if c["status"] == "RUNNING"]
    assert running and all(kinds[t] == "dashed" for t in running)
    # hover the best trial's last point: the tooltip names the trial, the step and the value
    last = best["points"][-1]
    xy = page.evaluate(
        "([name, p]) => { const c = echarts.getInstanceByDom(document.querySelector('#curves'));"
        " const i = c.getOption().series.findIndex((s) => s.name === name);"
        " return c.convertToPixel({seriesIndex: i}, p); }",
        [best["trial_id"], last],
    )
    box = page.locator("#curves").bounding_box()
    page.mouse.move(box["x"] + xy[0], box["y"] + xy[1])
    tip = page.wait_for_selector("#curves div:has-text('step')", state="visible")
    text = tip.inner_text().replace("\n", " ")
    # curves overlap: the tooltip is for whichever point lies there, and says it right
    m = re.search(r"trial (\S+) .* step (\d+): (\S+) final value (\S+)", text)
    assert m, text
    shown = {c["trial_id"]: c for c in charts["curves"]}[m.group(1)]
    assert int(m.group(2)) == last[0]
    assert float(m.group(3)) == pytest.approx(dict(shown["points"])[last[0]], rel=1e-3)
    assert float(m.group(4)) == pytest.approx(shown["value"], rel=1e-3)
    # y fitted to the curves: not pinned to zero
    assert opt["yAxis"][0]["scale"] is True
    assert page.errors == []


def test_best_so_far_axis_is_fitted(stores: dict[str, Path], live_server: Any, page: Any) -> None:
    srv = live_server([stores["resnet"]])
    ov = srv.get("/api/experiments/resnet01")
    line = ov["best_by_sequence"]
    best = [p[1] for p in line]
    values = [p[1] for p in ov["values"]]
    tenth = line[0][0] + (line[-1][0] - line[0][0]) * 0.1
    early = [p[1] for p in line if p[0] <= tenth][-1]
    median = sorted(values)[len(values) // 2]
    page.goto(f"{srv.base}/#/e/resnet01")
    page.wait_for_selector("#best-chart canvas")
    y = _option(page, "#best-chart")["yAxis"][0]
    # from the worse of (the line after a tenth of the trials, the median trial) to the best,
    # not from 0 or the worst trial
    assert min(values) < y["min"] <= min(early, median) and max(best) <= y["max"] <= 1.0
    assert sum(v < y["min"] for v in values) >= len(values) / 4  # the worse trials are clipped
    assert "fitted to the best-so-far line" in page.inner_text("#best-hint")
    page.click("#best-y >> text=all values")
    page.wait_for_function(
        "() => echarts.getInstanceByDom(document.querySelector('#best-chart'))"
        ".getOption().yAxis[0].min === undefined"
    )
    assert page.inner_text("#best-hint") == ""
    assert page.errors == []


def test_events_in_words_and_the_reason_once(
    stores: dict[str, Path], live_server: Any, page: Any
) -> None:
    srv = live_server([stores["resnet"]])
    page.goto(f"{srv.base}/#/e/resnet01/trials/tr0004")  # stopped by the assessor
    page.wait_for_selector("#stop-cause")
    body = page.inner_text("main")
    reason = "below the median of completed trials at step 5"
    assert body.count(reason) == 1, body
    rows = page.locator("tr[data-kind]")
    assert rows.count() == 2
    assert page.inner_text("tr[data-kind='assessor'] .event-text") == (
        "The assessor median_stop stopped it at step 5 (the reason above)"
    )
    assert page.inner_text("tr[data-kind='stop_request'] .event-text") == (
        "The manager asked the trial to stop early (the reason above)"
    )
    assert "{" not in page.inner_text("#view .panel:last-child")  # no raw JSON
    assert "SIGTERM" in page.inner_text("#exit-note")
    page.goto(f"{srv.base}/#/e/resnet01/trials/tr0011")  # failed, with a refused report
    page.wait_for_selector("tr[data-kind='channel_reject']")
    assert page.inner_text("tr[data-kind='channel_reject'] .event-text") == (
        "A report from the trial was refused: not a number: 'nan%'"
    )
    assert page.errors == []


def test_read_only_view_shows_no_live_dot(
    stores: dict[str, Path], live_server: Any, page: Any
) -> None:
    ro = live_server([stores["resnet"]])
    page.goto(f"{ro.base}/#/e/resnet01")
    page.wait_for_selector("#trial-count")
    page.wait_for_function("() => document.getElementById('live-text').textContent !== ''")
    assert page.inner_text("#live-text") == "read-only"
    assert not page.is_visible("#live .dot")
    assert "live" not in page.inner_text("#exp-head, .head")
    live = live_server([stores["resnet"]], control=FakeControl("resnet01"), token="t0k")
    page.goto(live.url)
    page.wait_for_selector("#trial-count")
    page.wait_for_function("() => document.getElementById('live-text').textContent === 'live'")
    assert page.is_visible("#live .dot")
    assert page.errors == []


def test_twelve_categorical_axes(stores: dict[str, Path], live_server: Any, page: Any) -> None:
    srv = live_server([stores["nas"]])
    page.goto(f"{srv.base}/#/e/nascell1/charts")
    page.wait_for_selector("#parallel canvas")
    opt = _option(page, "#parallel")
    axes = opt["parallelAxis"]
    assert len(axes) == 13  # 12 edges + value
    assert all(a["nameRotate"] > 0 for a in axes)  # slanted names do not run into each other
    assert all(a["axisLabel"]["fontSize"] <= 10 for a in axes)
    longest = max(len(n) for n in axes[0]["data"])
    assert longest == len("sep_conv_3x3")  # the data keep the full labels ...
    shown = page.evaluate(
        "() => echarts.getInstanceByDom(document.querySelector('#parallel'))"
        ".getOption().parallelAxis[0].axisLabel.formatter('sep_conv_3x3')"
    )
    assert shown.endswith("…") and len(shown) <= 10  # ... the axis shows them cut
    # ... and a shortened name shows in full on hover
    box = page.locator("#parallel").bounding_box()
    found = False
    for dx in (20, 35, 50):
        for dy in (40, 46, 52, 58):
            page.mouse.move(box["x"] + 60 + dx, box["y"] + dy)
            if page.is_visible(".label-tip"):
                found = True
                break
        if found:
            break
    assert found, "no label tip over the first axis name"
    assert page.inner_text(".label-tip") == "cell_edge_00_op"
    assert page.errors == []
