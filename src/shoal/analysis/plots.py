"""Plotly figures of a study: ``study.plot.history()``, ``study.plot.contour()``, ...

Every function takes a ``Study`` (or a ``StudyData`` read from storage) and returns a
``plotly.graph_objects.Figure`` (JSON-serializable, so a dashboard can send it as it is). Dimensions
are drawn on their unit-cube coordinate with ticks labelled in values, so a log-scale learning rate
is spaced by decades and a choice by its values; an inactive conditional dimension sits at -0.1,
labelled "inactive". A plot with nothing to show (no reports, no rounds) says so in the figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..direction import MAXIMIZE, MINIMIZE
from ..direction import sign as direction_sign
from ..objectives import Objectives
from ..trial import TrialState
from ._data import StudyData, as_study_data, completed, tunable, unit_matrix
from ._figure import FONT
from ._figure import INFEASIBLE as _INFEASIBLE
from ._figure import STATE_COLORS as _STATE_COLORS
from ._figure import empty as _empty
from ._figure import figure as _figure
from ._figure import fmt as _format
from ._figure import go as _go
from ._figure import shown as _shown
from ._figure import unit_axis as _unit_axis
from .curves import intermediate
from .edf import edf
from .lineage_plots import has_lineage, has_rounds, lineage, rounds
from .ticks import integer_axis
from .timeline import timeline

__all__ = ["PLOTS", "StudyPlots", "left_out", "missing", "plots_for"] + [
    "history", "importance_bars", "parallel_coordinates", "slices", "contour", "intermediate",
    "lineage", "rounds", "timeline", "edf",
]


#: The contour's height in pixels: a near-square plot on a page or report about 1000 px wide.
CONTOUR_HEIGHT = 600


def _sign(data: StudyData) -> float:
    return direction_sign(data.direction)


# -- the plots ---------------------------------------------------------------------------------
def history(study: Any):
    """Optimization history: every completed trial's value and the best value so far (with
    constraints, infeasible trials grey and left out of the best)."""
    data = as_study_data(study)
    done = completed(data.trials)
    if not done:
        return _empty("Optimization history", "no completed trial yet")
    go = _go()
    pick = max if data.direction == MAXIMIZE else min
    numbers, best, current = [], [], None
    for t in done:
        if t.feasible is not False:
            current = t.value if current is None else pick(current, t.value)
        numbers.append(t.number)
        best.append(None if current is None else float(current))
    fig = _figure("Optimization history", xaxis_title="trial", yaxis_title="value")
    feasible = [t for t in done if t.feasible is not False]
    fig.add_trace(go.Scatter(x=[t.number for t in feasible], y=[t.value for t in feasible], mode="markers",
                             name="trial value",
                             marker={"color": _STATE_COLORS[TrialState.COMPLETE], "opacity": 0.6}))
    infeasible = [t for t in done if t.feasible is False]
    if infeasible:
        goals = data.goals
        fig.add_trace(go.Scatter(
            x=[t.number for t in infeasible], y=[t.value for t in infeasible], mode="markers",
            name="infeasible", marker={"color": _INFEASIBLE, "opacity": 0.6, "symbol": "x"},
            hovertext=[f"trial {t.number}: {t.value:.4g}<br>violates " + ", ".join(
                text for text, amount in goals.violations(t.values).items() if amount > 0)
                for t in infeasible], hoverinfo="text"))
    fig.add_trace(go.Scatter(x=numbers, y=best, mode="lines", name="best so far",
                             line={"shape": "hv", "color": "#ff7f0e", "width": 2}))
    fig.update_xaxes(**integer_axis(numbers))
    return fig


def importance_bars(study: Any, *, method: str = "permutation"):
    """Importance of each dimension as horizontal bars, most important on top."""
    from .importance import MIN_TRIALS, importance

    data = as_study_data(study)
    if len(completed(data.trials)) < MIN_TRIALS:
        return _empty("Importance", f"importance needs at least {MIN_TRIALS} completed trials")
    result = importance(data, method=method)
    go = _go()
    names = result.ranking[::-1]
    fig = _figure(f"Importance ({result.method}, {result.n_trials} trials)",
                  xaxis_title="share", xaxis_tickformat=".0%", height=max(300, 40 + 28 * len(names)))
    fig.add_trace(go.Bar(x=[result[n] for n in names], y=names, orientation="h",
                         marker_color="#1f77b4", text=[f"{result[n]:.1%}" for n in names],
                         textposition="outside"))
    return fig


def parallel_coordinates(study: Any):
    """Parallel coordinates: one axis per dimension (unit scale, value ticks) and the objective."""
    data = as_study_data(study)
    done = completed(data.trials)
    if not done:
        return _empty("Parallel coordinates", "no completed trial yet")
    go = _go()
    names = tunable(data.space)
    x = unit_matrix(done, names)
    values = [t.value for t in done]
    axes = []
    for j, name in enumerate(names):
        inactive = bool((x[:, j] < 0).any())
        axis = _unit_axis(data.space[name], inactive)
        axes.append({"label": name, "values": _shown(x[:, j]), "range": axis["range"],
                     "tickvals": axis["tickvals"], "ticktext": axis["ticktext"]})
    axes.append({"label": "value", "values": values})
    fig = _figure("Parallel coordinates")
    fig.add_trace(go.Parcoords(
        dimensions=axes,
        line={"color": values, "colorscale": "Viridis", "showscale": True,
              "reversescale": data.direction == MINIMIZE},
    ))
    return fig


def slices(study: Any, *, columns: int = 3):
    """One panel per dimension: the value of every completed trial against that dimension."""
    data = as_study_data(study)
    done = completed(data.trials)
    if not done:
        return _empty("Slices", "no completed trial yet")
    go = _go()
    from plotly.subplots import make_subplots

    names = tunable(data.space)
    x = unit_matrix(done, names)
    values = [t.value for t in done]
    cols = max(1, min(columns, len(names)))
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, horizontal_spacing=0.06,
                        vertical_spacing=0.5 / max(rows, 1))
    for j, name in enumerate(names):
        row, col = j // cols + 1, j % cols + 1
        hover = [f"trial {t.number}<br>{name}={_format(t.config.get(name, 'inactive'))}<br>value={v:.4g}"
                 for t, v in zip(done, values, strict=True)]
        fig.add_trace(go.Scatter(x=_shown(x[:, j]), y=values, mode="markers", showlegend=False,
                                 hovertext=hover, hoverinfo="text",
                                 marker={"color": [t.number for t in done], "colorscale": "Blues",
                                         "size": 6, "opacity": 0.8}), row=row, col=col)
        axis = _unit_axis(data.space[name], bool((x[:, j] < 0).any()))
        axis.pop("title")
        fig.update_xaxes(row=row, col=col, **axis)
    fig.update_layout(title={"text": "Slices (colour: trial number)", "font": {"size": 15}},
                      template="plotly_white", font=FONT, height=max(320, 260 * rows))
    return fig


def contour(study: Any, x: str | None = None, y: str | None = None, *, resolution: int = 40):
    """The objective over the two most important dimensions (or ``x`` and ``y``): a random-forest
    surrogate's partial dependence, with the trials on top."""
    from .importance import MIN_TRIALS, importance, surrogate

    data = as_study_data(study)
    done = [t for t in completed(data.trials) if t.excluded_from_models is None]  # as importance does
    names = tunable(data.space)
    if len(done) < MIN_TRIALS or len(names) < 2:
        return _empty("Contour", f"a contour needs 2 dimensions and {MIN_TRIALS} completed trials")
    for given in (x, y):
        if given is not None and given not in names:
            raise ValueError(f"contour: {given!r} is not a dimension of the study; pick from {names}")
    if x is None or y is None:
        ranking = [n for n in importance(data).ranking if n not in (x, y)]
        x, y = x or ranking[0], y or ranking[1 if x is None else 0]
        if x == y:
            y = ranking[1]
    forest, units = surrogate(data.space, done, names)
    i, j = names.index(x), names.index(y)
    grid = np.linspace(0.0, 1.0, resolution)
    background = units[np.random.default_rng(0).permutation(len(units))[:48]]
    z = np.empty((resolution, resolution))
    for a, v in enumerate(grid):  # rows: y
        rows = np.repeat(background[None], resolution, axis=0).reshape(-1, units.shape[1])
        rows[:, j] = v
        rows[:, i] = np.repeat(grid, len(background))
        z[a] = forest.predict(rows).reshape(resolution, len(background)).mean(axis=1)
    go = _go()
    fig = _figure(f"Contour: {x} x {y} (surrogate partial dependence)", height=CONTOUR_HEIGHT)
    fig.add_trace(go.Contour(x=grid, y=grid, z=z, colorscale="Viridis", ncontours=20,
                             reversescale=data.direction == MINIMIZE, colorbar={"title": "value"}))
    both = (units[:, i] >= 0) & (units[:, j] >= 0)
    fig.add_trace(go.Scatter(x=units[both, i], y=units[both, j], mode="markers", name="trials",
                             marker={"color": "white", "line": {"color": "black", "width": 1}, "size": 7},
                             hovertext=[f"trial {t.number}: {t.value:.4g}"
                                        for t, keep in zip(done, both, strict=True) if keep]))
    fig.update_xaxes(**_unit_axis(data.space[x]))
    fig.update_yaxes(**_unit_axis(data.space[y]))
    return fig


#: Every plot, in the order of a report: (key, title, function). ``plots_for`` picks those a study
#: has data for.
PLOTS: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("history", "Optimization history", history),
    ("importance", "Importance", importance_bars),
    ("parallel_coordinates", "Parallel coordinates", parallel_coordinates),
    ("slices", "Slices", slices),
    ("contour", "Contour of the top pair", contour),
    ("edf", "Distribution of values (EDF)", edf),
    ("intermediate", "Intermediate values", intermediate),
    ("timeline", "Timeline", timeline),
    ("lineage", "Lineage", lineage),
    ("rounds", "Coarse-to-fine rounds", rounds),
)


@dataclass(frozen=True)
class _Facts:
    """What decides which plots a study has data for, read once per study (not once per plot)."""

    done: int
    modelled: int  # counted up to MIN_TRIALS only: no plot needs more
    reported: bool
    started: bool


def _facts(data: StudyData) -> _Facts:
    from ..stats.importance import MIN_TRIALS

    done = completed(data.trials)
    modelled = 0
    for t in done:
        if modelled >= MIN_TRIALS:
            break
        modelled += t.excluded_from_models is None
    return _Facts(len(done), modelled, any(t.reports for t in data.trials),
                  any(t.started_at for t in data.trials))


def missing(key: str, data: StudyData, facts: _Facts | None = None) -> str | None:
    """Why plot ``key`` has nothing to show for ``data`` yet, or None when it has (``facts``: the
    study's ``_facts``, when the caller asks about several plots)."""
    from ..stats.importance import MIN_TRIALS

    f = facts or _facts(data)
    if key in ("history", "parallel_coordinates", "slices", "edf") and not f.done:
        return "no completed trial yet"
    if key == "edf" and data.goals.multi:
        return "the distribution of one objective; this study has several (see the Pareto front)"
    if key in ("importance", "contour") and f.modelled < MIN_TRIALS:
        return f"needs at least {MIN_TRIALS} completed trials, has {f.modelled}"
    if key == "contour" and len(tunable(data.space)) < 2:
        return "needs at least 2 dimensions"
    if key in ("pareto_front", "hypervolume") and not f.done:
        return "no completed trial yet"
    if key == "intermediate":
        return None if f.reported else "no trial reported intermediate values"
    if key == "timeline":
        return None if f.started else "no trial started yet"
    if key == "lineage":
        return None if has_lineage(data) else "no trial descends from another"
    if key == "rounds":
        return None if has_rounds(data) else "the study did not use a coarse-to-fine sampler"
    return None


def _kinds(goals: Objectives) -> tuple[tuple[str, str, Callable[..., Any]], ...]:
    if not goals.multi:
        return PLOTS
    from .pareto_plots import MULTI_PLOTS

    return PLOTS[:1] + MULTI_PLOTS + PLOTS[1:]


def plots_for(study: Any) -> tuple[tuple[str, str, Callable[..., Any]], ...]:
    """The plots ``study`` has data for (a ``Study`` or a ``StudyData``; ``missing`` says why one is
    left out), in ``PLOTS`` order; with several objectives the Pareto front and the hypervolume
    (``analysis.pareto_plots.MULTI_PLOTS``) come after the history. Given a study's ``Objectives``
    alone (no trials), every plot that fits its objectives."""
    if isinstance(study, Objectives):
        return tuple(p for p in _kinds(study) if not (p[0] == "edf" and study.multi))
    data = as_study_data(study)
    facts = _facts(data)
    return tuple(p for p in _kinds(data.goals) if missing(p[0], data, facts) is None)


def left_out(study: Any) -> list[tuple[str, str]]:
    """``(title, why)`` of each plot that fits the study's objectives but has no data yet."""
    data = as_study_data(study)
    facts = _facts(data)
    return [(title, why) for key, title, _ in _kinds(data.goals)
            if (why := missing(key, data, facts)) is not None and not (key == "edf" and data.goals.multi)]


class StudyPlots:
    """``study.plot``: each method returns a plotly figure of the study (shown inline in notebooks)."""

    def __init__(self, study: Any) -> None:
        self._study = study

    def history(self):
        return history(self._study)

    def importance(self, method: str = "permutation"):
        return importance_bars(self._study, method=method)

    def parallel_coordinates(self):
        return parallel_coordinates(self._study)

    def slices(self, columns: int = 3):
        return slices(self._study, columns=columns)

    def contour(self, x: str | None = None, y: str | None = None):
        return contour(self._study, x, y)

    def intermediate(self):
        return intermediate(self._study)

    def lineage(self):
        return lineage(self._study)

    def rounds(self):
        return rounds(self._study)

    def timeline(self):
        return timeline(self._study)

    def edf(self):
        return edf(self._study)

    def pareto_front(self):
        """Several objectives only: the trials in objective space, the front highlighted."""
        from .pareto_plots import pareto_front

        return pareto_front(self._study)

    def hypervolume(self):
        """Several objectives only: the feasible trials' hypervolume after each trial."""
        from .pareto_plots import hypervolume

        return hypervolume(self._study)

    def __dir__(self) -> list[str]:
        return [key for key, _, _ in plots_for(self._study)]

    def __repr__(self) -> str:
        keys = ", ".join(k for k, _, _ in plots_for(self._study))
        return f"<plots of {getattr(self._study, 'name', '?')}: {keys}>"
