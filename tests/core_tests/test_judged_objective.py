"""Several objectives: a report's value is the first objective found by name, and an assessor
judges the objective it names (``assessor.objective``), live and after resume. Through the real
manager and store on the simulate executor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hyperloom import Experiment
from hyperloom.config import Config
from hyperloom.errors import ConfigError
from hyperloom.types import Objective, TrialStatus, outcome

SUPPORT = Path(__file__).parent / "lineage_support"


@pytest.fixture(autouse=True)
def _support_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT.parent))


def config(tmp_path: Path, log: Path, **kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "searchSpace": {"x": {"_type": "choice", "_value": [0, 1, 2, 3, 4, 5]}},
        "trialConcurrency": 2,
        "maxTrialNumber": 3,
        "objectives": [{"name": "acc", "mode": "maximize"}, {"name": "size", "mode": "minimize"}],
        "tuner": {"name": "random", "classArgs": {"seed": 3}},
        "assessor": {
            "name": "judged:Recorder",
            "codeDirectory": str(SUPPORT),
            "objective": "size",
            "classArgs": {"log": str(log)},
        },
        "trainingService": {
            "platform": "simulate",
            "function": "lineage_support.curves:tradeoff",
            "steps": 3,
        },
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    cfg.update(kw)
    return cfg


def calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in log.read_text().splitlines()]


def test_the_assessor_judges_the_named_objective_live_and_after_resume(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    exp = Experiment.from_config(config(tmp_path, log))
    records = exp.run(dashboard=False)
    assert len(records) == 3
    by_id = {r.trial_id: r for r in records}
    seen = calls(log)
    assert seen[0] == {"mode": "minimize"}, "the assessor takes the judged objective's mode"
    for c in seen:
        if "assess" in c:
            x = by_id[c["assess"]].params["x"]
            size = x * 10 + (50 if x == 4 else 0)
            assert c["history"] == [size] * len(c["steps"]), c
            assert c["steps"] == list(range(len(c["steps"])))
    observed = [c for c in seen if "observe" in c]
    assert len(observed) == 3
    for c in observed:
        x = by_id[c["observe"]].params["x"]
        size = x * 10 + (50 if x == 4 else 0)
        assert c["intermediate"] == [size] * 3
        assert by_id[c["observe"]].status is TrialStatus.SUCCEEDED
    # the tuner side is unchanged: the value is acc, the first objective
    for r in records:
        assert r.values is not None and r.values[0] == r.value

    log.write_text("")
    Experiment.resume(exp.dir).run(dashboard=False)
    replayed = [c for c in calls(log) if "observe" in c]
    assert sorted(replayed, key=lambda c: c["observe"]) == sorted(
        observed, key=lambda c: c["observe"]
    ), "a resumed assessor sees what the live one saw"


def test_an_unknown_judged_objective_is_a_config_error_with_a_suggestion(tmp_path: Path) -> None:
    raw = config(tmp_path, tmp_path / "x.jsonl")
    raw["assessor"]["objective"] = "sise"
    with pytest.raises(ConfigError, match=r"assessor\.objective 'sise'.*did you mean 'size'"):
        Config.from_dict(raw, base_dir=tmp_path)
    raw["tuner"]["objective"] = "size"
    raw["assessor"]["objective"] = "size"
    with pytest.raises(ConfigError, match="objective"):
        Config.from_dict(raw, base_dir=tmp_path)  # only an assessor judges one objective


def test_the_first_objective_is_found_by_name_whatever_the_dict_order() -> None:
    objectives = (Objective("acc", "maximize"), Objective("lat", "minimize"))
    status, values, _ = outcome(
        exit_code=0, final=3.0, final_metrics={"lat": 3.0, "acc": 0.9}, objectives=objectives
    )
    assert status is TrialStatus.SUCCEEDED and values == (0.9, 3.0)


def test_a_trial_stopped_early_keeps_every_objective_it_reached(tmp_path: Path) -> None:
    cfg = config(tmp_path, tmp_path / "unused.jsonl")
    cfg["assessor"] = {"name": "judged:StopAtTwo", "codeDirectory": str(SUPPORT)}
    records = Experiment.from_config(cfg).run(dashboard=False)
    assert {r.status for r in records} == {TrialStatus.EARLY_STOPPED}
    for r in records:
        x = r.params["x"]
        acc = {0: 0.5, 1: 0.6, 2: 0.7, 3: 0.8, 4: 0.75, 5: 0.9}[x] * 2 / 3
        size = x * 10 + (50 if x == 4 else 0)
        assert r.values == pytest.approx((acc, size)), "the second objective from its last report"
