"""``hyperloom space check``: validate a search space and show what it holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from hyperloom.cli import app
from hyperloom.cli._common import console, err_console, new_app, plural, print_json
from hyperloom.errors import UsageError
from rich.markup import escape
from rich.table import Table

space_app = new_app(help="Inspect search spaces.", no_args_is_help=True)
app.add_typer(space_app, name="space")


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--option must look like key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


@space_app.command("check")
def check(
    file: Path = typer.Argument(
        None,
        help="A search space in NNI's JSON format (or YAML), or a config that holds one.",
        metavar="FILE",
    ),
    plugin: str = typer.Option(
        None, "--plugin", help="Show the space a search-space plugin produces instead."
    ),
    option: list[str] = typer.Option(
        None,
        "--option",
        help="A plugin option as key=value (repeatable; values parsed as JSON when possible).",
    ),
    samples: int = typer.Option(3, "--samples", help="How many random samples to print."),
    seed: int = typer.Option(0, "--seed", help="Seed for the samples."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Validate a search space, list its parameters and print a few samples.

    Every error is listed, each naming the parameter path and the bad value; exit code 2.
    """

    if plugin:
        from hyperloom import registry

        opts = dict(_parse_option(o) for o in option or [])
        space = registry.load_search_space(plugin, opts)
        source = f"plugin {plugin}"
    elif file is not None:
        space = _load(file)
        source = str(file)
    else:
        raise UsageError("give a search-space file or --plugin NAME")
    drawn = [space.sample(seed + i) for i in range(samples)]
    if as_json:
        print_json(
            {
                "source": source,
                "parameters": [
                    {
                        "name": p.name,
                        "type": p.type_name,
                        "description": p.describe(),
                        "condition": _cond(p),
                    }
                    for p in space.parameters
                ],
                "size": None if space.size() == float("inf") else int(space.size()),
                "samples": drawn,
            }
        )
        return
    table = Table(
        title=f"{source}: {plural(len(space.parameters), 'parameter')}", title_justify="left"
    )
    table.add_column("parameter")
    table.add_column("type")
    table.add_column("domain", overflow="fold")
    table.add_column("active when")
    for p in space.parameters:
        table.add_row(p.name, p.type_name, p.describe(), _cond(p) or "always")
    console.print(table)
    size = space.size()
    console.print(
        f"size: {'continuous (infinite)' if size == float('inf') else plural(int(size), 'point')}"
    )
    console.print(f"{plural(samples, 'sample')} (seed {seed}):")
    for s in drawn:
        console.print("  " + json.dumps(s), soft_wrap=True, highlight=False)
    console.print("[green]valid[/]")


def _load(file: Path) -> Any:
    """The space in ``file`` (a space, or a config that holds one). Every error in it is listed,
    one per line, exit 2."""
    from hyperloom.errors import SearchSpaceError
    from hyperloom.space import SearchSpace

    raw = _config_mapping(file)
    try:
        if raw is None:
            return SearchSpace.load(file)
        inline = raw.get("searchSpace")
        if isinstance(inline, dict) and "plugin" not in inline:
            try:
                return SearchSpace.from_nni(inline)
            except SearchSpaceError as e:
                raise SearchSpaceError.of(e.errors, prefix=f"{file}: searchSpace: ") from None
        named = raw.get("searchSpaceFile")
        if isinstance(named, str) and "searchSpace" not in raw and (file.parent / named).is_file():
            return SearchSpace.load(file.parent / named)
    except SearchSpaceError as e:
        if len(e.errors) == 1:
            raise
        err_console.print(f"[bold red]error:[/] {len(e.errors)} errors:", highlight=False)
        for line in e.errors:
            err_console.print(f"  - {escape(line)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    from hyperloom.config import Config

    return Config.load(file).search_space  # a plugin space, or a config error to report


def _config_mapping(file: Path) -> dict[str, Any] | None:
    """The config in ``file`` when it is a YAML config (not a bare space), else None."""
    if file.suffix not in (".yml", ".yaml"):
        return None
    try:
        import yaml

        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except Exception:
        return None
    if isinstance(raw, dict) and ("trialCommand" in raw or "searchSpaceFile" in raw):
        return raw
    return None


def _cond(p: Any) -> str | None:
    if p.condition is None:
        return None
    path, idx = p.condition
    return f"{'/'.join(map(str, path))} = option {idx}"
