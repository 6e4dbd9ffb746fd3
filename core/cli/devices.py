"""``hyperloom devices``: the GPUs, their memory and utilisation, and which trial holds each."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import typer
from hyperloom.cli import app
from hyperloom.cli._common import console, print_json
from rich.table import Table

__all__ = ["device_holders"]

logger = logging.getLogger(__name__)


def _alive(pid: int | None) -> bool:
    if not pid:
        return True  # unknown: assume it runs
    import psutil

    return bool(psutil.pid_exists(int(pid)))


def device_holders(home: Path | None = None) -> dict[int, list[dict[str, str]]]:
    """Device index to the running trials that hold it, read from running experiments' stores.

    Only experiments whose status is ``RUNNING`` and whose manager process is alive count; those
    outside the home are found through its ``.index``.

    Args:
        home: where experiments live; ``hyperloom.paths.experiments_home()`` by default.
    """
    from hyperloom.errors import StoreError
    from hyperloom.paths import all_experiment_dirs
    from hyperloom.store import StoreReader

    out: dict[int, list[dict[str, str]]] = {}
    for exp_dir in all_experiment_dirs(home):
        try:
            with StoreReader(exp_dir) as reader:
                exp = reader.experiment()
                if exp["status"] != "RUNNING" or not _alive(exp.get("manager_pid")):
                    continue
                running = reader.trials(status="RUNNING", with_intermediate=False)
        except (StoreError, OSError) as e:
            logger.debug("skipping %s: %s", exp_dir, e)
            continue
        for r in running:
            for i in r.devices or ():
                out.setdefault(int(i), []).append({"experiment": exp["id"], "trial": r.trial_id})
    return out


@app.command("devices")
def devices_command(
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Show the GPUs trials may use: memory, utilisation, and the trial holding each.

    Devices come from HYPERLOOM_FAKE_GPUS, else NVML, else nvidia-smi, as the manager sees them
    (CUDA_VISIBLE_DEVICES applies). Holders are the running trials of running experiments under
    HYPERLOOM_HOME.
    """
    from hyperloom.devices._detect import detect

    backend, devices = detect()
    holders = device_holders()
    rows: list[dict[str, Any]] = [
        {**d.to_json(), "holders": holders.get(d.index, [])} for d in devices
    ]
    seen = {d.index for d in devices}
    for i in sorted(set(holders) - seen):  # e.g. held by an experiment run on fake devices
        rows.append({"index": i, "name": "(not detected here)", "holders": holders[i]})
    if as_json:
        print_json({"backend": backend, "devices": rows})
        return
    if not rows:
        console.print(
            "no GPU found (looked for HYPERLOOM_FAKE_GPUS, NVML and nvidia-smi; "
            "CUDA_VISIBLE_DEVICES applies)"
        )
        return
    table = Table(title=f"GPUs ({backend})", title_justify="left")
    for col, just in (("GPU", "right"), ("name", "left"), ("memory MiB", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    table.add_column("util %", justify="right")
    table.add_column("in use by others")
    table.add_column("held by")
    for r in rows:
        held = ", ".join(f"{h['experiment']}/{h['trial']}" for h in r["holders"]) or "-"
        table.add_row(
            str(r["index"]),
            r["name"],
            f"{r['memory_used_mb']} / {r['memory_total_mb']}" if "uuid" in r else "-",
            f"{r['utilization']:.0f}" if "uuid" in r else "-",
            ("yes" + (f" (pids {r['compute_pids']})" if r["compute_pids"] else ""))
            if r.get("active")
            else "no",
            held,
        )
    console.print(table)
