"""``hyperloom plugins`` and ``hyperloom plugins check``, run in-process through the CLI's main()."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hyperloom.cli import main

BAD_TUNER = """
from hyperloom.tuners.random import RandomTuner

class ForgetfulTuner(RandomTuner):
    '''Ignores mode: breaks the "mode" check of the conformance suite.'''
    def __init__(self, space, *, mode="maximize", seed=None):
        super().__init__(space, mode="maximize", seed=seed)
        self._n = 0

    def suggest(self, trial_id):
        self._n += 1
        return self.space.sample(self._n if self.mode == "maximize" else -1)
"""


@pytest.fixture
def plugins(fake_dist: Any) -> None:
    fake_dist(
        "acme-hpo",
        "1.4.2",
        {
            "hyperloom.tuners": {
                "acme_bad": "acme_bad_mod:ForgetfulTuner",
                "acme_broken": "acme_missing:T",
            },
            "hyperloom.assessors": {"acme_twin": "acme_bad_mod:X"},
        },
        modules={"acme_bad_mod": BAD_TUNER},
    )
    fake_dist("other-hpo", "0.1", {"hyperloom.assessors": {"acme_twin": "other_mod:X"}})


def test_list_json(plugins: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by = {(r["name"], r["distribution"]): r for r in rows}
    random = by[("random", "hyperloom")]
    assert random["ok"] and random["builtin"] and random["kind"] == "tuner"
    assert random["group"] == "hyperloom.tuners"
    bad = by[("acme_bad", "acme-hpo")]
    assert bad["ok"] and bad["version"] == "1.4.2" and not bad["builtin"]
    broken = by[("acme_broken", "acme-hpo")]
    assert not broken["ok"] and "acme_missing" in broken["error"] and "acme-hpo" in broken["error"]
    twins = [r for r in rows if r["name"] == "acme_twin"]
    assert len(twins) == 2 and all(
        not r["ok"] and "more than one distribution" in r["error"] for r in twins
    )
    assert {r["kind"] for r in rows} >= {"tuner", "assessor", "search_space", "executor"}


def test_list_table(plugins: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--no-import"]) == 0
    out = capsys.readouterr().out
    assert "acme_bad" in out and "nas_cell" in out and "not imported" in out
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "broken plugin" in out and "acme_missing" in out


def test_list_disabled(
    plugins: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYPERLOOM_DISABLE_PLUGINS", "1")
    assert main(["plugins", "--json", "--no-import"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["builtin"] for r in rows)


def test_check_passing_tuner(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "check", "random", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["group"] == "tuner"
    assert {c["name"] for c in report["checks"]} >= {"determinism", "resume", "mode"}


def test_check_failing_tuner_exits_1(plugins: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "check", "acme_bad"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "mode" in out


def test_check_broken_or_unknown_plugin_exits_2(
    plugins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugins", "check", "acme_broken"]) == 2
    assert "acme_missing" in capsys.readouterr().err
    assert main(["plugins", "check", "nas_cell"]) == 2
    assert "no tuner or assessor plugin named 'nas_cell'" in capsys.readouterr().err
    assert main(["plugins", "check", "random", "--group", "executor"]) == 2


def test_check_module_class(plugins: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "plugins",
                "check",
                "hyperloom.tuners.random:RandomTuner",
                "--group",
                "tuner",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["ok"]
