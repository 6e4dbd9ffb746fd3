"""End-to-end: the dashboard in real headless Chromium (Debian's /usr/bin/chromium + Playwright)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import FakeControl, add_trial
from hyperloom.types import TrialStatus

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "e2e-token"

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


class Page:
    """A browser tab that collects console errors."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1300, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)


@pytest.fixture
def tab(browser: Any) -> Iterator[Page]:
    t = Page(browser)
    yield t
    t.context.close()


@pytest.fixture
def running(make_experiment: Any, live_server: Any) -> tuple[Any, Any, FakeControl]:
    d, store = make_experiment("exp00001", n=10)
    add_trial(store, random.Random(5), trial_id="trun", status=TrialStatus.RUNNING, steps=4)
    ctl = FakeControl("exp00001", running={"trun"})
    srv = live_server([d], control=ctl, token=TOKEN)
    return srv, store, ctl


def test_overview_loads(running: Any, tab: Page) -> None:
    srv, store, _ = running
    page = tab.page
    page.goto(srv.url)  # the URL `run` prints: with the token; one experiment opens directly
    page.wait_for_selector("#trial-count")
    assert page.inner_text("#trial-count").startswith("11")
    assert "token=" not in page.url  # taken out of the address bar, kept for the tab
    assert page.locator("#counts .s-SUCCEEDED").count() == 1
    assert page.locator("#top-table tbody tr").count() == 8
    best = max(t.value for t in store.trials() if t.value is not None)
    assert f"{best:.4g}"[:5] in page.inner_text("#cards")
    page.wait_for_selector("#best-chart canvas")
    assert page.inner_text("#space").count("loguniform") == 1
    assert tab.errors == []


def test_trial_appears_live(running: Any, tab: Page) -> None:
    srv, store, _ = running
    page = tab.page
    page.goto(f"{srv.base}/#/e/exp00001/trials?sort=sequence&order=desc")
    page.wait_for_selector("tr[data-trial='trun']")
    assert page.locator("tr[data-trial='tlive']").count() == 0
    t0 = time.monotonic()
    add_trial(store, random.Random(9), trial_id="tlive", status=TrialStatus.RUNNING, steps=2)
    page.wait_for_selector("tr[data-trial='tlive']", timeout=4000)
    seen = time.monotonic() - t0
    assert seen <= 2.5, f"the new trial showed after {seen:.2f}s"
    assert "running" in page.inner_text("tr[data-trial='tlive']")
    # a report on an open trial page shows up too
    page.goto(f"{srv.base}/#/e/exp00001/trials/tlive")
    page.wait_for_selector("#trial-value")
    store.set_final("tlive", 0.5, {"loss": 0.5})
    store.finish_trial("tlive", TrialStatus.SUCCEEDED, ended=time.time(), exit_code=0)
    from playwright.sync_api import expect

    expect(page.locator("#trial-value")).to_have_text("0.5", timeout=4000)
    assert tab.errors == []


def test_open_a_trial(running: Any, tab: Page) -> None:
    srv, _, _ = running
    d = Path(srv.get("/api/experiments/exp00001")["dir"])
    (d / "trials" / "t0006").mkdir(parents=True)
    (d / "trials" / "t0006" / "stdout.log").write_text("epoch 1\nepoch 2 <b>not html</b>\n")
    page = tab.page
    page.goto(f"{srv.base}/#/e/exp00001/trials")
    page.click("tr[data-trial='t0006'] td:nth-child(3)")
    page.wait_for_selector("#stop-cause")
    assert "/trials/t0006" in page.url
    assert "Stopped by the assessor at step 9: below the median" in page.inner_text("#stop-cause")
    assert "epoch 2 <b>not html</b>" in page.inner_text("#stdout")
    page.wait_for_selector("#curve canvas")
    assert "batch_size" in page.inner_text("main")
    assert page.locator("#stop-trial").count() == 0  # it is not running
    assert tab.errors == []


def test_stop_a_trial_with_the_token(running: Any, tab: Page) -> None:
    srv, _, ctl = running
    page = tab.page
    page.goto(srv.url)
    page.wait_for_selector("#trial-count")
    page.goto(f"{srv.base}/#/e/exp00001/trials/trun")  # the token stays with the tab
    page.click("#stop-trial")
    page.wait_for_selector(".toast:has-text('Stop requested')")
    assert ctl.stopped_trials == ["trun"]
    assert tab.errors == []


def test_stop_is_refused_without_the_token(running: Any, tab: Page) -> None:
    srv, _, ctl = running
    page = tab.page
    page.goto(f"{srv.base}/#/e/exp00001/trials/trun")
    page.click("#stop-trial")
    toast = page.wait_for_selector(".toast.error")
    assert "needs the experiment's token" in toast.inner_text()
    page.on("dialog", lambda d: d.accept())
    page.click("#stop-exp")
    page.wait_for_selector(".toast.error >> nth=1")
    assert ctl.stopped_trials == [] and ctl.experiment_stops == 0


def test_charts_and_experiments_list(make_experiment: Any, live_server: Any, tab: Page) -> None:
    d1, _ = make_experiment("exp00001", n=12)
    d2, _ = make_experiment("exp00002", n=3, mode="minimize")
    srv = live_server([d1, d2])
    page = tab.page
    page.goto(srv.base + "/")
    page.wait_for_selector("#experiments tbody tr >> nth=1")
    assert page.locator("#experiments tbody tr").count() == 2
    page.click("text=exp00002")
    page.wait_for_selector("#trial-count")
    assert page.inner_text("#trial-count").startswith("3")
    page.click("nav.tabs >> text=Charts")
    for sel in ("#parallel canvas", "#curves canvas"):
        page.wait_for_selector(sel)
    assert page.locator("#stop-exp").count() == 0  # view mode: read-only
    # three trials are too few for importance: the page says so
    page.click("nav.tabs >> text=Importance")
    page.wait_for_selector("#imp-chart .empty")
    assert "at least 8 finished trials" in page.inner_text("#imp-chart")
    assert tab.errors == []


def test_overview_redraws_live(running: Any, tab: Page) -> None:
    srv, store, _ = running
    from playwright.sync_api import expect

    page = tab.page
    page.goto(f"{srv.base}/#/e/exp00001")
    page.wait_for_selector("#best-chart canvas")
    seq = store.allocate_sequence()
    store.add_trial("tbest", seq, {"lr": 0.01, "batch_size": 32, "dropout": 0.1})
    store.start_trial("tbest", started=time.time() - 5)
    store.set_final("tbest", 0.999)
    store.finish_trial("tbest", TrialStatus.SUCCEEDED, ended=time.time(), exit_code=0)
    expect(page.locator("#trial-count")).to_contain_text("12", timeout=4000)
    expect(page.locator("#cards")).to_contain_text("0.999")
    assert page.locator("#best-chart canvas").count() == 1  # the chart survives the redraw
    assert "tbest" in page.inner_text("#top-table tbody tr >> nth=0")
    assert tab.errors == []
