"""``hyperloom run``, ``resume`` and ``stop``."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from hyperloom.cli import app
from hyperloom.cli._common import HelpfulCommand, console, err_console, plural
from hyperloom.cli._diagnose import FAILED_STATUSES, summarize_failures
from hyperloom.errors import ConfigError, UsageError
from hyperloom.paths import DB_NAME
from hyperloom.types import BEST_STATUSES
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

__all__ = [
    "RunSummary",
    "print_outcome",
    "progress_line",
    "render_progress",
    "render_summary",
    "run_config_file",
]


def _fmt_secs(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _counts_text(c: dict[str, int], running: int) -> list[tuple[str, int]]:
    """The live line's counters in order; a timeout counter only when trials timed out."""
    out = [
        ("done", c.get("SUCCEEDED", 0)),
        ("running", running),
        ("failed", c.get("FAILED", 0)),
    ]
    if c.get("TIMEOUT", 0):
        out.append(("timeout", c["TIMEOUT"]))
    out += [("early-stopped", c.get("EARLY_STOPPED", 0)), ("canceled", c.get("CANCELED", 0))]
    return out


def progress_line(p: Any) -> str:
    """The progress as one plain line (for logs and non-terminal output)."""
    budget = f"/{p.max_trials}" if p.max_trials else ""
    best = f"{p.best_value:.6g}" if p.best_value is not None else "-"
    limit = f"/{_fmt_secs(p.max_duration)}" if p.max_duration else ""
    counts = ", ".join(f"{name} {n}" for name, n in _counts_text(p.counts, p.running))
    return (
        f"trials {p.started_trials}{budget}: {counts}; best {best}; "
        f"elapsed {_fmt_secs(p.elapsed)}{limit}" + ("; stopping" if p.stopping else "")
    )


_COUNT_STYLE = {
    "done": "green",
    "running": "cyan",
    "failed": "red",
    "timeout": "red",
    "early-stopped": "yellow",
    "canceled": "dim",
}


def render_progress(p: Any) -> Group:
    """The live status block of a running experiment (three short lines)."""
    from rich.progress_bar import ProgressBar

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
    counts = Text()
    for i, (name, n) in enumerate(_counts_text(p.counts, p.running)):
        style = _COUNT_STYLE[name] if n or name in ("done", "running") else "dim"
        if i:
            counts.append("  ")
        counts.append(f"{name} ", style=style)
        counts.append(str(n), style=f"bold {style}" if style != "dim" else "dim")
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


@dataclass(frozen=True)
class RunSummary:
    """What the end-of-run summary shows: trial counts by status, the best trials (best first)
    and the failed ones, without any curve.

    Built from the store with :meth:`from_view` (a top-N query and counts: a 10,000-trial
    experiment is never read whole; the best follow ``ExperimentView.best``, the one ranking
    rule).
    """

    counts: dict[str, int]
    best: list[Any]
    failed: list[Any]
    #: the experiment's objectives as (name, mode) when it has several (best is its Pareto front)
    objectives: tuple[tuple[str, str], ...] = ()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def succeeded(self) -> int:
        return sum(self.counts.get(s.name, 0) for s in BEST_STATUSES)

    @classmethod
    def from_view(cls, view: Any, top: int = 10) -> RunSummary:
        """From an open :class:`~hyperloom.history.ExperimentView`: its ``best(top)`` (the one
        rule, constraints and Pareto front included) and its failed trials."""
        counts = {k: n for k, n in view.reader.count_by_status().items() if n}
        best = view.best(top) if counts else []
        failed = list(view.reader.iter_trials(status=FAILED_STATUSES, with_intermediate=False))
        objs = view.objectives
        several = tuple((o.name, o.mode) for o in objs) if len(objs) > 1 else ()
        return cls(counts, best, failed, several)


def render_summary(summary: RunSummary, mode: str) -> Table:
    """A table of the best trials."""
    ok = summary.best
    objs = summary.objectives
    title = f"Top {len(ok)} of {plural(summary.total, 'trial')} ({mode})"
    if objs:
        names = ", ".join(f"{n} ({m[:3]})" for n, m in objs)
        title = f"Pareto front, first {len(ok)} of {plural(summary.total, 'trial')}: {names}"
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("trial")
    table.add_column("values" if objs else "value", justify="right", style="bold")
    table.add_column("params", overflow="fold")
    table.add_column("duration", justify="right")
    for r in ok:
        dur = (r.ended - r.started) if r.ended and r.started else None
        table.add_row(
            str(r.sequence),
            r.trial_id,
            _values_cell(r, len(objs)),
            _short_params(r.params),
            f"{dur:.1f}s" if dur is not None else "-",
        )
    return table


def _values_cell(r: Any, n_objectives: int) -> str:
    if n_objectives and r.values is not None:
        return ", ".join(f"{v:.6g}" for v in r.values[:n_objectives])
    return f"{r.value:.6g}" if r.value is not None else "-"


def _ended_counts(counts: dict[str, int]) -> str:
    names = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMEOUT": "timed out"}
    names |= {"EARLY_STOPPED": "stopped early", "CANCELED": "canceled"}
    parts = [f"{counts[k]} {v}" for k, v in names.items() if counts.get(k)]
    rest = sum(n for k, n in counts.items() if k not in names)
    if rest:
        parts.append(f"{rest} not ended")
    return ", ".join(parts)


def print_outcome(
    *,
    exp_id: str,
    exp_dir: Path,
    status: str | None,
    message: str | None,
    summary: RunSummary,
    mode: str,
    interrupted: bool = False,
    config_file: bool = True,
) -> int:
    """Prints the end-of-run summary (best trials, status and why, hints) and returns the exit
    code: 130 interrupted, 1 FAILED or no trial succeeded, else 0."""
    total = summary.total
    ok = summary.succeeded > 0
    if ok or not total:
        console.print(render_summary(summary, mode))
    else:
        console.print(
            f"[bold red]No trial succeeded[/] ({plural(total, 'trial')}: "
            f"{_ended_counts(summary.counts)})."
        )
    failures = summarize_failures(summary.failed, exp_dir, config_file=config_file)
    if failures is not None and (not ok or failures.failed * 2 >= total):
        share = "all" if failures.count == total else f"{failures.count}"
        console.print(
            f"[bold]most common failure[/] ({share} of {plural(total, 'trial')}): "
            f"{escape(failures.reason)}",
            soft_wrap=True,
            highlight=False,
        )
        if failures.fix:
            console.print(f"[bold]fix:[/] {escape(failures.fix)}", soft_wrap=True)
        if failures.stderr is not None:
            console.print(f"its stderr: {failures.stderr}", soft_wrap=True, highlight=False)
    short = message is not None and len(message) <= 80
    why = f" ({escape(message)})" if message and short else ""
    console.print(
        f"status: [bold]{status}[/]{why}   details: hyperloom trials {exp_id}",
        soft_wrap=True,
        highlight=False,
    )
    if message and not short:
        console.print(f"why: {escape(message)}", soft_wrap=True, highlight=False)
    if status == "STOPPED":
        console.print(f"continue it with: [bold]hyperloom resume {exp_id}[/]", highlight=False)
    elif status == "DONE" and message and "maxExperimentDuration" in message:
        console.print(
            f"give it more time with: [bold]hyperloom resume {exp_id} --max-duration 2h[/]",
            highlight=False,
        )
    elif status == "FAILED" and failures is not None:
        console.print(
            f"once fixed, continue it with: [bold]hyperloom resume {exp_id}[/]", highlight=False
        )
    if interrupted:
        return 130
    if status == "FAILED":  # a tuner, assessor or store failure: the message is above
        return 1
    if total and not ok:
        return 1
    return 0


def _short_params(params: dict[str, Any]) -> str:

    parts = []
    for k, v in params.items():
        s = json.dumps(v) if not isinstance(v, float) else f"{v:.4g}"
        parts.append(f"{k}={s}")
    return ", ".join(parts)


def _check_command(exp: Any) -> None:
    """Refuses, before anything is written, a trialCommand whose placeholders a second shell would
    parse (``sh -c '... {lr}'``, ``$(...)``): see :func:`hyperloom.launch.check_trial_command`."""
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


def _final_message_and_summary(exp: Any) -> tuple[str | None, RunSummary]:
    """Why the experiment ended as it did, as its manager recorded it (None for a plain end),
    and its summary, both read from the store."""
    from hyperloom.errors import HyperloomError
    from hyperloom.history import open_experiment

    try:
        with open_experiment(exp.dir) as view:
            msg = view.reader.experiment().get("message")
            summary = RunSummary.from_view(view)
    except HyperloomError:  # the store is unreadable (a full disk...): the manager knows
        msg = getattr(exp.manager, "stop_message", None)
        summary = RunSummary({}, [], [])
    return (str(msg) if msg else None), summary


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
        exp.run(
            on_progress=on_progress,
            on_event=on_event,
            on_start=on_start,
            dashboard=dashboard,
            with_records=False,  # the summary reads its top N and counts from the store
        )
    except KeyboardInterrupt:
        # Ctrl-C before the manager took over the signals (it was starting up)
        if live is not None:
            live.stop()
            live = None
        err_console.print("[yellow]interrupted[/]")
        if (exp.dir / DB_NAME).is_file():
            console.print(f"continue it with: [bold]hyperloom resume {exp.id}[/]", highlight=False)
        raise typer.Exit(130) from None
    finally:
        if live is not None:
            live.stop()
    if exp.manager is not None and not quiet and live is None:
        console.print(progress_line(exp.manager.progress()), soft_wrap=True)
    interrupted = (
        exp.status == "STOPPED" and exp.manager is not None and bool(exp.manager._interrupts)
    )
    message, summary = _final_message_and_summary(exp)
    code = print_outcome(
        exp_id=exp.id,
        exp_dir=exp.dir,
        status=exp.status,
        message=message,
        summary=summary,
        mode=exp.config.mode,
        interrupted=interrupted,
        config_file=exp.config.source is not None,
    )
    if code:
        raise typer.Exit(code)


_EXIT_CODES = (
    "Exit status: 0 when at least one trial succeeded; 1 when none did (the summary names the "
    "most common failure and its fix) or the experiment FAILED; 2 for a bad config, argument or "
    "search space; 130 when interrupted (Ctrl-C)."
)
_DASH_HINT = "hyperloom run [options] -- python train.py --lr~'loguniform(1e-5, 1)'"


class RunCommand(HelpfulCommand):
    """``hyperloom run``: an unknown option in a no-config run without ``--`` most likely
    belongs to the trial command, so the error says to put the command after ``--``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return list(super().parse_args(ctx, args))
        except Exception as e:
            if type(e).__name__ != "NoSuchOption" or not _trial_option(args, e):
                raise
            name = str(getattr(e, "option_name", "") or "")
            ctx.fail(
                f"{name!r} is not an option of hyperloom run. If it belongs to the trial command, "
                f"put the command after `--`: {_DASH_HINT}"
            )
            raise  # not reached: ctx.fail raises


def _trial_option(args: list[str], error: Any) -> bool:
    """Whether an unknown option most likely belongs to a trial command written without ``--``:
    there is no ``--`` and no config file, and the option is not a typo of one of ours."""
    if "--" in args or any(a.endswith((".yml", ".yaml", ".json")) for a in args):
        return False
    name = str(getattr(error, "option_name", "") or "")
    return "~" in name or not getattr(error, "possibilities", None)


def _is_config(path: Path, command: list[str] | None) -> bool:
    """Whether ``hyperloom run PATH ...`` names a config: a YAML/JSON file name, or a file with
    nothing after it that is not a program (``-- /usr/bin/python3 train.py`` is a command)."""
    if path.suffix.lower() in (".yml", ".yaml", ".json"):
        return True
    return not command and path.is_file() and not os.access(path, os.X_OK)


def _refuse_experiment(target: str) -> None:
    """Refuses ``hyperloom run X`` when X is an experiment (its directory or its id)."""
    from hyperloom.errors import HyperloomError
    from hyperloom.paths import find_experiment_dir

    path = Path(target)
    if path.is_dir():
        if not (path / DB_NAME).is_file():
            raise UsageError(
                f"{target!r} is a directory, not a config file; give a config file "
                f"(hyperloom run config.yml) or a trial command after `--` ({_DASH_HINT})"
            )
        found: Path | None = path
    else:
        try:
            found = find_experiment_dir(target)
        except HyperloomError:
            return
    raise UsageError(
        f"{target!r} is an experiment ({found}), not a config or a trial command: continue it "
        f"with `hyperloom resume {target}`, or look at it with `hyperloom status {target}` or "
        f"`hyperloom view {target}`"
    )


@app.command(cls=RunCommand, epilog=_EXIT_CODES)
def run(
    config: Path = typer.Argument(
        None,
        help="The experiment config (YAML; NNI v2 configs work as they are).",
        show_default=False,
        metavar="CONFIG",
    ),
    command: list[str] = typer.Argument(
        None,
        help="With no config: the trial command after `--`, with priors such as "
        "--lr~'loguniform(1e-5, 1)'.",
        show_default=False,
        metavar="-- COMMAND",
    ),
    tuner: str | None = typer.Option(
        None,
        "--tuner",
        help="No-config mode: the tuner (default auto: gp or tpe, picked for the space and "
        "budget).",
        show_default=False,
    ),
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
        help="No-config mode: read this metric from the name=value pairs the script prints (for "
        "scripts that do not use hyperloom.trials or nni).",
        show_default=False,
    ),
    max_duration: str | None = typer.Option(
        None,
        "--max-duration",
        help="No-config mode: stop starting trials after this long (90s, 30m, 2h, 1d).",
        show_default=False,
        metavar="DURATION",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print only the first line and the summary."
    ),
    no_dashboard: bool = typer.Option(
        False, "--no-dashboard", help="Do not serve the web dashboard."
    ),
) -> None:
    """Run an experiment: ask the tuner for parameters, run trials, print the best ones.

    With a config: hyperloom run config.yml. Without one, the trial command goes after `--`,
    with its search space written as priors: hyperloom run -n 30 -- python train.py
    --lr~'loguniform(1e-5, 1)'.

    The first line names the experiment id and directory. Ctrl-C stops it cleanly (a second Ctrl-C
    kills the trials at once); `hyperloom resume ID` continues it later.
    """
    from hyperloom.experiment import Experiment

    if config is not None and _is_config(config, command):
        if command:
            raise UsageError(f"unexpected arguments after the config file: {' '.join(command)}")
        given = {
            "--tuner": (tuner is not None, "tuner.name"),
            "-n/--max-trials": (max_trials != 20, "maxTrialNumber"),
            "-c/--concurrency": (concurrency != 1, "trialConcurrency"),
            "--mode": (mode != "maximize", "tuner.classArgs.mode"),
            "--objective": (bool(objective), "metricCapture.objective"),
            "--max-duration": (max_duration is not None, "maxExperimentDuration"),
        }
        for flag, (set_, key) in given.items():
            if set_:
                err_console.print(
                    f"[yellow]warning:[/] {flag} is for runs without a config and is ignored "
                    f"here; set {key} in {config}",
                    soft_wrap=True,
                    highlight=False,
                )
        run_config_file(config, quiet=quiet, no_dashboard=no_dashboard)
        return
    argv = ([str(config)] if config is not None else []) + list(command or [])
    if not argv:
        raise UsageError(
            f"give a config file (hyperloom run config.yml) or a command: {_DASH_HINT}"
        )
    if len(argv) == 1:
        _refuse_experiment(argv[0])
    from hyperloom.priors import config_from_argv

    raw = config_from_argv(
        argv,
        tuner=tuner or "auto",
        max_trials=max_trials,
        concurrency=concurrency,
        mode=mode,
        max_duration=max_duration,
        metric_capture={"objective": objective} if objective else None,
    )
    try:
        exp = Experiment.from_config(raw)
    except ConfigError as e:
        raise ConfigError(_flag_words(str(e))) from None
    _run_experiment(exp, quiet=quiet, dashboard=False if no_dashboard else None)


#: In a no-config run, the config keys the user set through flags.
_FLAG_OF_KEY = (
    ("config: maxTrialNumber", "-n/--max-trials: maxTrialNumber"),
    ("config: maxExperimentDuration", "--max-duration: maxExperimentDuration"),
    ("config: trialConcurrency", "-c/--concurrency: trialConcurrency"),
    ("config: tuner.classArgs.mode: ", "--mode: "),
    ("config: searchSpace: ", "the priors on the command line: "),
    ("config: ", ""),
)


def _flag_words(message: str) -> str:
    """A config error of a no-config run, in terms of the flags that set the key."""
    for key, flag in _FLAG_OF_KEY:
        if message.startswith(key):
            return flag + message[len(key) :]
    return message


def run_config_file(config: Path, *, quiet: bool = False, no_dashboard: bool = False) -> None:
    """``hyperloom run CONFIG``: runs the experiment a config file describes, to its end."""
    from hyperloom.experiment import Experiment

    exp = Experiment.from_config(config)
    _run_experiment(exp, quiet=quiet, dashboard=False if no_dashboard else None)


def _budget_text(view: Any) -> str:
    budget = view.budget()
    parts = []
    if budget["trials"] is not None:
        used, cap = budget["trials"]
        parts.append(f"{used}/{cap} trials used")
    if budget["duration"] is not None:
        used_s, cap_s = budget["duration"]
        parts.append(f"{_fmt_secs(used_s)} of {_fmt_secs(cap_s)}")
    return "; ".join(parts)


def _done_without_budget(experiment: str) -> int | None:
    """For ``resume`` of a DONE experiment with no new budget: prints its summary and how to give
    it more, and returns the exit code; None when the experiment is not DONE."""
    from hyperloom.history import open_experiment

    with open_experiment(experiment) as view:
        if view.status != "DONE":
            return None
        summary = RunSummary.from_view(view)  # top N and counts: no curves, no full read
        message = view.reader.experiment().get("message") or None
        used = _budget_text(view)
        trials = view.budget()["trials"]
        timed_out = bool(message) and "maxExperimentDuration" in str(message)
        exhausted = trials is not None and trials[0] < trials[1] and not timed_out
        exp_id, exp_dir, mode = view.id, view.dir, view.mode
    code = print_outcome(
        exp_id=exp_id,
        exp_dir=exp_dir,
        status="DONE",
        message=message,
        summary=summary,
        mode=mode,
    )
    if exhausted:
        console.print(
            f"experiment {exp_id} ended before its trial budget was used: its tuner had nothing "
            "more to suggest (e.g. a grid it has covered), so more trials may start none.",
            soft_wrap=True,
            highlight=False,
        )
    console.print(
        f"experiment {exp_id} is DONE{f' ({used})' if used else ''}: there is nothing to resume. "
        "Give it more budget to run on:\n"
        f"  hyperloom resume {exp_id} --more N          N more trials\n"
        f"  hyperloom resume {exp_id} --max-trials N    a new total\n"
        f"  hyperloom resume {exp_id} --max-duration 2h a new time limit (the total over all runs)",
        soft_wrap=True,
        highlight=False,
    )
    return code


@app.command(epilog=_EXIT_CODES)
def resume(
    experiment: str = typer.Argument(..., help="Experiment id or directory.", metavar="ID"),
    max_trials: int | None = typer.Option(
        None,
        "--max-trials",
        "-n",
        help="A new trial budget (maxTrialNumber): the total, the trials already ended included.",
        show_default=False,
        metavar="N",
    ),
    more: int | None = typer.Option(
        None,
        "--more",
        help="Run N trials more than have already used the budget.",
        show_default=False,
        metavar="N",
    ),
    max_duration: str | None = typer.Option(
        None,
        "--max-duration",
        help="A new time limit (maxExperimentDuration), the total over every run: 90s, 30m, 2h.",
        show_default=False,
        metavar="DURATION",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print only the first line and the summary."
    ),
    no_dashboard: bool = typer.Option(
        False, "--no-dashboard", help="Do not serve the web dashboard."
    ),
) -> None:
    """Continue a stopped or crashed experiment, or give a finished one more budget.

    Ended trials are kept and count against the budget, the tuner is rebuilt from them, sequence
    numbers continue, and trials that are still running (after a crash) are re-attached. A DONE
    experiment runs on only with more budget: --more N, --max-trials N or --max-duration; the new
    budget is stored in the experiment.
    """
    from hyperloom.experiment import Experiment

    if max_trials is None and more is None and max_duration is None:
        code = _done_without_budget(experiment)
        if code is not None:
            if code:
                raise typer.Exit(code)
            return
    exp = Experiment.resume(
        experiment, max_trials=max_trials, more_trials=more, max_duration=max_duration
    )
    _run_experiment(exp, quiet=quiet, dashboard=False if no_dashboard else None)


@app.command()
def stop(
    experiment: str = typer.Argument(..., help="Experiment id or directory.", metavar="ID"),
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
        + (f"; ended {plural(ended, 'stray trial process tree')}" if ended else "")
        + (
            f"; ended {plural(res.remote_ended, 'trial')} through its executor"
            if res.remote_ended
            else ""
        )
    )
