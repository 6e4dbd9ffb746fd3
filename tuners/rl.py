"""A reinforcement-learning controller (Zoph & Le 2017; ENAS): an autoregressive LSTM policy that
emits one decision per parameter, trained with PPO (or REINFORCE) from trial results.

torch is imported when the tuner is built, not when this module is imported.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hyperloom.errors import MissingDependencyError, PluginError
from hyperloom.space import SearchSpace
from hyperloom.tuners._base import rank_key
from hyperloom.tuners._common import BaseTuner, Encoder
from hyperloom.types import TrialResult, deepest_step
from scipy.special import ndtr, ndtri

__all__ = ["RLTuner"]

_MAX_EXACT = 64  # discrete numeric parameters with at most this many values get one action each


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch", "torch", "The rl tuner") from None
    return torch


class _Actions:
    """How each parameter's decision maps to actions and back to internal values."""

    def __init__(self, enc: Encoder, n_bins: int) -> None:
        self.enc = enc
        self.kind: list[str] = []  # "cat", "exact", "bins", "normal"
        self.values: list[np.ndarray] = []  # exact internal values, or bin edges
        sizes = []
        for i, p in enumerate(enc.params):
            if enc.is_cat[i]:
                self.kind.append("cat")
                self.values.append(np.arange(int(enc.n_choices[i]), dtype=float))
                sizes.append(int(enc.n_choices[i]))
                continue
            if not enc.bounded[i]:
                self.kind.append("normal")
                self.values.append(np.array([]))
                sizes.append(n_bins)
                continue
            exact: list[float] | None = None
            if p.q or p.is_int:
                grid = p.grid(_MAX_EXACT + 1)
                if len(grid) <= _MAX_EXACT and len(grid) <= 2 * n_bins:
                    exact = sorted({float(p.to_internal(v)) for v in grid})
            if exact is not None:
                self.kind.append("exact")
                self.values.append(np.array(exact))
                sizes.append(len(exact))
            else:
                self.kind.append("bins")
                self.values.append(np.linspace(enc.low[i], enc.high[i], n_bins + 1))
                sizes.append(n_bins)
        self.sizes = np.array(sizes, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.total = int(self.sizes.sum())

    def to_value(self, i: int, a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Internal values for actions ``a`` of parameter ``i`` (continuous bins: uniform in a bin)."""
        kind, vals = self.kind[i], self.values[i]
        if kind in ("cat", "exact"):
            return np.asarray(vals[a])
        u = (a + rng.random(a.shape[0])) / self.sizes[i]
        if kind == "bins":
            return np.asarray(vals[0] + u * (vals[-1] - vals[0]))
        mu, sigma = self.enc.prior_mu[i], self.enc.prior_sigma[i]
        return np.asarray(mu + sigma * ndtri(np.clip(u, 1e-6, 1 - 1e-6)))

    def to_action(self, i: int, x: np.ndarray) -> np.ndarray:
        """Actions of internal values ``x`` (finite entries only are meaningful)."""
        kind, vals, n = self.kind[i], self.values[i], int(self.sizes[i])
        x = np.where(np.isfinite(x), x, 0.0)
        if kind == "cat":
            a = np.rint(x)
        elif kind == "exact":
            a = np.abs(x[:, None] - vals[None, :]).argmin(axis=1)
        elif kind == "bins":
            a = np.floor((x - vals[0]) / (vals[-1] - vals[0]) * n)
        else:
            a = np.floor(ndtr((x - self.enc.prior_mu[i]) / self.enc.prior_sigma[i]) * n)
        return np.asarray(np.clip(a, 0, n - 1).astype(np.int64))


class _OneThread:
    """Runs torch on one thread while active: the policy is tiny, and intra-op threads only add
    contention (measured: 0.2 ms vs 11 ms per LSTM step on a loaded 2-core machine). The previous
    setting is restored on exit."""

    def __init__(self, torch: Any) -> None:
        self.torch = torch
        self.saved = 1

    def __enter__(self) -> None:
        self.saved = self.torch.get_num_threads()
        if self.saved != 1:
            self.torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        if self.saved != 1:
            self.torch.set_num_threads(self.saved)


class _Adam:
    """Adam (Kingma & Ba 2015) in a few tensor operations. ``torch.optim`` is avoided because
    building its first optimizer imports torch's compiler stack (about 5 s)."""

    def __init__(
        self, torch: Any, params: list[Any], lr: float, betas: tuple[float, float] = (0.9, 0.999)
    ) -> None:
        self.torch = torch
        self.params = params
        self.lr = lr
        self.b1, self.b2 = betas
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        self.t += 1
        c1 = 1.0 - self.b1**self.t
        c2 = 1.0 - self.b2**self.t
        with self.torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v, strict=True):
                if p.grad is None:
                    continue
                m.mul_(self.b1).add_(p.grad, alpha=1.0 - self.b1)
                v.mul_(self.b2).addcmul_(p.grad, p.grad, value=1.0 - self.b2)
                p.addcdiv_(m, (v / c2).sqrt_().add_(1e-8), value=-self.lr / c1)


def _build_policy(torch: Any, n_tokens: int, n_out: int, hidden: int) -> Any:
    nn = torch.nn

    class Policy(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(n_tokens, hidden)
            self.cell = nn.LSTMCell(hidden, hidden)
            self.head = nn.Linear(hidden, n_out)
            with torch.no_grad():
                self.head.weight.mul_(0.1)
                self.head.bias.zero_()

    return Policy()


class RLTuner(BaseTuner):
    """An RL controller: an LSTM that makes one decision per parameter, in order, each conditioned
    on the previous ones; a decision is skipped when its nested choice is not taken.

    Categorical parameters are one action per option; small discrete numeric parameters (randint,
    q-types) one action per value; other numeric parameters ``n_bins`` bins (equal-width over the
    internal range, equal-probability quantiles for unbounded normal types), with a uniform draw
    inside the chosen bin. Every ``batch_size`` finished trials, the policy is updated with PPO's
    clipped objective (``algorithm="ppo"``, ``epochs`` passes) or one REINFORCE step
    (``algorithm="reinforce"``), using advantages against a moving-average baseline of the reward
    (``-loss``), scaled by the spread of the rewards seen, plus an entropy bonus. Failed trials get
    the worst reward seen; trials stopped early rank below finished ones, deeper ones first (see
    :meth:`RLTuner._reward`). Each suggestion samples ``n_samples`` sequences in one batched pass and
    returns the first not suggested before. All randomness comes from the tuner's seed, so
    replaying ``observe()`` rebuilds the same policy.

    Args:
        space: The search space.
        mode: "maximize" or "minimize".
        seed: Random seed.
        hidden_size: LSTM width.
        n_bins: Bins per continuous parameter.
        batch_size: Finished trials per policy update.
        algorithm: "ppo" or "reinforce".
        learning_rate: Adam step size.
        epochs: PPO passes over each batch.
        clip: PPO ratio clip.
        entropy_coef: Weight of the entropy bonus.
        baseline_decay: Decay of the moving-average reward baseline.
        n_samples: Sequences sampled per suggestion.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        mode: str = "maximize",
        seed: int | None = None,
        hidden_size: int = 32,
        n_bins: int = 10,
        batch_size: int = 8,
        algorithm: str = "ppo",
        learning_rate: float = 0.02,
        epochs: int = 4,
        clip: float = 0.2,
        entropy_coef: float = 0.01,
        baseline_decay: float = 0.8,
        n_samples: int = 32,
    ) -> None:
        super().__init__(space, mode=mode, seed=seed)
        for name, v, lo in (
            ("hidden_size", hidden_size, 1),
            ("n_bins", n_bins, 2),
            ("batch_size", batch_size, 1),
            ("epochs", epochs, 1),
            ("n_samples", n_samples, 1),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise PluginError(f"rl: {name} must be an integer >= {lo}, got {v!r}")
        for name, f, hi in (
            ("learning_rate", learning_rate, math.inf),
            ("clip", clip, math.inf),
            ("entropy_coef", entropy_coef, math.inf),
            ("baseline_decay", baseline_decay, 1.0),
        ):
            ok = isinstance(f, int | float) and not isinstance(f, bool) and math.isfinite(f)
            if not ok or f < 0 or f >= hi or (name in ("learning_rate", "clip") and f == 0):
                raise PluginError(f"rl: {name} must be a number in the valid range, got {f!r}")
        if algorithm not in ("ppo", "reinforce"):
            raise PluginError(f"rl: algorithm must be 'ppo' or 'reinforce', got {algorithm!r}")
        torch = _import_torch()
        self._torch = torch
        self.algorithm = algorithm
        self.batch_size = batch_size
        self.epochs = epochs if algorithm == "ppo" else 1
        self.clip = float(clip)
        self.entropy_coef = float(entropy_coef)
        self.baseline_decay = float(baseline_decay)
        self.n_samples = n_samples
        self.actions = _Actions(self.encoder, n_bins)
        self._start = self.actions.total  # token before the first decision and for skipped ones
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._entropy)
            self.policy = _build_policy(
                torch, self.actions.total + 1, self.actions.total, hidden_size
            )
        self.optimizer = _Adam(torch, list(self.policy.parameters()), float(learning_rate))
        self._batch: list[tuple[np.ndarray, float]] = []
        self._rewards: list[float] = []
        self._finished: list[float] = []  # rewards of finished trials
        self._deepest = 0  # the deepest step + 1 a stopped trial reached
        self._current: TrialResult | None = None
        self._baseline: float | None = None

    # sampling --------------------------------------------------------------------------------
    def _sample(self, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
        torch, enc, acts = self._torch, self.encoder, self.actions
        m, d = self.n_samples, enc.n_dims
        rows = np.full((m, d), np.nan)
        chosen = np.zeros((m, d), dtype=np.int64)
        active = np.ones((m, d), dtype=bool)
        with torch.no_grad():
            tok = torch.full((m,), self._start, dtype=torch.long)
            h = torch.zeros(m, self.policy.cell.hidden_size)
            c = torch.zeros_like(h)
            for i in range(d):
                h, c = self.policy.cell(self.policy.embed(tok), (h, c))
                off, n = int(acts.offsets[i]), int(acts.sizes[i])
                logits = self.policy.head(h)[:, off : off + n].double() / temperature
                probs = torch.softmax(logits, dim=1).numpy()
                cdf = np.cumsum(probs, axis=1)
                a = np.minimum((rng.random(m)[:, None] * cdf[:, -1:] > cdf).sum(axis=1), n - 1)
                par = int(enc.parent[i])
                if par >= 0:
                    active[:, i] = active[:, par] & (chosen[:, par] == enc.parent_opt[i])
                chosen[:, i] = a
                rows[:, i] = np.where(active[:, i], acts.to_value(i, a, rng), np.nan)
                tok = torch.as_tensor(
                    np.where(active[:, i], a + off, self._start), dtype=torch.long
                )
        return enc.complete(rows, rng)

    def _propose(self, rng: np.random.Generator) -> np.ndarray:
        # A policy that has converged keeps proposing points it already tried; then it is sampled
        # at higher temperatures before the tuner falls back to random unseen points.
        with _OneThread(self._torch):
            for temperature in (1.0, 2.0, 4.0):
                rows = self._sample(rng, temperature)
                if any(self.encoder.decode(r) not in self.seen for r in rows):
                    return rows
        return rows

    # learning --------------------------------------------------------------------------------
    def _log_probs(self, actions: np.ndarray, active: np.ndarray) -> tuple[Any, Any]:
        """Summed log-probabilities and entropies of action sequences under the current policy."""
        torch, acts = self._torch, self.actions
        b, d = actions.shape
        h = torch.zeros(b, self.policy.cell.hidden_size)
        c = torch.zeros_like(h)
        tok = torch.full((b,), self._start, dtype=torch.long)
        logp = torch.zeros(b)
        ent = torch.zeros(b)
        for i in range(d):
            h, c = self.policy.cell(self.policy.embed(tok), (h, c))
            off, n = int(acts.offsets[i]), int(acts.sizes[i])
            lp = torch.log_softmax(self.policy.head(h)[:, off : off + n], dim=1)
            mask = torch.as_tensor(active[:, i], dtype=torch.float32)
            a = torch.as_tensor(actions[:, i], dtype=torch.long)
            logp = logp + mask * lp.gather(1, a[:, None])[:, 0]
            ent = ent - mask * (lp.exp() * lp).sum(dim=1)
            tok = torch.as_tensor(
                np.where(active[:, i], actions[:, i] + off, self._start), dtype=torch.long
            )
        return logp, ent

    def observe(self, result: TrialResult) -> None:
        self._current = result
        try:
            super().observe(result)
        finally:
            self._current = None

    def _reward(self, loss: float) -> float:
        """The reward of the trial being observed, in the order of
        :func:`~hyperloom.tuners._base.rank_key`: a finished trial earns ``-loss``; a trial stopped
        early earns no more than the worst finished trial, less a spread of the rewards scaled by
        how far short of the deepest step seen it stopped (deeper is better, then its value); a
        failed one earns nothing (NaN: the worst reward seen, at update time)."""
        if not math.isfinite(loss):
            return math.nan
        result = self._current
        if result is None or rank_key(result, loss)[0] == 0:
            self._finished.append(-loss)
            return -loss
        depth = deepest_step(result) + 1
        self._deepest = max(self._deepest, depth)
        reward = -loss if not self._finished else min(-loss, min(self._finished))
        spread = float(np.std(self._rewards)) if len(self._rewards) > 1 else 0.0
        return reward - spread * (1.0 - depth / max(self._deepest, 1))

    def _observed(self, row: np.ndarray, loss: float) -> None:
        reward = self._reward(loss)
        if math.isfinite(reward):
            self._rewards.append(reward)
        self._batch.append((row, reward))
        if len(self._batch) >= self.batch_size:
            with _OneThread(self._torch):
                self._update()
            self._batch = []

    def _update(self) -> None:
        torch, enc = self._torch, self.encoder
        if not self._rewards:
            return
        rows = np.array([r for r, _ in self._batch])
        worst = min(self._rewards)
        rewards = np.array([worst if not math.isfinite(v) else v for _, v in self._batch])
        active = np.isfinite(rows)
        actions = np.zeros(rows.shape, dtype=np.int64)
        for i in range(enc.n_dims):
            actions[:, i] = np.where(active[:, i], self.actions.to_action(i, rows[:, i]), 0)
        baseline = float(np.mean(rewards)) if self._baseline is None else self._baseline
        scale = float(np.std(self._rewards)) + 1e-12
        adv = torch.as_tensor((rewards - baseline) / scale, dtype=torch.float32)
        with torch.no_grad():
            old_logp, _ = self._log_probs(actions, active)
        for _ in range(self.epochs):
            logp, ent = self._log_probs(actions, active)
            ratio = torch.exp(logp - old_logp)
            clipped = torch.clamp(ratio, 1.0 - self.clip, 1.0 + self.clip)
            if self.algorithm == "ppo":
                objective = torch.minimum(ratio * adv, clipped * adv)
            else:
                objective = logp * adv
            loss = -(objective.mean() + self.entropy_coef * ent.mean())
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        mean = float(np.mean(rewards))
        self._baseline = (
            mean
            if self._baseline is None
            else (self.baseline_decay * self._baseline + (1 - self.baseline_decay) * mean)
        )
