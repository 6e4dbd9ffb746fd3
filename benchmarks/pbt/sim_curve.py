"""A simulated curve for sim_run.py: ``fn(params, step) -> (value, seconds)``, the toy's shape.

Stateless (the simulate executor plays a curve from the checkpoint step on), so it measures
the manager's exploit, pause and checkpoint bookkeeping, not PBT's quality.
"""

import math


def curve(params: dict, step: int) -> tuple[float, float]:
    lr, wd = float(params["lr"]), float(params["wd"])
    rate = math.exp(-((math.log10(lr) + 1.3) ** 2) / 0.5) * math.exp(
        -((math.log10(wd) + 3) ** 2) / 2
    )
    return 1.0 - math.exp(-0.05 * rate * (step + 1)), 1.0 + 0.1 * (hash(params["lr"]) % 7)
