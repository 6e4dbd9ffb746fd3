"""The trial command of ``hyperloom.optimize(..., isolation="subprocess")``.

``python -m hyperloom._optimize_runner [--path DIR]... [--main-file SCRIPT] [--objective NAME]...
module:function`` imports the function, calls it with the trial's parameters (and a `Trial`
backed by `hyperloom.trials` when it takes two arguments), and reports what it returned as the
final value. An exception prints its traceback to stderr (the trial's ``stderr.log``) and exits
1, so the trial is FAILED with the exception's last line as its reason.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any

#: Set while the runner loads a trial function, so that an unguarded ``hyperloom.optimize(...)``
#: at the top of the user's script refuses to start a nested experiment.
RUNNER_ENV = "HYPERLOOM_OPTIMIZE_RUNNER"


def main(argv: list[str] | None = None) -> int:
    """Runs one trial; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m hyperloom._optimize_runner")
    ap.add_argument("ref", help="module:function")
    ap.add_argument("--path", action="append", default=[], help="put DIR on sys.path first")
    ap.add_argument("--main-file", default=None, help="the script of a __main__ function")
    ap.add_argument("--objective", action="append", default=[], help="objective names, in order")
    args = ap.parse_args(argv)
    for p in reversed(args.path):
        if p not in sys.path:
            sys.path.insert(0, p)
    os.environ[RUNNER_ENV] = "1"

    from hyperloom import trials
    from hyperloom._optimize_common import Trial, final_report, load_ref, takes_trial

    try:
        fn = load_ref(args.ref, Path(args.main_file) if args.main_file else None)
        with_trial = takes_trial(fn)
    except BaseException:
        print(f"hyperloom: cannot load the trial function {args.ref!r}:", file=sys.stderr)
        traceback.print_exc()
        return 1
    params = trials.get_params()
    trial_dir = trials.trial_dir() or Path.cwd()

    def send(value: float, step: int, metrics: dict[str, Any]) -> None:
        trials.report(value, step, **metrics)

    trial = Trial(
        trial_id=trials.trial_id() or "",
        number=int(os.environ.get("HYPERLOOM_TRIAL_SEQUENCE") or 0),
        experiment_id=trials.experiment_id() or "",
        params=dict(params),
        trial_dir=trial_dir,
        send=send,
        stopped=trials.should_stop,
        start_step=trials.start_step(),
        checkpoint_dir=trials.checkpoint_dir(),
        restore_dir=trials.restore_dir(),
    )
    try:
        result = fn(dict(params), trial) if with_trial else fn(dict(params))
        final = final_report(result, args.objective)
    except BaseException:
        traceback.print_exc()
        return 1
    if final is not None:  # the metrics, when any, hold the value first (report_final's rule)
        trials.report_final(final[1] or final[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
