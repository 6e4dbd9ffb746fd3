"""Drives a PBTScheduler the way the manager does, on the toy trial, with real checkpoint files.

Each running trial steps once per tick. A trial saves ``state.json`` (its accuracy and step, plus
an optional payload standing for model weights) into its live checkpoint directory every
``ckpt_every`` steps and the driver commits it with :class:`CheckpointManager` (then calls
``checkpointed``). An exploit gets ``prepare_restore(parent)``, a resume
``prepare_restore(itself)``; the trial loads ``state.json`` from that private copy and continues
from the restored step + 1. After every commit and every trial end the driver runs
``gc(needed)``. Every invariant the issue names is counted as it happens.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import toy
from hyperloom.checkpoints import CheckpointManager
from hyperloom.space import SearchSpace
from hyperloom.tuners.pbt import PBTScheduler
from hyperloom.types import (
    FINISHED,
    Decision,
    Suggestion,
    TrialResult,
    TrialStatus,
    Verdict,
)


@dataclass
class Trial:
    params: dict[str, Any]
    acc: float = 0.0
    step: int = -1
    ckpt: int | None = None
    parent: str | None = None
    status: str = "running"
    reports: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class Counts:
    exploits: int = 0
    resumes: int = 0
    commits: int = 0
    exploit_without_checkpoint: int = 0
    step_regressions: int = 0
    out_of_bounds: int = 0
    deleted_while_needed: int = 0
    restored_state_mismatch: int = 0
    gc_deleted: int = 0
    total_steps: int = 0


class Driver:
    """One population run. ``root=None`` keeps checkpoints in memory (for quality runs)."""

    def __init__(
        self,
        sched: PBTScheduler,
        *,
        slots: int,
        seed: int,
        steps: int = toy.STEPS,
        ckpt_every: int = 1,
        root: Path | None = None,
        budget: int | None = None,
        payload: int = 0,
        max_trials: int | None = None,
    ) -> None:
        self.sched = sched
        self.space: SearchSpace = sched.space
        self.slots = slots
        self.steps = steps
        self.ckpt_every = ckpt_every
        self.rng = np.random.default_rng(seed + 10_000)
        self.root = root
        self.cm = CheckpointManager(root / "ckpt", budget) if root is not None else None
        self.payload = payload
        self.max_trials = max_trials
        self.trials: dict[str, Trial] = {}
        self.mem: dict[str, tuple[int, float]] = {}  # in-memory checkpoints: (step, acc)
        self.c = Counts()
        self.seq = 0

    # checkpoints --------------------------------------------------------------------------
    def _commit(self, tid: str, t: Trial) -> None:
        if self.cm is None or self.root is None:
            self.mem[tid] = (t.step, t.acc)
        else:
            live = self.root / "live" / tid
            live.mkdir(parents=True, exist_ok=True)
            (live / "state.json").write_text(json.dumps({"acc": t.acc, "step": t.step}))
            if self.payload:
                (live / "weights.bin").write_bytes(self.rng.bytes(self.payload))
            self.cm.commit(tid, t.step, live)
            self._gc()
        t.ckpt = t.step
        self.c.commits += 1
        self.sched.checkpointed(tid, t.step)

    def _restore(self, source: str, dest_name: str) -> tuple[int, float] | None:
        if self.cm is None or self.root is None:
            return self.mem.get(source)
        dest = self.root / "restore" / dest_name
        step = self.cm.prepare_restore(source, dest)
        if step is None:
            return None
        state = json.loads((dest / "state.json").read_text())
        shutil.rmtree(dest)
        if state["step"] != step:
            self.c.restored_state_mismatch += 1
        return step, float(state["acc"])

    def _needed(self) -> set[str]:
        # running trials, plus what the scheduler may still exploit or resume (the paused ones it
        # will resume; a retired paused member is not needed unless it is a donor)
        live = {t for t, x in self.trials.items() if x.status == "running"}
        return self.sched.needed_checkpoints() | live

    def _gc(self) -> None:
        if self.cm is None:
            return
        needed = self._needed()
        before = {t: self.cm.latest(t) for t in needed}
        self.c.gc_deleted += len(self.cm.gc(needed))
        for t, had in before.items():
            if had is not None and self.cm.latest(t) != had:
                self.c.deleted_while_needed += 1

    # the loop -----------------------------------------------------------------------------
    def _live(self) -> list[str]:
        return [t for t, x in self.trials.items() if x.status == "running"]

    def _fill(self) -> bool:
        while len(self._live()) < self.slots:
            if self.max_trials is not None and self.seq >= self.max_trials:
                return False
            tid = f"T{self.seq + 1:05d}"
            got = self.sched.suggest(tid)
            if got is None:
                return True
            if got is FINISHED:
                return False
            if isinstance(got, Suggestion) and got.resume:
                t = self.trials[got.resume]
                back = self._restore(got.resume, f"{got.resume}-r{self.c.resumes}")
                self.c.resumes += 1
                if back is None or back[0] != t.ckpt:
                    self.c.step_regressions += 1
                    continue
                t.step, t.acc = back
                t.status = "running"
                continue
            self.seq += 1
            params = got.params if isinstance(got, Suggestion) else got
            assert isinstance(params, dict)
            if not self.space.contains(params):
                self.c.out_of_bounds += 1
            t = Trial(dict(params))
            if isinstance(got, Suggestion) and got.parent:
                self.c.exploits += 1
                t.parent = got.parent
                back = self._restore(got.parent, tid)
                if back is None:
                    self.c.exploit_without_checkpoint += 1
                else:
                    t.step, t.acc = back
            self.trials[tid] = t
        return True

    def _end(self, tid: str, status: TrialStatus) -> None:
        t = self.trials[tid]
        t.status = "ended"
        value = t.reports[-1][1] if t.reports else None
        self.sched.observe(
            TrialResult(
                tid,
                t.params,
                status,
                value,
                tuple(v for _, v in t.reports),
                parent=t.parent,
            )
        )
        self._gc()

    def run(self, max_ticks: int = 1_000_000) -> Counts:
        for _ in range(max_ticks):
            if not self._fill() and not self._live():
                break
            live = self._live()
            if not live:
                raise RuntimeError("stuck: nothing runs and the scheduler suggests nothing")
            for tid in live:
                t = self.trials[tid]
                s = t.step + 1
                if t.reports and s <= t.reports[-1][0]:
                    self.c.step_regressions += 1
                t.acc = toy.step(t.acc, t.params["lr"], t.params["wd"])
                t.step = s
                self.c.total_steps += 1
                v = toy.measure(t.acc, self.rng)
                t.reports.append((s, v))
                self.sched.report(tid, s, v)
                if s % self.ckpt_every == 0 or s == self.steps - 1:
                    self._commit(tid, t)
                got = self.sched.assess(tid, [v for _, v in t.reports], [x for x, _ in t.reports])
                verdict = got.verdict if isinstance(got, Decision) else got
                if verdict == Verdict.STOP:
                    self._end(tid, TrialStatus.EARLY_STOPPED)
                elif verdict == Verdict.PAUSE:
                    t.status = "paused"
                    self._gc()
                elif s >= self.steps - 1:
                    self._end(tid, TrialStatus.SUCCEEDED)
        else:
            raise RuntimeError("did not finish")
        return self.c

    def best_final(self) -> float:
        """The true accuracy of the finished trial with the best final reported value."""
        done = [t for t in self.trials.values() if t.step >= self.steps - 1 and t.reports]
        if not done:
            return 0.0
        return max(done, key=lambda t: t.reports[-1][1]).acc


def make(seed: int, **options: Any) -> PBTScheduler:
    """A PBTScheduler on the toy space."""
    space = SearchSpace.from_nni(toy.SPACE)
    return PBTScheduler(space, seed=seed, **options)
