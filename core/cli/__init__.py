"""The ``hyperloom`` command line: one Typer app, one module per command group.

Commands are thin: parse, call the library, render with rich. Domain errors map to exit codes in
one place, :func:`main`: 0 ok, 1 runtime error, 2 usage or config error, 130 interrupted.
"""

from __future__ import annotations

import importlib
import sys

from hyperloom.cli._common import new_app

__all__ = ["app", "main"]

app = new_app(
    name="hyperloom",
    help="Hyperparameter optimization and neural architecture search over your own training scripts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Each module registers its commands on `app` when imported.
_COMMAND_MODULES = ("run", "inspect", "space", "plugins", "devices", "view", "nas", "importance")
for _name in _COMMAND_MODULES:
    importlib.import_module(f"hyperloom.cli.{_name}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script. Maps hyperloom errors to exit codes."""
    from hyperloom.cli._common import err_console
    from hyperloom.errors import HyperloomError

    try:
        app(args=argv, prog_name="hyperloom")  # click handles usage errors (exit 2) itself
    except HyperloomError as e:
        from rich.markup import escape

        err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        return e.exit_code
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130
    except SystemExit as e:
        if e.code is None:
            return 0
        return e.code if isinstance(e.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
