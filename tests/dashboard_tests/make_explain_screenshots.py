"""Writes screenshots of the explaining views to docs/images/: importance with contour and
slices, the charts page (learning-curve legend and hover; parallel coordinates of a 12-axis
NAS space), the overview (fitted best-so-far axis), and a trial stopped by the assessor
(events in words, the reason once).

Stores come from ``explain_support`` (the real Store API; the value is a known function of
the parameters). Headless Chromium (Debian's /usr/bin/chromium).

    .venv/bin/python tests/dashboard_tests/make_explain_screenshots.py [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = ap.parse_args()
    from explain_support import build_explain, build_nas
    from hyperloom.dashboard import DashboardServer
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hl-explain-"))
    build_explain(work / "resnet01", n=150, running=2).close()
    build_nas(work / "nascell1", n=300).close()
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    server = DashboardServer([work / "resnet01", work / "nascell1"], port=0)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    base = f"http://127.0.0.1:{server.port}"
    shots = [
        ("importance", "resnet01/importance", "#contour-chart canvas", None),
        ("overview", "resnet01", "#best-chart canvas", None),
        ("curves", "resnet01/charts", "#curves canvas", "#curves"),
        ("parallel-nas", "nascell1/charts", "#parallel canvas", "#parallel-panel"),
        ("trial-stopped", "resnet01/trials/tr0004", "#stop-cause", None),
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, frag, sel, clip in shots:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.goto(f"{base}/#/e/{frag}")
            page.wait_for_selector(sel, timeout=60_000)
            time.sleep(0.8)
            if name == "curves":  # hover a point: the tooltip names the trial, step and value
                xy = page.evaluate(
                    "() => { const c = echarts.getInstanceByDom(document.querySelector('#curves'));"
                    " const o = c.getOption(); const name = o.legend[0].data[0];"
                    " const i = o.series.findIndex((s) => s.name === name);"
                    " return c.convertToPixel({seriesIndex: i}, o.series[i].data[6]); }"
                )
                box = page.locator("#curves").bounding_box()
                assert box is not None
                page.mouse.move(box["x"] + xy[0], box["y"] + xy[1])
                time.sleep(0.5)
            target = args.out / f"dashboard-{name}.png"
            if clip:
                page.locator(clip).screenshot(path=str(target))
            else:
                page.screenshot(path=str(target), full_page=True)
            print("wrote", target, "errors:", errors or "none")
            page.close()
        browser.close()
    asyncio.run_coroutine_threadsafe(server.close(), loop).result(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
