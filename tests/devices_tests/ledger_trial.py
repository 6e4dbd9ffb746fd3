"""A trial for the device tests: records its CUDA_VISIBLE_DEVICES and start/end times in $LEDGER.

Parameters: ``dur`` (seconds to sleep), ``kind``: ``ok``, ``fail`` (exit 1), ``hang`` (sleep until
killed), ``stop`` (report -1, then wait for a stop request).
"""

from __future__ import annotations

import json
import os
import sys
import time

from hyperloom import trials


def record(**fields: object) -> None:
    line = json.dumps(
        {
            "trial": trials.trial_id(),
            "cvd": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "order": os.environ.get("CUDA_DEVICE_ORDER"),
            **fields,
        }
    )
    fd = os.open(os.environ["LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def main() -> int:
    p = trials.get_params()
    kind = p.get("kind", "ok")
    record(event="start", t=time.time())
    if kind == "hang":
        time.sleep(120)
    elif kind == "stop":
        trials.report(-1.0, step=0)
        deadline = time.time() + 60
        while not trials.should_stop() and time.time() < deadline:
            time.sleep(0.02)
        record(event="end", t=time.time())
        return 0
    time.sleep(float(p.get("dur", 0.1)))
    record(event="end", t=time.time())
    if kind == "fail":
        return 1
    trials.report_final(float(p.get("dur", 0.1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
