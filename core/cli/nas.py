"""``hyperloom nas``: NAS helpers. ``hyperloom nas retrain ID`` retrains the architectures a
one-shot experiment's trials wrote, from scratch, as a new experiment of ordinary trials."""

from __future__ import annotations

from pathlib import Path

import typer
from hyperloom.cli import app
from hyperloom.cli._common import console, new_app, plural, print_json

__all__ = ["nas_app"]

nas_app = new_app(name="nas", help="Neural architecture search helpers.", no_args_is_help=True)
app.add_typer(nas_app, name="nas")


@nas_app.command("retrain")
def retrain(
    experiment: str = typer.Argument(
        ..., help="The one-shot experiment (id or directory).", metavar="ID"
    ),
    command: str = typer.Option(
        "python3 retrain.py", "--command", help="The retraining trial command."
    ),
    code_dir: Path = typer.Option(
        None, "--code-dir", help="Its directory (default: the source's trialCodeDirectory)."
    ),
    seeds: list[int] = typer.Option([0], "--seed", help="A seed per run (repeat the option)."),
    top: int = typer.Option(None, "--top", help="Only the best N architectures."),
    concurrency: int = typer.Option(1, "-c", "--concurrency", help="Trials run at once."),
    out: Path = typer.Option(
        None, "--out", help="Where to write the config (default: retrain-ID.yml in the cwd)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Write the config, do not run it."),
    as_json: bool = typer.Option(False, "--json", help="Print the config as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Less output while it runs."),
) -> None:
    """Retrain the architectures of experiment ID's trials (their architecture.json) from scratch:
    writes a config (one trial per architecture and seed, grid tuner) and runs it."""
    import yaml
    from hyperloom.plugins.nas._retrain import found_architectures, retrain_config

    cfg = retrain_config(
        experiment,
        command=command,
        code_dir=code_dir,
        seeds=seeds,
        top=top,
        concurrency=concurrency,
    )
    path = Path(out) if out is not None else Path.cwd() / f"{cfg['experimentName']}.yml"
    header = (
        f"# written by `hyperloom nas retrain {experiment}`: retrains the architectures that\n"
        f"# its trials wrote, from scratch ({len(found_architectures(experiment))} found).\n"
    )
    path.write_text(header + yaml.safe_dump(cfg, sort_keys=False))
    if as_json:
        print_json({"config": cfg, "path": str(path)})
    else:
        n = len(cfg["searchSpace"]["architecture"]["_value"])
        console.print(
            f"config: {path}  ({plural(n, 'architecture')} x "
            f"{plural(len(cfg['searchSpace']['seed']['_value']), 'seed')})"
        )
    if dry_run:
        return
    from hyperloom.cli.run import run_config_file

    run_config_file(path, quiet=quiet or as_json, no_dashboard=True)
