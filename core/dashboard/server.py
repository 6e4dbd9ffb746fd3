"""The dashboard's aiohttp server: runs inside the manager's loop, or standalone for ``view``."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from hyperloom.dashboard._api import TOKEN_HEADER, Api, DashboardControl, errors_middleware
from hyperloom.dashboard._catalog import Catalog
from hyperloom.dashboard._files import StaticFile, static_manifest

__all__ = ["TOKEN_HEADER", "DashboardServer", "is_loopback"]

logger = logging.getLogger(__name__)

_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) means this machine only."""
    h = host.strip("[]").lower()
    if h in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


class DashboardServer:
    """The web dashboard: JSON API plus a single-page app, served with aiohttp.

    Reads are open to loopback clients. Stopping a trial or the experiment needs ``control`` and
    the ``token`` (header ``X-Hyperloom-Token`` or ``?token=``); without them the dashboard is
    read-only. When bound to a loopback address, requests whose ``Host`` header names another
    machine are refused (DNS rebinding); when bound elsewhere, clients that are not on loopback
    need the token for reads too (if a token is set).

    Args:
        experiment_dirs: The experiment directories shown, or a callable that lists them (called
            again when the experiments list is loaded or an unknown id is asked for).
        host: The address to bind (loopback by default).
        port: The port; 0 picks a free one.
        control: The live experiment's control, or None for a read-only dashboard.
        token: The per-experiment secret that actions must present.
    """

    def __init__(
        self,
        experiment_dirs: Callable[[], list[Path]] | list[Path],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        control: DashboardControl | None = None,
        token: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._api = Api(Catalog(experiment_dirs), control, token)
        self._token = token
        self._runner: web.AppRunner | None = None
        self._static: dict[str, StaticFile] = {}
        self.url: str | None = None

    def make_app(self) -> web.Application:
        """The aiohttp application (the server builds it in :meth:`start`; tests may use it)."""
        if not self._static:
            self._static = static_manifest()
        app = web.Application(
            middlewares=[self._guard, errors_middleware], client_max_size=64 * 1024
        )
        api = self._api
        r = app.router
        r.add_get("/", self._index)
        r.add_get("/static/{path:.+}", self._static_file)
        r.add_get("/api/experiments", api.experiments)
        r.add_get("/api/experiments/{exp_id}", api.experiment)
        r.add_get("/api/experiments/{exp_id}/version", api.version)
        r.add_get("/api/experiments/{exp_id}/trials", api.trials)
        r.add_get("/api/experiments/{exp_id}/charts", api.charts)
        r.add_get("/api/experiments/{exp_id}/pareto", api.pareto)
        r.add_get("/api/experiments/{exp_id}/lineage", api.lineage)
        r.add_get("/api/experiments/{exp_id}/rungs", api.rungs)
        r.add_get("/api/experiments/{exp_id}/importance", api.importance)
        r.add_get("/api/experiments/{exp_id}/trials/{trial_id}", api.trial)
        r.add_post("/api/experiments/{exp_id}/stop", api.stop_experiment)
        r.add_post("/api/experiments/{exp_id}/trials/{trial_id}/stop", api.stop_trial)
        return app

    async def start(self) -> str:
        """Binds and serves on the running loop. Returns the base URL (with ``?token=`` if set)."""
        if not is_loopback(self.host):
            logger.warning(
                "the dashboard listens on %s, not only on this machine: anyone who can reach it "
                "can read the experiment (actions still need the token)",
                self.host,
            )
        self._runner = web.AppRunner(self.make_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addr = self._runner.addresses[0]
        self.port = int(addr[1])
        shown = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in shown:
            shown = f"[{shown}]"
        self.url = f"http://{shown}:{self.port}/" + (f"?token={self._token}" if self._token else "")
        logger.info("dashboard at http://%s:%d/", shown, self.port)
        return self.url

    async def close(self) -> None:
        """Stops serving. Safe to call twice."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # -- handlers --------------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_loopback(self.host):
            host = (
                (request.host or "").rsplit(":", 1)[0]
                if "]" not in (request.host or "")
                else (request.host.split("]")[0] + "]")
            )
            if not is_loopback(host):
                return web.json_response(
                    {"error": f"Host {request.host!r} refused: use http://127.0.0.1:{self.port}/"},
                    status=403,
                )
        elif self._token and not self._api.token_ok(request):
            peer = request.remote or ""
            if (
                not is_loopback(peer)
                and request.path != "/"
                and not request.path.startswith("/static/")
            ):
                return web.json_response(
                    {
                        "error": f"this dashboard needs its token from {peer}: use the URL `run` printed"
                    },
                    status=403,
                )
        resp = await handler(request)
        resp.headers.setdefault("Content-Security-Policy", _CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith("/api/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    async def _index(self, request: web.Request) -> web.StreamResponse:
        f = self._static.get("index.html")
        if f is None:
            return web.Response(status=500, text="the dashboard's index.html is missing")
        return web.Response(body=f.body, content_type="text/html", charset="utf-8")

    async def _static_file(self, request: web.Request) -> web.StreamResponse:
        f = self._static.get(request.match_info["path"])
        if f is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.Response(
            body=f.body, content_type=f.content_type, headers={"Cache-Control": "max-age=300"}
        )
