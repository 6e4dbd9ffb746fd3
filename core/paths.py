"""Where experiments live: ``$HYPERLOOM_HOME`` (default ``~/hyperloom-experiments``)."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import string
from pathlib import Path

from hyperloom.errors import ExperimentNotFoundError

__all__ = [
    "DB_NAME",
    "all_experiment_dirs",
    "experiments_home",
    "find_experiment_dir",
    "indexed_experiment_dirs",
    "iter_experiment_dirs",
    "new_id",
    "private_dir",
    "private_file",
    "tighten",
]

DB_NAME = "experiment.db"
_ALPHABET = string.ascii_lowercase + string.digits


def new_id(n: int = 8) -> str:
    """A random lowercase id (experiment ids use 8 characters; trial ids come from sequences)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Creates ``path`` (and missing parents) and makes it ``0700`` when this user owns it.

    An experiment directory holds the store, the channel socket and every trial's files; mode
    ``0700`` keeps other local users from reading results, tokens or logs, or from writing into
    it. A directory owned by someone else is left as it is (chmod would fail anyway).
    """
    p = Path(path)
    p.mkdir(mode=0o700, parents=True, exist_ok=True)
    tighten(p, 0o700)
    return p


def private_file(path: str | os.PathLike[str]) -> Path:
    """Creates an empty file with mode ``0600``, refusing one that already exists (or a link).

    Used for ``experiment.db`` before SQLite opens it: SQLite then creates its ``-wal`` and
    ``-shm`` files with the database file's mode.

    Raises:
        FileExistsError: Something already exists at ``path``.
    """
    p = Path(path)
    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    os.close(fd)
    return p


def tighten(path: str | os.PathLike[str], mode: int) -> bool:
    """Removes every permission bit outside ``mode`` from a file or directory this user owns.

    Symlinks are never followed. Returns True when the path now has no bits outside ``mode``.
    """
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid():
        return False
    current = stat.S_IMODE(st.st_mode)
    if current & ~mode:
        with contextlib.suppress(OSError):
            os.chmod(path, current & mode)
            return True
        return False
    return True


def experiments_home() -> Path:
    """``$HYPERLOOM_HOME``, or ``~/hyperloom-experiments``."""
    env = os.environ.get("HYPERLOOM_HOME")
    return Path(env).expanduser() if env else Path.home() / "hyperloom-experiments"


def iter_experiment_dirs(home: Path | None = None) -> list[Path]:
    """Experiment directories under ``home`` (those holding an ``experiment.db``), newest first."""
    root = home or experiments_home()
    if not root.is_dir():
        return []
    dirs = [d for d in root.iterdir() if (d / DB_NAME).is_file()]
    return sorted(dirs, key=lambda d: (d / DB_NAME).stat().st_mtime, reverse=True)


def indexed_experiment_dirs(home: Path | None = None) -> list[Path]:
    """Experiment directories outside ``home`` that its ``.index`` records (an experiment whose
    working directory its config chose), those that still hold an ``experiment.db``."""
    index = (home or experiments_home()) / ".index"
    if not index.is_dir():
        return []
    out = []
    for link in index.iterdir():
        try:
            target = Path(link.read_text(encoding="utf-8").strip())
        except OSError:
            continue
        if (target / DB_NAME).is_file():
            out.append(target)
    return out


def all_experiment_dirs(home: Path | None = None) -> list[Path]:
    """Every experiment ``home`` knows: those under it (newest first), then those elsewhere that
    its ``.index`` records; each directory once."""
    seen: set[Path] = set()
    out: list[Path] = []
    for d in [*iter_experiment_dirs(home), *indexed_experiment_dirs(home)]:
        key = d.resolve()
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def find_experiment_dir(id_or_dir: str | os.PathLike[str], home: Path | None = None) -> Path:
    """Resolves an experiment id (under the home) or a directory path to its directory."""
    p = Path(id_or_dir).expanduser()
    if (p / DB_NAME).is_file():
        return p.resolve()
    cand = (home or experiments_home()) / str(id_or_dir)
    if (cand / DB_NAME).is_file():
        return cand.resolve()
    # an id of an experiment whose working directory was chosen in its config: look in the index
    index = (home or experiments_home()) / ".index"
    link = index / str(id_or_dir)
    if link.is_file():
        target = Path(link.read_text(encoding="utf-8").strip())
        if (target / DB_NAME).is_file():
            return target.resolve()
    raise ExperimentNotFoundError(
        f"no experiment {str(id_or_dir)!r} (looked in {str(home or experiments_home())!r}; "
        f"set HYPERLOOM_HOME or give the experiment directory)"
    )
