"""``open_experiment(id).importance()`` on a recorded experiment (real manager, store and
simulate executor): the parameter that decides the value ranks first."""

from __future__ import annotations

from pathlib import Path

import pytest
from hyperloom import Experiment, open_experiment

SUPPORT = Path(__file__).parent / "lineage_support"


def test_importance_ranks_the_parameter_that_matters_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(SUPPORT.parent))
    exp = Experiment.from_config(
        {
            "searchSpace": {
                "x": {"_type": "uniform", "_value": [0, 1]},
                "y": {"_type": "uniform", "_value": [0, 1]},
            },
            "trialConcurrency": 4,
            "maxTrialNumber": 40,
            "tuner": {"name": "random", "classArgs": {"seed": 2}},
            "trainingService": {
                "platform": "simulate",
                "function": "lineage_support.curves:x_matters",
                "steps": 2,
            },
            "experimentWorkingDirectory": str(tmp_path / "exps"),
            "dashboard": False,
        }
    )
    exp.run(dashboard=False)
    with open_experiment(exp.dir) as view:
        result = view.importance(n_trees=16, seed=0)
    assert result.ranking()[0] == "x"
    assert result["x"] > 0.8 > result["y"]
    assert result.n_trials == 40
