"""The shared setting of the NAS benchmarks: examples/nas-oneshot/common.py (data, space,
model, per-method defaults), imported from the example so both stay the same."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nas-oneshot"
sys.path.insert(0, str(EXAMPLE))

import common  # noqa: E402

__all__ = ["common"]
