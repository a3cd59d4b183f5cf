"""Several studies of one space side by side: ``shoal compare A B`` and the dashboard's compare page.

``check_comparable`` refuses studies that cannot be compared (different dimension names or kinds,
different directions, several objectives, fewer than 2 or more than ``MAX_STUDIES``) with a message
that says what differs. The figures (plotly, ``pip install 'shoal[plot]'``) overlay one trace per
study: the best value so far by trials run, the empirical distribution of the completed values,
and each study's hyperparameter importance as grouped bars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..direction import MAXIMIZE
from ..trial import Trial
from ._data import StudyData, completed

__all__ = [
    "MAX_STUDIES", "MIN_STUDIES", "best_at", "best_so_far", "best_trial", "check_comparable", "edf",
    "importance_bars",
]

MIN_STUDIES = 2
MAX_STUDIES = 5
#: One colour per study (plotly's first five), the same in every figure.
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def _kinds(data: StudyData) -> dict[str, str]:
    return {name: str(spec.get("type")) for name, spec in data.space.to_dict().items()}


def check_comparable(studies: Sequence[StudyData]) -> None:
    """Raise ``ValueError`` saying why these studies cannot be compared (nothing when they can)."""
    names = [s.name for s in studies]
    if not MIN_STUDIES <= len(studies) <= MAX_STUDIES:
        raise ValueError(f"compare {MIN_STUDIES} to {MAX_STUDIES} studies, got {len(studies)}: "
                         f"{', '.join(map(repr, names)) or 'none'}")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"study {twice[0]!r} is named twice; compare different studies")
    several = [s.name for s in studies if len(s.goals.objectives) > 1]
    if several:
        raise ValueError(f"study {several[0]!r} has several objectives; compare studies of one objective")
    first = studies[0]
    for other in studies[1:]:
        if other.direction != first.direction:
            raise ValueError(f"the directions differ: {first.name!r} {first.direction}s, "
                             f"{other.name!r} {other.direction}s")
    kinds = _kinds(first)
    for other in studies[1:]:
        theirs = _kinds(other)
        for name in sorted(set(kinds) | set(theirs)):
            if name not in theirs or name not in kinds:
                has, lacks = (first, other) if name in kinds else (other, first)
                raise ValueError(f"the spaces differ: dimension {name!r} is in {has.name!r} but not in "
                                 f"{lacks.name!r}")
            if kinds[name] != theirs[name]:
                raise ValueError(f"the spaces differ: dimension {name!r} is {kinds[name]} in {first.name!r} "
                                 f"but {theirs[name]} in {other.name!r}")


def _feasible(data: StudyData) -> list[Trial]:
    """Completed trials with a finite value that meet the constraints, by number."""
    return [t for t in completed(data.trials) if t.feasible is not False]


def best_trial(data: StudyData) -> Trial | None:
    """The study's best completed trial that meets the constraints (the first of equals), or None."""
    done = _feasible(data)
    if not done:
        return None
    sign = -1.0 if data.direction == MAXIMIZE else 1.0
    return min(done, key=lambda t: (sign * float(t.value or 0.0), t.number))


def _steps(data: StudyData) -> tuple[list[int], list[float]]:
    """(trials run, best value so far) at each trial that improved the best."""
    better = max if data.direction == MAXIMIZE else min
    xs: list[int] = []
    ys: list[float] = []
    for trial in _feasible(data):
        value = float(trial.value or 0.0)
        if not ys or better(value, ys[-1]) != ys[-1]:
            xs.append(trial.number + 1)
            ys.append(value)
    return xs, ys


def best_at(data: StudyData, budgets: Sequence[int]) -> list[float | None]:
    """The best value among the first ``n`` trials (by number) for each ``n`` in ``budgets``."""
    xs, ys = _steps(data)
    out: list[float | None] = []
    for n in budgets:
        reached = [y for x, y in zip(xs, ys, strict=True) if x <= n]
        out.append(reached[-1] if reached else None)
    return out


def _go():
    from .plots import _go as go

    return go()


def _figure(title: str, **layout: Any):
    fig = _go().Figure()
    fig.update_layout(title=title, template="plotly_white", legend={"title": "study"}, **layout)
    return fig


def best_so_far(studies: Sequence[StudyData]):
    """The best value so far against trials run, one step line per study."""
    go = _go()
    fig = _figure(f"Best value so far ({studies[0].direction})", xaxis_title="trials run",
                  yaxis_title="best value")
    for i, data in enumerate(studies):
        xs, ys = _steps(data)
        last = max((t.number + 1 for t in data.trials), default=0)
        if xs and last > xs[-1]:  # the line goes on to the trials run since the last improvement
            xs, ys = [*xs, last], [*ys, ys[-1]]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", line={"shape": "hv"}, name=data.name,
                                 marker={"color": COLORS[i % len(COLORS)], "size": 5}))
    return fig


def edf(studies: Sequence[StudyData]):
    """The empirical distribution of each study's completed values: the share of its trials that
    scored at or below each value."""
    go = _go()
    fig = _figure("Distribution of values (EDF)", xaxis_title="value",
                  yaxis_title="share of completed trials", yaxis={"range": [0, 1.02]})
    for i, data in enumerate(studies):
        values = sorted(float(t.value or 0.0) for t in _feasible(data))
        shares = [(k + 1) / len(values) for k in range(len(values))]
        fig.add_trace(go.Scatter(x=values, y=shares, mode="lines", line={"shape": "hv"}, name=data.name,
                                 marker={"color": COLORS[i % len(COLORS)]}))
    return fig


def importance_bars(studies: Sequence[StudyData], shares: Sequence[Mapping[str, float] | None]):
    """Each study's importance shares (``shoal.analysis.importance``) as grouped bars by dimension;
    a study whose importance could not be computed (``None``) is named in the legend without bars."""
    go = _go()
    fig = _figure("Hyperparameter importance", barmode="group", yaxis_title="share",
                  xaxis_title="dimension")
    order: list[str] = []
    for found in shares:
        for name in found or {}:
            if name not in order:
                order.append(name)
    for i, (data, found) in enumerate(zip(studies, shares, strict=True)):
        label = data.name if found is not None else f"{data.name} (too few trials)"
        fig.add_trace(go.Bar(x=order, y=[(found or {}).get(n, 0.0) for n in order], name=label,
                             marker={"color": COLORS[i % len(COLORS)]}))
    return fig
