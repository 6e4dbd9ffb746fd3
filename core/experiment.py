"""The Python API: create, run and resume experiments.

from hyperloom import Experiment, open_experiment
Experiment.from_config("config.yml").run()
open_experiment("abc123xy").trials()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hyperloom.config import Config
from hyperloom.errors import ExperimentLockedError, StoreError, UsageError
from hyperloom.paths import DB_NAME, experiments_home, find_experiment_dir, new_id, private_dir

__all__ = ["Experiment", "open_experiment"]

log = logging.getLogger(__name__)
LOCK_NAME = "manager.lock"


def open_experiment(id_or_dir: str | os.PathLike[str]) -> Any:
    """Opens an experiment read-only (see :class:`hyperloom.history.ExperimentView`)."""
    from hyperloom.history import open_experiment as _open

    return _open(id_or_dir)


class Experiment:
    """One experiment: a config, a directory, a store and a manager.

    Use :meth:`from_config` for a new experiment and :meth:`resume` for an existing one; then
    :meth:`run`. ``run`` blocks until the experiment ends and returns its trial records.
    """

    def __init__(
        self,
        config: Config,
        *,
        experiment_id: str | None = None,
        exp_dir: Path | None = None,
        resuming: bool = False,
    ) -> None:
        self.config = config
        self.id = experiment_id or new_id(8)
        root = config.experiment_working_directory or experiments_home()
        self.dir = (exp_dir or (root / self.id)).resolve()
        self.resuming = resuming
        self.status: str | None = None
        self.dashboard_url: str | None = None
        self.manager: Any = None
        self._new_budget: dict[str, Any] | None = None  # a resume's new budget, stored at run

    # ------------------------------------------------------------------------------------------
    @classmethod
    def from_config(
        cls, config: str | os.PathLike[str] | Mapping[str, Any] | Config, **kw: Any
    ) -> Experiment:
        """A new experiment from a config file, a config dict (paths relative to the current
        directory) or a :class:`Config`."""
        if isinstance(config, Config):
            return cls(config, **kw)
        if isinstance(config, Mapping):
            return cls(Config.from_dict(dict(config), base_dir=Path.cwd()), **kw)
        return cls(Config.load(config), **kw)

    @classmethod
    def resume(
        cls,
        id_or_dir: str | os.PathLike[str],
        *,
        max_trials: int | None = None,
        more_trials: int | None = None,
        max_duration: str | float | None = None,
    ) -> Experiment:
        """An existing experiment, to be continued with :meth:`run`.

        ``max_trials`` sets a new ``maxTrialNumber`` (the total, ended trials included);
        ``more_trials`` gives that many trials more than have already used the budget;
        ``max_duration`` sets a new ``maxExperimentDuration`` (the total over every run, like the
        config key: ``"2h"``, ``"30m"`` or seconds). So a DONE experiment can be given more budget,
        as ``nnictl update trialnum`` does; the new budget is stored when the run starts.
        """
        from hyperloom.config import parse_duration
        from hyperloom.store import StoreReader
        from hyperloom.types import BUDGET_STATUSES

        exp_dir = find_experiment_dir(id_or_dir)
        reader = StoreReader(exp_dir / DB_NAME)
        try:
            exp = reader.experiment()
            counts = reader.count_by_status()
        finally:
            reader.close()
        raw = dict(exp["config"])
        if max_trials is not None and more_trials is not None:
            raise UsageError("give either --max-trials (the new total) or --more (trials to add)")
        used = sum(counts.get(s.name, 0) for s in BUDGET_STATUSES)
        if more_trials is not None:
            if more_trials < 1:
                raise UsageError(f"--more must be at least 1 (got {more_trials})")
            max_trials = used + more_trials
        if max_trials is not None:
            if max_trials <= used:
                raise UsageError(
                    f"--max-trials {max_trials} is not more than the {used} trials that have "
                    f"already used the budget; give a larger total, or --more N"
                )
            raw["maxTrialNumber"] = max_trials
        if max_duration is not None:
            try:
                seconds = parse_duration(max_duration)
            except (TypeError, ValueError):
                raise UsageError(
                    f"--max-duration {max_duration!r} is not a duration; use 90s, 30m, 1h or 2d"
                ) from None
            raw["maxExperimentDuration"] = seconds
        base = Path(raw.get("trialCodeDirectory") or exp_dir)
        config = Config.from_dict(raw, base_dir=base, source=exp_dir / "config.yaml")
        out = cls(config, experiment_id=exp["id"], exp_dir=exp_dir, resuming=True)
        out._new_budget = raw if (max_trials is not None or max_duration is not None) else None
        return out

    # ------------------------------------------------------------------------------------------
    def run(
        self,
        *,
        on_progress: Callable[[Any], None] | None = None,
        on_event: Callable[[str], None] | None = None,
        on_start: Callable[[Experiment], None] | None = None,
        dashboard: bool | None = None,
        with_intermediate: bool = True,
        with_records: bool = True,
    ) -> list[Any]:
        """Runs (or resumes) the experiment to its end; returns the trial records (the same as
        ``open_experiment(id).trials()``; ``with_intermediate=False`` leaves the intermediate
        values out, which keeps memory low on very large experiments; ``with_records=False``
        reads none and returns ``[]``: query ``open_experiment(id)`` for what you need)."""
        return asyncio.run(
            self.run_async(
                on_progress=on_progress,
                on_event=on_event,
                on_start=on_start,
                dashboard=dashboard,
                with_intermediate=with_intermediate,
                with_records=with_records,
            )
        )

    async def run_async(
        self,
        *,
        on_progress: Callable[[Any], None] | None = None,
        on_event: Callable[[str], None] | None = None,
        on_start: Callable[[Experiment], None] | None = None,
        dashboard: bool | None = None,
        with_intermediate: bool = True,
        with_records: bool = True,
    ) -> list[Any]:
        from filelock import FileLock, Timeout
        from hyperloom.manager import Manager
        from hyperloom.store import Store

        # Everything that can be checked without writing is checked first.
        manager = Manager(
            self.config,
            experiment_id=self.id,
            exp_dir=self.dir,
            store=None,
            on_progress=on_progress,
            on_event=on_event,
        )
        manager.build_parts()
        self.manager = manager
        try:
            private_dir(self.dir)  # 0700: the store, tokens' digests, logs are this user's
            probe = self.dir / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            where = (
                f"the experiment directory {str(self.dir)!r}"
                if self.resuming
                else f"an experiment directory under {str(self.dir.parent)!r}"
            )  # a new experiment's id is not printed: it is never created
            raise StoreError(
                f"cannot write {where}: {e.strerror}. "
                f"Set HYPERLOOM_HOME or experimentWorkingDirectory to a writable place."
            ) from None
        lock = FileLock(str(self.dir / LOCK_NAME))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise ExperimentLockedError(
                f"experiment {self.id} is already being run by another manager "
                f"(lock {str(self.dir / LOCK_NAME)!r}). Stop it with `hyperloom stop {self.id}` first."
            ) from None
        handler = _attach_log(self.dir / "manager.log")
        store: Any = None
        server: Any = None
        try:
            if self.resuming:
                store = Store.open(self.dir / DB_NAME)
                if self._new_budget is not None:
                    store.set_config(self._new_budget)
                    _write_config(self.dir, self.config)
            else:
                if (self.dir / DB_NAME).exists():
                    raise UsageError(
                        f"{self.dir} already holds an experiment; use `hyperloom resume {self.id}`"
                    )
                store = Store.create(
                    self.dir / DB_NAME,
                    experiment_id=self.id,
                    name=self.config.experiment_name or self.id,
                    config=self.config.to_dict(),
                    space=self.config.search_space.to_nni(),
                )
                _write_config(self.dir, self.config)
                _register(self.id, self.dir)
            store.set_manager_pid(os.getpid())
            manager.store = store
            if dashboard is None:
                opt = self.config.extras.get("dashboard", True)
                dashboard = (
                    bool(opt.get("enabled", True)) if isinstance(opt, dict) else opt is not False
                )
            if dashboard:
                server = await _start_dashboard(self, manager)
            if on_start is not None:
                on_start(self)
            self.status = await manager.run(resume=self.resuming)
            if not with_records:
                return []
            return list(store.trials(with_intermediate=with_intermediate))
        finally:
            if server is not None:
                with contextlib.suppress(Exception):
                    await server.close()
            if store is not None:
                store.close()
            logging.getLogger("hyperloom").removeHandler(handler)
            handler.close()
            lock.release()

    def stop(self) -> None:
        """Asks a running experiment (in this process) to stop."""
        if self.manager is not None:
            self.manager.request_stop("stop requested through the API")


class _Control:
    """What the dashboard may do to the live experiment."""

    def __init__(self, manager: Any) -> None:
        self._manager = manager
        self.experiment_id = manager.experiment_id

    def stop_experiment(self) -> None:
        self._manager.request_stop("stopped from the dashboard")

    def stop_trial(self, trial_id: str) -> bool:
        ok: bool = self._manager.stop_trial(trial_id, "stopped from the dashboard")
        return ok


async def _start_dashboard(exp: Experiment, manager: Any) -> Any:
    try:
        from hyperloom.dashboard import DashboardServer
    except ImportError:
        return None
    import secrets

    opts = exp.config.extras.get("dashboard")
    opts = opts if isinstance(opts, dict) else {}
    token = secrets.token_urlsafe(16)
    try:
        server = DashboardServer(
            [exp.dir],
            host=str(opts.get("host", "127.0.0.1")),
            port=int(opts.get("port", 0)),
            control=_Control(manager),
            token=token,
        )
        exp.dashboard_url = await server.start()
    except Exception as e:  # the dashboard must never take an experiment down
        log.warning("the dashboard could not start: %s", e)
        return None
    return server


def _attach_log(path: Path) -> logging.Handler:
    handler = _QuietFileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger("hyperloom")
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler


class _QuietFileHandler(logging.FileHandler):
    """manager.log: a record that cannot be written (the disk is full) is dropped, never printed
    as a traceback; the console still says what happened."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass

    def flush(self) -> None:
        try:
            super().flush()
        except OSError:
            pass

    def close(self) -> None:
        try:
            super().close()
        except OSError:
            pass


def _write_config(exp_dir: Path, config: Config) -> None:
    import yaml

    (exp_dir / "config.yaml").write_text(
        yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8"
    )


def _register(exp_id: str, exp_dir: Path) -> None:
    """Records experiments that live outside the home, so ids resolve from anywhere."""
    home = experiments_home()
    if exp_dir.parent == home.resolve():
        return
    with contextlib.suppress(OSError):
        (home / ".index").mkdir(parents=True, exist_ok=True)
        (home / ".index" / exp_id).write_text(str(exp_dir), encoding="utf-8")
