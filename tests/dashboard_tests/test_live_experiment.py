"""The dashboard served by a real experiment's manager, checked live through its API."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from hyperloom import Experiment

TRIAL = Path(__file__).resolve().parent / "trials" / "paced.py"


def config(**kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "experimentName": "dashboard-live",
        "trialCommand": f"{sys.executable} {TRIAL}",
        "trialCodeDirectory": str(TRIAL.parent),
        "trialConcurrency": 2,
        "maxTrialNumber": 3,
        "searchSpace": {
            "x": {"_type": "uniform", "_value": [0.5, 1.0]},
            "steps": {"_type": "choice", "_value": [60]},
            "pace": {"_type": "choice", "_value": [0.1]},
        },
        "tuner": {"name": "random", "classArgs": {"mode": "maximize"}},
        "stopGracePeriod": 2,
    }
    cfg.update(kw)
    return cfg


async def _until(what: str, probe: Any, timeout: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await probe()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.mark.slow
def test_a_real_experiment_is_watched_and_stopped_live() -> None:
    async def scenario() -> tuple[list[Any], dict[str, Any]]:
        exp = Experiment.from_config(config())
        run = asyncio.create_task(exp.run_async(dashboard=True))
        seen: dict[str, Any] = {}
        try:
            url = await _until("the dashboard URL", lambda: asyncio.sleep(0, exp.dashboard_url))
            parts = urlsplit(url)
            assert parts.hostname == "127.0.0.1"
            token = parse_qs(parts.query)["token"][0]
            base = f"{parts.scheme}://{parts.netloc}"
            api = f"{base}/api/experiments/{exp.id}"
            async with aiohttp.ClientSession() as http:

                async def get(path: str) -> Any:
                    async with http.get(path) as r:
                        assert r.status == 200, (path, r.status, await r.text())
                        return await r.json()

                async with http.get(base + "/") as r:
                    assert r.status == 200 and "hyperloom" in await r.text()

                async def running_with_reports() -> Any:
                    page = await get(f"{api}/trials?status=RUNNING")
                    for t in page["trials"]:
                        d = await get(f"{api}/trials/{t['trial_id']}")
                        if len(d["intermediate"]) >= 3 and "step 2" in d["stdout"]["text"]:
                            return d
                    return None

                live = await _until("a running trial with reports", running_with_reports)
                tid = live["trial_id"]
                ov = await get(api)
                assert ov["experiment"]["status"] == "RUNNING" and ov["live"] and ov["actions"]
                assert ov["counts"]["RUNNING"] >= 1

                # the curve grows while we watch
                n0 = len(live["intermediate"])
                await _until(
                    "more reports",
                    lambda: _more(get, f"{api}/trials/{tid}", n0),
                )

                stop = f"{api}/trials/{tid}/stop"
                async with http.post(stop) as r:
                    assert r.status == 403
                async with http.post(stop, headers={"X-Hyperloom-Token": token}) as r:
                    assert r.status == 200, await r.text()

                async def ended() -> Any:
                    d = await get(f"{api}/trials/{tid}")
                    return d if d["status"] != "RUNNING" else None

                seen["stopped"] = await _until("the stopped trial to end", ended)

                async with http.post(f"{api}/stop", headers={"X-Hyperloom-Token": token}) as r:
                    assert r.status == 200
            records = await asyncio.wait_for(run, 60)
        finally:
            if not run.done():
                exp.stop()
                await asyncio.wait_for(run, 60)
        return records, seen

    records, seen = asyncio.run(scenario())
    stopped = seen["stopped"]
    assert stopped["status"] == "CANCELED"
    assert "dashboard" in (stopped["reason"] or "") and stopped["stop_cause"].startswith("Canceled")
    by_id = {r.trial_id: r for r in records}
    assert by_id[stopped["trial_id"]].status.name == "CANCELED"
    assert len(by_id[stopped["trial_id"]].intermediate) < 60


async def _more(get: Any, path: str, n0: int) -> bool:
    d = await get(path)
    return len(d["intermediate"]) > n0
