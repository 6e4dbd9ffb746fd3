"""Which experiments the dashboard shows: a map from experiment id to directory.

Request ids are only ever looked up in this map, never turned into paths, so an id such as
``../../etc`` simply is not found.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

from hyperloom.paths import DB_NAME

__all__ = ["Catalog"]

logger = logging.getLogger(__name__)


def _experiment_id(exp_dir: Path) -> str:
    """The id stored in the experiment's database, else the directory's name."""
    db = exp_dir / DB_NAME
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
        try:
            row = conn.execute("SELECT id FROM experiment LIMIT 1").fetchone()
        finally:
            conn.close()
        if row and row[0]:
            return str(row[0])
    except sqlite3.Error as e:
        logger.debug("no id in %s (%s); using the directory name", db, e)
    return exp_dir.name


class Catalog:
    """Experiment ids → directories, refreshed from a callable or fixed list.

    Args:
        source: The experiment directories, or a callable returning them (called on refresh).
    """

    def __init__(self, source: Callable[[], list[Path]] | list[Path]) -> None:
        self._source = source
        self._dirs: dict[str, Path] = {}
        self._ids: dict[Path, str] = {}

    def refresh(self) -> dict[str, Path]:
        """Re-reads the directories (blocking: call it in a thread). Returns id → directory."""
        dirs = self._source() if callable(self._source) else self._source
        found: dict[str, Path] = {}
        for d in dirs:
            p = Path(d)
            if not (p / DB_NAME).is_file():
                continue
            key = p.resolve()
            exp_id = self._ids.get(key) or _experiment_id(p)
            self._ids[key] = exp_id
            found.setdefault(exp_id, key)
        self._dirs = found
        return dict(found)

    def get(self, exp_id: str) -> Path | None:
        """The directory of ``exp_id`` as last refreshed, or None."""
        return self._dirs.get(exp_id)

    def ids(self) -> list[str]:
        """The known ids, in source order."""
        return list(self._dirs)
