"""The dashboard's JSON API, served by a real DashboardServer on port 0, on stores built with Store."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import FakeControl, add_trial
from hyperloom.dashboard._files import LOG_TAIL_BYTES, trial_log_path
from hyperloom.types import TrialStatus

TOKEN = "s3cret-token"


@pytest.fixture
def exp(make_experiment: Any) -> tuple[Path, Any]:
    return make_experiment("exp00001", n=16)


def test_experiments_list(exp: Any, live_server: Any) -> None:
    d, _ = exp
    srv = live_server([d])
    data = srv.get("/api/experiments")
    (row,) = data["experiments"]
    assert row["id"] == "exp00001"
    assert row["name"] == "mnist-demo"
    assert row["total"] == 16
    assert row["counts"]["SUCCEEDED"] == 12 and row["counts"]["EARLY_STOPPED"] == 2
    assert row["best"]["trial_id"].startswith("t")
    assert row["live"] is False


def test_experiments_list_follows_a_callable(make_experiment: Any, live_server: Any) -> None:
    d1, _ = make_experiment("exp00001", n=2)
    dirs = [d1]
    srv = live_server(lambda: list(dirs))
    assert [e["id"] for e in srv.get("/api/experiments")["experiments"]] == ["exp00001"]
    d2, _ = make_experiment("exp00002", n=3)
    dirs.append(d2)
    assert {e["id"] for e in srv.get("/api/experiments")["experiments"]} == {"exp00001", "exp00002"}
    assert srv.get("/api/experiments/exp00002")["total"] == 3


def test_overview(exp: Any, live_server: Any) -> None:
    d, store = exp
    srv = live_server([d])
    ov = srv.get("/api/experiments/exp00001")
    values = [t.value for t in store.trials() if t.value is not None]
    assert ov["mode"] == "maximize"
    assert ov["total"] == 16
    assert ov["budget"]["max_trials"] == 20
    assert ov["experiment"]["space"]["lr"]["_type"] == "loguniform"
    assert ov["experiment"]["config"]["trialCommand"] == "python train.py"
    best = [p[1] for p in ov["best_by_sequence"]]
    assert best == sorted(best) and best[-1] == pytest.approx(max(values))
    assert [p[1] for p in ov["best_by_time"]][-1] == pytest.approx(max(values))
    top = [t["value"] for t in ov["top"]]
    assert top == sorted(top, reverse=True)[:10] and top[0] == pytest.approx(max(values))
    assert len(ov["values"]) == len(values)


def test_overview_minimize(make_experiment: Any, live_server: Any) -> None:
    d, store = make_experiment("expmin01", n=10, mode="minimize")
    srv = live_server([d])
    ov = srv.get("/api/experiments/expmin01")
    values = [t.value for t in store.trials() if t.value is not None]
    assert ov["mode"] == "minimize"
    assert ov["top"][0]["value"] == pytest.approx(min(values))
    best = [p[1] for p in ov["best_by_sequence"]]
    assert best == sorted(best, reverse=True)


def test_summary_is_the_list_row(exp: Any, live_server: Any) -> None:
    d, _ = exp
    srv = live_server([d])
    s = srv.get("/api/experiments/exp00001?summary=1")
    assert s["id"] == "exp00001" and s["total"] == 16 and "top" not in s


def test_trials_paging_and_sorting(exp: Any, live_server: Any) -> None:
    d, _ = exp
    srv = live_server([d])
    p1 = srv.get("/api/experiments/exp00001/trials?limit=5")
    p2 = srv.get("/api/experiments/exp00001/trials?limit=5&offset=5")
    assert p1["total"] == 16 and len(p1["trials"]) == 5
    assert [t["sequence"] for t in p1["trials"] + p2["trials"]] == list(range(1, 11))
    assert p1["columns"]["params"] == ["lr", "batch_size", "dropout"]
    assert set(p1["columns"]["metrics"]) == {"loss", "acc_top5"}
    first = p1["trials"][0]
    assert set(first["params"]) == {"lr", "batch_size", "dropout"}
    assert first["duration"] == pytest.approx(10.0)

    by_value = srv.get("/api/experiments/exp00001/trials?sort=value&order=desc&limit=100")
    vals = [t["value"] for t in by_value["trials"]]
    known = [v for v in vals if v is not None]
    assert known == sorted(known, reverse=True)
    assert vals[len(known) :] == [None] * (len(vals) - len(known))  # nulls last

    by_lr = srv.get("/api/experiments/exp00001/trials?sort=param:lr&limit=100")
    lrs = [t["params"]["lr"] for t in by_lr["trials"]]
    assert lrs == sorted(lrs)
    by_loss = srv.get("/api/experiments/exp00001/trials?sort=metric:loss&order=desc&limit=100")
    losses = [t["metrics"]["loss"] for t in by_loss["trials"] if "loss" in t["metrics"]]
    assert losses == sorted(losses, reverse=True)


def test_trials_filter_and_search(exp: Any, live_server: Any) -> None:
    d, store = exp
    srv = live_server([d])
    everything = store.trials()
    failed = srv.get("/api/experiments/exp00001/trials?status=FAILED,EARLY_STOPPED")
    assert failed["total"] == 4
    assert {t["status"] for t in failed["trials"]} == {"FAILED", "EARLY_STOPPED"}

    small = srv.get("/api/experiments/exp00001/trials?q=lr%3C0.001&limit=100")
    assert small["total"] == sum(1 for t in everything if t.params["lr"] < 0.001)
    assert all(t["params"]["lr"] < 0.001 for t in small["trials"])

    good = srv.get("/api/experiments/exp00001/trials?q=value%3E%3D0.8+batch_size%3D64&limit=100")
    expect = [
        t.trial_id
        for t in everything
        if t.value is not None and t.value >= 0.8 and t.params["batch_size"] == 64
    ]
    assert sorted(t["trial_id"] for t in good["trials"]) == sorted(expect)

    one = srv.get("/api/experiments/exp00001/trials?q=t0003")
    assert [t["trial_id"] for t in one["trials"]] == ["t0003"]
    none = srv.get("/api/experiments/exp00001/trials?q=%25%25nothing_")
    assert none["total"] == 0


def test_trials_bad_query_is_400(exp: Any, live_server: Any) -> None:
    d, _ = exp
    srv = live_server([d])
    status, data, _ = srv.request("GET", "/api/experiments/exp00001/trials?sort=drop%20table")
    assert status == 400 and "unknown sort key" in data["error"]
    status, data, _ = srv.request("GET", "/api/experiments/exp00001/trials?limit=abc")
    assert status == 400 and "limit" in data["error"]


def test_trial_detail(exp: Any, live_server: Any) -> None:
    d, _ = exp
    srv = live_server([d])
    t = srv.get("/api/experiments/exp00001/trials/t0000")
    assert t["status"] == "SUCCEEDED" and t["exit_code"] == 0 and t["devices"] == [1]
    assert [p[0] for p in t["intermediate"]] == list(range(10))
    assert t["intermediate"][-1][1] == pytest.approx(t["value"])
    assert t["stop_cause"] is None
    assert t["stdout"]["exists"] is False

    stopped = srv.get("/api/experiments/exp00001/trials/t0006")
    assert stopped["status"] == "EARLY_STOPPED"
    assert stopped["events"][0]["kind"] == "assessor"
    assert (
        "assessor at step 9" in stopped["stop_cause"]
        and "below the median" in stopped["stop_cause"]
    )
    failed = srv.get("/api/experiments/exp00001/trials/t0007")
    assert failed["stop_cause"].startswith("Failed")

    status, data, _ = srv.request("GET", "/api/experiments/exp00001/trials/nope")
    assert status == 404 and "nope" in data["error"]
    status, _, _ = srv.request("GET", "/api/experiments/nope/trials/t0000")
    assert status == 404


def test_trial_log_tails(exp: Any, live_server: Any) -> None:
    d, _ = exp
    logs = d / "trials" / "t0001"
    logs.mkdir(parents=True)
    lines = [f"line {i:06d} " + "x" * 40 for i in range(3000)]
    (logs / "stdout.log").write_text("\n".join(lines) + "\n")
    (logs / "stderr.log").write_text("Traceback: boom\n")
    srv = live_server([d])
    t = srv.get("/api/experiments/exp00001/trials/t0001")
    out = t["stdout"]
    assert out["truncated"] is True and out["size"] > LOG_TAIL_BYTES
    assert len(out["text"].encode()) <= LOG_TAIL_BYTES
    assert out["text"].startswith("line ")  # the cut first line is dropped
    assert out["text"].rstrip("\n").endswith(lines[-1])
    assert t["stderr"] == {
        "text": "Traceback: boom\n",
        "size": 16,
        "truncated": False,
        "exists": True,
    }


def test_version_changes_on_write(exp: Any, live_server: Any) -> None:
    d, store = exp
    srv = live_server([d])
    v1 = srv.get("/api/experiments/exp00001/version")["version"]
    assert srv.get("/api/experiments/exp00001/version")["version"] == v1
    time.sleep(0.01)
    add_trial(store, random.Random(1), trial_id="tnew", status=TrialStatus.RUNNING, steps=2)
    assert srv.get("/api/experiments/exp00001/version")["version"] != v1
    assert srv.get("/api/experiments/exp00001/trials/tnew")["status"] == "RUNNING"


def test_charts_data(exp: Any, live_server: Any) -> None:
    d, store = exp
    add_trial(store, random.Random(2), trial_id="trun", status=TrialStatus.RUNNING, steps=3)
    srv = live_server([d])
    c = srv.get("/api/experiments/exp00001/charts?curves=3")
    assert len(c["points"]) == 12
    assert all(set(p["params"]) == {"lr", "batch_size", "dropout"} for p in c["points"])
    ids = [cv["trial_id"] for cv in c["curves"]]
    assert "trun" in ids
    best3 = sorted((t for t in store.trials() if t.value is not None), key=lambda t: -t.value)[:3]
    assert {t.trial_id for t in best3} <= set(ids)
    assert all(len(cv["points"]) >= 3 for cv in c["curves"])


# -- actions --------------------------------------------------------------------------------------


def test_start_returns_url_with_token(exp: Any, live_server: Any) -> None:
    d, _ = exp
    srv = live_server([d], control=FakeControl("exp00001"), token=TOKEN)
    assert srv.url == f"http://127.0.0.1:{srv.server.port}/?token={TOKEN}"
    status, body, headers = srv.request("GET", "/")
    assert status == 200 and "<title>hyperloom</title>" in body
    assert headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in headers["content-security-policy"]


def test_stop_trial_needs_the_token(exp: Any, live_server: Any) -> None:
    d, _ = exp
    ctl = FakeControl("exp00001", running={"t0002"})
    srv = live_server([d], control=ctl, token=TOKEN)
    path = "/api/experiments/exp00001/trials/t0002/stop"

    status, data, _ = srv.request("POST", path)
    assert status == 403 and "token" in data["error"]
    status, data, _ = srv.request("POST", path, headers={"X-Hyperloom-Token": "wrong"})
    assert status == 403
    status, data, _ = srv.request("GET", path)  # not a GET endpoint
    assert status == 405
    assert ctl.stopped_trials == []

    status, data, _ = srv.request("POST", path, headers={"X-Hyperloom-Token": TOKEN})
    assert (status, data) == (200, {"ok": True})
    status, data, _ = srv.request("POST", f"{path}?token={TOKEN}")
    assert status == 200
    assert ctl.stopped_trials == ["t0002", "t0002"]

    status, data, _ = srv.request(
        "POST", "/api/experiments/exp00001/trials/t0000/stop", headers={"X-Hyperloom-Token": TOKEN}
    )
    assert status == 409 and "not running" in data["error"]


def test_stop_experiment(exp: Any, live_server: Any) -> None:
    d, _ = exp
    ctl = FakeControl("exp00001")
    srv = live_server([d], control=ctl, token=TOKEN)
    assert srv.request("POST", "/api/experiments/exp00001/stop")[0] == 403
    assert ctl.experiment_stops == 0
    status, data, _ = srv.request(
        "POST", "/api/experiments/exp00001/stop", headers={"X-Hyperloom-Token": TOKEN}
    )
    assert (status, data) == (200, {"ok": True}) and ctl.experiment_stops == 1
    assert srv.get("/api/experiments/exp00001")["actions"] is True


def test_read_only_without_control_or_token(make_experiment: Any, live_server: Any) -> None:
    d1, _ = make_experiment("exp00001", n=2)
    d2, _ = make_experiment("exp00002", n=2)
    ctl = FakeControl("exp00001", running={"t0000"})
    srv = live_server([d1, d2], control=ctl, token=TOKEN)
    hdr = {"X-Hyperloom-Token": TOKEN}
    # the token of the live experiment does not unlock another one
    status, data, _ = srv.request("POST", "/api/experiments/exp00002/stop", headers=hdr)
    assert status == 403 and "read-only" in data["error"]
    # no token configured: nothing can be stopped, whatever is sent
    srv2 = live_server([d1], control=ctl)
    for h in ({}, {"X-Hyperloom-Token": ""}, {"X-Hyperloom-Token": "None"}):
        assert (
            srv2.request("POST", "/api/experiments/exp00001/trials/t0000/stop", headers=h)[0] == 403
        )
    # view mode: no control at all
    srv3 = live_server([d1])
    assert srv3.request("POST", "/api/experiments/exp00001/stop", headers=hdr)[0] == 403
    assert srv3.get("/api/experiments/exp00001")["actions"] is False
    assert ctl.stopped_trials == [] and ctl.experiment_stops == 0


# -- safety ---------------------------------------------------------------------------------------

TRAVERSALS = [
    "/api/experiments/../../etc/passwd",
    "/api/experiments/..%2F..%2Fetc%2Fpasswd",
    "/api/experiments/%2e%2e%2f%2e%2e%2fetc",
    "/api/experiments/exp00001/trials/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/experiments/exp00001/trials/%2e%2e",
    "/api/experiments/exp00001/trials/../../../../etc/passwd",
    "/static/../../../../etc/passwd",
    "/static/..%2F..%2F__init__.py",
    "/static/%2e%2e/%2e%2e/__init__.py",
    "/static/vendor/../../server.py",
    "/static/..\\..\\server.py",
    "/static//etc/passwd",
    "/static/%2Fetc%2Fpasswd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_traversal(exp: Any, live_server: Any, path: str) -> None:
    d, _ = exp
    (d / "trials").mkdir(exist_ok=True)
    (d / "secret.txt").write_text("TOP-SECRET")
    srv = live_server([d], control=FakeControl("exp00001"), token=TOKEN)
    status, body, _ = srv.request("GET", path)
    text = str(body)
    assert status in (400, 403, 404), (path, status)
    assert "root:" not in text and "TOP-SECRET" not in text and "import " not in text


def test_log_paths_stay_inside_the_trials_folder(tmp_path: Path) -> None:
    (tmp_path / "trials" / "ok").mkdir(parents=True)
    assert (
        trial_log_path(tmp_path, "ok", "stdout.log")
        == (tmp_path / "trials/ok/stdout.log").resolve()
    )
    for bad in ("..", "../x", "a/../../b", "/etc", "a/b", ".hidden", "x" * 200):
        assert trial_log_path(tmp_path, bad, "stdout.log") is None
    assert trial_log_path(tmp_path, "ok", "../../secret") is None
    assert trial_log_path(tmp_path, "ok", "params.json") is None


def test_foreign_host_header_is_refused(exp: Any, live_server: Any) -> None:
    d, _ = exp
    srv = live_server([d])
    status, data, _ = srv.request("GET", "/api/experiments", headers={"Host": "evil.example:80"})
    assert status == 403 and "Host" in data["error"]
    status, _, _ = srv.request(
        "GET", "/api/experiments", headers={"Host": f"localhost:{srv.server.port}"}
    )
    assert status == 200


def test_static_assets_are_vendored(exp: Any, live_server: Any) -> None:
    d, _ = exp
    srv = live_server([d])
    status, body, headers = srv.request("GET", "/static/vendor/echarts/echarts.min.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert len(body) > 200_000 and "Apache ECharts" in body[:300]
    status, body, _ = srv.request("GET", "/static/vendor/echarts/LICENSE")
    assert status == 200 and "Apache License" in body
    _, index, _ = srv.request("GET", "/")
    assert "http://" not in index.replace("http://www.w3.org", "") and "https://" not in index


def test_summary_without_best(exp: Any, live_server: Any) -> None:
    d, _ = exp
    srv = live_server([d])
    s = srv.get("/api/experiments/exp00001?summary=1&best=0")
    assert s["best"] is None and s["total"] == 16 and s["counts"]["SUCCEEDED"] == 12


def test_data_responses_carry_the_store_version(exp: Any, live_server: Any) -> None:
    d, _ = exp
    srv = live_server([d])
    v = srv.get("/api/experiments/exp00001/version")["version"]
    for path in ("", "?summary=1", "/trials", "/trials/t0000", "/charts"):
        _, _, headers = srv.request("GET", f"/api/experiments/exp00001{path}")
        assert headers["x-hyperloom-version"] == v, path


def test_unknown_experiment_error_is_json(exp: Any, live_server: Any) -> None:
    d, _ = exp
    srv = live_server([d])
    status, data, _ = srv.request("GET", "/api/experiments/a%22b%5C")
    assert status == 404 and data["error"].startswith("no experiment 'a\"b\\\\'")
