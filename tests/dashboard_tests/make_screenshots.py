"""Writes the README's screenshots of the Pareto, lineage and rungs pages to docs/images/.

Runs four small experiments through the real manager on the simulate executor (virtual time:
seconds of wall clock): random search over two and three objectives with a constraint, the
``pbt`` scheduler (asynchronous exploit and explore), and successive halving by PAUSE and resume
(``sim_support.dash_sched:Halving``), then serves them and takes full-page screenshots in headless
Chromium (Debian's /usr/bin/chromium).

    .venv/bin/python tests/dashboard_tests/make_screenshots.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def _config(
    work: Path,
    name: str,
    space: dict[str, Any],
    tuner: dict[str, Any],
    fn: str,
    steps: int,
    n: int,
    conc: int,
    **extra: Any,
) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "experimentName": name,
        "searchSpace": space,
        "trialConcurrency": conc,
        "maxTrialNumber": n,
        "tuner": tuner,
        "trainingService": {
            "platform": "simulate",
            "function": f"sim_support.curves:{fn}",
            "steps": steps,
        },
        "experimentWorkingDirectory": str(work),
        "dashboard": False,
    }
    cfg.update(extra)
    return cfg


def experiments(work: Path) -> list[tuple[str, dict[str, Any], str, str]]:
    net = {
        "width": {"_type": "randint", "_value": [8, 256]},
        "depth": {"_type": "randint", "_value": [1, 8]},
    }
    objs = [{"name": "accuracy", "mode": "maximize"}, {"name": "latency_ms", "mode": "minimize"}]
    cons = [{"metric": "params", "max": 4e5}]
    lr = {"lr": {"_type": "loguniform", "_value": [1e-4, 1e-1]}}
    sched = {"codeDirectory": str(HERE / "sim_support")}
    return [
        (
            "pareto",
            _config(
                work,
                "nas-accuracy-latency",
                net,
                {"name": "random"},
                "accuracy_latency",
                5,
                300,
                8,
                objectives=objs,
                constraints=cons,
            ),
            "pareto",
            "#pareto-chart canvas",
        ),
        (
            "pareto3",
            _config(
                work,
                "nas-three-objectives",
                net,
                {"name": "random"},
                "accuracy_latency",
                5,
                300,
                8,
                constraints=cons,
                objectives=[*objs, {"name": "energy", "mode": "minimize"}],
            ),
            "pareto?x=1&y=2",
            "#pareto-chart canvas",
        ),
        (
            "lineage",
            _config(
                work,
                "pbt-lr-schedule",
                lr,
                {
                    "className": "hyperloom.tuners.pbt:PBTScheduler",
                    "classArgs": {"population_size": 8, "perturbation_interval": 5},
                },
                "lr_drift",
                40,
                48,
                8,
            ),
            "lineage",
            "#tree rect.node",
        ),
        (
            "rungs",
            _config(
                work,
                "successive-halving",
                {"x": {"_type": "randint", "_value": [0, 1000]}},
                {
                    "name": "dash_sched:Halving",
                    **sched,
                    "classArgs": {"n": 27, "rungs": [0, 2, 8], "eta": 3},
                },
                "linear",
                27,
                27,
                27,
            ),
            "rungs",
            "#reach-chart canvas",
        ),
    ]


def main() -> int:
    from hyperloom import Experiment
    from hyperloom.dashboard import DashboardServer
    from playwright.sync_api import sync_playwright

    out = ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hl-shots-"))
    runs = []
    for name, cfg, frag, sel in experiments(work):
        t = time.perf_counter()
        exp = Experiment.from_config(cfg)
        exp.run(dashboard=False)
        print(f"ran {name} ({exp.dir}) in {time.perf_counter() - t:.1f}s")
        runs.append((name, Path(exp.dir), frag, sel))
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    server = DashboardServer([d for _, d, _, _ in runs], port=0)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    base = f"http://127.0.0.1:{server.port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, d, frag, sel in runs:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/#/e/{d.name}/{frag}")
            page.wait_for_selector(sel)
            if name == "lineage":
                # follow the best member through its ancestors, with the hover card open
                best = page.evaluate(
                    "() => echarts.getInstanceByDom(document.querySelector('#stitched'))"
                    ".getOption().series[0].name"
                )
                page.click(f"#tree rect.node[data-trial='{best}']")
                page.wait_for_selector("#chain li")
                page.hover(f"#tree rect.node[data-trial='{best}']")
            time.sleep(0.6)
            target = out / f"dashboard-{name}.png"
            page.screenshot(path=str(target), full_page=True)
            print("wrote", target)
            page.close()
        browser.close()
    asyncio.run_coroutine_threadsafe(server.close(), loop).result(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
