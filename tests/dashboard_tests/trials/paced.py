"""A trial that reports one step every `pace` seconds and honours cooperative stops."""

import sys
import time

import hyperloom.trials as ht

params = ht.get_params()
steps = int(params.get("steps", 5))
pace = float(params.get("pace", 0.05))
value = 0.0
for step in range(steps):
    if ht.should_stop():
        print("stop requested, leaving", flush=True)
        sys.exit(0)
    value = float(params["x"]) * (1 - 0.8 ** (step + 1))
    print(f"step {step} value {value:.4f}", flush=True)
    ht.report(value, step=step)
    time.sleep(pace)
ht.report_final(value)
