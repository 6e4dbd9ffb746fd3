"""NNI v2 configs are translated to hyperloom's; hyperloom-native configs pass unchanged."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hyperloom.config import Config
from hyperloom.errors import ConfigError
from hyperloom.nni_config import is_nni_config, translate

REPO = Path(__file__).resolve().parents[2]
SPACE = {"x": {"_type": "uniform", "_value": [0, 1]}}
# what makes hyperloom's median_stop apply NNI's Medianstop rule
NNI_MEDIAN = {"reference": "completed", "percentile": 50.0, "percentile_growth": 0.0}


def _raw(**kw: Any) -> dict[str, Any]:
    return {
        "trialCommand": "python3 main.py",
        "trialConcurrency": 1,
        "searchSpace": copy.deepcopy(SPACE),
        **kw,
    }


def test_native_config_is_unchanged() -> None:
    raw = _raw(
        tuner={"name": "tpe", "classArgs": {"mode": "minimize", "n_startup": 5}},
        assessor={"name": "median_stop"},
    )
    before = copy.deepcopy(raw)
    out, warnings = translate(raw, None)
    assert out == before and warnings == []
    assert not is_nni_config(raw)


@pytest.mark.parametrize(
    ("nni_name", "target", "mode"),
    [
        ("TPE", "tpe", "minimize"),
        ("Random", "random", None),
        ("GridSearch", "grid", None),
        ("Evolution", "evolution", "maximize"),
        ("Anneal", "anneal", "minimize"),
        ("PPOTuner", "rl", "maximize"),
        ("gridsearch", "grid", None),
    ],
)
def test_tuner_names_and_nni_default_modes(nni_name: str, target: str, mode: str | None) -> None:
    out, warnings = translate(_raw(tuner={"name": nni_name}), None)
    assert out["tuner"]["name"] == target
    assert out["tuner"].get("classArgs", {}).get("mode") == mode
    if mode is not None:
        assert any(f"NNI's default for {nni_name} is used: {mode}" in w for w in warnings)


def test_class_args_are_translated_and_unsupported_ones_named() -> None:
    raw = _raw(
        tuner={
            "name": "TPE",
            "classArgs": {
                "optimize_mode": "maximize",
                "seed": 7,
                "tpe_args": {
                    "n_startup_jobs": 4,
                    "n_ei_candidates": 12,
                    "constant_liar_type": None,
                    "linear_forgetting": 25,
                },
            },
        },
        assessor={
            "name": "Curvefitting",
            "classArgs": {"epoch_num": 20, "start_step": 6, "threshold": 0.9, "gap": 2},
        },
    )
    out, warnings = translate(raw, None)
    assert out["seed"] == 7
    assert out["tuner"] == {
        "name": "tpe",
        "classArgs": {
            "mode": "maximize",
            "n_startup": 4,
            "n_candidates": 12,
            "constant_liar": False,
            "max_good": 25,
        },
    }
    assert out["assessor"]["name"] == "curve_fitting"
    assert out["assessor"]["classArgs"] == {
        "epoch_num": 20,
        "start_step": 6,
        "threshold": 0.9,
        "gap": 2,
        "mode": "maximize",
    }
    assert not [w for w in warnings if "no equivalent" in w]
    cfg = Config.from_dict(out, base_dir=REPO)
    assert cfg.mode == "maximize" and cfg.seed == 7


def test_evolution_medianstop_and_unknown_class_args() -> None:
    raw = _raw(
        tuner={
            "name": "Evolution",
            "classArgs": {"optimize_mode": "minimize", "population_size": 16},
        },
        assessor={"name": "Medianstop", "classArgs": {"start_step": 0}},
    )
    out, warnings = translate(raw, None)
    assert out["tuner"] == {
        "name": "evolution",
        "classArgs": {"mode": "minimize", "population_size": 16},
    }
    assert out["assessor"] == {
        "name": "median_stop",
        "classArgs": {"start_step": 1, "n_startup_trials": 1, **NNI_MEDIAN, "mode": "maximize"},
    }
    assert any("start_step 0 read as 1" in w for w in warnings)
    assert any("although the tuner uses 'minimize'" in w for w in warnings)
    out, warnings = translate(
        _raw(tuner={"name": "Anneal", "classArgs": {"parallel_optimize": True}}), None
    )
    assert "parallel_optimize" not in out["tuner"]["classArgs"]
    assert any("classArgs.parallel_optimize has no equivalent" in w for w in warnings)


def test_medianstop_without_class_args_behaves_as_nni_s() -> None:
    # NNI's Medianstop judges from the first report once one trial completed; hyperloom's own
    # defaults (4 reports, 5 completed trials) must not silently change an NNI experiment
    out, _ = translate(_raw(assessor={"name": "Medianstop"}), None)
    args = out["assessor"]["classArgs"]
    assert (args["start_step"], args["n_startup_trials"]) == (1, 1)
    # NNI's rule: the median (not a growing percentile) of completed trials only
    assert (args["reference"], args["percentile"], args["percentile_growth"]) == (
        "completed",
        50.0,
        0.0,
    )
    out, _ = translate(_raw(assessor={"name": "Medianstop", "classArgs": {"start_step": 5}}), None)
    assert out["assessor"]["classArgs"]["start_step"] == 5
    from hyperloom.registry import load_assessor

    built = load_assessor("median_stop", **out["assessor"]["classArgs"])
    assert (built.reference, built.percentile, built.percentile_growth) == ("completed", 50.0, 0.0)
    # a hyperloom config keeps hyperloom's defaults: it is not translated
    native = _raw(assessor={"name": "median_stop"})
    assert translate(native, None) == (native, [])


def test_hyperband_becomes_random_with_asha_and_a_budget() -> None:
    out, warnings = translate(
        _raw(
            tuner={
                "name": "Hyperband",
                "classArgs": {"R": 27, "eta": 3, "optimize_mode": "maximize"},
            }
        ),
        None,
    )
    assert out["tuner"] == {"name": "random", "classArgs": {"mode": "maximize"}}
    assert out["assessor"]["name"] == "asha"
    assert out["assessor"]["classArgs"]["reduction_factor"] == 3
    assert out["searchSpace"]["TRIAL_BUDGET"] == {"_type": "choice", "_value": [27]}
    assert any("Hyperband -> random tuner + asha" in w for w in warnings)
    Config.from_dict(out, base_dir=REPO)


def test_algorithms_without_equivalent_go_through_the_nni_adapter(tmp_path: Path) -> None:
    out, warnings = translate(_raw(tuner={"name": "GP", "classArgs": {"utility": "ei"}}), None)
    assert any("NNI adapter" in w for w in warnings)
    assert out["tuner"] == {
        "name": "nni",
        "classArgs": {"builtin": "GP", "class_args": {"utility": "ei"}, "mode": "maximize"},
    }
    (tmp_path / "my_tuner.py").write_text(
        "from nni.tuner import Tuner\n\nclass MyTuner(Tuner):\n    pass\n"
    )
    (tmp_path / "ours.py").write_text(
        "from hyperloom.tuners import Tuner\n\nclass Ours(Tuner):\n    pass\n"
    )
    src = tmp_path / "config.yml"
    raw = _raw(
        tuner={
            "className": "my_tuner.MyTuner",
            "codeDirectory": ".",
            "classArgs": {"optimize_mode": "minimize", "k": 1},
        }
    )
    out, _ = translate(raw, src)
    assert out["tuner"] == {
        "name": "nni",
        "codeDirectory": str(tmp_path),  # the registry hands it to the adapter
        "classArgs": {
            "class_name": "my_tuner.MyTuner",
            "class_args": {"optimize_mode": "minimize", "k": 1},
            "mode": "minimize",
        },
    }
    raw = _raw(tuner={"className": "ours.Ours", "codeDirectory": "."}, logLevel="debug")
    out, _ = translate(raw, src)
    assert out["tuner"] == {"className": "ours.Ours", "codeDirectory": "."}


def test_ignored_keys_give_one_warning_each_and_keys_match_like_nni() -> None:
    raw = _raw(
        tuner={"name": "Random"},
        useAnnotation=False,
        nniManagerIp="10.0.0.1",
        logLevel="debug",
        debug=True,
        experimentType="hpo",
        tunerGpuIndices=[0],
        trainingService={"platform": "local", "reuseMode": False, "useActiveGpu": False},
    )
    raw["max_trial_number"] = raw.pop("trialConcurrency") + 4
    out, warnings = translate(raw, None)
    for key in (
        "useAnnotation",
        "nniManagerIp",
        "logLevel",
        "debug",
        "experimentType",
        "tunerGpuIndices",
        "trainingService.reuseMode",
    ):
        assert sum(f"ignored NNI key {key}:" in w for w in warnings) == 1, key
    assert out["maxTrialNumber"] == 5
    assert out["nniCompat"] is True
    cfg = Config.from_dict(out, base_dir=REPO)
    assert cfg.max_trial_number == 5 and cfg.training_service.use_active_gpu is False


def test_advisor_and_nas_configs() -> None:
    out, warnings = translate(_raw(advisor={"name": "Hyperband", "classArgs": {"R": 9}}), None)
    assert out["tuner"]["name"] == "random" and "advisor" not in out
    assert any("advisor is deprecated" in w for w in warnings)
    with pytest.raises(ConfigError, match="nas"):
        translate(_raw(tuner={"name": "TPE"}, experimentType="nas"), None)


def test_example_config_loads_as_nni_wrote_it() -> None:
    path = REPO / "examples" / "nni-digits" / "config.yml"
    cfg = Config.load(path)
    assert cfg.tuner.name == "tpe" and cfg.tuner.class_args == {"mode": "maximize"}
    assert cfg.assessor is not None and cfg.assessor.name == "median_stop"
    assert cfg.assessor.class_args == {
        "mode": "maximize",
        "start_step": 2,
        "n_startup_trials": 1,
        **NNI_MEDIAN,
    }
    assert (
        cfg.trial_concurrency == 2
        and cfg.max_trial_number == 12
        and cfg.max_experiment_duration == 600
    )
    assert cfg.extras["nniCompat"] is True
    assert cfg.warnings == ("ignored NNI key logLevel: hyperloom keeps its own manager.log",)
    space = json.loads((path.parent / "search_space.json").read_text())
    assert cfg.search_space.to_nni() == space
