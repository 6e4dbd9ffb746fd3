"""The manager side of the Ray executor.

Each trial gets one detached, named `TrialRunner` actor (namespace ``hyperloom-<experiment>``,
name = trial id) that Ray schedules with the trial's resources. One asyncio task per trial drives
it: ``start``, then long polls (``poll`` answers as soon as the trial wrote something, at the
latest after ``pollWait`` seconds), awaiting Ray's ObjectRefs on the manager's loop, so the loop
never blocks on Ray. Messages are emitted in order with the node-side file offset; the exit comes
last, with the tails of the trial's stdout/stderr copied into the manager's trial directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperloom.channel import Message
from hyperloom.errors import ConfigError, HyperloomError
from hyperloom.executor import (
    NODE_LOST,
    Executor,
    ExecutorEvent,
    LaunchSpec,
    TrialExited,
    TrialMessage,
    TrialRejected,
)
from hyperloom.plugins.ray._code import DEFAULT_MAX_MIB, check_code_size, upload_code
from hyperloom.plugins.ray._connect import check_fits, check_same_cluster, connect, probe
from hyperloom.plugins.ray._options import exit_reason, import_ray, parse_resources, short
from hyperloom.plugins.ray._orphans import end_local_leftovers, end_runners, node_info
from hyperloom.plugins.ray._runner import TrialRunner, reap_group

__all__ = ["RayExecutor"]

logger = logging.getLogger(__name__)

_BYTES_PER_POLL = 1 << 20
_MAX_FILE = 1 << 20  # files of the manager's trial dir copied to the node (params.json, ...)
_LOCAL_FILES_SKIPPED = {"stdout.log", "stderr.log", "metrics.jsonl", "node.json", "STOP"}
_UNAVAILABLE_FOR = 30.0  # seconds an unreachable (not dead) runner is waited for


@dataclass(eq=False)
class _RayTrial:
    spec: LaunchSpec
    namespace: str
    actor: Any
    start_args: tuple[Any, ...] | None  # None: re-attached
    attempt: int = 1
    offset: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    killed: bool = False
    exited: bool = False
    task: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class RayExecutor(Executor):
    """Runs each trial as a subprocess on a Ray cluster node, started by a per-trial actor.

    Options (``trainingService`` keys):
        address: The cluster: ``auto``, ``host:port`` (the head's GCS) or ``ray://host:10001``;
            omitted: a Ray instance local to the manager (the cluster in ``RAY_ADDRESS`` if set).
        resourcesPerTrial: ``{cpu: 1, gpu: 1, memory: 4GiB, <custom>: n}`` (default ``{cpu: 1}``).
            Ray places the trial and sets ``CUDA_VISIBLE_DEVICES``; ``trialGpuNumber`` and the
            local device pool do not apply.
        excludes: Patterns left out of the shipped code directory (as Ray's ``excludes``).
        maxCodeDirectoryMiB: Largest code directory to ship (default 100).
        shipCode: False when the nodes share a filesystem: trials run in ``trialCodeDirectory``
            as it is (default True: it goes through ``runtime_env`` working_dir).
        runtimeEnv: More ``runtime_env`` keys for the runners (``pip``, ``env_vars``, ...).
        nodeTrialRoot: Where trial directories go on the nodes (default: the node's temp dir).
        pollWait: Longest wait of one poll, seconds (default 5). A poll answers as soon as
            the trial reports or exits, so this only sets how often an idle trial costs a
            round trip.
        logTailBytes: How much of stdout/stderr comes back to the manager (default 65536).
        orphanTimeout: Seconds a runner keeps an ended trial's result for a manager that went
            away before it exits on its own (default 3600).
        connectTimeout: Seconds to wait for the cluster at ``open`` (default 15).
        checkResources: Refuse at start when no node has ``resourcesPerTrial`` (default True;
            turn off for autoscaling clusters).
        shell: The shell for commands that need one (default ``/bin/sh``).
    """

    #: Checkpoints stay on the node that wrote them: a trial resumed or warm-started on another
    #: node finds no restore directory unless the experiment directory is on a shared file system.
    ships_checkpoints = False


    def __init__(
        self,
        *,
        experiment_dir: Path,
        emit: Callable[[ExecutorEvent], None],
        channel: str = "file",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(experiment_dir=experiment_dir, emit=emit, channel=channel, options=options)
        if self.channel != "file":
            logger.warning(
                "the ray executor relays the file channel; trialChannel %r is ignored", channel
            )
            self.channel = "file"
        o = self.options
        address = o.get("address")
        self._address: str | None = None if address in (None, "", "local") else str(address)
        self._actor_opts = parse_resources(o.get("resourcesPerTrial"))
        excludes = o.get("excludes", [])
        if not isinstance(excludes, list) or not all(isinstance(x, str) for x in excludes):
            raise ConfigError(
                f"trainingService.excludes must be a list of patterns, got {excludes!r}"
            )
        self._excludes: list[str] = excludes
        self._max_mib = float(o.get("maxCodeDirectoryMiB", DEFAULT_MAX_MIB))
        self._ship_code = bool(o.get("shipCode", True))
        runtime_env = o.get("runtimeEnv", {})
        if not isinstance(runtime_env, Mapping):
            raise ConfigError(f"trainingService.runtimeEnv must be a mapping, got {runtime_env!r}")
        self._runtime_env = dict(runtime_env)
        root = o.get("nodeTrialRoot")
        self._root: str | None = str(root) if root else None
        if "maxTrialRetries" in o:
            logger.warning(
                "trainingService.maxTrialRetries is ignored: retries are the manager's, "
                "set maxTrialRetries at the top level of the config"
            )
        self._wait = float(o.get("pollWait", 5.0))
        self._log_tail = int(o.get("logTailBytes", 65536))
        self._orphan_timeout = float(o.get("orphanTimeout", 3600.0))
        self._connect_timeout = float(o.get("connectTimeout", 15.0))
        self._check_resources = bool(o.get("checkResources", True))
        self._shell = str(o.get("shell", "/bin/sh"))
        self._ray: Any = None
        self._runner_cls: Any = None
        self._owns_ray = False
        self._code_uris: dict[str, str] = {}
        self._code_lock = asyncio.Lock()
        self._trials: dict[str, _RayTrial] = {}
        self._attempts: dict[str, int] = {}  # starts per trial id (the manager retries lost ones)
        self._background: set[asyncio.Task[Any]] = set()
        self.polls = 0  # answered polls, for benchmarks and diagnostics

    # life cycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Connects to the cluster (a clear `HyperloomError` when it cannot be reached) and checks
        that some node can hold a trial."""
        if self._ray is not None:
            return
        ray = await self._connect()
        self._runner_cls = ray.remote(TrialRunner)
        if self._check_resources:
            await asyncio.to_thread(check_fits, ray, self._actor_opts)

    async def _connect(self) -> Any:
        """``ray.init`` unless connected already; returns the ray module."""
        ray = import_ray()
        if not ray.is_initialized():
            if self._address is not None:
                await asyncio.to_thread(probe, self._address, self._connect_timeout)
            try:
                connect(ray, self._address)
            except HyperloomError:
                raise
            except Exception as exc:
                where = self._address or "a new local Ray instance"
                raise HyperloomError(
                    f"cannot connect to the Ray cluster at {where} (trainingService.address): "
                    f"{short(exc)}. Start one with `ray start --head` or fix the address"
                ) from exc
            self._owns_ray = True
        else:
            check_same_cluster(ray, self._address)
        self._ray = ray
        return ray

    async def close(self, *, grace: float = 5.0) -> None:
        """Kills every trial still running and disconnects (when this executor connected)."""
        await asyncio.gather(
            *(self.kill(tid, grace=grace) for tid in list(self._trials)), return_exceptions=True
        )
        if self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
        if self._ray is not None and self._owns_ray:
            with contextlib.suppress(Exception):
                self._ray.shutdown()
        self._ray = None
        self._owns_ray = False

    async def end_orphans(
        self, experiment_id: str, handles: Mapping[str, Mapping[str, Any]], *, grace: float
    ) -> int:
        """Ends the runners of namespace ``hyperloom-<experiment_id>`` and their trials.

        With no ``address`` (and no ``RAY_ADDRESS``), the Ray instance was the dead manager's
        own and ended with it: trial processes it left on this host are ended instead.

        Raises:
            HyperloomError: The cluster cannot be reached (names the address).
        """
        trial_ids = [t for t, h in handles.items() if h.get("executor", "ray") == "ray"]
        if self._address is None and not os.environ.get("RAY_ADDRESS"):
            infos = [node_info(self.experiment_dir, t) for t in trial_ids]
            return await asyncio.to_thread(end_local_leftovers, infos, grace)
        ray = await self._connect()
        try:
            return await end_runners(
                ray, self.namespace(experiment_id), trial_ids, self.experiment_dir, grace
            )
        finally:
            await self.close(grace=grace)

    # starting ------------------------------------------------------------------------------

    @staticmethod
    def namespace(experiment_id: str) -> str:
        """The Ray namespace of an experiment's runners."""
        return f"hyperloom-{experiment_id}"

    async def _code_uri(self, cwd: Path) -> str:
        key = str(Path(cwd).resolve())
        async with self._code_lock:
            if key not in self._code_uris:
                await asyncio.to_thread(check_code_size, Path(key), self._excludes, self._max_mib)
                self._code_uris[key] = await asyncio.to_thread(
                    upload_code, Path(key), self._excludes
                )
                logger.info("trial code %s shipped to the cluster as %s", key, self._code_uris[key])
            return self._code_uris[key]

    def _files(self, trial_dir: Path) -> dict[str, bytes]:
        files = {}
        for path in Path(trial_dir).iterdir():
            if (
                path.name in _LOCAL_FILES_SKIPPED
                or not path.is_file()
                or path.stat().st_size > _MAX_FILE
            ):
                continue
            files[path.name] = path.read_bytes()
        return files

    def _create_actor(self, spec: LaunchSpec, namespace: str, runtime_env: dict[str, Any]) -> Any:
        opts = dict(self._actor_opts)
        opts.update(name=spec.trial_id, namespace=namespace, lifetime="detached", max_restarts=0)
        if runtime_env:
            opts["runtime_env"] = runtime_env
        cls = self._runner_cls.options(**opts)
        for _ in range(20):
            try:
                return cls.remote(
                    spec.trial_id, spec.experiment_id, self._root, self._orphan_timeout
                )
            except ValueError as exc:  # the lost attempt's runner still holds the name
                if "already" not in str(exc):
                    raise
                with contextlib.suppress(Exception):
                    self._ray.kill(self._ray.get_actor(spec.trial_id, namespace), no_restart=True)
                time.sleep(0.25)
        raise HyperloomError(
            f"trial {spec.trial_id}: the name of its Ray runner stays taken in namespace "
            f"{namespace}"
        )

    async def start(self, spec: LaunchSpec) -> dict[str, Any]:
        """Submits the trial's runner; returns ``{executor, namespace, name}`` at once.

        The runner may wait for resources; the trial's process starts when Ray places it.
        """
        if self._ray is None:
            await self.open()
        if spec.trial_id in self._trials:
            raise ValueError(f"trial {spec.trial_id} is already running")
        namespace = self.namespace(spec.experiment_id)
        runtime_env = dict(self._runtime_env)
        cwd: str | None = None
        if self._ship_code:
            runtime_env["working_dir"] = await self._code_uri(Path(spec.cwd))
        else:
            cwd = str(spec.cwd)
        env = dict(spec.env)
        env.setdefault("HYPERLOOM_TRIAL_ID", spec.trial_id)
        env.setdefault("HYPERLOOM_EXPERIMENT_ID", spec.experiment_id)
        for key in ("PATH", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "HYPERLOOM_TOKEN"):
            env.pop(key, None)  # the node's own PATH; Ray's GPU assignment
        files = self._files(Path(spec.trial_dir))
        args = (spec.command, env, files, str(spec.trial_dir), self._shell, cwd)
        attempt = self._attempts[spec.trial_id] = self._attempts.get(spec.trial_id, 0) + 1
        actor = await asyncio.to_thread(self._create_actor, spec, namespace, runtime_env)
        trial = _RayTrial(
            spec=spec, namespace=namespace, actor=actor, start_args=args, attempt=attempt
        )
        self._trials[spec.trial_id] = trial
        self._drive(trial)
        return {"executor": "ray", "namespace": namespace, "name": spec.trial_id, "pid": None}

    def _drive(self, trial: _RayTrial) -> None:
        trial.task = asyncio.get_running_loop().create_task(self._run(trial))

    # running -------------------------------------------------------------------------------

    async def _run(self, trial: _RayTrial) -> None:
        ray = self._ray
        tid = trial.spec.trial_id
        unavailable_since: float | None = None
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    if trial.start_args is not None and not trial.info:
                        trial.info = await trial.actor.start.remote(*trial.start_args)
                        self._write_node_info(trial)
                    res = await trial.actor.poll.remote(
                        trial.offset, _BYTES_PER_POLL, self._wait, self._log_tail
                    )
                    self.polls += 1
                    unavailable_since = None
                except ray.exceptions.ActorUnavailableError as exc:
                    now = loop.time()
                    unavailable_since = unavailable_since or now
                    if now - unavailable_since < _UNAVAILABLE_FOR:
                        await asyncio.sleep(0.5)
                        continue
                    self._lost(trial, exc)
                    return
                except ray.exceptions.RayActorError as exc:
                    self._lost(trial, exc)
                    return
                for item in res["items"]:
                    self._deliver(trial, item)
                if res["done"]:
                    self._write_logs(trial, res)
                    code = res["exit_code"]
                    reason = res.get("launch_error") or exit_reason(
                        code, trial.killed, res.get("stderr", b"")
                    )
                    self._exit(trial, code, reason)
                    self._release(trial)
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a Ray failure we did not foresee: the trial is lost to us
            logger.exception("trial %s: the ray executor failed", tid)
            if isinstance(exc, ray.exceptions.RayTaskError):  # the runner raised: not a lost node
                last = [ln.strip() for ln in str(exc).splitlines() if ln.strip()][-1:] or [
                    repr(exc)
                ]
                self._exit(trial, None, f"the trial's Ray runner failed: {last[0][:300]}")
            elif "RuntimeEnvSetupError" in type(exc).__name__:
                self._exit(
                    trial,
                    None,
                    f"could not set up the trial's runtime_env on the node: {short(exc)}",
                )
            else:
                self._exit(trial, None, f"{NODE_LOST}: {type(exc).__name__}: {short(exc)}")
            self._release(trial)

    def _deliver(self, trial: _RayTrial, item: tuple[Any, ...]) -> None:
        tid = trial.spec.trial_id
        trial.offset = int(item[-1])
        if item[0] == "reject":
            logger.info("trial %s: rejected channel line: %s", tid, item[1])
            self._emit(TrialRejected(tid, str(item[1])))
            return
        _, kind, value, step, metrics, t, offset = item
        self._emit(
            TrialMessage(
                tid, Message(kind, float(value), step, dict(metrics or {}), float(t)), int(offset)
            )
        )

    def _lost(self, trial: _RayTrial, exc: BaseException) -> None:
        """The runner died: ends what it left on its node and reports the trial lost (the
        manager starts it again when ``maxTrialRetries`` allows)."""
        text = short(exc)
        if "runtime_env" in str(exc) or "RuntimeEnvSetupError" in str(exc):
            self._exit(trial, None, f"could not set up the trial's runtime_env on the node: {text}")
            return
        self._reap(trial)
        if trial.killed:
            self._exit(trial, None, "killed by hyperloom (its Ray runner is gone)")
        else:
            self._exit(trial, None, f"{NODE_LOST}: the Ray runner of the trial died ({text})")

    def _reap(self, trial: _RayTrial) -> None:
        """Best effort: ends the trial's processes on its node when only the runner died."""
        info = trial.info
        if not info.get("pid") or not info.get("node_id"):
            return
        ray = self._ray
        try:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            task = ray.remote(reap_group).options(
                num_cpus=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(info["node_id"], soft=False),
                max_retries=0,
            )
            ref = task.remote(info["pgid"], info["pid"], info["create_time"], 1.0)
        except Exception as exc:
            logger.debug("trial %s: cannot reap on its node: %s", trial.spec.trial_id, exc)
            return

        async def wait() -> None:
            with contextlib.suppress(Exception):
                if await asyncio.wait_for(ref, 60):
                    logger.info(
                        "trial %s: ended its processes left behind by a dead runner",
                        trial.spec.trial_id,
                    )

        t = asyncio.get_running_loop().create_task(wait())
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    def _exit(self, trial: _RayTrial, code: int | None, reason: str | None) -> None:
        if trial.exited:
            return
        trial.exited = True
        self._trials.pop(trial.spec.trial_id, None)
        self._emit(TrialExited(trial.spec.trial_id, code, reason))
        trial.done.set()

    def _release(self, trial: _RayTrial) -> None:
        with contextlib.suppress(Exception):
            self._ray.kill(trial.actor, no_restart=True)

    def _write_node_info(self, trial: _RayTrial) -> None:
        with contextlib.suppress(OSError):
            data = dict(trial.info, attempt=trial.attempt, namespace=trial.namespace)
            (Path(trial.spec.trial_dir) / "node.json").write_text(
                json.dumps(data), encoding="utf-8"
            )

    def _write_logs(self, trial: _RayTrial, res: Mapping[str, Any]) -> None:
        where = f"{trial.info.get('host', '?')}:{trial.info.get('node_trial_dir', '?')}"
        for name in ("stdout", "stderr"):
            data = bytes(res.get(name) or b"")
            with (
                contextlib.suppress(OSError),
                open(Path(trial.spec.trial_dir) / f"{name}.log", "wb") as f,
            ):
                if len(data) >= self._log_tail:
                    f.write(
                        f"[hyperloom: the last {len(data)} bytes of {where}/{name}.log]\n".encode()
                    )
                f.write(data)

    # re-attach -------------------------------------------------------------------------------

    async def reattach(self, spec: LaunchSpec, handle: Mapping[str, Any], offset: int) -> bool:
        """Finds the trial's runner by name in the experiment's namespace; False when it is gone."""
        if self._ray is None:
            await self.open()
        if handle.get("executor") != "ray" or not handle.get("name"):
            return False
        namespace = str(handle.get("namespace") or self.namespace(spec.experiment_id))
        try:
            actor = await asyncio.to_thread(self._ray.get_actor, str(handle["name"]), namespace)
        except ValueError:
            return False
        try:
            info = await asyncio.wait_for(actor.info.remote(), 30.0)
        except Exception as exc:  # dead, or never placed
            logger.info("trial %s: its Ray runner does not answer (%s)", spec.trial_id, short(exc))
            with contextlib.suppress(Exception):
                self._ray.kill(actor, no_restart=True)
            return False
        if not info.get("started") and not info.get("launch_error"):
            with contextlib.suppress(Exception):
                self._ray.kill(actor, no_restart=True)
            return False
        trial = _RayTrial(
            spec=spec, namespace=namespace, actor=actor, start_args=None, offset=offset, info=info
        )
        self._trials[spec.trial_id] = trial
        self._drive(trial)
        return True

    # stopping ------------------------------------------------------------------------------

    async def request_stop(self, trial_id: str) -> None:
        """Creates ``STOP`` in the trial's directory on its node."""
        trial = self._trials.get(trial_id)
        if trial is None:
            return
        try:
            await asyncio.wait_for(trial.actor.request_stop.remote(), 10.0)
        except Exception as exc:
            logger.info("trial %s: stop request not delivered: %s", trial_id, short(exc))

    async def kill(self, trial_id: str, *, grace: float = 5.0) -> None:
        """Ends the trial's process group on its node; returns after its `TrialExited`."""
        trial = self._trials.get(trial_id)
        if trial is None:
            return
        trial.killed = True
        if trial.info or trial.start_args is None:
            try:
                await asyncio.wait_for(trial.actor.kill.remote(grace), grace + 15.0)
            except Exception as exc:
                logger.info("trial %s: kill on its node failed: %s", trial_id, short(exc))
                self._release(trial)
        else:  # not placed yet: nothing runs; drop the runner
            self._release(trial)
        try:
            await asyncio.wait_for(asyncio.shield(trial.done.wait()), self._wait + 15.0)
        except TimeoutError:
            logger.warning("trial %s: no exit seen after kill; recording it as lost", trial_id)
            if trial.task is not None:
                trial.task.cancel()
            self._release(trial)
            self._exit(
                trial, None, f"{NODE_LOST}: killed by hyperloom, but its Ray runner did not answer"
            )

    async def signal(self, trial_id: str, signum: int) -> None:
        """Sends a signal to the trial's process group on its node."""
        trial = self._trials.get(trial_id)
        if trial is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(trial.actor.signal.remote(int(signum)), 10.0)
