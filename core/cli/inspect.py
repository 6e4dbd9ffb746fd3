"""Read-only commands: ``list``, ``status``, ``trials`` and ``export``.

They read the store through :mod:`hyperloom.history`, so they work on running, stopped, crashed
and finished experiments alike, and never disturb a running manager.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import typer
from hyperloom.cli import app
from hyperloom.cli._common import console, err_console, plural, print_json
from hyperloom.errors import UsageError
from rich.panel import Panel
from rich.table import Table

__all__ = ["export", "list_cmd", "status", "trials"]

_STATUS_STYLE = {
    "SUCCEEDED": "green",
    "RUNNING": "cyan",
    "WAITING": "dim",
    "FAILED": "red",
    "EARLY_STOPPED": "yellow",
    "CANCELED": "magenta",
    "TIMEOUT": "red",
    "DONE": "green",
    "STOPPED": "yellow",
    "CREATED": "dim",
    "UNREADABLE": "red",
}


def _styled(status: str) -> str:
    style = _STATUS_STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return _dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _secs(s: float | None) -> str:
    if s is None:
        return "-"
    s = float(s)
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _params_text(params: dict[str, Any]) -> str:
    from hyperloom.history import flatten

    return ", ".join(f"{k}={_num(v)}" for k, v in flatten(params).items())


def _status_option(status: str | None) -> str | None:
    from hyperloom.types import TrialStatus

    if status is None:
        return None
    name = status.strip().upper()
    if name not in TrialStatus.__members__:
        raise UsageError(
            f"--status {status!r} is not a trial status; use one of {', '.join(TrialStatus.__members__)}"
        )
    return name


#: How many trials `hyperloom trials` shows by default (the newest).
TABLE_LIMIT = 100


def _assessor_reasons(view: Any) -> dict[str, str]:
    """The last assessor verdict reason per trial (for trials the manager gave no reason)."""
    out: dict[str, str] = {}
    for ev in view.reader.events(kind="assessor"):
        payload = ev.get("payload") or {}
        if ev.get("trial_id") and payload.get("reason"):
            step = payload.get("step")
            out[ev["trial_id"]] = f"assessor: {payload['reason']}" + (
                f" (step {step})" if step is not None else ""
            )
    return out


def _gpu_usage(view: Any) -> dict[str, str]:
    """Per trial, its sampled GPU usage as text (devices, mean utilisation, peak memory)."""
    from hyperloom.devices import describe_usage, summarize_usage

    samples = summarize_usage(view.reader.events(kind="gpu_sample"))
    return {t: describe_usage(s) for t, s in samples.items()}


def _records(
    view: Any,
    status: str | None,
    top: int | None,
    limit: int | None = None,
    *,
    curves: bool = False,
) -> tuple[list[Any], int]:
    """The trials to show and how many match in all: the ``top`` best, else the newest
    ``limit`` (None: every one) in sequence order; with their intermediates when ``curves``
    (``--json``), else without (a table shows none)."""
    if top is not None:
        if top < 1:
            raise UsageError(f"--top must be at least 1, got {top}")
        best = [t for t in view.best(n=top) if status is None or t.status.name == status]
        if curves:
            best = [view.reader.trial(t.trial_id) or t for t in best]
        return best, len(best)
    counts = view.reader.count_by_status()
    total = counts.get(status, 0) if status is not None else sum(counts.values())
    offset = 0 if limit is None else max(0, total - limit)
    recs = view.reader.trials(status=status, offset=offset, with_intermediate=curves)
    return recs, total


def _write_json_array(texts: Iterable[str], out: TextIO) -> int:
    """Writes a JSON array of JSON texts, one object per line (fast, and friendly to grep)."""
    n = 0
    out.write("[")
    buf: list[str] = []
    for text in texts:
        buf.append(("\n" if n == 0 else ",\n") + text)
        n += 1
        if len(buf) >= 512:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))
    out.write("\n]\n" if n else "]\n")
    out.flush()
    return n


def _json_texts(view: Any, status: str | None, top: int | None) -> Iterable[str]:
    """The ``trials --json`` objects as JSON text (straight from the store unless ``top``),
    each with ``pareto``: whether it is on the Pareto front (the best, with one objective)."""
    from hyperloom.cli._lineage import front_ids, with_pareto

    reasons = _assessor_reasons(view)
    front = front_ids(view)
    if top is None:
        texts: Iterable[str] = view.reader.iter_trials_json(status=status, reasons=reasons)
        return with_pareto(texts, front)
    out = []
    for rec in _records(view, status, top, curves=True)[0]:
        obj = rec.to_json()
        if obj["reason"] is None and rec.trial_id in reasons:
            obj["reason"] = reasons[rec.trial_id]
        obj["pareto"] = rec.trial_id in front
        out.append(json.dumps(obj))
    return out


@app.command("list")
def list_cmd(
    as_json: bool = typer.Option(
        False, "--json", help="Print a JSON array of {id, name, status, dir}."
    ),
) -> None:
    """List the experiments under $HYPERLOOM_HOME and those registered from other directories.

    Newest first. An experiment whose store cannot be read is shown as UNREADABLE.
    """
    from hyperloom.history import list_experiments
    from hyperloom.paths import experiments_home

    found = list_experiments()
    if as_json:
        print_json([e.to_json() for e in found])
        return
    if not found:
        console.print(f"no experiments under {experiments_home()}")
        return
    table = Table(title=f"experiments ({experiments_home()})", title_justify="left")
    for col in ("id", "name", "status", "created", "dir"):
        table.add_column(col, overflow="fold")
    for e in found:
        table.add_row(e.id, e.name, _styled(e.status), _when(e.created), e.dir)
    console.print(table)


@app.command("status")
def status(
    experiment: str = typer.Argument(..., help="Experiment id or directory.", metavar="ID"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show an experiment's status, trial counts, budget use and best trial."""
    from hyperloom.history import open_experiment

    with open_experiment(experiment) as view:
        exp_status = view.status
        counts = view.counts()
        budget = view.budget()
        best = view.best(n=1)
        alive = view.manager_alive
        if as_json:
            print_json(
                {
                    "id": view.id,
                    "name": view.name,
                    "status": exp_status,
                    "dir": str(view.dir),
                    "mode": view.mode,
                    "manager_alive": alive,
                    "counts": counts,
                    "budget": {k: None if v is None else list(v) for k, v in budget.items()},
                    "best": best[0].to_json() if best else None,
                    "objectives": [{"name": o.name, "mode": o.mode} for o in view.objectives],
                    "pareto_front": (
                        [t.to_json() for t in view.pareto_front()]
                        if len(view.objectives) > 1
                        else None
                    ),
                }
            )
            return
        lines = [f"[bold]status[/]   {_styled(exp_status)}"]
        if exp_status == "RUNNING" and not alive:
            lines[0] += (
                f"  [red](its manager is not running: it crashed or was killed; "
                f"`hyperloom resume {view.id}` continues it)[/]"
            )
        msg = view.reader.experiment().get("message")
        if msg:
            lines.append(f"[bold]message[/]  {msg}")
        chosen = view.reader.events(kind="tuner_choice")
        if chosen:  # a tuner that explains its choice (auto)
            from rich.markup import escape

            last = chosen[-1]["payload"]
            why = f": {last['reason']}" if last.get("reason") else ""
            lines.append(f"[bold]tuner[/]    {escape(str(last.get('choice')))}{escape(why)}")
        total = sum(counts.values())
        parts = [f"{_styled(k)} {v}" for k, v in counts.items() if v]
        lines.append(f"[bold]trials[/]   {total}" + (f"  ({', '.join(parts)})" if parts else ""))
        if budget["trials"] is not None:
            used, cap = budget["trials"]
            lines.append(f"[bold]budget[/]   trials {used}/{cap}")
        if budget["duration"] is not None:
            used_s, cap_s = budget["duration"]
            lines.append(f"[bold]time[/]     {_secs(used_s)} of {_secs(cap_s)}")
        objs = view.objectives
        if len(objs) > 1:
            front = view.pareto_front()
            names = ", ".join(f"{o.name} ({o.mode[:3]})" for o in objs)
            lines.append(f"[bold]pareto[/]   {plural(len(front), 'trial')} on the front of {names}")
            for t in front[:5]:
                vals = ", ".join(_num(v) for v in (t.values or ())[: len(objs)])
                lines.append(f"           #{t.sequence} {t.trial_id}: {vals}")
            if len(front) > 5:
                lines.append(f"           ... `hyperloom trials {view.id} --pareto` lists all")
        elif best:
            b = best[0]
            lines.append(
                f"[bold]best[/]     {_num(b.value)} ({view.mode}) — trial #{b.sequence} "
                f"{b.trial_id}: {_params_text(b.params)}"
            )
        else:
            lines.append("[bold]best[/]     - (no trial has a final value yet)")
            lines += _failure_lines(view)
        lines.append(f"[bold]dir[/]      {view.dir}")
        console.print(Panel("\n".join(lines), title=f"{view.name} ({view.id})", expand=False))


def _failure_lines(view: Any) -> list[str]:
    """The most common failure and its fix, for an experiment where no trial succeeded."""
    from hyperloom.cli._diagnose import summarize_failures
    from rich.markup import escape

    failed = view.trials(status=["FAILED", "TIMEOUT"])
    got = summarize_failures(failed, view.dir)
    if got is None:
        return []
    out = [f"[bold]failed[/]   {got.count} of {got.failed}: {escape(got.reason)}"]
    if got.fix:
        out.append(f"[bold]fix[/]      {escape(got.fix)}")
    return out


@app.command("trials")
def trials(
    experiment: str = typer.Argument(..., help="Experiment id or directory.", metavar="ID"),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print a JSON array with one object per trial: trial_id, sequence, status, params, "
        "value, metrics, intermediate, started, ended (plus duration, exit_code, reason, devices).",
    ),
    status_filter: str = typer.Option(
        None, "--status", help="Only trials in this status (SUCCEEDED, FAILED, EARLY_STOPPED, ...)."
    ),
    top: int = typer.Option(
        None, "--top", help="Only the N best trials by final value (per the experiment's mode)."
    ),
    pareto: bool = typer.Option(
        False, "--pareto", help="Only the trials on the Pareto front (several objectives)."
    ),
    tree: bool = typer.Option(
        False,
        "--tree",
        help="Print the family tree: each warm-started trial (PBT) under the trial it started "
        "from, with the perturbation it got.",
    ),
    limit: int = typer.Option(
        TABLE_LIMIT,
        "--limit",
        help="The table shows at most the last N trials (the newest); --all shows every one. "
        "--json, --top and --pareto are not limited.",
        metavar="N",
    ),
    show_all: bool = typer.Option(False, "--all", help="The table shows every trial."),
) -> None:
    """Show an experiment's trials: sequence, id, status, value(s), params, duration and reason.

    The table shows the newest trials (--limit, default 100; --all for every one). With several
    objectives the value column lists them in order and a star marks the trials on the Pareto
    front; --json gives values and pareto for every trial.
    """
    from hyperloom.cli._lineage import front_ids, lineage_tree, values_text
    from hyperloom.history import open_experiment

    name = _status_option(status_filter)
    with open_experiment(experiment) as view:
        if tree:
            console.print(lineage_tree(view, f"{view.name} ({view.id})"))
            return
        if as_json and not pareto:
            _write_json_array(_json_texts(view, name, top), sys.stdout)
            return
        front = front_ids(view)
        if limit < 1:
            raise UsageError(f"--limit must be at least 1, got {limit}")
        cap = None if (show_all or as_json or pareto or top is not None) else limit
        records, total = _records(view, name, top, cap, curves=as_json)
        if pareto:
            records = [r for r in records if r.trial_id in front]
        if as_json:
            _write_json_array(
                (json.dumps({**r.to_json(), "pareto": True}) for r in records), sys.stdout
            )
            return
        n_obj = len(view.objectives)
        reasons = _assessor_reasons(view)
        gpu = _gpu_usage(view)
        title = f"{view.name} ({view.id}): {plural(total, 'trial')}"
        if top is not None:
            title += f", best {top} ({view.mode})"
        if n_obj > 1:
            title += " — values: " + ", ".join(f"{o.name} ({o.mode[:3]})" for o in view.objectives)
            title += "; * on the Pareto front"
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("id")
    table.add_column("status")
    table.add_column("value", justify="right")
    table.add_column("params", overflow="fold")
    table.add_column("duration", justify="right")
    if gpu:
        table.add_column("gpu")
    table.add_column("reason", overflow="fold")
    for t in records:
        mark = " *" if n_obj > 1 and t.trial_id in front else ""
        table.add_row(
            str(t.sequence),
            t.trial_id,
            _styled(t.status.name),
            values_text(t, n_obj, _num) + mark,
            _params_text(t.params),
            _secs(t.duration),
            *([gpu.get(t.trial_id, "")] if gpu else []),
            t.reason or reasons.get(t.trial_id, ""),
        )
    console.print(table)
    if len(records) < total and top is None and not pareto:
        console.print(
            f"[dim]the newest {len(records)} of {total} trials; --all shows every one, --top N "
            f"the best, --json all of them for scripts[/]",
            soft_wrap=True,
        )


@app.command("export")
def export(
    experiment: str = typer.Argument(..., help="Experiment id or directory.", metavar="ID"),
    fmt: str = typer.Option(
        "csv", "--format", "-f", help="csv (a column per parameter and metric) or json."
    ),
    output: Path = typer.Option(
        None, "--output", "-o", help="Write to this file instead of standard output."
    ),
) -> None:
    """Export every trial of an experiment, running, stopped or finished.

    CSV has one row per trial with fixed columns (sequence, trial_id, status, value, started,
    ended, duration, exit_code, reason, n_intermediate), then a 'param/<name>' column per
    parameter (nested choices flattened, e.g. 'param/layer/_name') and a 'metric/<name>'
    column per final metric. JSON is the same array as 'hyperloom trials --json'.
    """
    from hyperloom.history import open_experiment, trial_rows

    fmt = fmt.lower()
    if fmt not in ("csv", "json"):
        raise UsageError(f"--format must be csv or json, got {fmt!r}")
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"cannot write {str(output)!r}: its directory does not exist")
    with open_experiment(experiment) as view:
        if fmt == "json":
            if output is None:
                n = _write_json_array(_json_texts(view, None, None), sys.stdout)
            else:
                with output.open("w", encoding="utf-8") as f:
                    n = _write_json_array(_json_texts(view, None, None), f)
        else:
            records = view.trials()
            reasons = _assessor_reasons(view)
            rows = trial_rows(records, view.objectives)
            for row, rec in zip(rows, records, strict=True):
                if row["reason"] is None:
                    row["reason"] = reasons.get(rec.trial_id)
            text = _csv_text(rows)
            n = len(records)
            if output is None:
                sys.stdout.write(text)
                sys.stdout.flush()
            else:
                output.write_text(text, encoding="utf-8")
    if output is not None:
        err_console.print(f"wrote {plural(n, 'trial')} to {output}")


def _csv_text(rows: list[dict[str, Any]]) -> str:
    from hyperloom.history import FIXED_COLUMNS

    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=list(rows[0]) if rows else list(FIXED_COLUMNS), lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: "" if v is None else json.dumps(v) if isinstance(v, list | dict | bool) else v
                for k, v in row.items()
            }
        )
    return buf.getvalue()
