"""Screenshots of the dashboard's Rungs and Trials pages for a finished bohb run.

    python screenshot.py EXPERIMENT_DIR [OUT_DIR]

Serves the experiment with the dashboard (``hyperloom.dashboard.DashboardServer``, as
``tests/dashboard_tests/make_screenshots.py`` does) and takes full-page screenshots in headless
Chromium (Debian's /usr/bin/chromium, through playwright): ``bohb-rungs.png`` (trials by deepest
epoch, pauses and promotions per rung) and ``bohb-trials.png``. OUT_DIR defaults to
docs/images/.
"""

import asyncio
import sys
import threading
import time
from pathlib import Path

from hyperloom.dashboard import DashboardServer
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def main() -> int:
    exp = Path(sys.argv[1]).resolve()
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    server = DashboardServer([exp], port=0)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    base = f"http://127.0.0.1:{server.port}"
    pages = [("rungs", "#reach-chart canvas"), ("trials", "table")]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for frag, sel in pages:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/#/e/{exp.name}/{frag}")
            page.wait_for_selector(sel, timeout=60_000)
            time.sleep(1.0)
            target = out / f"bohb-{frag}.png"
            page.screenshot(path=str(target), full_page=True)
            print("wrote", target)
            page.close()
        browser.close()
    asyncio.run_coroutine_threadsafe(server.close(), loop).result(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
