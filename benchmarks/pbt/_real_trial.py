"""The real-process PBT trial of real_processes.py: the toy model, checkpointed every step."""

import json
import random
import sys
import time

import toy
from hyperloom import trials

p = trials.get_params({"lr": 0.05, "wd": 1e-3, "steps": 24, "sleep": 0.0, "every": 1})
state = {"acc": 0.0, "step": -1}
restore = trials.restore_dir()
if restore is not None:
    state = json.loads((restore / "state.json").read_text())
    if trials.start_step() != state["step"] + 1:
        print(f"start_step {trials.start_step()} != restored {state['step']} + 1", file=sys.stderr)
        sys.exit(3)
rng = random.Random(trials.trial_id())
ckpt = trials.checkpoint_dir()
for step in range(trials.start_step(), int(p["steps"])):
    time.sleep(float(p["sleep"]))
    state["acc"] = toy.step(state["acc"], p["lr"], p["wd"])
    state["step"] = step
    value = state["acc"] + rng.gauss(0, 0.004)
    if step % int(p["every"]) == 0:
        (ckpt / "state.json.tmp").write_text(json.dumps(state))
        (ckpt / "state.json.tmp").replace(ckpt / "state.json")
        trials.report(value, step=step, checkpoint=True)
    else:
        trials.report(value, step=step)
    if trials.should_stop():
        sys.exit(0)
trials.report_final(state["acc"])
