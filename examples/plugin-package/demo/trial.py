"""A stand-in training script for the plugin demo: a simulated learning curve of an MLP.

The curve depends on the parameters of the ``example_mlp`` space (layers, width, activation,
lr), so the tuner has something to climb and the assessor has curves to compare. It runs in well
under a second per trial and needs nothing but hyperloom.
"""

import math
import time

from hyperloom import trials

params = trials.get_params(defaults={"layers": 2, "width": 64, "activation": "relu", "lr": 0.01})
lr = float(params.get("lr", 0.01))
ceiling = 0.97 - 0.05 * abs(math.log10(lr) + 2.3) - 0.03 * abs(math.log2(params["width"]) - 7)
ceiling -= 0.02 * abs(params["layers"] - 2) + (0.02 if params["activation"] == "tanh" else 0.0)
speed = 0.25 + 0.1 * params["layers"]
acc = 0.0
for epoch in range(10):
    acc = 0.1 + (ceiling - 0.1) * (1 - math.exp(-speed * (epoch + 1)))
    trials.report(acc, step=epoch, width=params["width"])
    time.sleep(0.02)
    if trials.should_stop():
        break
trials.report_final(acc)
