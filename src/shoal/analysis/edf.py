"""Plots of one or several studies side by side: the empirical distribution of their values
(``edf``) and their best value so far (``best_so_far``), one line per study.

Both take a ``Study``, a ``StudyData`` or a list of them (the compare page passes several). The
studies must share one objective and its direction; trials that miss a constraint are left out.
"""

from __future__ import annotations

from typing import Any

from ..direction import MAXIMIZE
from ..trial import TrialState
from ._data import StudyData, as_study_data
from ._figure import empty, figure, go
from .ticks import integer_axis

__all__ = ["best_so_far", "edf", "values_of"]


def _datas(studies: Any, what: str) -> list[StudyData]:
    items = list(studies) if isinstance(studies, (list, tuple)) else [studies]
    if not items:
        raise ValueError(f"{what}: give a study or a list of studies, got an empty list")
    datas = [as_study_data(s) for s in items]
    for d in datas:
        if d.goals.multi:
            raise ValueError(f"{what}: study {d.name!r} has several objectives ({', '.join(d.goals.names)}); "
                             "it plots studies with one objective (use the Pareto front)")
    directions = {d.direction for d in datas}
    if len(directions) > 1:
        shown = ", ".join(f"{d.name!r} {d.direction}s" for d in datas)
        raise ValueError(f"{what}: the studies must share a direction, but {shown}; "
                         "compare them in two plots")
    return datas


def values_of(data: StudyData) -> list[float]:
    """The values of ``data``'s completed trials that meet the constraints, in trial order."""
    done = sorted((t for t in data.trials if t.state == TrialState.COMPLETE and t.value is not None
                   and t.feasible is not False), key=lambda t: t.number)
    return [float(t.value) for t in done]  # type: ignore[arg-type]


def edf(studies: Any):
    """The empirical distribution of each study's values: for a minimized objective the fraction of
    its trials with a value <= x, for a maximized one >= x (higher and further left is better when
    minimizing). ``studies``: a ``Study``/``StudyData`` or a list of them."""
    datas = _datas(studies, "edf")
    maximize = datas[0].direction == MAXIMIZE
    sign = "≥" if maximize else "≤"
    title = "Distribution of values" + ("" if len(datas) == 1 else f" ({len(datas)} studies)")
    if not any(values_of(d) for d in datas):
        return empty(title, "no completed trial yet")
    fig = figure(title, xaxis_title="value",
                 yaxis={"title": f"fraction of trials with value {sign} x",
                        "range": [0, 1.02], "tickformat": ".0%"})
    for d in datas:
        values = sorted(values_of(d))
        n = len(values)
        if not n:
            continue
        share = [(n - i) / n for i in range(n)] if maximize else [(i + 1) / n for i in range(n)]
        fig.add_trace(go().Scatter(
            x=values, y=share, mode="lines", name=f"{d.name} ({n})",
            line={"shape": "vh" if maximize else "hv", "width": 2},
            hovertemplate=f"{d.name}: %{{y:.0%}} of trials {sign} %{{x:.4g}}<extra></extra>"))
    return fig


def best_so_far(studies: Any):
    """Each study's best value after its k-th completed trial (trials that meet the constraints, in
    trial order), one line per study. ``studies``: a ``Study``/``StudyData`` or a list of them."""
    datas = _datas(studies, "best_so_far")
    pick = max if datas[0].direction == MAXIMIZE else min
    if not any(values_of(d) for d in datas):
        return empty("Best value so far", "no completed trial yet")
    fig = figure("Best value so far", xaxis_title="completed trials", yaxis_title="best value")
    longest = 0
    for d in datas:
        best: list[float] = []
        for v in values_of(d):
            best.append(v if not best else pick(best[-1], v))
        longest = max(longest, len(best))
        fig.add_trace(go().Scatter(x=list(range(1, len(best) + 1)), y=best, mode="lines", name=d.name,
                                   line={"shape": "hv", "width": 2}))
    fig.update_xaxes(**integer_axis([1, longest]))
    return fig

