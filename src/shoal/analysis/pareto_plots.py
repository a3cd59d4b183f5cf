"""Plotly figures of a study with several objectives: ``study.plot.pareto_front()``, ``.hypervolume()``.

Offered (``plots.plots_for``, the report, the dashboard) only for studies with several objectives.
With 2 objectives the Pareto front is a scatter (the front highlighted and joined, dominated trials
lighter, infeasible ones grey with the violated constraints in their hover text); beyond 2 it is a
pair matrix of every two objectives. The hypervolume is that of the feasible trials so far, against
one fixed reference point taken from all completed trials (so it never goes down).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..objectives import Objectives
from ..stats.pareto import hypervolume as _hypervolume
from ..stats.pareto import reference_point
from ..study.results import pareto_front as _front
from ..trial import Trial, TrialState
from ._data import StudyData, as_study_data
from ._figure import empty as _empty
from ._figure import figure as _figure
from ._figure import go as _go

__all__ = ["MULTI_PLOTS", "hypervolume", "pareto_front", "pareto_matrix", "scored_trials"]

FRONT_COLOR = "#d62728"
DOMINATED_COLOR = "#1f77b4"
INFEASIBLE_COLOR = "#7f7f7f"


def _multi(data: StudyData, what: str) -> Objectives:
    goals = data.goals
    if not goals.multi:
        raise ValueError(f"{what} needs a study with several objectives; study {data.name!r} has one "
                         f"({goals.first.name}); use the history plot")
    return goals


def scored_trials(data: StudyData) -> list[tuple[Trial, dict[str, float]]]:
    """The completed trials with a value for every objective, and those values, by number."""
    names = data.goals.names
    out = []
    for t in sorted(data.trials, key=lambda t: t.number):
        values = t.values or {}
        if t.state == TrialState.COMPLETE and all(n in values for n in names):
            out.append((t, dict(values)))
    return out


def _violated(goals: Objectives, values: dict[str, float]) -> str:
    missed = [f"{text} (misses by {amount:.4g})"
              for text, amount in goals.violations(values).items() if amount > 0]
    return "violates " + ", ".join(missed) if missed else "infeasible"


def _hover(goals: Objectives, trial: Trial, values: dict[str, float], note: str) -> str:
    shown = "<br>".join(f"{n}={values[n]:.4g}" for n in goals.names)
    return f"trial {trial.number} ({note})<br>{shown}"


def _groups(data: StudyData) -> dict[str, list[tuple[Trial, dict[str, float], str]]]:
    """Trials as "front", "dominated" and "infeasible", each with its values and hover text."""
    goals = data.goals
    front = {t.number for t in _front(goals, data.trials)}
    groups: dict[str, list[tuple[Trial, dict[str, float], str]]] = {
        "front": [], "dominated": [], "infeasible": []}
    for t, values in scored_trials(data):
        if t.feasible is False:
            groups["infeasible"].append((t, values, _hover(goals, t, values, _violated(goals, values))))
        elif t.number in front:
            groups["front"].append((t, values, _hover(goals, t, values, "on the Pareto front")))
        else:
            groups["dominated"].append((t, values, _hover(goals, t, values, "dominated")))
    return groups


_STYLES = {
    "front": ("Pareto front", {"color": FRONT_COLOR, "size": 9}),
    "dominated": ("dominated", {"color": DOMINATED_COLOR, "size": 7, "opacity": 0.35}),
    "infeasible": ("infeasible", {"color": INFEASIBLE_COLOR, "size": 7, "opacity": 0.6, "symbol": "x"}),
}


def _label(goals: Objectives, name: str) -> str:
    way = next(o.direction for o in goals.objectives if o.name == name)
    return f"{name} ({way})"


def pareto_front(study: Any):
    """The trials in objective space: with 2 objectives a scatter with the front joined, beyond 2 the
    pair matrix (``pareto_matrix``)."""
    data = as_study_data(study)
    goals = _multi(data, "a Pareto-front plot")
    if len(goals.names) > 2:
        return pareto_matrix(data)
    groups = _groups(data)
    if not any(groups.values()):
        return _empty("Pareto front", "no completed trial yet")
    go = _go()
    a, b = goals.names
    fig = _figure("Pareto front", xaxis_title=_label(goals, a), yaxis_title=_label(goals, b))
    step = "hv" if _staircase_hv(goals) else "vh"
    for key in ("dominated", "infeasible", "front"):
        rows = groups[key]
        if key == "front":
            rows = sorted(rows, key=lambda r: (r[1][a], r[1][b]))
        name, marker = _STYLES[key]
        fig.add_trace(go.Scatter(
            x=[v[a] for _, v, _ in rows], y=[v[b] for _, v, _ in rows], name=name,
            mode="lines+markers" if key == "front" else "markers",
            line={"color": FRONT_COLOR, "shape": step} if key == "front" else None,
            marker=marker, customdata=[t.number for t, _, _ in rows],
            hovertext=[h for _, _, h in rows], hoverinfo="text",
        ))
    return fig


def _staircase_hv(goals: Objectives) -> bool:
    """Whether the front, sorted by its first objective, steps horizontally first (so the staircase
    bounds the region the front dominates): when that objective is minimized."""
    return goals.first.direction == "minimize"


def pareto_matrix(study: Any):
    """Every two objectives against each other (a scatter matrix); the front red, dominated trials
    lighter, infeasible ones grey."""
    data = as_study_data(study)
    goals = _multi(data, "a Pareto pair matrix")
    groups = _groups(data)
    if not any(groups.values()):
        return _empty("Pareto front (pair matrix)", "no completed trial yet")
    go = _go()
    fig = _figure("Pareto front (pair matrix)", height=max(450, 220 * len(goals.names)))
    for key in ("dominated", "infeasible", "front"):
        rows = groups[key]
        name, marker = _STYLES[key]
        fig.add_trace(go.Splom(
            dimensions=[{"label": _label(goals, n), "values": [v[n] for _, v, _ in rows]}
                        for n in goals.names],
            name=name, marker=marker, diagonal_visible=False, showupperhalf=False,
            customdata=[t.number for t, _, _ in rows], hovertext=[h for _, _, h in rows], hoverinfo="text",
        ))
    return fig


def hypervolume_history(data: StudyData) -> tuple[list[int], list[float], np.ndarray | None]:
    """(trial numbers, hypervolume after each) of the feasible trials, against the reference point of
    all completed trials' scores (lower is better on each objective); the reference point too."""
    goals = data.goals
    scored = scored_trials(data)
    if not scored:
        return [], [], None
    everyone = np.array([goals.score(v) for _, v in scored], dtype=float)
    ref = reference_point(everyone)
    numbers: list[int] = []
    volumes: list[float] = []
    front = np.empty((0, everyone.shape[1]))  # the feasible front so far: only it sets the volume
    volume = 0.0
    for (t, _), score in zip(scored, everyone, strict=True):
        if t.feasible is False:
            continue
        if not np.any(np.all(front <= score, axis=1)):  # not weakly dominated: the front changes
            front = np.vstack([front[~np.all(score <= front, axis=1)], score])
            volume = _hypervolume(front, ref)
        numbers.append(t.number)
        volumes.append(volume)
    return numbers, volumes, ref


def hypervolume(study: Any):
    """The hypervolume the feasible trials dominate, after each trial (one fixed reference point: the
    worst score of each objective over all completed trials plus a 10 % margin)."""
    data = as_study_data(study)
    goals = _multi(data, "a hypervolume plot")
    numbers, volumes, ref = hypervolume_history(data)
    if not numbers:
        return _empty("Hypervolume", "no feasible completed trial yet")
    go = _go()
    assert ref is not None
    point = ", ".join(f"{o.name}={o.score(r):.4g}" for o, r in zip(goals.objectives, ref, strict=True))
    fig = _figure("Hypervolume of the feasible trials", xaxis_title="trial", yaxis_title="hypervolume")
    fig.add_trace(go.Scatter(x=numbers, y=volumes, mode="lines+markers", name="hypervolume",
                             line={"shape": "hv", "color": FRONT_COLOR},
                             hovertext=[f"trial {n}: {v:.4g}" for n, v in zip(numbers, volumes, strict=True)],
                             hoverinfo="text"))
    fig.add_annotation(text=f"reference point: {point}", showarrow=False, x=1, y=0, xref="paper",
                       yref="paper", xanchor="right", yanchor="bottom", font={"size": 11, "color": "#666"})
    return fig


#: The plots of a study with several objectives: (key, title, function).
MULTI_PLOTS: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("pareto_front", "Pareto front", pareto_front),
    ("hypervolume", "Hypervolume", hypervolume),
)
