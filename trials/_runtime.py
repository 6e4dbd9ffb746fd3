"""The trial-side channel: turns API calls into protocol v1 lines. Standard library only.

One `Runtime` per process, made on first use from the environment. The file transport appends
each message as one ``os.write`` of a whole line to ``metrics.jsonl`` opened with ``O_APPEND``
(atomic against other writers, forked workers included). The socket transport connects lazily and
falls back to the file, for good, on any failure.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from hyperloom.trials import TrialError

if TYPE_CHECKING:
    from pathlib import Path

    from hyperloom.trials._socket import SocketClient

__all__ = ["MAX_LINE", "Runtime", "runtime"]

MAX_LINE = 64 * 1024  # the manager rejects longer lines (hyperloom.channel.MAX_LINE)
# should_stop() looks for the STOP file at most 50 times a second: a stat() is a few µs, and a
# stop then lands within ~20 ms of the manager's decision, usually before the next epoch
_STOP_CHECK_INTERVAL = 0.02
_MAX_DEPTH = 32


def _warn_line(text: str) -> None:
    try:
        sys.stderr.write(f"hyperloom: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def _number(value: Any, what: str) -> float:
    """``value`` as a float: ints, floats, numpy/torch scalars (``.item()``), Decimal, Fraction."""
    original = value
    if not isinstance(value, int | float):
        item = getattr(value, "item", None)
        if callable(item):
            try:
                value = item()
            except (TypeError, ValueError) as exc:
                raise TrialError(
                    f"{what} must be a single number; {type(original).__name__}.item() "
                    f"failed: {exc}"
                ) from None
    if isinstance(value, bool | str | bytes) or value is None:
        raise TrialError(f"{what} must be a number, got {type(original).__name__} {original!r:.60}")
    try:
        return float(value)
    except OverflowError:
        raise TrialError(f"{what} {value!r:.60} is too large for a float") from None
    except (TypeError, ValueError):
        raise TrialError(
            f"{what} must be a number, got {type(original).__name__} {original!r:.60}"
        ) from None


def _clean(obj: Any, path: str, bad: list[str], depth: int = 0) -> Any:
    """A JSON-ready copy of a metric value: numpy values converted, NaN/inf replaced by None."""
    if obj is None or isinstance(obj, str | bool | int):
        return obj
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        bad.append(path)
        return None
    if depth > _MAX_DEPTH:
        raise TrialError(f"metric {path} is nested too deeply")
    if isinstance(obj, dict):
        return {str(k): _clean(v, f"{path}.{k}", bad, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v, f"{path}[{i}]", bad, depth + 1) for i, v in enumerate(obj)]
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars, torch tensors
    if callable(tolist):
        return _clean(tolist(), path, bad, depth + 1)
    try:
        return _clean(float(obj), path, bad, depth + 1)
    except (TypeError, ValueError, OverflowError):
        raise TrialError(
            f"metric {path} must be a number, string, list or dict, got {type(obj).__name__}"
        ) from None


class Runtime:
    """The channel of one trial process. Use the functions of `hyperloom.trials`, not this."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.trial_dir = env.get("HYPERLOOM_TRIAL_DIR") or None
        self.trial_id = env.get("HYPERLOOM_TRIAL_ID") or None
        self.experiment_id = env.get("HYPERLOOM_EXPERIMENT_ID") or None
        self._channel = env.get("HYPERLOOM_CHANNEL", "file") or "file"
        self._token = env.get("HYPERLOOM_TOKEN", "")
        self._fd: int | None = None
        self._client: SocketClient | None = None
        self._socket_failed = self._channel == "file"
        self._stop = False
        self._next_check = 0.0
        try:
            self.start_step = max(0, int(env.get("HYPERLOOM_START_STEP") or 0))
        except ValueError:
            self.start_step = 0
        self._next_step = self.start_step
        self._checkpoint_dir = env.get("HYPERLOOM_CHECKPOINT_DIR") or None
        self._restore_dir = env.get("HYPERLOOM_RESTORE_DIR") or None
        self._final_sent = False
        self._fork_hook = False
        self._warned: set[str] = set()

    # helpers ---------------------------------------------------------------------------------

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            _warn_line(text)

    def _path(self, name: str) -> str:
        assert self.trial_dir is not None
        return os.path.join(self.trial_dir, name)

    # parameters ------------------------------------------------------------------------------

    def get_params(self, defaults: dict[str, Any] | None) -> dict[str, Any]:
        params = dict(defaults or {})
        if self.trial_dir is None:
            self._warn_once(
                "outside",
                "not running inside an experiment (HYPERLOOM_TRIAL_DIR is not set): "
                "get_params() returns the defaults and reports are printed",
            )
            return params
        path = self._path("params.json")
        try:
            with open(path, encoding="utf-8") as f:
                loaded = json.load(f)
        except FileNotFoundError:
            raise TrialError(
                f"no params.json in the trial directory {self.trial_dir} "
                "(HYPERLOOM_TRIAL_DIR); was this trial started by hyperloom?"
            ) from None
        except (OSError, ValueError) as exc:
            raise TrialError(f"cannot read the trial parameters {path}: {exc}") from None
        if not isinstance(loaded, dict):
            raise TrialError(f"{path} must hold a JSON object, not {type(loaded).__name__}")
        params.update(loaded)
        return params

    # checkpoints -----------------------------------------------------------------------------

    def checkpoint_dir(self) -> Path:
        from pathlib import Path

        if self._checkpoint_dir:
            d = Path(self._checkpoint_dir)
        elif self.trial_dir is not None:
            d = Path(self.trial_dir) / "checkpoint"
        else:
            d = Path("hyperloom-checkpoint")
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrialError(f"cannot create the checkpoint directory {d}: {exc}") from None
        return d

    def restore_dir(self) -> Path | None:
        from pathlib import Path

        if self._restore_dir and os.path.isdir(self._restore_dir):
            return Path(self._restore_dir)
        return None

    # reports ---------------------------------------------------------------------------------

    def report(self, kind: str, value: Any, step: Any, metrics: dict[str, Any]) -> None:
        what = "report_final() value" if kind == "final" else "report() value"
        number = _number(value, what)
        if kind == "metric":
            if step is None:
                step = self._next_step
            else:
                if isinstance(step, bool):
                    raise TrialError(f"report() step must be an int >= 0, got {step!r}")
                try:
                    step = int(step.__index__())
                except (AttributeError, TypeError):
                    raise TrialError(
                        f"report() step must be an int >= 0, got {step!r:.40}"
                    ) from None
                if not 0 <= step < 2**63:
                    raise TrialError(f"report() step must be an int in [0, 2**63), got {step}")
            self._next_step = step + 1
        bad: list[str] = []
        clean = _clean(metrics, "metrics", bad)
        if bad:
            self._warn_once("metric-nan", f"non-finite metrics sent as null: {', '.join(bad)}")
        if not math.isfinite(number):
            self._warn_once(f"nan-{kind}", f"{what} {number} is not finite; not reported")
            return
        if self.trial_dir is None:
            self._print(kind, number, step, clean)
            return
        if self._final_sent:
            self._warn_once(
                "after-final",
                "a report after report_final(): the manager ignores it",
            )
        msg: dict[str, Any] = {"v": 1, "type": kind}
        if kind == "metric":
            msg["step"] = step
        msg["value"] = number
        if clean:
            msg["metrics"] = clean
        msg["t"] = time.time()
        line = (json.dumps(msg, separators=(",", ":"), allow_nan=False) + "\n").encode()
        if len(line) > MAX_LINE:
            _warn_line(
                f"a report of {len(line)} bytes is over the {MAX_LINE // 1024} KiB channel "
                "limit; not sent (send fewer or smaller metrics)"
            )
            return
        self._send(line)
        if kind == "final":
            self._final_sent = True

    def _print(self, kind: str, value: float, step: int | None, metrics: dict[str, Any]) -> None:
        self._warn_once(
            "outside",
            "not running inside an experiment (HYPERLOOM_TRIAL_DIR is not set): reports are "
            "printed",
        )
        head = "final" if kind == "final" else f"step {step}"
        extra = "".join(f" {k}={v}" for k, v in metrics.items())
        print(f"hyperloom: {head}: value={value:g}{extra}", flush=True)

    def _send(self, line: bytes) -> None:
        client = self._connect()
        if client is not None:
            try:
                client.send(line)
                return
            except OSError as exc:
                self._socket_broke(f"the channel socket broke ({exc})")
        self._append(line)

    def _append(self, line: bytes) -> None:
        try:
            if self._fd is None:
                self._fd = os.open(
                    self._path("metrics.jsonl"),
                    os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                    0o644,
                )
            view = memoryview(line)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            raise TrialError(
                f"cannot write the report to {self._path('metrics.jsonl')}: {exc} "
                "(does the trial directory still exist, and is its disk full?)"
            ) from None

    # socket ----------------------------------------------------------------------------------

    def _connect(self) -> SocketClient | None:
        if self._socket_failed or self.trial_dir is None:
            return None
        if self._client is not None:
            return self._client
        from hyperloom.trials._socket import SocketClient

        try:
            client = SocketClient(self._channel, self._token, self.trial_id or "", self._on_stop)
            client.connect()
        except (OSError, ValueError) as exc:
            self._socket_broke(f"cannot use the channel socket {self._channel} ({exc})")
            return None
        self._client = client
        if not self._fork_hook:
            self._fork_hook = True
            os.register_at_fork(after_in_child=self._after_fork)
        return client

    def _socket_broke(self, why: str) -> None:
        self._socket_failed = True
        if self._client is not None:
            self._client.close()
            self._client = None
        self._warn_once("socket", f"{why}; reporting through metrics.jsonl instead")

    def _on_stop(self) -> None:
        self._stop = True

    def _after_fork(self) -> None:
        # the parent owns the connection; a forked child reconnects with its own if it reports
        if self._client is not None:
            self._client.forget()
            self._client = None

    # stop --------------------------------------------------------------------------------------

    def should_stop(self) -> bool:
        if self._stop:
            return True
        if self.trial_dir is None:
            return False
        self._connect()
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + _STOP_CHECK_INTERVAL
            if os.path.exists(self._path("STOP")):
                self._stop = True
        return self._stop


_RUNTIME: Runtime | None = None


def runtime() -> Runtime:
    """The process's `Runtime`, made from the environment on first use."""
    global _RUNTIME
    if _RUNTIME is None:
        _RUNTIME = Runtime()
    return _RUNTIME


def _reset() -> None:
    """Forgets the runtime (tests that change the environment in-process)."""
    global _RUNTIME
    _RUNTIME = None
