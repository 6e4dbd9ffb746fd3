"""Prints the result table of the assessor examples: one row per experiment id given.

python summarize.py ID [ID ...]      (with the same HYPERLOOM_HOME as the runs)
"""

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from hyperloom.store import StoreReader

print(
    "| experiment | trials | completed | early-stopped | median stop step | epochs trained "
    "| best accuracy | a stop reason |"
)
print("|---|---|---|---|---|---|---|---|")
home = Path(os.environ.get("HYPERLOOM_HOME", Path.home() / "hyperloom-experiments"))
for exp in sys.argv[1:]:
    out = subprocess.run(
        ["hyperloom", "trials", exp, "--json"], capture_output=True, text=True, check=True
    )
    trials = json.loads(out.stdout)
    done = [t for t in trials if t["status"] == "SUCCEEDED"]
    stopped = [t for t in trials if t["status"] == "EARLY_STOPPED"]
    epochs = sum(len(t["intermediate"]) for t in trials)
    full = 30 * len(trials)
    best = max((t["value"] for t in trials if t["value"] is not None), default=float("nan"))
    name = json.loads(
        subprocess.run(
            ["hyperloom", "status", exp, "--json"], capture_output=True, text=True
        ).stdout
        or "{}"
    ).get("name", exp)
    reason = next((t["reason"] for t in stopped if t["reason"]), "")
    reader = StoreReader(home / exp / "experiment.db")
    steps = [e["payload"]["step"] for e in reader.events(kind="assessor")]
    reader.close()
    step = f"{statistics.median(steps):g}" if steps else "-"
    print(
        f"| {name} | {len(trials)} | {len(done)} | {len(stopped)} | {step} "
        f"| {epochs}/{full} ({epochs / full:.0%}) | {best:.4f} | {reason[:110]} |"
    )
