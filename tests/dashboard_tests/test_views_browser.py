"""The Pareto, lineage and rungs pages in real headless Chromium, on stores written with the real
Store API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hyperloom.dashboard import _pareto
from test_browser import CHROMIUM, Page, browser, tab  # noqa: F401  (fixtures)
from v2_support import make_mo, make_pbt, make_rungs

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"
    ),
]


def _series_len(page: Any, sel: str, name: str) -> int:
    return int(
        page.evaluate(
            """([sel, name]) => {
              const c = echarts.getInstanceByDom(document.querySelector(sel));
              const s = c.getOption().series.find((x) => x.name === name);
              return s ? s.data.length : -1;
            }""",
            [sel, name],
        )
    )


def _painted_pixels(page: Any) -> int:
    """How many pixels of the points canvas are not transparent."""
    return int(
        page.evaluate(
            """() => {
              const c = document.querySelector('#pareto-dots');
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let n = 0;
              for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
              return n;
            }"""
        )
    )


def test_pareto_page(tmp_path: Path, live_server: Any, tab: Page) -> None:  # noqa: F811
    store, _ = make_mo(tmp_path / "mo000001", n=50)
    srv = live_server([tmp_path / "mo000001"])
    api = srv.get("/api/experiments/mo000001/pareto")
    page = tab.page
    page.goto(f"{srv.base}/#/e/mo000001")
    page.click("nav.tabs >> text=Pareto")
    page.wait_for_selector("#pareto-chart canvas")
    page.wait_for_selector("#hv-chart canvas")
    assert page.inner_text("#front-size") == str(api["front_size"])
    assert page.inner_text("#infeasible") == str(api["infeasible"]) != "0"
    n_front = api["front_size"]
    assert page.locator("#front-table tbody tr").count() == n_front
    # every point drawn once: the front highlighted (an ECharts series), violations marked and
    # the rest faded (painted on the canvas under the chart)
    assert _series_len(page, "#pareto-chart", "front") == n_front
    dots = page.locator("#pareto-dots")
    assert dots.get_attribute("data-infeasible") == str(api["infeasible"])
    assert dots.get_attribute("data-dominated") == str(50 - n_front - api["infeasible"])
    assert _painted_pixels(page) > 0
    assert page.locator("#axes select").count() == 0  # two objectives: no axis chooser
    ref = page.inner_text("#hv-refpoint")
    assert "accuracy = " in ref and "latency_ms = " in ref
    pts = api["points"]
    cols = list(zip(pts["trial_id"], *pts["values"], pts["flags"], strict=True))
    box = page.locator("#pareto-chart").bounding_box()

    def pixel(x: float, y: float) -> tuple[float, float]:
        xy = page.evaluate(
            """([x, y]) => echarts.getInstanceByDom(document.querySelector('#pareto-chart'))
                 .convertToPixel({gridIndex: 0}, [x, y])""",
            [x, y],
        )
        return box["x"] + xy[0], box["y"] + xy[1]

    # hovering a painted (dominated) point shows its trial; clicking it opens the trial
    dominated = [c for c in cols if not c[3] & (_pareto.ON_FRONT | _pareto.INFEASIBLE)]
    # one with no other painted point within 8 px, so the nearest is unambiguous
    far = None
    for c in dominated:
        cx, cy = pixel(c[1], c[2])
        if all(
            (cx - ox) ** 2 + (cy - oy) ** 2 > 64
            for o in cols
            if o is not c and not o[3] & _pareto.ON_FRONT
            for ox, oy in [pixel(o[1], o[2])]
        ):
            far = (c, cx, cy)
            break
    assert far is not None
    page.mouse.move(far[1] + 1, far[2] + 1)
    page.wait_for_selector("#pareto-tip:not([hidden])")
    assert f"trial {far[0][0]}" in page.inner_text("#pareto-tip")
    assert "dominated" in page.inner_text("#pareto-tip")
    page.mouse.click(far[1] + 1, far[2] + 1)
    page.wait_for_selector("#trial-value")
    assert page.url.endswith(f"/trials/{far[0][0]}")
    page.go_back()
    page.wait_for_selector("#pareto-chart canvas")
    page.wait_for_function("() => document.body.dataset.view === 'pareto'")
    # clicking a front point opens its trial
    best = max((c for c in cols if c[3] & _pareto.ON_FRONT), key=lambda c: c[1])
    page.mouse.click(*pixel(best[1], best[2]))
    page.wait_for_selector("#trial-value")
    assert page.url.endswith(f"/trials/{best[0]}")
    values = page.inner_text("#trial-values")  # every objective's value on the trial page
    assert "accuracy" in values and "latency_ms" in values
    assert tab.errors == []
    store.close()


def test_pareto_axis_chooser(tmp_path: Path, live_server: Any, tab: Page) -> None:  # noqa: F811
    store, _ = make_mo(tmp_path / "mo000003", n=30, n_objectives=3)
    srv = live_server([tmp_path / "mo000003"])
    page = tab.page
    page.goto(f"{srv.base}/#/e/mo000003/pareto")
    page.wait_for_selector("#pareto-chart canvas")
    assert page.locator("#axes select").count() == 2
    name = page.evaluate(
        "() => echarts.getInstanceByDom(document.querySelector('#pareto-chart'))"
        ".getOption().yAxis[0].name"
    )
    assert name.startswith("latency_ms")
    page.select_option("#py", "2")
    page.wait_for_function(
        "() => echarts.getInstanceByDom(document.querySelector('#pareto-chart'))"
        ".getOption().yAxis[0].name.startsWith('energy')"
    )
    assert "y=2" in page.url  # the choice is kept in the address
    page.reload()
    page.wait_for_selector("#pareto-chart canvas")
    assert page.locator("#py").input_value() == "2"
    assert tab.errors == []
    store.close()


def test_lineage_page(tmp_path: Path, live_server: Any, tab: Page) -> None:  # noqa: F811
    store = make_pbt(tmp_path / "pbt00001", population=4, generations=3, interval=5)
    srv = live_server([tmp_path / "pbt00001"])
    page = tab.page
    page.goto(f"{srv.base}/#/e/pbt00001")
    page.click("nav.tabs >> text=Lineage")
    page.wait_for_selector("#tree rect.node")
    assert page.locator("#tree rect.node").count() == 6
    assert page.locator("#tree path.link").count() == 2
    assert page.inner_text("#warm-started") == "2"
    # hover: the perturbation
    page.hover("#tree rect.node[data-trial='g1m0']")
    page.wait_for_selector("#tree-tip:not([hidden])")
    assert "lr 0.04 → 0.048" in page.inner_text("#tree-tip")
    assert "warm-started from g0m3 at step 4" in page.inner_text("#tree-tip")
    # click: the member's line through its ancestors
    page.click("#tree rect.node[data-trial='g2m0']")
    page.wait_for_selector("#chain li >> nth=2")
    chain = page.inner_text("#chain")
    assert chain.index("g0m3") < chain.index("g1m0") < chain.index("g2m0")
    assert page.locator("#tree rect.node.hl").count() == 3
    assert page.locator("#tree path.link.hl").count() == 2
    pts = page.evaluate(
        """() => echarts.getInstanceByDom(document.querySelector('#stitched')).getOption()
              .series.find((s) => s.name === 'g2m0').data.map((d) => [d.value[0], d.from])"""
    )
    assert [p[0] for p in pts] == list(range(15))
    assert {p[1] for p in pts[:5]} == {"g0m3"} and {p[1] for p in pts[10:]} == {"g2m0"}
    page.click("#open-trial")
    page.wait_for_selector("#trial-value")
    assert page.url.endswith("/trials/g2m0")
    # the pbt scheduler's form of a perturbation reads as plainly
    text = page.evaluate(
        """async () => (await import('/static/js/views/lineage.js')).perturbationText({
             params: {lr: {from: 0.01, to: 0.008, how: 'x0.8'}, wd: {from: 1, to: 2}},
             donor_step: 9, donor_value: 0.5, replaced: 'T0007'})"""
    )
    assert text == "lr 0.01 → 0.008 (x0.8), wd 1 → 2, replaced: T0007"
    note = page.inner_text("#lineage-note")
    assert "from g1m0 at step 9" in note and "lr 0.048 → 0.0576" in note
    assert tab.errors == []
    store.close()


def test_rungs_page(tmp_path: Path, live_server: Any, tab: Page) -> None:  # noqa: F811
    store = make_rungs(tmp_path / "hb000001", n=9)
    srv = live_server([tmp_path / "hb000001"])
    page = tab.page
    page.goto(f"{srv.base}/#/e/hb000001")
    page.click("nav.tabs >> text=Rungs")
    for sel in ("#deep-chart canvas", "#promo-chart canvas", "#reach-chart canvas"):
        page.wait_for_selector(sel)
    assert page.inner_text("#promoted") == "3"
    assert page.inner_text("#paused-now") == "1"
    assert page.locator("#rung-table tbody tr").count() == 3
    row0 = page.inner_text("#rung-table tr[data-step='0']")
    assert "9" in row0 and "paused" in row0
    # the promoted (and paused) trials, deepest first; a row opens the trial
    rows = page.locator("#promo-table tbody tr")
    assert rows.count() == 4
    assert rows.nth(0).get_attribute("data-trial") == "r05"
    rows.nth(0).click()
    page.wait_for_selector("#trial-value")
    assert page.url.endswith("/trials/r05")
    assert tab.errors == []
    store.close()


def test_tabs_follow_the_experiment(make_experiment: Any, live_server: Any, tab: Page) -> None:  # noqa: F811
    d, _ = make_experiment("exp00001", n=6)
    srv = live_server([d])
    page = tab.page
    page.goto(f"{srv.base}/#/e/exp00001/trials")
    page.wait_for_selector("nav.tabs")
    tabs = page.inner_text("nav.tabs")
    assert "Pareto" not in tabs and "Lineage" not in tabs and "Rungs" in tabs
    assert tab.errors == []


def test_pareto_page_follows_the_store(tmp_path: Path, live_server: Any, tab: Page) -> None:  # noqa: F811
    from hyperloom.types import TrialStatus
    from playwright.sync_api import expect

    store, _ = make_mo(tmp_path / "mo000001", n=20)
    srv = live_server([tmp_path / "mo000001"])
    page = tab.page
    page.goto(f"{srv.base}/#/e/mo000001/pareto")
    page.wait_for_selector("#pareto-chart canvas")
    assert page.inner_text("#front-size") != "1"
    # a trial better in both objectives than every other: the front becomes that one trial
    store.add_trial("best", store.allocate_sequence(), {"width": 8, "depth": 1})
    store.start_trial("best", started=1.0)
    store.set_final("best", 0.999, {"latency_ms": 0.01, "params": 64.0})
    store.finish_trial(
        "best", TrialStatus.SUCCEEDED, ended=2.0, exit_code=0, value=0.999, values=[0.999, 0.01]
    )
    expect(page.locator("#front-size")).to_have_text("1", timeout=8000)
    expect(page.locator("#front-table tbody tr")).to_have_count(1)
    assert page.locator("#pareto-chart canvas").count() == 1  # redrawn in place
    # the painted points follow: every other feasible trial is dominated now
    bad = int(page.inner_text("#infeasible"))
    dots = page.locator("#pareto-dots")
    assert dots.get_attribute("data-dominated") == str(21 - 1 - bad)
    assert dots.get_attribute("data-infeasible") == str(bad)
    assert tab.errors == []
    store.close()


def test_pareto_fresh_tab_asks_once(tmp_path: Path, live_server: Any, tab: Page) -> None:  # noqa: F811
    """A tab opened on the Pareto page asks for its data from the HTML's head (before the app's
    modules run) and the page uses that answer: one request, the same numbers."""
    store, _ = make_mo(tmp_path / "mo000001", n=30)
    srv = live_server([tmp_path / "mo000001"])
    api = srv.get("/api/experiments/mo000001/pareto")
    page = tab.page
    page.goto(f"{srv.base}/#/e/mo000001/pareto")
    page.wait_for_selector("#pareto-chart canvas")
    page.wait_for_selector("body[data-drawn-ms]", state="attached")
    assert page.inner_text("#front-size") == str(api["front_size"])
    sent = page.evaluate(
        """() => performance.getEntriesByType('resource')
             .filter((r) => r.name.endsWith('/api/experiments/mo000001/pareto')).length"""
    )
    assert sent == 1  # the head script's request, used by the page (no second one)
    # set by the head script, taken (deleted) by the page
    assert page.evaluate("() => !('__hlParetoPrefetch' in window)")
    # another page, then back: a fresh request (the prefetched answer is not reused)
    page.evaluate("() => { window.location.hash = '#/e/mo000001/trials'; }")
    page.wait_for_function("() => document.body.dataset.view === 'trials'")
    page.evaluate("() => { window.location.hash = '#/e/mo000001/pareto'; }")
    page.wait_for_function("() => document.body.dataset.view === 'pareto'")
    again = page.evaluate(
        """() => performance.getEntriesByType('resource')
             .filter((r) => r.name.endsWith('/api/experiments/mo000001/pareto')).length"""
    )
    assert again == 2
    assert tab.errors == []
    store.close()
