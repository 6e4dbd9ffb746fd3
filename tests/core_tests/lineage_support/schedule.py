"""A fixed schedule of trial durations, played by the simulator and by real sleeping trials."""

from __future__ import annotations

import sys
import time
from typing import Any

DURATION = {0: 2.0, 1: 8.0, 2: 2.0, 3: 1.0}  # seconds of each trial (x), two steps each


def simulated(params: dict[str, Any], step: int) -> tuple[float, float]:
    return float(step), DURATION[int(params["x"])] / 2


if __name__ == "__main__":  # the real trial
    from hyperloom import trials

    x = int(trials.get_params({"x": 0})["x"])
    for step in range(2):
        time.sleep(DURATION[x] / 2)
        trials.report(float(step), step=step)
    trials.report_final(1.0)
    sys.exit(0)
