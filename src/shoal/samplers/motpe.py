"""MOTPE: the multivariate TPE sampler for several objectives and constraints (Ozaki et al. 2020).

Everything is TPE's (``tpe.py``: Parzen estimators on the unit cube, conditional dimensions, the
Sobol start, failed trials and running ones counted as bad), except how the history is split: the
``gamma(n)`` *good* trials are the best by constraint domination, feasible trials first by
non-dominated rank, then infeasible ones by smaller total violation. Whole ranks go in while they
fit; the rank that does not fit is filled greedily by hypervolume contribution (1-3 objectives; the
subset of that front covering the most) or by crowding distance (more objectives). Pruned trials
count with their values when they have every objective, else as bad.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..trial import Trial, TrialState
from . import _mo
from .base import Proposal, SamplingContext
from .tpe import TPE

__all__ = ["MOTPE"]

NAME = "motpe"


class MOTPE(TPE):
    """Multi-objective TPE: TPE's options (see ``TPE``), with the good trials chosen by Pareto rank.

    Each proposal's ``extra`` says ``{"sampler": "motpe", "why": ...}``.
    """

    def _scored(self, context: SamplingContext) -> list[tuple[Trial, Any]]:
        memo = getattr(self, "_memo", None)
        if memo is None or memo[0] != (context.study_name, context.spec):
            memo = self._memo = ((context.study_name, context.spec), {})
        data = _mo.outcomes(context.history, context.spec, memo[1])
        return [(t, (data.scores[i], bool(data.feasible[i]), float(data.violation[i])))
                for i, t in enumerate(data.trials)]

    def _split(
        self, context: SamplingContext, scored: Sequence[tuple[Trial, Any]]
    ) -> tuple[list[Trial], list[Trial]]:
        scores = np.array([s for _, (s, _, _) in scored], dtype=float)
        feasible = np.array([f for _, (_, f, _) in scored], dtype=bool)
        violation = np.array([v for _, (_, _, v) in scored], dtype=float)
        numbers = np.array([t.number for t, _ in scored])
        n_good = min(len(scored), max(1, int(self.gamma(len(scored)))))
        fill = "hypervolume" if scores.shape[1] <= 3 else "crowding"
        chosen = _mo.select(scores, feasible, violation, n_good, fill=fill, tiebreak=numbers)
        good = [scored[i][0] for i in chosen]
        picked = set(chosen.tolist())
        bad = [t for i, (t, _) in enumerate(scored) if i not in picked]
        spec = context.spec
        bad += [t for t in context.history
                if t.state == TrialState.PRUNED and _mo.trial_values(t, spec) is None]
        return good, bad

    def propose(self, context: SamplingContext) -> Proposal:
        proposal = super().propose(context)
        made = proposal.extra.get("tpe")
        what = _mo.describe_spec(context.spec)
        if made == "model":
            why = f"l(x)/g(x), the good trials by Pareto rank, feasible first; {what}"
        elif made is None:
            why = "initial Sobol design"
        else:
            why = f"{made} ({what})"
        return dataclasses.replace(proposal, extra={"sampler": NAME, "why": why})

    def describe(self) -> str:
        return "MO" + super().describe()
