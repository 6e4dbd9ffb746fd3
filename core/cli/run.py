"""``hyperloom run``, ``resume`` and ``stop``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer
from hyperloom.cli import app
from hyperloom.cli._common import console, err_console
from hyperloom.errors import UsageError
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

__all__ = ["render_progress", "render_summary"]


def _fmt_secs(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def progress_line(p: Any) -> str:
    """The progress as one plain line (for logs and non-terminal output)."""
    c = p.counts
    budget = f"/{p.max_trials}" if p.max_trials else ""
    best = f"{p.best_value:.6g}" if p.best_value is not None else "-"
    limit = f"/{_fmt_secs(p.max_duration)}" if p.max_duration else ""
    return (
        f"trials {p.started_trials}{budget}: done {c.get('SUCCEEDED', 0)}, running {p.running}, "
        f"failed {c.get('FAILED', 0) + c.get('TIMEOUT', 0)}, early-stopped {c.get('EARLY_STOPPED', 0)}, "
        f"canceled {c.get('CANCELED', 0)}; best {best}; elapsed {_fmt_secs(p.elapsed)}{limit}"
        + ("; stopping" if p.stopping else "")
    )


def render_progress(p: Any) -> Group:
    """The live status block of a running experiment (three short lines)."""
    from rich.progress_bar import ProgressBar

    c = p.counts
    failed = c.get("FAILED", 0) + c.get("TIMEOUT", 0)
    stopped = c.get("EARLY_STOPPED", 0)
    head = Text.assemble(
        ("trials ", "bold"),
        (f"{p.started_trials}", "bold"),
        (f"/{p.max_trials}" if p.max_trials else ""),
    )
    if p.stopping:
        head.append("   stopping…", style="yellow")
    top = Table.grid(padding=(0, 2))
    if p.max_trials:
        top.add_row(
            head,
            ProgressBar(
                total=p.max_trials, completed=min(p.started_trials, p.max_trials), width=30
            ),
        )
    else:
        top.add_row(head)
    lines: list[Any] = [top]
    counts = Text.assemble(
        ("done ", "green"),
        (str(c.get("SUCCEEDED", 0)), "bold green"),
        "  ",
        ("running ", "cyan"),
        (str(p.running), "bold cyan"),
        "  ",
        ("failed ", "red" if failed else "dim"),
        (str(failed), "bold red" if failed else "dim"),
        "  ",
        ("early-stopped ", "yellow" if stopped else "dim"),
        (str(stopped), "yellow" if stopped else "dim"),
        "  ",
        ("canceled ", "dim"),
        (str(c.get("CANCELED", 0)), "dim"),
    )
    best = f"{p.best_value:.6g}" if p.best_value is not None else "-"
    where = f" (trial {p.best_trial})" if p.best_trial else ""
    limit = f" / {_fmt_secs(p.max_duration)}" if p.max_duration else ""
    tail = Text.assemble(
        ("best ", "magenta"),
        (best, "bold magenta"),
        where,
        "   elapsed ",
        _fmt_secs(p.elapsed) + limit,
    )
    lines += [counts, tail]
    return Group(*lines)


def render_summary(records: list[Any], mode: str, top: int = 10) -> Table:
    """A table of the best trials."""
    ok = [r for r in records if r.value is not None and r.status.name == "SUCCEEDED"]
    ok.sort(key=lambda r: r.value, reverse=(mode == "maximize"))
    table = Table(
        title=f"Top {min(top, len(ok))} of {len(records)} trials ({mode})", title_justify="left"
    )
    table.add_column("#", justify="right")
    table.add_column("trial")
    table.add_column("value", justify="right", style="bold")
    table.add_column("params", overflow="fold")
    table.add_column("duration", justify="right")
    for r in ok[:top]:
        dur = (r.ended - r.started) if r.ended and r.started else None
        table.add_row(
            str(r.sequence),
            r.trial_id,
            f"{r.value:.6g}",
            _short_params(r.params),
            f"{dur:.1f}s" if dur is not None else "-",
        )
    return table


def _short_params(params: dict[str, Any]) -> str:

    parts = []
    for k, v in params.items():
        s = json.dumps(v) if not isinstance(v, float) else f"{v:.4g}"
        parts.append(f"{k}={s}")
    return ", ".join(parts)


def _check_command(exp: Any) -> None:
    """Refuses, before anything is written, a trialCommand whose placeholders a second shell would
    parse (``sh -c '... {lr}'``, ``$(...)``): see :func:`hyperloom.launch.check_trial_command`."""
    from hyperloom.errors import ConfigError
    from hyperloom.launch import check_trial_command

    cfg = exp.config
    if getattr(cfg.training_service, "platform", "local") == "simulate":
        return  # no command runs
    try:
        names: list[str] | None = [str(k) for k in cfg.search_space.to_nni()]
    except Exception:  # a plugin space without an NNI form: count every {name}
        names = None
    try:
        check_trial_command(cfg.trial_command, names)
    except ValueError as e:
        where = str(cfg.source) if cfg.source else "config"
        raise ConfigError(f"{where}: trialCommand: {e}") from None


def _run_experiment(exp: Any, *, quiet: bool, dashboard: bool | None) -> None:
    _check_command(exp)
    interactive = console.is_terminal and not quiet
    live: Live | None = None
    last_line = [0.0]

    def on_start(e: Any) -> None:
        nonlocal live
        # the id is printed once the experiment exists on disk: `resume ID` finds it from then on
        console.print(f"experiment [bold]{e.id}[/]  dir {e.dir}", soft_wrap=True, highlight=False)
        if e.dashboard_url:
            console.print(
                f"dashboard: [link={e.dashboard_url}]{e.dashboard_url}[/link]", soft_wrap=True
            )
        if interactive:
            live = Live(console=console, refresh_per_second=4, transient=False)
            live.start()

    def on_progress(p: Any) -> None:
        if quiet:
            return
        if live is not None:
            live.update(render_progress(p))
        elif time.monotonic() - last_line[0] >= 5.0:
            last_line[0] = time.monotonic()
            console.print(progress_line(p), soft_wrap=True)

    def on_event(text: str) -> None:
        if not quiet:
            console.print(f"[dim]{escape(text)}[/]", soft_wrap=True)

    for w in exp.config.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)
    try:
        records = exp.run(
            on_progress=on_progress,
            on_event=on_event,
            on_start=on_start,
            dashboard=dashboard,
            with_intermediate=False,
        )
    finally:
        if live is not None:
            live.stop()
    if exp.manager is not None and not quiet and live is None:
        console.print(progress_line(exp.manager.progress()), soft_wrap=True)
    console.print(render_summary(records, exp.config.mode))
    console.print(f"status: [bold]{exp.status}[/]   details: hyperloom trials {exp.id}")
    if exp.status == "STOPPED" and exp.manager is not None and exp.manager._interrupts:
        raise typer.Exit(130)
    if exp.status == "FAILED":  # a tuner, assessor or store failure: the message is above
        raise typer.Exit(1)


@app.command()
def run(
    config: Path = typer.Argument(
        None,
        help="The experiment config (YAML; NNI v2 configs work as they are).",
        show_default=False,
    ),
    command: list[str] = typer.Argument(
        None,
        help="With no config: the trial command after `--`, with priors such as --lr~'loguniform(1e-5, 1)'.",
        show_default=False,
    ),
    tuner: str = typer.Option("tpe", "--tuner", help="No-config mode: the tuner."),
    max_trials: int = typer.Option(
        20, "-n", "--max-trials", help="No-config mode: the trial budget."
    ),
    concurrency: int = typer.Option(
        1, "-c", "--concurrency", help="No-config mode: trials run at once."
    ),
    mode: str = typer.Option("maximize", "--mode", help="No-config mode: maximize or minimize."),
    objective: str = typer.Option(
        None,
        "--objective",
        help="No-config mode: read this metric from the name=value pairs the script prints (for scripts that do not use hyperloom.trials or nni).",
        show_default=False,
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print only the first line and the summary."
    ),
    no_dashboard: bool = typer.Option(
        False, "--no-dashboard", help="Do not serve the web dashboard."
    ),
) -> None:
    """Run an experiment: ask the tuner for parameters, run trials, print the best ones.

    The first line names the experiment id and directory. Ctrl-C stops it cleanly (a second Ctrl-C
    kills the trials at once); `hyperloom resume ID` continues it later.
    """
    from hyperloom.experiment import Experiment

    if config is not None and (config.suffix in (".yml", ".yaml", ".json") or config.is_file()):
        exp = Experiment.from_config(config)
        if command:
            raise UsageError(f"unexpected arguments after the config file: {' '.join(command)}")
    else:
        argv = ([str(config)] if config is not None else []) + list(command or [])
        if not argv:
            raise UsageError(
                "give a config file (hyperloom run config.yml) or a command after `--`"
            )
        try:
            from hyperloom.priors import config_from_argv
        except ImportError:
            raise UsageError(f"config file {argv[0]!r} does not exist") from None
        raw = config_from_argv(
            argv,
            tuner=tuner,
            max_trials=max_trials,
            concurrency=concurrency,
            mode=mode,
            metric_capture={"objective": objective} if objective else None,
        )
        exp = Experiment.from_config(raw)
    _run_experiment(exp, quiet=quiet, dashboard=False if no_dashboard else None)


@app.command()
def resume(
    experiment: str = typer.Argument(..., help="Experiment id or directory."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print only the first line and the summary."
    ),
    no_dashboard: bool = typer.Option(
        False, "--no-dashboard", help="Do not serve the web dashboard."
    ),
) -> None:
    """Continue a stopped or crashed experiment.

    Ended trials are kept and count against the budget, the tuner is rebuilt from them, sequence
    numbers continue, and trials that are still running (after a crash) are re-attached.
    """
    from hyperloom.experiment import Experiment

    _run_experiment(
        Experiment.resume(experiment), quiet=quiet, dashboard=False if no_dashboard else None
    )


@app.command()
def stop(
    experiment: str = typer.Argument(..., help="Experiment id or directory."),
    timeout: float = typer.Option(60.0, help="Seconds to wait for the manager to finish stopping."),
    force: bool = typer.Option(
        False,
        "--force",
        help="With the manager gone: record the experiment as stopped even when the place its "
        "trials run (a Ray cluster) cannot be reached.",
    ),
) -> None:
    """Stop a running experiment from another shell (like Ctrl-C in its terminal).

    If its manager is gone (crashed), the trials it left running are ended (local process groups,
    and through the executor those elsewhere, e.g. the runners on a Ray cluster) and the
    experiment is marked STOPPED.
    """
    from hyperloom._stop import stop_experiment

    def waiting(pid: int) -> None:
        console.print(f"stopping experiment {experiment} (manager pid {pid})…")

    res = stop_experiment(experiment, timeout=timeout, force=force, on_wait=waiting)
    if res.warning:
        err_console.print(
            f"[yellow]warning:[/] {escape(res.warning)}", highlight=False, soft_wrap=True
        )
    if res.manager_pid is not None:
        console.print(f"experiment {res.experiment_id} stopped")
        return
    ended = res.trials_ended + res.strays_ended
    console.print(
        f"experiment {res.experiment_id} is not running"
        + (f"; ended {ended} stray trial process trees" if ended else "")
        + (f"; ended {res.remote_ended} trials through its executor" if res.remote_ended else "")
    )
