"""What the multi-objective samplers read from a history: scores, feasibility, and a best-first order.

A trial *has values* when every objective is a finite number in ``trial.values`` (or, for a one-number
study, its ``value``; a pruned trial of such a study its last report). ``Outcomes`` holds those trials
as arrays; ``constrained_ranks`` and ``select`` order them the way NSGA-II's constraint domination
does: feasible trials first by non-dominated rank, then infeasible ones by total violation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..objectives import Objectives
from ..stats import ehvi, pareto
from ..trial import Trial, TrialState
from .base import finished_score

__all__ = ["Outcomes", "outcome", "outcomes", "trial_values", "constrained_ranks", "select", "describe_spec"]


def trial_values(trial: Trial, spec: Objectives) -> dict[str, float] | None:
    """The named numbers of a finished trial with every objective finite, else None. A one-number
    study's trial has no ``values``: its ``value`` (a pruned one's last report) is the objective."""
    values = dict(trial.values)
    first = spec.first.name
    if first not in values:
        score = finished_score(trial)
        if score is not None:
            values[first] = score
    for objective in spec.objectives:
        v = values.get(objective.name)
        if v is None or not math.isfinite(v):
            return None
    return values


@dataclass(frozen=True)
class Outcomes:
    """Finished trials with values, as arrays (row i is ``trials[i]``), and those without.

    ``scores`` are lower-is-better (n, m); ``violation`` is the total constraint violation (0 when
    feasible, inf when a constrained metric is missing); ``complete`` marks COMPLETE trials (the others
    were pruned). ``failed`` holds FAILED trials and pruned ones lacking an objective.
    """

    trials: list[Trial]
    scores: np.ndarray
    feasible: np.ndarray
    violation: np.ndarray
    complete: np.ndarray
    failed: list[Trial]

    def __len__(self) -> int:
        return len(self.trials)


def outcome(trial: Trial, spec: Objectives) -> tuple[tuple[float, ...], bool, float] | None:
    """(scores, feasible, total violation) of a finished trial with values, else None."""
    values = trial_values(trial, spec)
    if values is None:
        return None
    total = float(sum(spec.violations(values).values()))
    ok = trial.feasible if trial.feasible is not None else total == 0.0
    return spec.score(values), bool(ok), 0.0 if ok else (total if total > 0 else math.inf)


def outcomes(history: Sequence[Trial], spec: Objectives, memo: dict | None = None) -> Outcomes:
    """The finished trials of ``history`` read against ``spec`` (STALE trials are left out).

    ``memo`` (a dict the caller keeps per study and spec) remembers each finished trial's outcome,
    which never changes."""
    trials: list[Trial] = []
    rows: list[tuple[float, ...]] = []
    feasible: list[bool] = []
    violation: list[float] = []
    failed: list[Trial] = []
    for trial in history:
        if trial.state == TrialState.FAILED:
            failed.append(trial)
            continue
        if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED):
            continue
        key = (trial.number, trial.state)
        if memo is not None and key in memo:
            result = memo[key]
        else:
            result = outcome(trial, spec)
            if memo is not None:
                memo[key] = result
        if result is None:
            if trial.state == TrialState.PRUNED:
                failed.append(trial)
            continue
        trials.append(trial)
        rows.append(result[0])
        feasible.append(result[1])
        violation.append(result[2])
    m = len(spec.objectives)
    return Outcomes(
        trials,
        np.array(rows, dtype=float).reshape(len(rows), m),
        np.array(feasible, dtype=bool),
        np.array(violation, dtype=float),
        np.array([t.state == TrialState.COMPLETE for t in trials], dtype=bool),
        failed,
    )


def constrained_ranks(
    scores: np.ndarray, feasible: np.ndarray, violation: np.ndarray, n_stop: int | None = None
) -> np.ndarray:
    """Constraint-domination ranks: feasible rows by non-dominated rank (0, 1, ...), then infeasible
    rows after every feasible rank, one rank per distinct total violation (smaller first). With
    ``n_stop``, the sorting of feasible rows stops once that many have a rank (see
    ``pareto.nondominated_ranks``)."""
    n = len(scores)
    ranks = np.zeros(n, dtype=int)
    ok = np.flatnonzero(feasible)
    if len(ok):
        ranks[ok] = pareto.nondominated_ranks(scores[ok], n_stop=n_stop)
    start = int(ranks[ok].max()) + 1 if len(ok) else 0
    bad = np.flatnonzero(~feasible)
    if len(bad):
        _, dense = np.unique(violation[bad], return_inverse=True)
        ranks[bad] = start + dense
    return ranks


def select(
    scores: np.ndarray,
    feasible: np.ndarray,
    violation: np.ndarray,
    k: int,
    *,
    fill: str = "crowding",
    tiebreak: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the ``k`` best rows, best first: whole constraint-domination ranks while they fit,
    then the rank that does not fit filled by crowding distance (``fill="crowding"``, NSGA-II) or by
    greedy hypervolume contribution (``fill="hypervolume"``, for 1-3 objectives). ``tiebreak`` (e.g.
    trial numbers) orders equal rows; default the row index."""
    n = len(scores)
    k = max(0, min(int(k), n))
    tie = np.arange(n) if tiebreak is None else np.asarray(tiebreak)
    ranks = constrained_ranks(scores, feasible, violation, n_stop=k)
    chosen: list[int] = []
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        members = members[np.argsort(tie[members], kind="stable")]
        if len(chosen) + len(members) <= k:
            chosen.extend(members.tolist())
            continue
        need = k - len(chosen)
        if need <= 0:
            break
        if not feasible[members[0]]:  # an infeasible rank: equal violation, oldest first
            chosen.extend(members[:need].tolist())
        elif fill == "hypervolume" and scores.shape[1] <= 3:
            ref = pareto.reference_point(scores[feasible]) if feasible.any() else None
            chosen.extend(members[ehvi.hypervolume_subset(scores[members], need, ref)].tolist())
        else:
            distance = pareto.crowding_distance(scores[members])
            order = sorted(range(len(members)), key=lambda i: (-distance[i], tie[members[i]]))
            chosen.extend(members[order[:need]].tolist())
        break
    return np.array(chosen, dtype=int)


def describe_spec(spec: Objectives) -> str:
    """``2 objectives and 1 constraint`` (for a proposal's reason)."""
    m, c = len(spec.objectives), len(spec.constraints)
    text = f"{m} objective{'s' if m != 1 else ''}"
    return text + (f" and {c} constraint{'s' if c != 1 else ''}" if c else "")
