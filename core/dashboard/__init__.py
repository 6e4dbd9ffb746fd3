"""The web dashboard: an aiohttp server with a JSON API and a vendored single-page app.

``DashboardServer`` runs inside the manager's asyncio loop (live experiment, stop actions with a
token) or standalone for ``hyperloom view`` (read-only, several experiments). The JSON API is
documented in ``docs/dashboard.md``. Importing this package imports nothing heavy; aiohttp is
loaded when a name is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hyperloom.dashboard._api import TOKEN_HEADER, DashboardControl
    from hyperloom.dashboard.server import DashboardServer

__all__ = ["TOKEN_HEADER", "DashboardControl", "DashboardServer"]


def __getattr__(name: str) -> Any:
    if name in ("DashboardControl", "TOKEN_HEADER"):
        from hyperloom.dashboard import _api

        return getattr(_api, name)
    if name == "DashboardServer":
        from hyperloom.dashboard.server import DashboardServer

        return DashboardServer
    raise AttributeError(f"module 'hyperloom.dashboard' has no attribute {name!r}")
