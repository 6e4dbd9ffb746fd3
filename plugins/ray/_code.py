"""Shipping the trial code directory to the nodes through Ray's ``runtime_env`` working_dir.

The size is checked here, before anything is zipped or sent, with the same exclusions Ray
applies (its default excludes, ``.gitignore`` / ``.rayignore`` at the top of the directory, and
the user's ``excludes``), so a directory that is too large is a clear error at the first trial
rather than a gRPC failure deep inside Ray.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hyperloom.errors import ConfigError

__all__ = ["DEFAULT_MAX_MIB", "check_code_size", "upload_code"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_MIB = 100.0


def _matcher(root: Path, patterns: Sequence[str]) -> Callable[[str], bool]:
    lines = list(patterns)
    for name in (".gitignore", ".rayignore"):
        try:
            lines += (root / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
    if not lines:
        return lambda rel: False
    try:
        import pathspec

        spec: Any
        try:
            spec = pathspec.PathSpec.from_lines("gitignore", lines)
        except (KeyError, LookupError):  # pathspec < 0.12 knows only the older name
            spec = pathspec.PathSpec.from_lines("gitwildmatch", lines)
        return lambda rel: bool(spec.match_file(rel))
    except ImportError:  # pathspec comes with ray; plain names as a fallback
        import fnmatch

        return lambda rel: any(
            fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(os.path.basename(rel), p) for p in lines
        )


def _default_excludes() -> list[str]:
    try:
        from ray._private import ray_constants

        return list(ray_constants.get_runtime_env_default_excludes())
    except Exception:
        return [".git", ".venv", "venv", "__pycache__"]


def check_code_size(code_dir: Path, excludes: Sequence[str], max_mib: float) -> int:
    """Sums the sizes of the files Ray would ship; raises `ConfigError` above ``max_mib``.

    Returns:
        The total size in bytes.
    """
    root = Path(code_dir)
    if not root.is_dir():
        raise ConfigError(f"trialCodeDirectory {root} does not exist or is not a directory")
    match = _matcher(root, [*_default_excludes(), *excludes])
    limit = int(max_mib * 1024 * 1024)
    total = 0
    biggest: list[tuple[int, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = [
            d for d in dirnames if not match(rel_dir + d) and not match(rel_dir + d + "/")
        ]
        for name in filenames:
            rel = rel_dir + name
            if match(rel):
                continue
            try:
                size = os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
            total += size
            biggest.append((size, rel))
    if total > limit:
        top = ", ".join(
            f"{rel} ({size / 2**20:.1f} MiB)" for size, rel in sorted(biggest, reverse=True)[:3]
        )
        raise ConfigError(
            f"trialCodeDirectory {root} holds {total / 2**20:.1f} MiB to ship to the Ray nodes, over "
            f"the limit of {max_mib:g} MiB (trainingService.maxCodeDirectoryMiB). Largest: {top}. "
            "Exclude data and checkpoints with trainingService.excludes or a .rayignore file, and "
            "read large data from shared storage instead"
        )
    return total


def upload_code(code_dir: Path, excludes: Sequence[str]) -> str:
    """Zips and uploads ``code_dir`` to the cluster once; returns its ``gcs://`` URI.

    Actor-level ``runtime_env`` accepts URIs only, so the executor uploads the directory itself
    with the function Ray uses for ``ray.init(runtime_env=...)`` and reuses the URI for every
    trial (content-addressed: an unchanged directory is not sent twice). Call from a thread.
    """
    from ray._private.runtime_env.working_dir import upload_working_dir_if_needed

    env: dict[str, Any] = {"working_dir": str(code_dir), "excludes": list(excludes)}
    include_gitignore = os.environ.get("RAY_RUNTIME_ENV_IGNORE_GITIGNORE", "0") != "1"
    scratch = tempfile.mkdtemp(prefix="hyperloom-ray-pkg-")
    try:
        out = upload_working_dir_if_needed(
            env, include_gitignore=include_gitignore, scratch_dir=scratch, logger=logger
        )
    finally:
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    uri = out.get("working_dir")
    if not isinstance(uri, str) or "://" not in uri:
        raise RuntimeError(f"Ray returned no package URI for {code_dir}: {out!r}")
    return uri
