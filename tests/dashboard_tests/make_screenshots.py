"""Writes the README's screenshots of the Pareto, lineage and rungs pages to docs/images/.

Builds small demo stores with the benchmark's builders (real Store API), serves them and takes
full-page screenshots in headless Chromium (Debian's /usr/bin/chromium).

    .venv/bin/python tests/dashboard_tests/make_screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_dashboard import (  # noqa: E402
    CHROMIUM_ARGS,
    Served,
    build_mo,
    build_pbt,
    build_rungs,
)


def main() -> int:
    from playwright.sync_api import sync_playwright

    out = ROOT / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="hl-shots-"))
    shots = [
        ("pareto2", lambda p: build_mo(p, 400, 2), "pareto", "#pareto-chart canvas", None),
        ("pareto3", lambda p: build_mo(p, 400, 3), "pareto?x=1&y=2", "#pareto-chart canvas", None),
        ("pbt", lambda p: build_pbt(p, 8, 10, 5), "lineage", "#tree rect.node", "click"),
        ("rungs", lambda p: build_rungs(p, 81), "rungs", "#reach-chart canvas", None),
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, build, frag, sel, action in shots:
            d = tmp / name
            d.mkdir()
            build(d)
            s = Served(d)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"http://127.0.0.1:{s.server.port}/#/e/{name}/{frag}")
                page.wait_for_selector(sel)
                if action == "click":
                    # follow the best member of the last generation through its ancestors
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
            finally:
                s.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
