"""Size-matched random baselines for the one-shot end-to-end figure (issue 21, session 6).

The session-5 SPOS/ENAS wins over "the mean of 5 random cells" were carried by parameter
count: the searches picked big cells, and a uniformly random cell is small on average. The
fair control is a random cell *of the same size*: for every architecture a one-shot method
retrained in ``oneshot_e2e_seed*.json``, this script draws random cells of the space whose
parameter count is within ``--tol`` (relative, default 3%) of it, excluding the architecture
itself, and retrains them exactly as the end-to-end benchmark did (same seed, same 4 epochs,
same ``train_standalone``). A method "wins at comparable size" in a seed when its retrained
test accuracy beats the mean of those size-matched random cells.

Random cells are drawn per (seed, parameter count) and shared by every method whose cell has
that size in that seed, so a pair of methods that found cells of one size meet the same
control. Results are appended to ``size_matched.json`` after every retraining (resumable).

    nice -n 10 python benchmarks/nas/size_matched.py --methods darts spos_sc enas_sc
    python benchmarks/nas/size_matched.py --table
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _setup import common
from hyperloom.plugins.nas import Supernet
from oneshot_e2e import BAND_PARAMS, retrain

torch.set_num_threads(1)
HERE = Path(__file__).resolve().parent
OUT = HERE / "size_matched.json"
N_MATCHED = 5
#: which file holds the session's result of each method (v1 DARTS and the random baselines are
#: in the untagged files; later versions carry a tag)
SOURCE = {
    "darts": ("", "_b", "_c"),
    "spos_sc": ("_sc",),
    "spos_sc_size": ("_sc",),
    "enas_sc": ("_sce",),
    "enas_sc_cap": ("_sce",),
    "spos": ("_v3",),
    "spos_cap": ("_v3",),
    "enas": ("_v3e",),
    "enas_cap": ("_v3e",),
    "spos_band": ("_band",),
    "spos_ft": ("_ft",),
    "spos_s7": ("_s7",),
    "enas_s7_n20": ("_s7",),
    "enas_s7": ("_s7e",),
}


def slot_size(probe: Supernet, method: str, arch: dict[str, Any]) -> int:
    """The size whose random cells are the control: the cell's own parameter count, or for
    ``spos_band`` (searched inside oneshot_e2e.BAND_PARAMS +- BAND_TOL) the band's centre."""
    if method == "spos_band":
        return int(BAND_PARAMS)
    return int(probe.extract(arch, inherit=False).num_parameters())


def found(seed: int, method: str) -> dict[str, Any] | None:
    for tag in SOURCE[method]:
        p = HERE / f"oneshot_e2e_seed{seed}{tag}.json"
        if p.exists():
            m = json.loads(p.read_text())["methods"].get(method)
            if m is not None:
                return m
    return None


def random_baseline(seed: int) -> list[dict[str, Any]]:
    return json.loads((HERE / f"oneshot_e2e_seed{seed}.json").read_text())["random"]


def key(arch: dict[str, Any]) -> str:
    return json.dumps(arch, sort_keys=True)


def fill_matched(
    probe: Supernet,
    slot: list[dict[str, Any]],
    size: int,
    found_arch: dict[str, Any],
    seed: int,
    tol: float,
    train: Callable[[dict[str, Any]], dict[str, Any]],
    save: Callable[[], Any],
    label: str,
) -> None:
    """Tops ``slot`` up to N_MATCHED random architectures within ``tol`` (log) of ``size``
    parameters, each other than ``found_arch`` and the slot's, trained by ``train``; ``save``
    runs after each, so a killed run resumes where it stopped."""
    rng = np.random.default_rng(5000 + 7 * seed + size)
    tries = 0
    while len(slot) < N_MATCHED and tries < 20000:
        tries += 1
        arch = probe.sample(rng)
        p = probe.extract(arch, inherit=False).num_parameters()
        if abs(math.log(p / size)) > tol or key(arch) == key(found_arch):
            continue
        if any(key(arch) == key(s["arch"]) for s in slot):
            continue
        slot.append({"arch": arch, "params": p, **train(arch)})
        save()
        print(label, p, slot[-1]["test_acc"], flush=True)


def run(methods: list[str], seeds: list[int], tol: float) -> None:
    data = common.data()
    probe = Supernet(common.SPACE, data.input_shape, 10, **common.MODEL)
    state = json.loads(OUT.read_text()) if OUT.exists() else {"tol": tol, "matched": {}}
    for method in methods:
        for seed in seeds:
            m = found(seed, method)
            if m is None:
                continue
            size = slot_size(probe, method, m["arch"])
            slot = state["matched"].setdefault(f"{seed}:{size}", [])
            fill_matched(
                probe,
                slot,
                size,
                m["arch"],
                seed,
                tol,
                lambda arch, seed=seed: retrain(arch, data, seed, 4),
                lambda: OUT.write_text(json.dumps(state, indent=1)),
                f"{method} {seed} {size}",
            )
    OUT.write_text(json.dumps(state, indent=1))


def table(methods: list[str]) -> None:
    state = json.loads(OUT.read_text())
    data_probe = None
    print(f"size tolerance: +-{100 * state['tol']:.0f}% of the parameter count")
    print(
        "| method | retrained test acc (median) | its params (median) | mean of 5 random (median) "
        "| beats it | mean of 5 size-matched random (median) | beats it | median margin over "
        "size-matched | beats their median (robust to one failed retraining) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for method in methods:
        accs, sizes, rand, matched, beats, beats_m, margins, per = [], [], [], [], 0, 0, [], []
        beats_med = 0
        for seed in range(5):
            m = found(seed, method)
            if m is None:
                continue
            if data_probe is None:
                data = common.data()
                data_probe = Supernet(common.SPACE, data.input_shape, 10, **common.MODEL)
            size = slot_size(data_probe, method, m["arch"])
            slot = state["matched"].get(f"{seed}:{size}", [])
            if len(slot) < N_MATCHED:
                continue
            r5 = statistics.mean(x["test_acc"] for x in random_baseline(seed)[:5])
            mm = statistics.mean(x["test_acc"] for x in slot)
            accs.append(m["test_acc"])
            sizes.append(size)
            rand.append(r5)
            matched.append(mm)
            beats += m["test_acc"] > r5
            beats_m += m["test_acc"] > mm
            beats_med += m["test_acc"] > statistics.median(x["test_acc"] for x in slot)
            margins.append(m["test_acc"] - mm)
            per.append(f"{m['test_acc']:.3f} vs {mm:.3f} ({size})")
        if not accs:
            continue
        med = statistics.median
        n = len(accs)
        print(
            f"| {method} | {med(accs):.3f} | {med(sizes):.0f} | {med(rand):.3f} | {beats}/{n} "
            f"| {med(matched):.3f} | {beats_m}/{n} | {med(margins):+.3f} "
            f"| {beats_med}/{n} |"
        )
        summary[method] = {
            "test_acc": accs, "params": sizes, "random_mean5": rand, "matched_mean5": matched,
            "beats_random": beats, "beats_matched": beats_m, "seeds": n, "per_seed": per,
            "beats_matched_median": beats_med,
        }  # fmt: skip
    for method, s in summary.items():
        print(f"{method} per seed: " + " / ".join(s["per_seed"]))
    state["table"] = summary
    OUT.write_text(json.dumps(state, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", nargs="+", default=["darts", "spos_sc", "enas_sc"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--tol", type=float, default=0.03)
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    if args.table:
        table(list(SOURCE) if args.methods == ap.get_default("methods") else args.methods)
    else:
        run(args.methods, args.seeds, args.tol)


if __name__ == "__main__":
    main()
