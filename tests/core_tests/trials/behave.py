"""A trial whose behaviour is set by its parameters, for engine tests.

params: steps (int), sleep (seconds per step), exit (exit code), final (bool), value (number
or "seq"), fork (spawn a sleeping grandchild), ignore_term (ignore SIGTERM), pidfile (append
own pid and grandchild pid), garbage (write junk lines to the channel), after_final (report
after the final), coop (honour should_stop()).
"""

import json
import os
import signal
import subprocess
import sys
import time

from hyperloom import trials

p = trials.get_params()
pidfile = p.get("pidfile")
if p.get("ignore_term"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if p.get("fork"):
    child = subprocess.Popen(
        [sys.executable, "-c", "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"]
    )
    if pidfile:
        with open(pidfile, "a") as f:
            f.write(f"{child.pid}\n")
if pidfile:
    with open(pidfile, "a") as f:
        f.write(f"{os.getpid()}\n")
if p.get("garbage"):
    path = os.path.join(os.environ["HYPERLOOM_TRIAL_DIR"], "metrics.jsonl")
    with open(path, "ab") as f:
        f.write(b"not json at all\n")
        f.write(b'{"v":1,"type":"metric","value":NaN}\n')
        f.write(b'{"v":1,"type":"bogus","value":1}\n')
        f.write(b"x" * (10 * 1024 * 1024) + b"\n")
        f.write(b'{"v":1,"type":"metric","value":"abc"}\n')
value = p.get("value", 1.0)
steps = int(p.get("steps", 3))
for step in range(steps):
    time.sleep(float(p.get("sleep", 0.0)))
    trials.report(float(value) + step * 0.01 if not isinstance(value, str) else step, step=step)
    if p.get("coop", True) and trials.should_stop():
        break
if p.get("final", True):
    trials.report_final(float(value) if not isinstance(value, str) else 0.0, echo=json.dumps(p, sort_keys=True))
if p.get("after_final"):
    trials.report(123.0, step=99)
sys.exit(int(p.get("exit", 0)))
