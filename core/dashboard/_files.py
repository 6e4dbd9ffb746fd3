"""Files the dashboard serves: trial log tails and the vendored static assets.

No request path is ever joined onto the file system. Log files are found from a trial id that
the store knows and that passes a strict pattern; static files come from a manifest built once by
walking the package's ``static/`` folder.
"""

from __future__ import annotations

import errno
import logging
import mimetypes
import os
import re
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["LOG_TAIL_BYTES", "StaticFile", "read_tail", "static_manifest", "trial_log_path"]

logger = logging.getLogger(__name__)

LOG_TAIL_BYTES = 20 * 1024
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_LOG_NAMES = ("stdout.log", "stderr.log")


def trial_log_path(exp_dir: Path, trial_id: str, name: str) -> Path | None:
    """``<exp_dir>/trials/<trial_id>/<name>``, or None when the id or name is not a safe one.

    Args:
        exp_dir: The experiment directory.
        trial_id: A trial id (letters, digits, ``_ . -``; no ``..``).
        name: ``stdout.log`` or ``stderr.log``.
    """
    if name not in _LOG_NAMES or not _SAFE_ID.match(trial_id) or ".." in trial_id:
        return None
    root = (exp_dir / "trials").resolve()
    path = root / trial_id / name  # the last two parts are not resolved: read_tail refuses links
    if not path.is_relative_to(root):
        return None
    return path


def _open_log(path: Path) -> tuple[int | None, str | None]:
    """Opens a trial log for reading: ``(fd, None)``, or ``(None, why it is refused)``.

    The trial directory and the log are opened without following symlinks, the open never
    blocks (a FIFO cannot hang the server), and only a regular file with one link is served: a
    hard link to a file elsewhere (``ln /home/me/.ssh/id_rsa stdout.log``) has two.
    """
    dir_fd = None
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        fd = os.open(
            path.name,
            os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY,
            dir_fd=dir_fd,
        )
    except FileNotFoundError:
        return None, None
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            return None, "the log is a symbolic link; hyperloom serves only the trial's own file"
        return None, f"cannot open the log: {e.strerror}"
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    st = os.fstat(fd)
    why = None
    if not stat.S_ISREG(st.st_mode):
        why = "the log is not a regular file"
    elif st.st_nlink != 1:
        why = f"the log has {st.st_nlink} hard links; hyperloom serves only the trial's own file"
    if why is not None:
        os.close(fd)
        return None, why
    return fd, None


def read_tail(path: Path | None, limit: int = LOG_TAIL_BYTES) -> dict[str, object]:
    """The last ``limit`` bytes of a trial log as ``{text, size, truncated, exists}``.

    Only the tail is read (a seek from the end), so a multi-gigabyte log costs nothing more. A
    partial first line is dropped when the file was cut. A log that is a symlink (or sits in a
    symlinked trial directory), a hard link, or not a regular file is not read: the answer has
    ``refused`` with the reason instead.
    """
    if path is None:
        return {"text": "", "size": 0, "truncated": False, "exists": False}
    fd, why = _open_log(path)
    if fd is None:
        out: dict[str, object] = {"text": "", "size": 0, "truncated": False, "exists": False}
        if why is not None:
            logger.warning("dashboard: not serving %s: %s", path, why)
            out["refused"] = why
        return out
    with os.fdopen(fd, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        start = max(0, size - limit)
        f.seek(start)
        data = f.read(limit)
    if start > 0:
        nl = data.find(b"\n")
        if 0 <= nl < len(data) - 1:
            data = data[nl + 1 :]
    return {
        "text": data.decode("utf-8", errors="replace"),
        "size": size,
        "truncated": start > 0,
        "exists": True,
    }


@dataclass(frozen=True)
class StaticFile:
    """A static asset, read once at startup."""

    body: bytes
    content_type: str


def static_manifest() -> dict[str, StaticFile]:
    """Every file under the package's ``static/`` folder, keyed by its relative POSIX path."""
    root = resources.files("hyperloom.dashboard") / "static"
    out: dict[str, StaticFile] = {}

    def walk(node: resources.abc.Traversable, prefix: str) -> None:
        for child in node.iterdir():
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            elif child.is_file() and not child.name.startswith("."):
                ctype = mimetypes.guess_type(child.name)[0] or "application/octet-stream"
                if child.name.endswith((".js", ".mjs")):
                    ctype = "text/javascript"
                out[rel] = StaticFile(child.read_bytes(), ctype)

    if root.is_dir():
        walk(root, "")
    else:  # pragma: no cover - a broken install
        logger.error("the dashboard's static folder is missing from the installed package")
    return out
