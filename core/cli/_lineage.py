"""Multi-objective and lineage views for ``hyperloom trials`` and ``status``: the Pareto flag of
each trial, values as text, and the family tree of warm-started (PBT) trials."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from rich.tree import Tree

__all__ = ["front_ids", "lineage_tree", "values_text", "with_pareto"]


def front_ids(view: Any) -> set[str]:
    """The ids of the trials on the experiment's Pareto front (the best, with one objective)."""
    if len(view.objectives) <= 1:
        return {t.trial_id for t in view.best(n=1)}  # one ORDER BY ... LIMIT 1 query
    return {t.trial_id for t in view.pareto_front()}


_ID_KEY = '{"trial_id": '
_DECODER = json.JSONDecoder()


def _trial_id(text: str) -> Any:
    """The ``trial_id`` of a ``trials --json`` object: only its leading string is parsed when
    the text starts with it (as ``iter_trials_json`` writes it), not its curves."""
    if text.startswith(_ID_KEY):
        return _DECODER.raw_decode(text, len(_ID_KEY))[0]
    return json.loads(text)["trial_id"]


def with_pareto(texts: Iterable[str], front: set[str]) -> Iterator[str]:
    """``trials --json`` objects with a ``pareto`` key added (true for trials on the front)."""
    for text in texts:
        obj_end = text.rstrip()
        if not obj_end.endswith("}"):
            yield text
            continue
        trial_id = _trial_id(text) if front else None
        flag = "true" if trial_id in front else "false"
        yield obj_end[:-1] + f', "pareto": {flag}}}'


def values_text(rec: Any, n_objectives: int, fmt: Any) -> str:
    """A trial's value, or its values with several objectives, for tables."""
    if n_objectives <= 1 or rec.values is None:
        return str(fmt(rec.value))
    return ", ".join(str(fmt(v)) for v in rec.values[:n_objectives])


def lineage_tree(view: Any, title: str) -> Tree:
    """The family tree of an experiment's trials: each warm-started trial under its parent,
    with the perturbation it got and its value."""
    recs = view.trials()
    kids: dict[str | None, list[Any]] = {}
    ids = {r.trial_id for r in recs}
    for r in recs:
        parent = r.parent if r.parent in ids else None
        kids.setdefault(parent, []).append(r)
    tree = Tree(title)

    def label(r: Any) -> str:
        value = "-" if r.value is None else f"{r.value:.6g}"
        text = f"{r.trial_id} [dim]#{r.sequence}[/] {r.status.name} value={value}"
        if r.perturbation:
            text += f" [cyan]{_perturbation(r.perturbation)}[/]"
        if r.checkpoint and r.checkpoint.get("step") is not None:
            text += f" [dim](checkpoint at step {r.checkpoint['step']})[/]"
        return text

    def add(node: Tree, parent: str | None, depth: int) -> None:
        for r in kids.get(parent, []):
            child = node.add(label(r))
            if depth < 200:  # a lineage deeper than this is printed flat
                add(child, r.trial_id, depth + 1)

    add(tree, None, 0)
    return tree


def _perturbation(p: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in p.items())
