r"""How the manager resumes an experiment (a mixin of :class:`~hyperloom.manager.Manager`).

* Every ended trial is replayed into the tuner and the assessor in the order the trials ended,
  as :class:`~hyperloom.types.TrialResult`\ s built straight from the store's rows
  (:func:`replay_results`; ``test_one_truth`` holds them equal to what the live run observed).
* A trial recorded WAITING never had its start recorded: its processes, found by the marker in
  their environment, are ended and it is CANCELED.
* A trial recorded RUNNING is re-attached through the executor; when its process is gone, what
  it wrote while nobody listened is read (``Executor.leftovers``) and it ends SUCCEEDED (a final
  report was seen) or FAILED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Any

from hyperloom._manager_host import ManagerHost
from hyperloom._manager_retry import attempts_so_far
from hyperloom._manager_types import RunningTrial, judged_result
from hyperloom.types import BUDGET_STATUSES, TrialResult, TrialStatus

log = logging.getLogger("hyperloom.manager")

__all__ = ["ResumeMixin", "end_marked", "replay_records", "replay_results"]


class ResumeMixin(ManagerHost):
    """Replay, re-attach and the settling of trials a dead manager left; see the module
    docstring."""

    async def _resume(self) -> None:
        from hyperloom.executor import LaunchSpec

        for ev in self.store.events(kind="run_end"):
            self._prev_elapsed += float(ev.get("payload", {}).get("elapsed", 0.0))
        n_ended = 0
        for r in replay_results(self.store):
            n_ended += 1
            self.counts[r.status.value] += 1
            if r.status in BUDGET_STATUSES:
                self.used_budget += 1
            self._note_best(r.status, r.value, r.trial_id)
            judged = None
            if self._judged is not None:
                series = self.store.metric_series(r.trial_id, self._judged[1])
                judged = judged_result(r, self._judged[0], series)
            await self._observe(r, inline=True, judged=judged)
        self._say(f"resumed: {n_ended} ended trials replayed into the tuner")
        self._load_paused()
        self.used_budget += len(self.paused)
        for rec in self.store.trials(
            status=[TrialStatus.WAITING, TrialStatus.RUNNING], with_intermediate=True
        ):
            if rec.status == TrialStatus.WAITING:
                # The manager may have died between recording the trial and recording its start:
                # then its processes run, unknown to the store. End them before anything else.
                ended = await asyncio.to_thread(
                    end_marked,
                    {
                        "HYPERLOOM_TRIAL_ID": rec.trial_id,
                        "HYPERLOOM_EXPERIMENT_ID": self.experiment_id,
                    },
                )
                reason = "never started (manager stopped)"
                if ended:
                    reason = (
                        f"started while the manager went down, before its start was recorded; "
                        f"its {ended} process(es) were ended"
                    )
                self.store.finish_trial(
                    rec.trial_id,
                    TrialStatus.CANCELED,
                    ended=self.clock.now(),
                    exit_code=None,
                    reason=reason,
                )
                self.counts[TrialStatus.CANCELED.value] += 1
            else:
                await self._reattach(rec, LaunchSpec)

    async def _reattach(self, r: Any, spec_cls: Any) -> None:
        cfg = self.config
        trial_dir = self.exp_dir / "trials" / r.trial_id
        spec = spec_cls(
            trial_id=r.trial_id,
            experiment_id=self.experiment_id,
            sequence=r.sequence,
            command="",
            cwd=cfg.trial_code_directory,
            trial_dir=trial_dir,
            env={},
            params=r.params,
        )
        mono = self.clock.monotonic()
        started = r.started or self.clock.now()
        deadline = None
        if cfg.max_trial_duration:
            deadline = mono + max(0.0, cfg.max_trial_duration - (self.clock.now() - started))
        rt = RunningTrial(r.trial_id, r.sequence, r.params, started, mono, deadline)
        rt.intermediate = list(r.intermediate)
        rt.next_step = len(rt.intermediate)
        rt.seen = set(self.store.steps(r.trial_id))  # NEW Store.steps: SELECT step FROM metrics
        rt.attempt = attempts_so_far(self.store, r.trial_id)
        if r.value is not None:
            rt.final_seen, rt.final = True, r.value
        self.running[r.trial_id] = rt
        self.counts[TrialStatus.RUNNING.value] += 1
        self.used_budget += 1
        if r.devices:
            self.executor.claim(r.trial_id, tuple(r.devices))
        alive = False
        try:
            alive = await self.executor.reattach(
                spec, dict(r.handle or {}), int(r.channel_offset or 0)
            )
        except Exception as e:
            log.warning("could not re-attach trial %s: %s", r.trial_id, e)
        if alive:
            self._say(f"re-attached running trial {r.trial_id} (#{r.sequence})")
            return
        # The process is gone; read what it wrote while nobody listened, then record it as lost.
        self._drain_leftovers(rt, spec, int(r.channel_offset or 0))
        if rt.final_seen:
            await self._finish(
                rt,
                TrialStatus.SUCCEEDED,
                exit_code=None,
                reason="finished while the manager was down",
            )
        else:
            await self._finish(
                rt,
                TrialStatus.FAILED,
                exit_code=None,
                reason="process gone while the manager was down",
            )

    def _drain_leftovers(self, rt: RunningTrial, spec: Any, offset: int) -> None:
        """Records what a trial that could not be re-attached reported while the manager was
        down (the executor reads it: `Executor.leftovers`)."""
        for item, end in self.executor.leftovers(spec, offset):
            if rt.final_seen:
                break
            if item.type == "final":
                rt.final_seen, rt.final = True, item.value
                self.store.set_final(rt.trial_id, item.value, dict(item.metrics or {}), item.t, end)
            else:
                step = item.step if item.step is not None else rt.next_step
                rt.next_step = step + 1
                rt.intermediate.append(item.value)
                self.store.add_metric(
                    rt.trial_id, step, item.value, dict(item.metrics or {}), item.t, end
                )


def replay_records(store: Any) -> Iterator[Any]:
    """The ended trials of a store in the order they ended, as resume replays them into the
    tuner and assessor (``record.to_result()`` is what they observe). Streamed, so memory stays
    flat with the history's size."""
    final = [s for s in TrialStatus if s.is_final]
    yield from store.iter_trials(status=final, order="ended", with_intermediate=True)


def replay_results(store: Any) -> Iterator[TrialResult]:
    """``[r.to_result() for r in replay_records(store)]``, streamed and built straight from the
    store's rows (what resume replays; a test holds the two equal)."""
    final = [s for s in TrialStatus if s.is_final]
    yield from store.iter_results(status=final, order="ended")


def end_marked(marker: dict[str, str]) -> int:
    """SIGKILLs every process whose environment holds ``marker``; returns how many."""
    from hyperloom.procs import find_marked

    refs = find_marked(marker)
    for ref in refs:
        proc = ref.process()
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.send_signal(signal.SIGKILL)
    return len(refs)
