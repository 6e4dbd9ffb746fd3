"""tpe with and without ``local_search`` on all-categorical landscapes not used to choose it: two
NK landscapes (N=10, K=2, 4 options; rugged, exact optimum by enumeration), a deceptive trap
(8 x 5), and nas_chain / NB201-CIFAR-10 with Gaussian observation noise (regret of the trial with
the best *observed* value). Median regret at 25/50/100 trials over 20 seeds.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/tuners/local_search_unseen.py
"""

import math
import sys

sys.path.insert(0, "/work/main/benchmarks/tuners")
import numpy as np
from gp_vs_baselines import _problems
from hyperloom.space import SearchSpace
from hyperloom.tuners.tpe import TPETuner
from hyperloom.types import TrialResult, TrialStatus


def nk(N=10, K=2, A=4, inst=0):
    r = np.random.default_rng(1000 + inst)
    nbr = [np.r_[i, r.choice([j for j in range(N) if j != i], K, replace=False)] for i in range(N)]
    tab = [r.random((A,) * (K + 1)) for _ in range(N)]
    spec = {f"x{i}": {"_type": "choice", "_value": list(range(A))} for i in range(N)}

    def f(p):
        x = [p[f"x{i}"] for i in range(N)]
        return -float(np.mean([tab[i][tuple(x[j] for j in nbr[i])] for i in range(N)]))

    # exact optimum by enumeration (4^10 = 1M): vectorised
    import itertools

    grid = np.array(list(itertools.product(range(A), repeat=N)), dtype=np.int8)
    tot = np.zeros(len(grid))
    for i in range(N):
        tot += tab[i][tuple(grid[:, j] for j in nbr[i])]
    return spec, f, -float(tot.max() / N)


def trap(N=8, A=5):
    # deceptive per-block: option 0 is optimal but all others slope towards option A-1
    spec = {f"x{i}": {"_type": "choice", "_value": list(range(A))} for i in range(N)}

    def f(p):
        return float(
            sum(0.0 if p[f"x{i}"] == 0 else 1.0 - 0.8 * p[f"x{i}"] / (A - 1) for i in range(N))
        )

    return spec, f, 0.0


def run(spec, f, opt, seed, ls, noise=0.0):
    t = TPETuner(SearchSpace.from_nni(spec), mode="minimize", seed=seed, local_search=ls)
    r = np.random.default_rng(seed + 77)
    best_true, cur, curve = math.inf, math.inf, []
    for i in range(100):
        p = t.suggest(f"t{i}")
        v = f(p)
        obs = v + noise * r.standard_normal()
        # regret of the point the user would pick: the best observed
        if obs < cur:
            cur, best_true = obs, v
        curve.append(best_true)
        t.observe(TrialResult(f"t{i}", p, TrialStatus.SUCCEEDED, obs, (), i))
    return [max(curve[c - 1] - opt, 0) for c in (25, 50, 100)]


P = _problems()
cases = [
    ("nk_inst0", *nk(inst=0), 0.0),
    ("nk_inst1", *nk(inst=1), 0.0),
    ("trap8x5", *trap(), 0.0),
    (
        "nas_chain_noise0.01",
        P["nas_chain"].space,
        P["nas_chain"].objective,
        P["nas_chain"].optimum,
        0.01,
    ),
    (
        "nb201_c10_noise0.5",
        P["nb201_cifar10"].space,
        P["nb201_cifar10"].objective,
        P["nb201_cifar10"].optimum,
        0.5,
    ),
]
for name, spec, f, opt, noise in cases:
    for ls in (False, True):
        res = np.array([run(spec, f, opt, s, ls, noise) for s in range(20)])
        med = np.median(res, axis=0)
        print(
            f"{name:22s} local_search={ls!s:5s} median regret @25/50/100: "
            + " / ".join(f"{m:.3g}" for m in med),
            flush=True,
        )
