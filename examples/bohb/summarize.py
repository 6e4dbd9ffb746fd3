"""Prints the result table of the bohb example: one row per experiment id given.

python summarize.py ID [ID ...]      (with the same HYPERLOOM_HOME as the runs)

Epochs trained are counted from the store's reports (a resumed trial's epochs are counted once:
it continues from its checkpoint); pauses and resumes from the scheduler's events.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from hyperloom.store import StoreReader

print(
    "| experiment | trials | trained to 27 epochs | paused (ever) | stopped early "
    "| epochs trained | best accuracy | elapsed |"
)
print("|---|---|---|---|---|---|---|---|")
home = Path(os.environ.get("HYPERLOOM_HOME", Path.home() / "hyperloom-experiments"))
for exp in sys.argv[1:]:
    out = subprocess.run(
        ["hyperloom", "trials", exp, "--json"], capture_output=True, text=True, check=True
    )
    trials = json.loads(out.stdout)
    full = [t for t in trials if len(t["intermediate"]) >= 27]
    stopped = [t for t in trials if t["status"] == "EARLY_STOPPED"]
    epochs = sum(len(t["intermediate"]) for t in trials)
    best = max((t["value"] for t in full if t["value"] is not None), default=float("nan"))
    status = json.loads(
        subprocess.run(["hyperloom", "status", exp, "--json"], capture_output=True, text=True).stdout
        or "{}"
    )
    reader = StoreReader(home / exp / "experiment.db")
    paused = {e["trial_id"] for e in reader.events(kind="assessor")
              if e["payload"].get("verdict") == "PAUSE"}  # fmt: skip
    reader.close()
    dur = (status.get("budget") or {}).get("duration") or [None]
    elapsed = "-" if dur[0] is None else f"{dur[0] / 60:.1f} min"
    print(
        f"| {status.get('name', exp)} | {len(trials)} | {len(full)} | {len(paused)} "
        f"| {len(stopped)} | {epochs} | {best:.4f} | {elapsed} |"
    )
