"""Hypervolume cost: hyperloom.pareto.hypervolume vs Optuna's (when importable) and a brute
force baseline, median wall time of repeats.

    python benchmarks/multiobjective/hv_cost.py [--repeats 15]

The brute-force baseline (grid slicing, O(n^3)) runs on the first 300 points only, to check the
value. Points: 1,000 in 3 objectives on the positive unit sphere (every point on the front, the hardest
case for a sweep), and 1,000 uniform random points (a small front). Target (issue 19): 1,000
points in 3 objectives in at most 50 ms. Writes hv_cost.json next to this script.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hyperloom import pareto


def _time(fn: Callable[[], float], repeats: int) -> tuple[float, float]:
    out = []
    value = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        value = fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out), value


def _brute(points: np.ndarray, ref: np.ndarray) -> float:
    """Baseline: slicing on a grid of the distinct coordinates (exact, O(n^3))."""
    front = points[pareto.pareto_mask(points)]
    xs = np.unique(np.append(front[:, 0], ref[0]))
    ys = np.unique(np.append(front[:, 1], ref[1]))
    vol = 0.0
    for i in range(len(xs) - 1):
        sub = front[front[:, 0] <= xs[i]]
        if not sub.shape[0]:
            continue
        for j in range(len(ys) - 1):
            s = sub[sub[:, 1] <= ys[j]]
            if s.shape[0]:
                vol += (xs[i + 1] - xs[i]) * (ys[j + 1] - ys[j]) * (ref[2] - s[:, 2].min())
    return float(vol)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    sphere = np.abs(rng.normal(size=(1000, 3)))
    sphere /= np.linalg.norm(sphere, axis=1, keepdims=True)
    sets = {"sphere_1000x3": sphere, "uniform_1000x3": rng.random((1000, 3))}
    try:
        from optuna._hypervolume import compute_hypervolume as optuna_hv  # type: ignore
    except ImportError:  # pragma: no cover - optuna is optional
        optuna_hv = None
    rows = []
    for name, pts in sets.items():
        ref = np.full(3, 1.1)
        t_hl, v_hl = _time(lambda pts=pts, ref=ref: pareto.hypervolume(pts, ref), args.repeats)
        row = {"set": name, "hyperloom_ms": 1e3 * t_hl, "hv": v_hl}
        if optuna_hv is not None:
            t_o, v_o = _time(lambda pts=pts, ref=ref: float(optuna_hv(pts, ref)), args.repeats)
            row.update(optuna_ms=1e3 * t_o, optuna_hv=v_o)
        # the O(n^3) baseline on the first 300 points only (1,000 take minutes)
        t_b, v_b = _time(lambda pts=pts, ref=ref: _brute(pts[:300], ref), 1)
        row.update(
            brute300_ms=1e3 * t_b,
            brute300_hv=v_b,
            hyperloom300_hv=pareto.hypervolume(pts[:300], ref),
        )
        rows.append(row)
    print(f"{'set':16} {'hyperloom ms':>13} {'optuna ms':>10} {'brute(300) ms':>14}  agree")
    for r in rows:
        agree = (
            all(
                abs(r["hv"] - r[k]) <= 1e-9 * max(1.0, abs(r["hv"]))
                for k in ("optuna_hv",)
                if k in r
            )
            and abs(r["hyperloom300_hv"] - r["brute300_hv"]) <= 1e-9
        )
        o = f"{r['optuna_ms']:10.1f}" if "optuna_ms" in r else f"{'n/a':>10}"
        print(f"{r['set']:16} {r['hyperloom_ms']:13.2f} {o} {r['brute300_ms']:14.0f}  {agree}")
        r["agree"] = agree
    out = Path(__file__).with_name("hv_cost.json")
    out.write_text(json.dumps({"repeats": args.repeats, "results": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
