"""Why trials failed, in one line, and what to do about it.

After a run in which trials failed, the summary names the most common failure reason (from the
trials' recorded reasons, else the tail of their ``stderr.log``) and a fix for the causes we can
recognise: a module the trial imports that is not installed (``nni`` above all), a trial command
that is not found, a script that is not there, a trial time limit, a kill by the system.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FailureSummary", "fix_for", "summarize_failures"]

#: Statuses of trials that ended without a result because something went wrong.
#: The statuses the failure summary counts.
FAILED_STATUSES = ("FAILED", "TIMEOUT")
_MODULE = re.compile(r"No module named '([A-Za-z0-9_.]+)'")
_EXIT = re.compile(r"^exit code -?\d+: ")
#: Import names whose distribution is named otherwise.
_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "attr": "attrs",
}
_TAIL_BYTES = 8192


@dataclass(frozen=True)
class FailureSummary:
    """The failures of an experiment's trials, for the end-of-run summary.

    Attributes:
        failed: How many trials failed or timed out.
        reason: The most common reason among them (as recorded, or the key line of stderr).
        count: How many of them failed for that reason.
        fix: What to do about it, when the cause is recognised; else None.
        stderr: The stderr log of one trial that failed so (to read), when there is one.
    """

    failed: int
    reason: str
    count: int
    fix: str | None
    stderr: Path | None


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _TAIL_BYTES))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _key_line(stderr: str) -> str | None:
    """The line of a stderr tail that says what went wrong: a Python exception line
    (``ModuleNotFoundError: ...``), else the last non-empty line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b:?", line):
            return line[:300]
    return lines[-1][:300] if lines else None


def _reason(record: Any, exp_dir: Path | None) -> tuple[str, Path | None]:
    """The failure reason of one trial, and its stderr log when it has one."""
    reason = (record.reason or "").strip()
    stderr = exp_dir / "trials" / record.trial_id / "stderr.log" if exp_dir else None
    if stderr is not None and not stderr.is_file():
        stderr = None
    if stderr is not None and not _MODULE.search(reason):
        # the recorded reason holds stderr's last line only; the cause may be further up
        text = _tail(stderr)
        found = _MODULE.search(text)
        if found:
            line = next(
                (ln.strip() for ln in reversed(text.splitlines()) if found.group(0) in ln),
                found.group(0),
            )
            reason = f"{reason}; stderr: {line}" if reason else line
        elif not reason:
            reason = _key_line(text) or ""
    if not reason:
        reason = "timed out" if record.status.name == "TIMEOUT" else "no reason was recorded"
    return reason, stderr


def fix_for(reason: str, *, config_file: bool = True) -> str | None:
    """What to do about a failure reason, or None when it is not one we recognise.

    Args:
        reason: The failure reason.
        config_file: Whether the experiment was run from a config file (a no-config run has
            none to add a key to).
    """
    found = _MODULE.search(reason)
    if found:
        module = found.group(1).split(".")[0]
        if module == "nni":
            head = "the trial imports nni, which is not installed where the trials run: "
            shim = "`nniCompat: shim` (hyperloom's light stand-in for nni's trial API)"
            if config_file:
                return f"{head}add {shim} to the config, or `pip install nni`"
            return f"{head}`pip install nni`, or run it from a config file with {shim}"
        if module == "hyperloom":
            return (
                "the trials' Python does not have hyperloom: run them with the interpreter "
                "hyperloom is installed in (e.g. `python` from the same virtual environment)"
            )
        dist = _DISTRIBUTIONS.get(module, module)
        return (
            f"the trial imports {module!r}, which is not installed where the trials run: "
            f"`pip install {dist}` in that environment"
        )
    low = reason.lower()
    if low.startswith("exit code 127") or "command not found" in low:
        return (
            "the trial command was not found: check trialCommand (run it by hand in "
            "trialCodeDirectory)"
        )
    if "can't open file" in low or "no such file or directory" in low:
        return (
            "a file the trial command names does not exist: check trialCommand and "
            "trialCodeDirectory (relative paths start there)"
        )
    if "maxtrialduration" in low or low == "timed out":
        return "trials ran past maxTrialDuration: raise it, or make each trial shorter"
    if "sigkill" in low and "hyperloom" not in low:
        return (
            "the system killed the trials (often out of memory): use less memory per trial or "
            "lower trialConcurrency"
        )
    if "out of memory" in low or "outofmemoryerror" in low:
        return "the trials ran out of memory: use a smaller batch or model, or fewer at once"
    return None


def summarize_failures(
    records: Iterable[Any], exp_dir: Path | None, *, config_file: bool = True
) -> FailureSummary | None:
    """The failures among ``records`` (trial records), or None when no trial failed.

    Args:
        records: The experiment's trial records (``TrialRecord``).
        exp_dir: The experiment directory (for the trials' ``stderr.log``), or None.
        config_file: Whether the experiment was run from a config file (see :func:`fix_for`).
    """
    counts: Counter[str] = Counter()
    logs: dict[str, Path] = {}
    failed = 0
    for r in records:
        if r.status.name not in FAILED_STATUSES:
            continue
        failed += 1
        reason, stderr = _reason(r, exp_dir)
        key = _EXIT.sub("", reason) if _MODULE.search(reason) else reason
        counts[key] += 1
        if stderr is not None:
            logs.setdefault(key, stderr)
    if not failed:
        return None
    reason, count = counts.most_common(1)[0]
    return FailureSummary(
        failed=failed,
        reason=reason,
        count=count,
        fix=fix_for(reason, config_file=config_file),
        stderr=logs.get(reason),
    )
