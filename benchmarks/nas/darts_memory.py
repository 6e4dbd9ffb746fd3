"""Peak resident memory of a DARTS search against the number of cells, first and second
order, on the nas-oneshot setting (Fashion-MNIST 7x7, 3-node cells over 5 ops, 8 channels,
batch 64). Each configuration runs in a fresh process: data and supernet are built, the RSS is
read (``before``), a few search steps run, and the peak RSS (``ru_maxrss``) is read. The
growth per cell is the slope of a least-squares line through the peaks.

    nice -n 10 python benchmarks/nas/darts_memory.py [--cells 1 2 3 4 6] [--steps 3]

Writes darts_memory.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, resource, sys, torch
sys.path.insert(0, sys.argv[4])
torch.set_num_threads(1)
from _setup import common
from hyperloom.plugins.nas import Supernet, darts_search, load_fashion_mnist
cells, order, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
data = load_fashion_mnist(64 * steps, 64 * steps, 64, downsample=4)
net = Supernet(common.SPACE, data.input_shape, 10, channels=8, layers=cells)
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
before = rss_mb()
darts_search(net, data, epochs=1, batch_size=64, order=order, max_skip=None)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
params = sum(p.numel() for p in net.weight_parameters())
print(json.dumps({"cells": cells, "order": order, "before_mb": before, "peak_mb": peak,
                  "supernet_params": params}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, nargs="+", default=[1, 2, 3, 4, 6])
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for order in (1, 2):
        for cells in args.cells:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(cells), str(order), str(args.steps), str(HERE)],
                capture_output=True, text=True,
            )  # fmt: skip
            if out.returncode != 0:
                print(f"cells={cells} order={order} failed:\n{out.stderr[-2000:]}", flush=True)
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    print(
        "| order | cells | supernet params | RSS before search (MB) | peak RSS (MB) | peak - before |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['order']} | {r['cells']} | {r['supernet_params']:,} | {r['before_mb']:.0f} | "
            f"{r['peak_mb']:.0f} | {r['peak_mb'] - r['before_mb']:.0f} |"
        )
    slopes = {}
    for order in (1, 2):
        xs = [r["cells"] for r in rows if r["order"] == order]
        ys = [r["peak_mb"] for r in rows if r["order"] == order]
        slopes[order] = float(np.polyfit(xs, ys, 1)[0])
        print(f"order {order}: peak RSS grows {slopes[order]:.1f} MB per cell")
    (HERE / "darts_memory.json").write_text(
        json.dumps({"rows": rows, "mb_per_cell": slopes}, indent=1)
    )


if __name__ == "__main__":
    main()
