"""What a study makes of what its objective returns: one number, or named values judged against its
objectives and constraints; and which trials are best (one best trial, or a Pareto front).

A one-number study (``direction=``, no constraints: ``is_plain``) works exactly as before: the
objective returns a number, trials keep ``value`` only. Any other study reads a dict of named numbers
with ``Objectives.read``; a trial then keeps them all in ``values`` (``value`` is the first
objective's) and ``feasible``, whether they meet every constraint.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..direction import better
from ..execution.base import Outcome
from ..execution.inprocess import as_value
from ..objectives import Objectives
from ..storage.summary import check_values
from ..trial import FailureKind, Trial, TrialState

__all__ = ["Verdict", "is_plain", "judge", "told", "dominates", "pareto_front", "best_trial"]


@dataclass(frozen=True)
class Verdict:
    """How a trial is recorded: its state, value and error, why it failed, and its named values with
    their feasibility (None for a one-number study)."""

    state: TrialState
    value: float | None = None
    error: str | None = None
    failure: FailureKind | None = None
    values: dict[str, float] | None = None
    feasible: bool | None = None


def is_plain(objectives: Objectives) -> bool:
    """True for a one-number study: one objective named ``"value"`` and no constraints."""
    return objectives.plain


def _read(objectives: Objectives, result: Any) -> tuple[dict[str, float] | None, str | None]:
    """``Objectives.read``, and every constrained metric present, and names and numbers storage keeps."""
    values, problem = objectives.read(result)
    if values is None:
        return None, problem
    for constraint in objectives.constraints:
        if constraint.metric not in values:
            return None, (f"the objective returned no {constraint.metric!r}, which the constraint "
                          f"'{constraint}' reads; return a dict such as {objectives.example()}")
    try:
        check_values(TrialState.COMPLETE, values, True)
    except ValueError as exc:
        return None, f"returned values: {exc}"
    return values, None


def _valued(objectives: Objectives, state: TrialState, values: dict[str, float]) -> Verdict:
    return Verdict(state, values[objectives.first.name], values=values,
                   feasible=objectives.feasible(values))


def judge(objectives: Objectives, outcome: Outcome) -> Verdict:
    """How an executor's outcome is recorded in a study with these objectives: what a COMPLETE call
    returned (unjudged by the executor) is read here; a bad return fails the trial with the reason."""
    if outcome.state != TrialState.COMPLETE:  # FAILED, or PRUNED keeping its last report
        return Verdict(outcome.state, outcome.value, outcome.error, outcome.failure)
    if objectives.plain:
        if outcome.values is not None:
            problem = (f"objective returned {outcome.values!r} (dict); return a number (a dict of named "
                       "values is for a study created with objectives= or constraints=)")
        elif outcome.error is not None:
            problem = f"{outcome.error}; return a number"
        else:
            value, problem = as_value(outcome.value)
            if problem is None:
                return Verdict(TrialState.COMPLETE, value)
        return Verdict(TrialState.FAILED, None, problem, FailureKind.OBJECTIVE)
    if outcome.error is not None:
        values, problem = None, f"{outcome.error}; return a dict such as {objectives.example()}"
    else:
        values, problem = _read(objectives, outcome.values if outcome.values is not None else outcome.value)
    if values is None:
        return Verdict(TrialState.FAILED, None, problem, FailureKind.OBJECTIVE)
    return _valued(objectives, TrialState.COMPLETE, values)


def told(objectives: Objectives, value: Any, state: TrialState | str | None, error: str | None) -> Verdict:
    """How ``Study.tell(trial, value, state=, error=)`` is recorded; ``ValueError`` for a call that
    cannot be right (nothing is stored then). A NaN or infinite value fails the trial with that reason,
    as an objective returning it does."""
    if state is not None:
        try:
            state = TrialState(state)
        except ValueError:
            state = None
        if state not in (TrialState.COMPLETE, TrialState.FAILED, TrialState.PRUNED):
            raise ValueError("tell: state must be 'COMPLETE', 'FAILED' or 'PRUNED'")
    elif value is None:
        raise ValueError("tell needs a value, or state='FAILED' / 'PRUNED'")
    failure = FailureKind.OBJECTIVE if state == TrialState.FAILED else None
    if objectives.plain:
        return _told_number(value, state, error, failure)
    if value is None:
        if state == TrialState.COMPLETE:
            raise ValueError(f"tell: a COMPLETE trial needs its values, e.g. {objectives.example()}")
        return Verdict(state, None, error, failure)  # type: ignore[arg-type]
    if not isinstance(value, Mapping):  # a number: enough for one objective without constraints
        if not _is_number(value):
            raise ValueError(f"tell: this study's objectives are {objectives.describe()}; pass a dict "
                             f"such as {objectives.example()}, not {value!r}")
    elif not all(isinstance(k, str) and _is_number(v) for k, v in value.items()):
        raise ValueError(f"tell: values must map names to numbers, got {dict(value)!r}")
    values, problem = _read(objectives, value)
    if values is None:
        if state is None and _read(objectives, _finite(value))[0] is not None:  # only a NaN or inf
            return Verdict(TrialState.FAILED, None, problem, FailureKind.OBJECTIVE)
        raise ValueError(f"tell: {problem}")
    if state == TrialState.FAILED:
        raise ValueError("tell: a FAILED trial keeps no values; pass error= to say why it failed")
    verdict = _valued(objectives, state or TrialState.COMPLETE, values)
    return Verdict(verdict.state, verdict.value, error, None, verdict.values, verdict.feasible)


def _told_number(
    value: Any, state: TrialState | None, error: str | None, failure: FailureKind | None
) -> Verdict:
    """``tell`` in a one-number study."""
    if isinstance(value, Mapping):
        raise ValueError(f"tell: value must be a number, got {value!r} (a dict of named values is for a "
                         "study created with objectives= or constraints=)")
    number = None
    if value is not None:
        number, problem = as_value(value)
        if problem is not None:
            if not _is_number(value):
                raise ValueError(f"tell: value must be a number, got {value!r}")
            if state is not None:
                raise ValueError(f"tell: {problem}")
            return Verdict(TrialState.FAILED, None, problem, FailureKind.OBJECTIVE)  # NaN, inf
    if state is None:
        return Verdict(TrialState.COMPLETE, number, error)
    if state == TrialState.COMPLETE and number is None:
        raise ValueError("tell: a COMPLETE trial needs a finite value")
    return Verdict(state, number, error, failure)


def _finite(value: Any) -> Any:
    """``value`` (a number or a mapping of numbers) with every NaN or infinity replaced by 0."""
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    return value if math.isfinite(float(value)) else 0.0


def _is_number(value: Any) -> bool:
    if isinstance(value, (bool, str, bytes)) or value is None:
        return False
    try:
        float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        return False
    return True


# -- which trials are best ------------------------------------------------------------------------


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether lower-is-better score vector ``a`` dominates ``b``: no worse anywhere, better somewhere."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def _scores(objectives: Objectives, trial: Trial) -> tuple[float, ...] | None:
    values = trial.values or ({} if trial.value is None else {objectives.first.name: trial.value})
    try:
        return objectives.score(values)
    except KeyError:
        return None


def pareto_front(objectives: Objectives, trials: Iterable[Trial]) -> list[Trial]:
    """The completed, feasible trials no other such trial dominates, by number (trials with equal
    values are all on it)."""
    scored = []
    for trial in trials:
        if trial.state == TrialState.COMPLETE and trial.feasible is not False:
            score = _scores(objectives, trial)
            if score is not None:
                scored.append((trial, score))
    front = [t for t, s in scored if not any(dominates(other, s) for _, other in scored)]
    return sorted(front, key=lambda t: t.number)


def best_trial(name: str, objectives: Objectives, trials: Iterable[Trial]) -> Trial | None:
    """``Study.best``: the completed trial with the best value among those that meet the constraints.

    Without constraints a ``ValueError`` while there is none (as ever); with constraints None and a
    warning while no trial is feasible; with several objectives a ``ValueError`` naming
    ``pareto_front``.
    """
    if objectives.multi:
        raise ValueError(
            f"study {name!r} has several objectives ({', '.join(objectives.names)}), so no single trial "
            "is best; read study.pareto_front (the feasible trials no other trial beats on every "
            "objective)"
        )
    direction = objectives.first.direction
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    best: Trial | None = None
    for trial in done:
        if trial.feasible is not False and (best is None or better(trial.value, best.value, direction)):  # type: ignore[arg-type]
            best = trial
    if best is not None:
        return best
    if not objectives.constraints:
        raise ValueError(f"study {name!r} has no completed trial yet")
    warnings.warn(
        f"study {name!r}: no trial meets the constraints ({', '.join(map(str, objectives.constraints))}) "
        f"yet ({len(done)} completed); study.best is None until one does",
        stacklevel=3,
    )
    return None
