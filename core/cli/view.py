"""``hyperloom view [ID...]``: the web dashboard for past and running experiments, read-only."""

from __future__ import annotations

import asyncio
import errno
import webbrowser
from pathlib import Path

import typer
from hyperloom.cli import app
from hyperloom.cli._common import console, err_console

__all__ = ["view"]


def _dirs(ids: list[str]) -> list[Path] | None:
    """The directories of ``ids`` (resolved now, so a typo fails at once); None means "all"."""
    if not ids:
        return None
    from hyperloom.paths import find_experiment_dir

    return [find_experiment_dir(i) for i in ids]


DEFAULT_PORT = 8080


async def _serve(dirs: list[Path] | None, host: str, port: int | None, open_browser: bool) -> None:
    """Serves until cancelled. ``port`` None: 8080, or a free port when 8080 is taken."""
    from hyperloom.dashboard import DashboardServer
    from hyperloom.paths import all_experiment_dirs

    def make(p: int) -> DashboardServer:
        return DashboardServer(dirs if dirs is not None else all_experiment_dirs, host=host, port=p)

    server = make(DEFAULT_PORT if port is None else port)
    try:
        url = await server.start()
    except OSError as e:
        await server.close()
        if port is not None or e.errno != errno.EADDRINUSE:
            raise
        server = make(0)
        url = await server.start()
        err_console.print(
            f"port {DEFAULT_PORT} is in use; serving on port {server.port} instead "
            f"(--port N picks one)",
            highlight=False,
        )
    if dirs is not None and len(dirs) == 1:
        url = f"{url}#/e/{_experiment_id(dirs[0])}"  # straight to its overview
    console.print(f"hyperloom dashboard (read-only): [bold]{url}[/]  (Ctrl-C to quit)")
    if open_browser:
        await asyncio.to_thread(webbrowser.open, url)
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


@app.command("view")
def view(
    ids: list[str] = typer.Argument(
        None,
        help="Experiment ids or directories (default: every experiment in HYPERLOOM_HOME).",
        metavar="ID",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(
        None,
        "--port",
        help=f"Port to listen on (0 picks a free one). Default: {DEFAULT_PORT}, or a free port "
        f"when {DEFAULT_PORT} is in use.",
        show_default=False,
    ),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a web browser."),
) -> None:
    """Open the web dashboard on past and running experiments (read-only)."""
    from hyperloom.dashboard.server import is_loopback
    from hyperloom.errors import UsageError

    if port is not None and not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {port}")
    dirs = _dirs(list(ids or []))
    if not is_loopback(host):
        err_console.print(
            f"[yellow]warning:[/] --host {host} exposes the dashboard beyond this machine: anyone "
            "who can reach it can read these experiments (it is read-only)."
        )
    try:
        asyncio.run(_serve(dirs, host, port, not no_browser))
    except OSError as e:
        shown = DEFAULT_PORT if port is None else port
        raise UsageError(
            f"cannot listen on {host}:{shown}: {e.strerror or e}; try --port 0"
        ) from None


def _experiment_id(exp_dir: Path) -> str:
    """The id recorded in an experiment's store (its directory's name if it cannot be read)."""
    from hyperloom.errors import StoreError
    from hyperloom.store import StoreReader

    try:
        with StoreReader(exp_dir) as r:
            return str(r.experiment()["id"])
    except StoreError:
        return exp_dir.name
