"""``hyperloom stop`` as a library call: :func:`stop_experiment`.

With its manager alive, an experiment is stopped by asking the manager (SIGTERM, as Ctrl-C in
its terminal); the manager stays the only writer and ends its trials itself. With the manager
gone (crashed, killed), this call takes the experiment's lock and ends what it left: the trials
the store still marks RUNNING (their process groups get SIGTERM, ``stopGracePeriod``, SIGKILL and
a sweep through :func:`hyperloom.procs.terminate_tree`), every process carrying the experiment's
id in its environment (daemonized descendants), and, through the executor, trials that run
elsewhere (a Ray cluster). Then it records them CANCELED and the experiment STOPPED.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperloom.errors import HyperloomError, UsageError

__all__ = ["StopResult", "stop_experiment"]


@dataclass(frozen=True)
class StopResult:
    """What :func:`stop_experiment` did.

    Attributes:
        experiment_id: The experiment's id.
        manager_pid: The manager that was asked to stop, or None when none was running.
        trials_ended: Trials the dead manager left running whose processes were ended here.
        strays_ended: Other processes of the experiment (daemons) that were ended.
        remote_ended: Trials ended through the executor where they run (Ray).
        warning: What could not be done but was let go (``force``), or None.
    """

    experiment_id: str
    manager_pid: int | None
    trials_ended: int = 0
    strays_ended: int = 0
    remote_ended: int = 0
    warning: str | None = None


def stop_experiment(
    id_or_dir: str | os.PathLike[str],
    *,
    timeout: float = 60.0,
    force: bool = False,
    on_wait: Any = None,
) -> StopResult:
    """Stops an experiment from anywhere on this machine; returns what was done.

    Args:
        id_or_dir: The experiment's id or directory.
        timeout: Seconds to wait for a live manager to finish stopping.
        force: With the manager gone: record the experiment as stopped even when the place its
            trials run (a Ray cluster) cannot be reached.
        on_wait: Called with the manager's pid before waiting for it (progress for the CLI).

    Raises:
        UsageError: The manager did not stop in time, or is locked but gone.
        HyperloomError: Where its trials run cannot be reached (without ``force``).
    """
    import psutil
    from filelock import FileLock, Timeout
    from hyperloom.experiment import LOCK_NAME
    from hyperloom.paths import DB_NAME, find_experiment_dir
    from hyperloom.store import StoreReader

    exp_dir = find_experiment_dir(id_or_dir)
    with StoreReader(exp_dir / DB_NAME) as reader:
        info = reader.experiment()
    lock = FileLock(str(exp_dir / LOCK_NAME))
    pid = info.get("manager_pid")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not pid or not psutil.pid_exists(int(pid)):
            raise UsageError(
                f"experiment {info['id']} is locked but its manager (pid {pid}) is not running"
            ) from None
        os.kill(int(pid), signal.SIGTERM)
        if on_wait is not None:
            on_wait(int(pid))
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise UsageError(
                f"the manager did not stop within {timeout:g}s; run `hyperloom stop "
                f"{info['id']}` again to retry"
            ) from None
        lock.release()
        return StopResult(info["id"], int(pid))
    try:
        remote, warning = _end_executor_orphans(exp_dir, info, force=force)
        trials, strays = _end_local_orphans(exp_dir, info)
    finally:
        lock.release()
    return StopResult(info["id"], None, trials, strays, remote, warning)


def _grace(info: dict[str, Any]) -> float:
    from hyperloom.config import parse_duration

    raw = (info.get("config") or {}).get("stopGracePeriod", 10.0)
    try:
        return min(float(parse_duration(raw)), 30.0)
    except (TypeError, ValueError):
        return 10.0


def _end_local_orphans(exp_dir: Path, info: dict[str, Any]) -> tuple[int, int]:
    """With the lock held and no manager: ends the process trees of trials still marked RUNNING
    (SIGTERM, grace, SIGKILL, sweep), then every process marked with the experiment's id, and
    records the trials CANCELED and the experiment STOPPED. Returns (trials, strays) ended."""
    from hyperloom.paths import DB_NAME
    from hyperloom.procs import (
        STRAYS_FILE,
        ProcRef,
        end_recorded,
        end_refs,
        find_marked,
        terminate_tree,
    )
    from hyperloom.store import Store
    from hyperloom.types import TrialStatus

    grace = _grace(info)
    store = Store.open(exp_dir / DB_NAME)
    ended = 0
    try:
        for r in store.trials(status=TrialStatus.RUNNING, with_intermediate=False):
            handle = r.handle or {}
            pid, ctime = handle.get("pid"), handle.get("create_time")
            alive = False
            if pid:
                ref = ProcRef(int(pid), float(ctime)) if ctime is not None else None
                alive = ref.process() is not None if ref is not None else _pid_alive(int(pid))
            if pid and alive and r.pgid:
                marker = {"HYPERLOOM_TRIAL_ID": r.trial_id, "HYPERLOOM_EXPERIMENT_ID": info["id"]}
                terminate_tree(int(r.pgid), pids=[int(pid)], grace=grace, marker=marker)
                ended += 1
            store.finish_trial(
                r.trial_id,
                TrialStatus.CANCELED,
                ended=time.time(),
                exit_code=None,
                reason="experiment stopped while its manager was down",
            )
        strays = end_refs(find_marked({"HYPERLOOM_EXPERIMENT_ID": info["id"]}), grace=1.0)
        # daemons the dead manager had adopted (they may have emptied their environment)
        adopted = end_recorded(exp_dir / STRAYS_FILE, grace=1.0)
        if store.experiment().get("status") == "RUNNING":
            store.set_experiment_status("STOPPED", message="stopped while the manager was down")
    finally:
        store.close()
    return ended, len(strays) + adopted


def _pid_alive(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _end_executor_orphans(
    exp_dir: Path, info: dict[str, Any], *, force: bool
) -> tuple[int, str | None]:
    """With the lock held and no manager: lets the experiment's executor end the trials the dead
    manager left where it runs them (`Executor.end_orphans`). Returns how many it ended, and
    the warning when ``force`` let a failure go."""
    from hyperloom import registry
    from hyperloom.config import Config
    from hyperloom.executor import Executor
    from hyperloom.paths import DB_NAME
    from hyperloom.store import StoreReader
    from hyperloom.types import TrialStatus

    with StoreReader(exp_dir / DB_NAME) as reader:
        running = reader.trials(status=TrialStatus.RUNNING, with_intermediate=False)
    if not running and info.get("status") != "RUNNING":
        return 0, None  # ended cleanly: nothing can be left
    raw = info["config"]
    platform = str((raw.get("trainingService") or {}).get("platform", "local"))
    try:
        executor_cls = registry.load("executor", platform)
        if executor_cls.end_orphans is Executor.end_orphans:
            return 0, None  # its trials are local process groups, ended by the caller
        base = Path(raw.get("trialCodeDirectory") or exp_dir)
        config = Config.from_dict(raw, base_dir=base, source=exp_dir / "config.yaml")
        executor = executor_cls(
            experiment_dir=exp_dir,
            emit=lambda ev: None,
            channel="file",
            options=config.training_service.options,
        )
        handles = {r.trial_id: dict(r.handle or {}) for r in running}
        ended = asyncio.run(
            executor.end_orphans(info["id"], handles, grace=config.stop_grace_period)
        )
        return int(ended), None
    except HyperloomError as e:
        text = (
            f"the manager of experiment {info['id']} is gone and the trials it left may still "
            f"run where the {platform!r} executor runs them: {e}"
        )
        if not force:
            raise HyperloomError(
                f"{text}. Nothing was changed: run `hyperloom stop {info['id']}` again once that "
                "can be reached, or add --force to record the experiment as stopped anyway"
            ) from None
        return 0, text
