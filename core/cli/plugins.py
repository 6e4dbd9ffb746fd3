"""``hyperloom plugins``: list installed plugins, and run the conformance suite on one.

``hyperloom plugins [--json] [--no-import]`` lists every entry point of every group with its
distribution and version; each one is imported (unless ``--no-import``) so that a broken plugin is
listed with its error. ``hyperloom plugins check NAME [--group tuner|assessor]`` runs the tuner or
assessor conformance suite and exits 1 when a check fails.
"""

from __future__ import annotations

import importlib
from collections import Counter
from typing import Any

import typer
from hyperloom.cli import app
from hyperloom.cli._common import console, new_app, plural, print_json
from hyperloom.errors import HyperloomError, UsageError
from rich.table import Table

__all__ = ["plugin_rows"]

plugins_app = new_app(
    help="List installed plugins (tuners, assessors, search spaces, executors) and check them.",
    invoke_without_command=True,
)
app.add_typer(plugins_app, name="plugins")


def plugin_rows(import_plugins: bool = True) -> list[dict[str, Any]]:
    """One JSON-ready row per entry point: name, group, kind, distribution, version, value,
    builtin, ok and error (None unless it is ambiguous or, when imported, broken)."""
    from hyperloom import registry

    infos = registry.discover_all()
    counts = Counter((i.group, i.name) for i in infos)
    rows: list[dict[str, Any]] = []
    for info in infos:
        error: str | None = None
        if counts[(info.group, info.name)] > 1:
            others = [o.distribution for o in infos if (o.group, o.name) == (info.group, info.name)]
            error = f"name {info.name!r} is provided by more than one distribution: {' and '.join(others)}"
        elif import_plugins:
            _, error = registry.try_load(info)
        rows.append(
            {
                "name": info.name,
                "group": info.group,
                "kind": info.kind,
                "distribution": info.distribution,
                "version": info.version,
                "value": info.value,
                "builtin": info.builtin,
                "ok": error is None,
                "error": error,
            }
        )
    return rows


@plugins_app.callback()
def list_plugins(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    no_import: bool = typer.Option(
        False, "--no-import", help="Read metadata only; do not import plugins to find broken ones."
    ),
) -> None:
    """List installed plugins with their distribution and version; broken ones with their error."""
    if ctx.invoked_subcommand is not None:
        return
    from hyperloom.registry import plugins_disabled

    rows = plugin_rows(import_plugins=not no_import)
    if as_json:
        print_json(rows)
        return
    table = Table(title="hyperloom plugins", title_justify="left")
    for col in ("name", "group", "distribution", "version", "status"):
        table.add_column(col, overflow="fold")
    for r in rows:
        if r["ok"]:
            status = "[green]ok[/]" if not no_import else "not imported"
        else:
            status = "[red]error[/] (below)"
        table.add_row(r["name"], r["kind"], r["distribution"], r["version"], status)
    console.print(table)
    if plugins_disabled():
        console.print("HYPERLOOM_DISABLE_PLUGINS is set: built-in plugins only.")
    broken = [r for r in rows if not r["ok"]]
    if broken:
        console.print(
            f"[red]{plural(len(broken), 'broken plugin')}[/]; "
            f"{'it fails' if len(broken) == 1 else 'they fail'} only when a config uses "
            f"{'it' if len(broken) == 1 else 'them'}:"
        )
        for r in broken:
            console.print(f"  [bold]{r['kind']} {r['name']}[/]: {r['error']}", soft_wrap=True)


def _resolve(name: str, group: str | None) -> tuple[str, Any]:
    from hyperloom import registry

    if group is not None and group not in ("tuner", "assessor"):
        raise UsageError(f"--group must be 'tuner' or 'assessor', got {group!r}")
    if group is None:
        if ":" in name:
            raise UsageError(f"give --group tuner or --group assessor for {name!r}")
        kinds = [
            k for k in ("tuner", "assessor") if any(i.name == name for i in registry.discover(k))
        ]
        if not kinds:
            raise UsageError(
                f"no tuner or assessor plugin named {name!r}; `hyperloom plugins` lists them "
                f"(search spaces and executors have no conformance suite)"
            )
        if len(kinds) > 1:
            raise UsageError(f"{name!r} is both a tuner and an assessor; pick one with --group")
        group = kinds[0]
    return group, registry.load(group, name)


@plugins_app.command("check")
def check(
    name: str = typer.Argument(
        ..., help="A tuner or assessor entry-point name, or module:Class.", metavar="NAME"
    ),
    group: str = typer.Option(None, "--group", help="tuner or assessor (needed when ambiguous)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Run the conformance suite on an installed tuner or assessor; exit 1 when a check fails."""
    kind, cls = _resolve(name, group)
    try:
        suite = getattr(importlib.import_module("hyperloom.plugins.testing"), f"check_{kind}")
    except ImportError as e:
        raise HyperloomError(
            f"the {kind} conformance suite is not available in this install: {e}"
        ) from None
    results = suite(cls)
    failed = [r for r in results if not r.ok]
    if as_json:
        print_json(
            {
                "name": name,
                "group": kind,
                "ok": not failed,
                "checks": [{"name": r.name, "ok": r.ok, "detail": r.detail} for r in results],
            }
        )
    else:
        table = Table(title=f"conformance of {kind} {name!r}", title_justify="left")
        table.add_column("check")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        for r in results:
            table.add_row(r.name, "[green]pass[/]" if r.ok else "[red]FAIL[/]", r.detail)
        console.print(table)
        verdict = (
            "[green]all passed[/]"
            if not failed
            else f"[red]{len(failed)} of {len(results)} failed[/]"
        )
        console.print(f"{plural(len(results), 'check')}: {verdict}")
    if failed:
        raise SystemExit(1)
