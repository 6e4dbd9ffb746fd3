"""The multi-fidelity benchmark's in-process replay is the manager's loop: the same scheduler,
seed and trial ids give the same trials and regrets through ``hyperloom.Experiment`` on the
simulate executor (``benchmarks/multifidelity/anytime_sim.py``) as through ``_drive.replay``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "multifidelity"


@pytest.mark.parametrize(
    ("method", "budget"),
    [("random+asha", 6.0), ("hyperband", 6.0), ("bohb", 6.0), ("asha-promotion", 20.0)],
)
def test_manager_and_replay_agree(method: str, budget: float, tmp_path: Path) -> None:
    """Budgets in full trainings (promotion needs more before a trial is trained to the end)."""
    sys.path.insert(0, str(BENCH))
    try:
        import anytime_sim
    finally:
        sys.path.remove(str(BENCH))
    got = anytime_sim.run_one("digits", method, 1, budget, tmp_path)
    assert got["trials"] == got["trials_replay"] > 4
    assert anytime_sim._same(got["regret_time"], got["regret_replay_same_ids"])
    assert any(v == v for v in got["regret_time"])  # some trial finished (not all NaN)
