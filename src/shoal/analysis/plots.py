"""Plotly figures of a study: ``study.plot.history()``, ``study.plot.contour()``, ...

Every function takes a ``Study`` (or a ``StudyData`` read from storage) and returns a
``plotly.graph_objects.Figure`` (JSON-serializable, so a dashboard can send it as it is). Dimensions
are drawn on their unit-cube coordinate with ticks labelled in values, so a log-scale learning rate
is spaced by decades and a choice by its values; an inactive conditional dimension sits at -0.1,
labelled "inactive". A plot with nothing to show (no reports, no rounds) says so in the figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..direction import MAXIMIZE, MINIMIZE
from ..direction import sign as direction_sign
from ..objectives import Objectives
from ..space import Choice, Dimension
from ..trial import Trial, TrialState
from ._data import StudyData, as_study_data, completed, tunable, unit_matrix

__all__ = ["PLOTS", "StudyPlots", "plots_for"] + [
    "history", "importance_bars", "parallel_coordinates", "slices", "contour", "intermediate",
    "lineage", "rounds",
]

_INACTIVE_AT = -0.1
_INFEASIBLE = "#7f7f7f"
_STATE_COLORS = {
    TrialState.COMPLETE: "#1f77b4",
    TrialState.PRUNED: "#d62728",
    TrialState.FAILED: "#7f7f7f",
    TrialState.RUNNING: "#2ca02c",
    TrialState.PAUSED: "#9467bd",
}


def _go():
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise ImportError("shoal plots need plotly: pip install 'shoal[plot]'") from None
    return go


def _figure(title: str, **layout: Any):
    go = _go()
    fig = go.Figure()
    fig.update_layout(title=title, template="plotly_white", **layout)
    return fig


def _empty(title: str, message: str):
    fig = _figure(title)
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _ticks(dim: Dimension) -> tuple[list[float], list[str]]:
    """Where to put ticks on a unit axis, and their labels in the dimension's values."""
    if isinstance(dim, Choice):
        n = len(dim.values)
        return [(i + 0.5) / n for i in range(n)], [str(v) for v in dim.values]
    us = [0.0, 0.25, 0.5, 0.75, 1.0]
    return us, [_format(dim.from_unit(u)) for u in us]


def _unit_axis(dim: Dimension, inactive: bool = False) -> dict[str, Any]:
    vals, text = _ticks(dim)
    if inactive:
        vals, text = [_INACTIVE_AT, *vals], ["inactive", *text]
    low = _INACTIVE_AT - 0.05 if inactive else -0.03
    return {"tickvals": vals, "ticktext": text, "range": [low, 1.03], "title": dim.name}


def _shown(x: np.ndarray) -> np.ndarray:
    return np.where(x < 0, _INACTIVE_AT, x)


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
    fig.update_layout(title="Slices (colour: trial number)", template="plotly_white",
                      height=max(320, 260 * rows))
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
    fig = _figure(f"Contour: {x} x {y} (surrogate partial dependence)")
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


def intermediate(study: Any):
    """Learning curves: every trial's reported values by step; pruned trials in red, ending in x."""
    data = as_study_data(study)
    reporting = [t for t in data.trials if t.reports]
    if not reporting:
        return _empty("Intermediate values", "no trial reported intermediate values")
    go = _go()
    fig = _figure("Intermediate values (pruned trials in red)", xaxis_title="step", yaxis_title="value")
    seen: set[TrialState] = set()
    for t in sorted(reporting, key=lambda t: t.number):
        steps, values = zip(*t.reports, strict=True)
        color = _STATE_COLORS.get(t.state, "#7f7f7f")
        pruned = t.state == TrialState.PRUNED
        fig.add_trace(go.Scatter(
            x=steps, y=values, mode="lines", name=t.state.value.lower(), legendgroup=t.state.value,
            showlegend=t.state not in seen,
            line={"color": color, "width": 1.5, "dash": "dot" if pruned else "solid"},
            opacity=0.8, hovertext=f"trial {t.number} ({t.state.value.lower()})", hoverinfo="text+x+y",
        ))
        seen.add(t.state)
        if pruned:
            fig.add_trace(go.Scatter(x=[steps[-1]], y=[values[-1]], mode="markers", showlegend=False,
                                     legendgroup=t.state.value, hoverinfo="skip",
                                     marker={"symbol": "x", "size": 9, "color": color}))
    return fig


def _edges(data: StudyData) -> list[tuple[int, int, str]]:
    """(from, to, kind) for every trial that descends from another: a PBT segment from the one it
    continues ("continue") or from the better member it copied ("exploit"), a re-run from the trial
    whose configuration it repeats ("re-run")."""
    known = {t.number for t in data.trials}
    edges = []
    for record in data.lineage:
        if record.parent is not None and record.parent in known and record.trial_number in known:
            kind = "exploit" if record.donor is not None else "continue"
            edges.append((record.parent, record.trial_number, kind))
    edges += [(t.requeued_from, t.number, "re-run") for t in data.trials if t.requeued_from in known]
    return edges


def lineage(study: Any):
    """Lineage: each trial at (trial number, value), joined to the trial it came from (PBT
    segments and exploits from storage's lineage records, and re-runs)."""
    data = as_study_data(study)
    by_number = {t.number: t for t in data.trials}
    edges = _edges(data)
    if not edges:
        return _empty("Lineage", "no lineage recorded: no trial descends from another "
                      "(population-based training and re-runs draw it)")
    go = _go()
    members = {r.trial_number: r for r in data.lineage}

    def level(t: Trial) -> float | None:
        if t.value is not None:
            return t.value
        return t.reports[-1][1] if t.reports else None

    fig = _figure("Lineage (each trial joined to the trial it came from)", xaxis_title="trial",
                  yaxis_title="value (last report when unfinished)")
    styles = {"exploit": ("solid", "#d62728"), "continue": ("solid", "#999999"), "re-run": ("dot", "#999999")}
    for how, (dash, color) in styles.items():
        xs: list[Any] = []
        ys: list[Any] = []
        for parent, child, kind in edges:
            if kind == how:
                xs += [parent, child, None]
                ys += [level(by_number[parent]), level(by_number[child]), None]
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=how, line={"dash": dash, "color": color},
                                     connectgaps=False))

    def label(t: Trial) -> str:
        r = members.get(t.number)
        where = "" if r is None else f", member {r.member} segment {r.segment}"
        return f"trial {t.number} ({t.state.value.lower()}{where})"

    nodes = [t for t in data.trials if level(t) is not None]
    fig.add_trace(go.Scatter(
        x=[t.number for t in nodes], y=[level(t) for t in nodes], mode="markers", name="trials",
        marker={"color": [_STATE_COLORS.get(t.state, "#7f7f7f") for t in nodes], "size": 8},
        hovertext=[label(t) for t in nodes], hoverinfo="text",
    ))
    return fig


def _round_boxes(data: StudyData, names: Sequence[str]) -> tuple[dict[int, list[tuple[float, float]]], str]:
    """Per round, (low, high) of every dimension on the unit scale: the box the coarse-to-fine sampler
    searched, as the study stored it, else the span of the round's trials."""
    rounds = sorted({t.round for t in data.trials if t.round is not None})
    if rounds and all(r in data.round_boxes for r in rounds):
        out = {r: [tuple(data.round_boxes[r].get(name, (math.nan, math.nan))) for name in names]
               for r in rounds}
        return out, "the sampler's box"
    x_all = unit_matrix(data.trials, names)
    out = {}
    for r in rounds:
        rows = x_all[[t.round == r for t in data.trials]]
        spans = []
        for j in range(len(names)):
            col = rows[:, j][rows[:, j] >= 0]
            spans.append((float(col.min()), float(col.max())) if len(col) else (math.nan, math.nan))
        out[r] = spans
    return out, "the span of the round's trials"


def rounds(study: Any):
    """Coarse-to-fine: the box each round searched, per dimension on the unit scale."""
    data = as_study_data(study)
    names = tunable(data.space)
    boxes, source = _round_boxes(data, names)
    if not boxes:
        return _empty("Coarse-to-fine rounds", "no rounds: the study did not use a coarse-to-fine sampler")
    go = _go()
    fig = _figure(f"Coarse-to-fine: the box per round ({source})", xaxis_title="unit coordinate",
                  barmode="group", height=max(320, 60 + 26 * len(names) * max(1, len(boxes)) // 2))
    labels = names[::-1]
    for r, spans in boxes.items():
        lo = [spans[names.index(n)][0] for n in labels]
        hi = [spans[names.index(n)][1] for n in labels]
        width = [max(h - lo_, 0.004) if not math.isnan(h) else 0 for lo_, h in zip(lo, hi, strict=True)]
        text = [("frozen" if h - lo_ < 1e-12 else "") for lo_, h in zip(lo, hi, strict=True)]
        fig.add_trace(go.Bar(y=labels, x=width, base=lo, orientation="h", name=f"round {r}",
                             text=text, textposition="outside",
                             hovertext=[f"round {r}: {n} in [{a:.3f}, {b:.3f}]"
                                        for n, a, b in zip(labels, lo, hi, strict=True)],
                             hoverinfo="text"))
    fig.update_xaxes(range=[0, 1.08])
    return fig


#: The plots of a report, in order: (key, title, function).
PLOTS: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("history", "Optimization history", history),
    ("importance", "Importance", importance_bars),
    ("parallel_coordinates", "Parallel coordinates", parallel_coordinates),
    ("slices", "Slices", slices),
    ("contour", "Contour of the top pair", contour),
    ("intermediate", "Intermediate values", intermediate),
    ("lineage", "Lineage", lineage),
    ("rounds", "Coarse-to-fine rounds", rounds),
)


def plots_for(study: Any) -> tuple[tuple[str, str, Callable[..., Any]], ...]:
    """The plots that fit ``study`` (a ``Study``, a ``StudyData`` or a study's ``Objectives``):
    ``PLOTS``, and for several objectives the Pareto front and the hypervolume
    (``analysis.pareto_plots.MULTI_PLOTS``) after the history."""
    goals = study if isinstance(study, Objectives) else as_study_data(study).goals
    if not goals.multi:
        return PLOTS
    from .pareto_plots import MULTI_PLOTS

    return PLOTS[:1] + MULTI_PLOTS + PLOTS[1:]


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
