"""The JSON API handlers (documented in ``docs/dashboard.md``).

Reads run in a worker thread; stop actions call the :class:`DashboardControl` on the loop's
thread, where the manager lives.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from aiohttp import web
from hyperloom.dashboard import _charts, _importance, _lineage, _pareto, _rungs, _table
from hyperloom.dashboard import _queries as q
from hyperloom.dashboard._catalog import Catalog
from hyperloom.dashboard._cell import ARCH_FILE, cell_graph, read_architecture
from hyperloom.dashboard._files import read_tail, trial_log_path
from hyperloom.errors import HyperloomError, StoreError, UsageError
from hyperloom.paths import DB_NAME

__all__ = ["TOKEN_HEADER", "Api", "DashboardControl"]

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Hyperloom-Token"
# typed request keys arrived in aiohttp 3.12; older versions take a plain string
_VERSION: Any = web.RequestKey("hl_version", str) if hasattr(web, "RequestKey") else "hl_version"
_MAX_ID = 128
T = TypeVar("T")


@runtime_checkable
class DashboardControl(Protocol):
    """What the dashboard may ask of a live experiment. The manager implements it.

    Its methods are called on the event loop's thread (the manager's loop) and must not block.

    Attributes:
        experiment_id: The id of the experiment this control drives.
    """

    experiment_id: str

    def stop_experiment(self) -> None:
        """Asks the manager to stop the experiment (cleanly, as Ctrl-C does)."""

    def stop_trial(self, trial_id: str) -> bool:
        """Asks the manager to stop one trial. Returns False when it is unknown or not running."""


def store_version(exp_dir: Path) -> str:
    """A token that changes whenever the store does: size and mtime of the database and its WAL."""
    parts = []
    for name in (DB_NAME, DB_NAME + "-wal"):
        try:
            st = os.stat(exp_dir / name)
            parts.append(f"{st.st_mtime_ns:x}.{st.st_size:x}")
        except FileNotFoundError:
            parts.append("-")
    return "-".join(parts)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise UsageError(f"query parameter {name!r} must be an integer, got {raw!r}") from None
    return max(lo, min(hi, v))


#: how many computed Pareto / lineage / rungs responses are kept (per server), by store version
_CACHE_SIZE = 12


class Api:
    """Request handlers bound to one catalog, control and token."""

    def __init__(
        self, catalog: Catalog, control: DashboardControl | None, token: str | None
    ) -> None:
        self.catalog = catalog
        self.control = control
        self.token = token
        self._cache: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self._cache_lock = threading.Lock()

    async def _read_cached(
        self, exp_dir: Path, key: str, fn: Callable[[q.Session], str], request: web.Request
    ) -> str:
        """Like :meth:`_read` for a JSON text, kept for as long as the store does not change:
        the heavier pages (Pareto, lineage, rungs) of a finished or quiet experiment are computed
        once, not on every visit. The version is taken before the read, so a write during the
        read only costs a recomputation next time."""

        def work() -> str:
            version = store_version(exp_dir)
            request[_VERSION] = version
            k = (str(exp_dir), key, version)
            with self._cache_lock:
                hit = self._cache.get(k)
                if hit is not None:
                    self._cache.move_to_end(k)
                    return hit
            with q.session(exp_dir / DB_NAME) as s:
                text = fn(s)
            with self._cache_lock:
                self._cache[k] = text
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
            return text

        return await self._run(work)

    # -- plumbing --------------------------------------------------------------------------------

    def token_ok(self, request: web.Request) -> bool:
        """Whether the request carries the experiment token (header or ``?token=``)."""
        if not self.token:
            return False
        given = request.headers.get(TOKEN_HEADER) or request.query.get("token") or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.to_thread(fn)

    async def _exp_dir(self, request: web.Request) -> Path:
        exp_id = request.match_info["exp_id"]
        exp_dir: Path | None = self.catalog.get(exp_id)
        if exp_dir is None and len(exp_id) <= _MAX_ID:
            await self._run(self.catalog.refresh)
            exp_dir = self.catalog.get(exp_id)
        if exp_dir is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"no experiment {exp_id[:_MAX_ID]!r} in this dashboard"}),
                content_type="application/json",
            )
        return exp_dir

    async def _read(
        self, exp_dir: Path, fn: Callable[[q.Session], T], request: web.Request | None = None
    ) -> T:
        """Runs ``fn`` on a read-only session in a worker thread.

        With ``request``, the store's change token is taken just before the read and kept in
        ``request[_VERSION]``; the middleware sends it as the ``X-Hyperloom-Version`` header,
        so the page knows which version its data is at least as new as, without a second request.
        """

        def work() -> T:
            if request is not None:
                request[_VERSION] = store_version(exp_dir)
            with q.session(exp_dir / DB_NAME) as s:
                return fn(s)

        return await self._run(work)

    def _can_stop(self, exp_id: str) -> bool:
        return (
            self.control is not None and bool(self.token) and self.control.experiment_id == exp_id
        )

    # -- reads -----------------------------------------------------------------------------------

    async def experiments(self, request: web.Request) -> web.Response:
        """``GET /api/experiments``."""
        dirs = await self._run(self.catalog.refresh)

        def work() -> list[dict[str, Any]]:
            out = []
            for exp_id, d in dirs.items():
                try:
                    with q.session(d / DB_NAME) as s:
                        row = q.experiment_summary(s)
                except HyperloomError as e:
                    row = {"id": exp_id, "error": str(e)}
                row["dir"] = str(d)
                row["live"] = self._can_stop(exp_id) or (
                    self.control is not None and self.control.experiment_id == exp_id
                )
                out.append(row)
            return out

        return web.json_response({"experiments": await self._run(work)})

    async def experiment(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{id}``: the overview (``?summary=1``: the list row only;
        ``&best=0``: without the best value)."""
        exp_dir = await self._exp_dir(request)
        summary = request.query.get("summary", "") not in ("", "0", "false")
        with_best = request.query.get("best", "1") not in ("0", "false")
        data = await self._read(
            exp_dir,
            (lambda s: q.experiment_summary(s, with_best)) if summary else q.overview,
            request,
        )
        exp_id = request.match_info["exp_id"]
        data["dir"] = str(exp_dir)
        data["live"] = self.control is not None and self.control.experiment_id == exp_id
        data["actions"] = self._can_stop(exp_id)
        return web.json_response(data)

    async def version(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{id}/version``: a token that changes whenever the store does."""
        exp_dir = await self._exp_dir(request)
        return web.json_response({"version": await self._run(lambda: store_version(exp_dir))})

    async def trials(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{id}/trials``: one page of the table."""
        exp_dir = await self._exp_dir(request)
        statuses = tuple(
            s for raw in request.query.getall("status", []) for s in raw.split(",") if s
        )
        query = _table.TrialQuery(
            sort=request.query.get("sort", "sequence"),
            desc=request.query.get("order", "asc").lower() == "desc",
            offset=_int(request, "offset", 0, 0, 10**9),
            limit=_int(request, "limit", 50, 1, 500),
            statuses=statuses,
            q=request.query.get("q", "")[:500],
        )
        return web.json_response(
            await self._read(exp_dir, lambda s: _table.trials_page(s, query), request)
        )

    async def trial(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{id}/trials/{trial_id}``: detail, curve, events, log tails."""
        exp_dir = await self._exp_dir(request)
        trial_id = request.match_info["trial_id"]
        if len(trial_id) > _MAX_ID:
            return _error(404, "no such trial")

        def work(s: q.Session) -> dict[str, Any] | None:
            d: dict[str, Any] | None = q.trial_detail(s, trial_id)
            if d is not None:
                for name in ("stdout", "stderr"):
                    d[name] = read_tail(trial_log_path(exp_dir, trial_id, f"{name}.log"))
                d["architecture"] = _architecture(exp_dir, trial_id, d["params"])
            return d

        data = await self._read(exp_dir, work, request)
        if data is None:
            return _error(
                404, f"no trial {trial_id!r} in experiment {request.match_info['exp_id']!r}"
            )
        data["actions"] = self._can_stop(request.match_info["exp_id"])
        return web.json_response(data)

    async def charts(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{id}/charts``: curves and parameter/value points."""
        exp_dir = await self._exp_dir(request)
        n = _int(request, "curves", 40, 1, _charts.MAX_CURVES)
        text = await self._read(exp_dir, lambda s: _charts.charts_json(s, n), request)
        return web.Response(text=text, content_type="application/json")

    async def pareto(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{id}/pareto``: objective values, front, hypervolume."""
        exp_dir = await self._exp_dir(request)
        text = await self._read_cached(exp_dir, "pareto", _pareto.pareto_json, request)
        return web.Response(text=text, content_type="application/json")

    async def lineage(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{id}/lineage``: family tree and stitched curves."""
        exp_dir = await self._exp_dir(request)
        n = _int(request, "members", 20, 1, _lineage.MAX_MEMBERS)
        trial = request.query.get("trial") or None
        if trial is not None and len(trial) > _MAX_ID:
            raise UsageError("query parameter 'trial' is too long")
        text = await self._read_cached(
            exp_dir,
            f"lineage:{n}:{trial or ''}",
            lambda s: json.dumps(_lineage.lineage_data(s, n, trial), allow_nan=False),
            request,
        )
        return web.Response(text=text, content_type="application/json")

    async def rungs(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{id}/rungs``: steps reached, pauses and promotions."""
        exp_dir = await self._exp_dir(request)
        text = await self._read_cached(
            exp_dir, "rungs", lambda s: json.dumps(_rungs.rungs_data(s), allow_nan=False), request
        )
        return web.Response(text=text, content_type="application/json")

    async def importance(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{id}/importance?x=&y=&objective=``: fANOVA importance, the
        marginals of each parameter and the contour of a pair."""
        exp_dir = await self._exp_dir(request)
        x = request.query.get("x") or None
        y = request.query.get("y") or None
        for name, v in (("x", x), ("y", y)):
            if v is not None and len(v) > 200:
                raise UsageError(f"query parameter {name!r} is too long")
        k = _int(request, "objective", 0, 0, 64)
        text = await self._read_cached(
            exp_dir,
            f"importance:{k}:{x or ''}:{y or ''}",
            lambda s: _importance.importance_json(s, request[_VERSION], x, y, k),
            request,
        )
        return web.Response(text=text, content_type="application/json")

    # -- actions ---------------------------------------------------------------------------------

    def _check_action(self, request: web.Request) -> web.Response | None:
        exp_id = request.match_info["exp_id"]
        if self.control is None or self.control.experiment_id != exp_id:
            return _error(
                403,
                f"experiment {exp_id[:_MAX_ID]!r} is read-only here: stop it from the dashboard "
                "that `hyperloom run` started, or with `hyperloom stop`",
            )
        if not self.token_ok(request):
            return _error(
                403,
                "this action needs the experiment's token: open the URL that `hyperloom run` "
                f"printed, or send the {TOKEN_HEADER} header",
            )
        return None

    async def stop_experiment(self, request: web.Request) -> web.Response:
        """``POST /api/experiments/{id}/stop``."""
        refused = self._check_action(request)
        if refused is not None:
            return refused
        assert self.control is not None
        logger.info("dashboard: stop requested for experiment %s", self.control.experiment_id)
        self.control.stop_experiment()
        return web.json_response({"ok": True})

    async def stop_trial(self, request: web.Request) -> web.Response:
        """``POST /api/experiments/{id}/trials/{trial_id}/stop``."""
        refused = self._check_action(request)
        if refused is not None:
            return refused
        assert self.control is not None
        trial_id = request.match_info["trial_id"]
        if len(trial_id) > _MAX_ID or not self.control.stop_trial(trial_id):
            return _error(409, f"trial {trial_id[:_MAX_ID]!r} is unknown or not running")
        logger.info("dashboard: stop requested for trial %s", trial_id)
        return web.json_response({"ok": True})


def _architecture(exp_dir: Path, trial_id: str, params: Any) -> dict[str, Any] | None:
    """The NAS cell a trial found (its ``architecture.json``, as a one-shot search writes) or
    ran with (cell parameters, as multi-trial NAS has), as a graph; ``None`` for other trials."""
    log = trial_log_path(exp_dir, trial_id, "stdout.log")  # the id checked as for its logs
    found = read_architecture(log.parent) if log is not None else None
    if found is not None and (cells := cell_graph(found)) is not None:
        return {"source": ARCH_FILE, "cells": cells}
    if isinstance(params, dict) and (cells := cell_graph(params)) is not None:
        return {"source": "params", "cells": cells}
    return None


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    """Maps domain errors to JSON responses: usage errors 400, store errors 503."""
    try:
        resp: web.StreamResponse = await handler(request)
        version = request.get(_VERSION)
        if version is not None:
            resp.headers["X-Hyperloom-Version"] = version
        return resp
    except UsageError as e:
        return _error(400, str(e))
    except StoreError as e:
        logger.warning("dashboard: %s", e)
        return _error(503, str(e))
