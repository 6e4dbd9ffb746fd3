"""Where the manager runs tuner and assessor calls: one *lane* per object.

A lane runs its object's calls one at a time, in the order they were submitted, in a worker
thread of its own. So a long suggestion (a GP fit) never holds the event loop: reports are
recorded, other trials' exits handled and the assessor consulted while it runs. And the object
never sees two calls at once, nor a call out of order (``observe`` of a trial always comes before
the ``suggest`` submitted after it). Tuner and assessor have separate lanes, so a verdict does not
wait for a suggestion either; a scheduler (one object that is both) has one.

Two cases run on the loop instead, exactly as a direct call would: a virtual clock's (the
simulator: nothing else happens in virtual time meanwhile, and runs stay deterministic), and a
cheap tuner that declares ``inline_calls`` (random, grid: a thread hop would cost more than the
call). See docs/internals.md, "Lanes".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from hyperloom._manager_types import Clock

T = TypeVar("T")

log = logging.getLogger("hyperloom.manager")


class Lanes:
    """The tuner's and the assessor's lanes (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._inline_all = bool(getattr(clock, "inline_calls", False))
        self._inline: set[int] = set()
        self._pools: dict[int, ThreadPoolExecutor] = {}
        self._pending: set[asyncio.Future[Any]] = set()

    @property
    def inline(self) -> bool:
        """Whether every call runs on the loop (a virtual clock)."""
        return self._inline_all

    def run_inline(self, obj: object) -> None:
        """Makes ``obj``'s calls run on the loop (a tuner with ``inline_calls``)."""
        self._inline.add(id(obj))

    def submit(self, obj: object, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queues ``fn(*args)`` on ``obj``'s lane; an inline lane runs it now and returns a done
        future. The call is wrapped in the clock's ``thinking()`` (a virtual clock may charge
        it)."""
        loop = asyncio.get_running_loop()

        def call() -> T:
            with self._clock.thinking():
                return fn(*args)

        if self._inline_all or id(obj) in self._inline:
            fut: asyncio.Future[T] = loop.create_future()
            try:
                fut.set_result(call())
            except Exception as e:
                fut.set_exception(e)
            return fut
        pool = self._pools.get(id(obj))
        if pool is None:
            name = f"hyperloom-{type(obj).__name__}"
            pool = self._pools[id(obj)] = ThreadPoolExecutor(1, thread_name_prefix=name)
        fut = loop.run_in_executor(pool, call)
        self._pending.add(fut)
        fut.add_done_callback(self._pending.discard)
        return fut

    async def call(self, obj: object, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on ``obj``'s lane, awaited."""
        return await self.submit(obj, fn, *args)

    def fire(
        self,
        obj: object,
        fn: Callable[..., Any],
        *args: Any,
        on_error: Callable[[BaseException], None],
        then: Callable[[Any], None] | None = None,
    ) -> None:
        """Queues ``fn(*args)`` without waiting for it. ``then(result)`` runs on the loop when it
        is done (at once for an inline lane, so a simulated run keeps its order); ``on_error``
        gets what it raised."""
        fut = self.submit(obj, fn, *args)

        def done(f: asyncio.Future[Any]) -> None:
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                on_error(exc)
            elif then is not None:
                then(f.result())

        if fut.done():
            done(fut)
        else:
            fut.add_done_callback(done)

    async def drain(self) -> None:
        """Waits for every queued call (the end of a run: the tuner has seen every trial)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
            await asyncio.sleep(0)  # their done-callbacks run

    def close(self) -> None:
        """Lets the worker threads go (a call still running finishes on its own)."""
        for pool in self._pools.values():
            with contextlib.suppress(Exception):
                pool.shutdown(wait=False, cancel_futures=True)
        self._pools.clear()
