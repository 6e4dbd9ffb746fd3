"""A NAS cell as a graph, for the trial page's architecture drawing.

A cell point of ``hyperloom.plugins.nas.cell_space`` has, per cell type (``normal``, ``reduce``)
and intermediate node ``k``, two inputs ``{type}_n{k}_in{j}`` and two ops ``{type}_n{k}_op{j}``
(``j`` in 0, 1). An input index counts the cell's two inputs first (0: the cell two back, 1: the
previous cell), then the earlier nodes (2 + node). The cell's output concatenates every
intermediate node. This module reads that format without torch: the dashboard never imports the
NAS plugin.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ARCH_FILE", "cell_graph", "read_architecture"]

#: What a one-shot search writes in its trial directory.
ARCH_FILE = "architecture.json"
_MAX_BYTES = 256 * 1024
_KEY = re.compile(r"^(normal|reduce)_n(\d)_(in|op)([01])$")


def read_architecture(trial_dir: Path) -> dict[str, Any] | None:
    """``<trial_dir>/architecture.json`` as a dict, or ``None`` when it is missing, a link, not a
    regular file, over 256 KiB or not a JSON object (the dashboard serves only the trial's own
    file, as for its logs)."""
    try:
        fd = os.open(trial_dir / ARCH_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size > _MAX_BYTES:
            return None
        try:
            data = json.loads(f.read(_MAX_BYTES + 1))
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


def cell_graph(point: Mapping[str, Any]) -> dict[str, Any] | None:
    """The cells of ``point`` as ``{cell type: {"nodes": n, "edges": [...]}}``, or ``None`` when
    ``point`` holds no complete cell.

    Each edge is ``{"node": k, "slot": j, "from": "c_{k-2}" | "c_{k-1}" | "n<i>", "op": name}``.
    A cell type is kept only when every node from 0 to its last has both inputs and both ops,
    and every input index is in range; other keys (a learning rate) are ignored.
    """
    found: dict[str, dict[tuple[int, str, int], Any]] = {}
    for key, value in point.items():
        m = _KEY.match(str(key))
        if m:
            found.setdefault(m[1], {})[(int(m[2]), m[3], int(m[4]))] = value
    cells: dict[str, Any] = {}
    for kind, parts in found.items():
        n = 1 + max(k for k, _, _ in parts)
        edges = []
        for k in range(n):
            for j in (0, 1):
                src, op = parts.get((k, "in", j)), parts.get((k, "op", j))
                if not isinstance(src, int) or isinstance(src, bool) or not 0 <= src < k + 2:
                    return None
                if not isinstance(op, str):
                    return None
                name = ("c_{k-2}", "c_{k-1}")[src] if src < 2 else f"n{src - 2}"
                edges.append({"node": k, "slot": j, "from": name, "op": op})
        cells[kind] = {"nodes": n, "edges": edges}
    return {k: cells[k] for k in ("normal", "reduce") if k in cells} or None
