"""PAUSE and resume, committed checkpoints and warm starts: through the real manager, on the
simulate executor (virtual time) and with real trial processes that save and restore files."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from hyperloom import Experiment
from hyperloom.store import Store, StoreReader
from hyperloom.types import TrialStatus

SUPPORT = Path(__file__).parent / "lineage_support"


def sim_config(tmp_path: Path, tuner: str, **kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "searchSpace": {"x": {"_type": "choice", "_value": [0, 1, 2, 3]}},
        "trialConcurrency": 2,
        "maxTrialNumber": 4,
        "tuner": {"name": f"lineage_sched:{tuner}", "codeDirectory": str(SUPPORT)},
        "trainingService": {
            "platform": "simulate",
            "function": "lineage_support.curves:linear",
            "steps": 6,
        },
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "dashboard": False,
    }
    cfg.update(kw)
    return cfg


@pytest.fixture(autouse=True)
def _support_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT.parent))


def steps_of(exp_dir: Path, trial_id: str) -> list[int]:
    with StoreReader(exp_dir) as r:
        return [s for s, _v, _t in r.intermediate(trial_id)]


def test_simulated_pause_then_resume_continues_from_the_checkpoint(tmp_path: Path) -> None:
    exp = Experiment.from_config(sim_config(tmp_path, "PauseOnce", maxTrialNumber=2))
    records = exp.run(dashboard=False)
    assert [r.status for r in records] == [TrialStatus.SUCCEEDED] * 2
    for r in records:
        assert steps_of(exp.dir, r.trial_id) == list(range(6)), "steps go on, none twice"
        assert r.value == pytest.approx((r.params["x"] + 1) * 6)
    with StoreReader(exp.dir) as reader:
        kinds = [e["kind"] for e in reader.events()]
        resumed = reader.events(kind="resumed")
    assert kinds.count("paused") == 2 and kinds.count("resumed") == 2
    assert all(e["payload"]["start_step"] == 3 for e in resumed), "checkpoint at step 2"


def test_paused_trials_never_resumed_end_early_stopped_with_their_value(tmp_path: Path) -> None:
    # a scheduler that never resumes: every paused trial ends EARLY_STOPPED at the end
    cfg2 = sim_config(tmp_path, "PauseOnce", maxTrialNumber=2)
    cfg2["tuner"] = {"name": "lineage_sched:NeverResume", "codeDirectory": str(SUPPORT)}
    exp2 = Experiment.from_config(cfg2)
    records = exp2.run(dashboard=False)
    assert {r.status for r in records} == {TrialStatus.EARLY_STOPPED}
    assert all(r.value is not None for r in records), "a paused trial keeps the value it reached"
    assert all("paused when the experiment ended" in (r.reason or "") for r in records)


def test_simulated_warm_start_records_parent_and_continues_steps(tmp_path: Path) -> None:
    exp = Experiment.from_config(sim_config(tmp_path, "Exploit", maxTrialNumber=2))
    records = exp.run(dashboard=False)
    first, child = records
    assert child.parent == first.trial_id
    assert child.perturbation == {"x": "1 -> 2"}
    # exploited once the parent reported step 2 (checkpointed every step): steps 3.. follow
    assert steps_of(exp.dir, child.trial_id) == [3, 4, 5]
    assert child.status == TrialStatus.SUCCEEDED
    assert child.value == pytest.approx(3 * 6)
    with StoreReader(exp.dir) as reader:
        rows = [json.loads(t) for t in reader.iter_trials_json()]
    assert rows[1]["parent"] == first.trial_id and rows[0]["parent"] is None


def local_config(tmp_path: Path, tuner: str, **kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "trialCommand": f"{sys.executable} ckpt_trial.py",
        "trialCodeDirectory": str(SUPPORT),
        "searchSpace": {"x": {"_type": "choice", "_value": [0, 1, 2]}},
        "trialConcurrency": 2,
        "maxTrialNumber": 2,
        "tuner": {"name": f"lineage_sched:{tuner}", "codeDirectory": str(SUPPORT)},
        "experimentWorkingDirectory": str(tmp_path / "exps"),
        "stopGracePeriod": 5,
        "dashboard": False,
    }
    cfg.update(kw)
    return cfg


def test_real_trials_pause_and_resume_from_their_own_checkpoint(tmp_path: Path) -> None:
    exp = Experiment.from_config(local_config(tmp_path, "PauseOnce"))
    records = exp.run(dashboard=False)
    assert [r.status for r in records] == [TrialStatus.SUCCEEDED] * 2, [r.reason for r in records]
    for r in records:
        assert steps_of(exp.dir, r.trial_id) == list(range(6))
        assert r.metrics["restored"] is True
        # the running sum survived the pause exactly: 6 steps of x + 1, none lost or repeated
        assert r.value == pytest.approx((r.params["x"] + 1) * 6)
        assert r.checkpoint is not None and r.checkpoint["step"] == 5
        assert (exp.dir / "trials" / r.trial_id / "metrics.jsonl.1").exists()


def test_a_trial_that_answers_the_pause_with_a_final_report_is_paused(tmp_path: Path) -> None:
    cfg = local_config(tmp_path, "PauseOnce")
    cfg["searchSpace"]["final_on_stop"] = {"_type": "choice", "_value": [True]}
    exp = Experiment.from_config(cfg)
    records = exp.run(dashboard=False)
    assert [r.status for r in records] == [TrialStatus.SUCCEEDED] * 2, [r.reason for r in records]
    with StoreReader(exp.dir) as reader:
        assert len(reader.events(kind="paused")) == 2 and len(reader.events(kind="resumed")) == 2
    for r in records:
        assert steps_of(exp.dir, r.trial_id) == list(range(6))
        assert r.value == pytest.approx((r.params["x"] + 1) * 6)


def test_real_warm_start_gets_a_private_copy_of_the_parents_checkpoint(tmp_path: Path) -> None:
    exp = Experiment.from_config(local_config(tmp_path, "Exploit"))
    first, child = exp.run(dashboard=False)
    assert child.parent == first.trial_id
    assert child.status == TrialStatus.SUCCEEDED, child.reason
    assert child.metrics["restored"] is True
    # the child went on from the parent's checkpoint at some step k >= 2, with its own x
    seen = child.metrics["x_seen"]
    k = seen.count(1) - 1
    assert k >= 2 and seen == [1] * (k + 1) + [2] * (5 - k)
    assert steps_of(exp.dir, child.trial_id) == list(range(k + 1, 6))
    restore = exp.dir / "trials" / child.trial_id / "restore" / "state.json"
    assert restore.exists()
    restore.write_text("corrupted by the child")
    assert first.checkpoint is not None and first.checkpoint["step"] == 5
    donor = json.loads((Path(first.checkpoint["dir"]) / "state.json").read_text())
    assert donor["step"] == 5 and donor["x_seen"] == [1] * 6, "the donor is untouched"


def test_a_donor_without_a_committed_checkpoint_is_never_exploited(tmp_path: Path) -> None:
    cfg = sim_config(tmp_path, "Exploit", maxTrialNumber=2)
    cfg["trainingService"]["checkpointEvery"] = 0
    exp = Experiment.from_config(cfg)
    first, child = exp.run(dashboard=False)
    assert child.parent is None
    assert steps_of(exp.dir, child.trial_id) == list(range(6)), "started fresh"
    assert child.value == pytest.approx(3 * 6)
    with StoreReader(exp.dir) as reader:
        refused = reader.events(kind="exploit_refused")
    assert refused and refused[0]["payload"]["parent"] == first.trial_id


def test_two_objectives_are_stored_and_a_missing_one_fails_the_trial(tmp_path: Path) -> None:
    cfg = sim_config(tmp_path, "TwoObjectives", maxTrialNumber=4, trialConcurrency=1)
    cfg["trainingService"]["function"] = "lineage_support.curves:with_size"
    cfg["objectives"] = [{"name": "acc", "mode": "maximize"}, {"name": "size", "mode": "minimize"}]
    exp = Experiment.from_config(cfg)
    records = exp.run(dashboard=False)
    ok = [r for r in records if r.status == TrialStatus.SUCCEEDED]
    failed = [r for r in records if r.status == TrialStatus.FAILED]
    assert [r.params["x"] for r in failed] == [3], "x=3 reports no size"
    assert "'size' missing" in (failed[0].reason or "")
    for r in ok:
        assert r.values == (pytest.approx(r.value), float(r.params["x"] * 10))
    assert exp.manager.tuner.seen[0].values == ok[0].values


def test_a_single_objective_tuner_refuses_several_objectives(tmp_path: Path) -> None:
    from hyperloom.errors import ConfigError

    cfg = sim_config(tmp_path, "Exploit")
    cfg["objectives"] = [{"name": "acc"}, {"name": "size", "mode": "minimize"}]
    with pytest.raises(ConfigError, match="optimizes one objective"):
        Experiment.from_config(cfg).run(dashboard=False)


def test_a_v1_store_is_read_and_migrated(tmp_path: Path) -> None:
    exp = Experiment.from_config(sim_config(tmp_path, "TwoObjectives", maxTrialNumber=2))
    exp.run(dashboard=False)
    db = exp.dir / "experiment.db"
    conn = sqlite3.connect(db)
    for col in ("values_json", "parent", "checkpoint_json", "perturbation_json", "steps_blob"):
        conn.execute(f"ALTER TABLE trials DROP COLUMN {col}")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with StoreReader(exp.dir) as r:  # read-only: no migration, the columns read as absent
        recs = r.trials()
        assert [x.values for x in recs] == [(x.value,) for x in recs]
        assert all(x.parent is None for x in recs)
        assert json.loads(next(r.iter_trials_json()))["values"] == [recs[0].value]
    Store.open(exp.dir).close()  # a writer migrates
    with StoreReader(exp.dir) as r:
        assert r._version == 3
        assert [x.value for x in r.trials()] == [x.value for x in recs]


def test_paused_trials_survive_a_stop_and_are_resumed_after_resume(tmp_path: Path) -> None:
    cfg = sim_config(tmp_path, "PauseThenResumeLater", maxTrialNumber=2)
    exp = Experiment.from_config(cfg)

    def stop_when_all_paused(progress: Any) -> None:
        if progress.counts.get("PAUSED", 0) == 2:
            exp.stop()

    exp.run(dashboard=False, on_progress=stop_when_all_paused)
    with StoreReader(exp.dir) as r:
        assert [t.status for t in r.trials()] == [TrialStatus.PAUSED] * 2, "kept for resume"
        assert r.experiment()["status"] == "STOPPED"
    again = Experiment.resume(exp.dir)
    records = again.run(dashboard=False)
    assert [r.status for r in records] == [TrialStatus.SUCCEEDED] * 2
    for r in records:
        assert steps_of(exp.dir, r.trial_id) == list(range(6))
        assert r.value == pytest.approx((r.params["x"] + 1) * 6)


def test_a_scheduler_is_told_once_when_only_paused_trials_can_run(tmp_path: Path) -> None:
    log = tmp_path / "told.txt"
    cfg = sim_config(tmp_path, "PauseOnceTold", maxTrialNumber=2)
    cfg["tuner"]["classArgs"] = {"log": str(log)}
    records = Experiment.from_config(cfg).run(dashboard=False)
    assert [r.status for r in records] == [TrialStatus.SUCCEEDED] * 2
    told = log.read_text().splitlines()
    assert len(told) == 1 and told[0].startswith("budget spent with"), "told once"
    assert told[0] != "budget spent with 0 paused", "told when a paused trial could run"
