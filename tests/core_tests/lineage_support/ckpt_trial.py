"""A trial that checkpoints every step: state.json holds the step and a running sum."""

import json
import sys
import time

from hyperloom import trials

params = trials.get_params({"x": 0, "steps": 6, "sleep": 0.2, "final_on_stop": False})
state = {"step": -1, "total": 0.0, "x_seen": []}
restore = trials.restore_dir()
if restore is not None:
    state = json.loads((restore / "state.json").read_text())
start = trials.start_step()
if restore is not None and start != state["step"] + 1:
    print(f"start_step {start} != restored step + 1 ({state['step'] + 1})", file=sys.stderr)
    sys.exit(3)
ckpt = trials.checkpoint_dir()
for step in range(start, int(params["steps"])):
    time.sleep(float(params["sleep"]))
    state["total"] += float(params["x"]) + 1.0
    state["step"] = step
    state["x_seen"].append(params["x"])
    (ckpt / "state.json").write_text(json.dumps(state))
    trials.report(state["total"], step=step, checkpoint=True)
    if trials.should_stop():
        if params["final_on_stop"]:
            break  # the usual pattern: stop early, then report the final value
        sys.exit(0)
trials.report_final(state["total"], restored=restore is not None, x_seen=state["x_seen"])
