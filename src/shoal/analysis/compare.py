"""Several studies of one space side by side: ``shoal compare A B`` and the dashboard's compare page.

``check_comparable`` refuses studies that cannot be compared (different dimension names or kinds,
different directions, several objectives, fewer than 2 or more than ``MAX_STUDIES``) with a message
that says what differs. ``importance_bars`` draws each study's hyperparameter importance as grouped
bars (plotly, ``pip install 'shoal[plot]'``); the best value so far and the distribution of values of
several studies are ``shoal.analysis.edf``'s ``best_so_far`` and ``edf``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..direction import MAXIMIZE
from ..trial import Trial
from ._data import StudyData, completed
from ._figure import figure, go

__all__ = [
    "MAX_STUDIES", "MIN_STUDIES", "best_at", "best_trial", "check_comparable", "importance_bars",
]

MIN_STUDIES = 2
MAX_STUDIES = 5


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


def importance_bars(studies: Sequence[StudyData], shares: Sequence[Mapping[str, float] | None]):
    """Each study's importance shares (``shoal.analysis.importance``) as grouped bars by dimension;
    a study whose importance could not be computed (``None``) is named in the legend without bars."""
    fig = figure("Hyperparameter importance", barmode="group", yaxis_title="share", xaxis_title="dimension",
                 legend={"title": "study"})
    order: list[str] = []
    for found in shares:
        for name in found or {}:
            if name not in order:
                order.append(name)
    for data, found in zip(studies, shares, strict=True):  # the template's colours, in study order as in
        label = data.name if found is not None else f"{data.name} (too few trials)"  # the other figures
        fig.add_trace(go().Bar(x=order, y=[(found or {}).get(n, 0.0) for n in order], name=label))
    return fig
