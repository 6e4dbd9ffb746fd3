"""``hyperloom importance ID``: which parameters matter (fANOVA, see ``hyperloom.importance``)."""

from __future__ import annotations

from typing import Any

import typer
from hyperloom.cli import app
from hyperloom.cli._common import console, plural, print_json

__all__ = ["importance", "register"]

_BAR = 12


def importance(
    experiment: str = typer.Argument(..., help="Experiment id or directory.", metavar="ID"),
    objective: str = typer.Option(
        "0", "--objective", help="With several objectives: which one (name or index)."
    ),
    max_trials: int = typer.Option(
        2000, "--max-trials", help="Use the newest N finished trials.", min=2
    ),
    trees: int = typer.Option(32, "--trees", help="Trees in the forest.", min=1, max=512),
    seed: int = typer.Option(0, "--seed", help="Seed of the forest's bootstrap samples."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show how much of the final value's variance each parameter explains (fANOVA)."""
    from hyperloom.errors import UsageError
    from hyperloom.history import open_experiment
    from hyperloom.importance import experiment_importance

    with open_experiment(experiment) as view:
        names = [o.name or "value" for o in view.objectives]
        obj: int | str = int(objective) if objective.isdigit() else objective
        if isinstance(obj, str) and obj in names:
            obj = names.index(obj)
        if isinstance(obj, int) and not 0 <= obj < len(names):
            raise UsageError(
                f"--objective {obj}: the experiment has {plural(len(names), 'objective')}"
            )
        if isinstance(obj, str) and obj not in names:
            raise UsageError(f"--objective {obj!r}: not one of {names}")
        result = experiment_importance(
            view, objective=obj, max_trials=max_trials, n_trees=trees, seed=seed
        )
        exp_id = view.id
    data: dict[str, Any] = result.as_dict()
    data["experiment"] = exp_id
    data["objective"] = names[obj] if isinstance(obj, int) else obj
    if as_json:
        print_json(data)
        return
    if result.n_trials < 2 or not result.n_trees:
        console.print(f"{exp_id}: too few finished trials with a value ({result.n_trials}).")
        return
    from rich.table import Table

    t = Table(
        title=f"{exp_id}: importance of each parameter for {data['objective']} "
        f"({result.n_trials} trials, {result.n_trees} trees)",
        title_justify="left",
    )
    for col, just in (
        ("parameter", "left"),
        ("importance", "right"),
        ("", "left"),
        ("± sd", "right"),
        ("type", "left"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for p in result.params:
        bar = "█" * round(_BAR * max(0.0, min(1.0, p.importance)))
        kind = p.kind + (f" (in {p.n_active})" if p.conditional else "")
        t.add_row(p.name, f"{100 * p.importance:.1f}%", bar, f"{100 * p.std:.1f}", kind)
    console.print(t)
    r2 = result.oob_r2
    note = "out-of-bag R² " + ("n/a" if r2 is None else f"{r2:.2f}")
    if r2 is None or r2 < 0.2:
        note += " — the forest predicts unseen trials poorly: read these shares as noise"
    console.print(
        f"fANOVA: the share of the value's variance each parameter explains alone; the rest is "
        f"interactions and noise. {note}.",
        highlight=False,
    )


def register(typer_app: typer.Typer) -> None:
    """Adds ``importance`` to a Typer app."""
    typer_app.command("importance")(importance)


register(app)
