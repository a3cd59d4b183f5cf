"""BOHB's sampler: a TPE model fitted on the largest budget that has enough observations.

Budget-aware, and coupled to no scheduler: it reads the budgets from the trials' reports (a report at
step s is an observation at budget s), so it composes with any scheduler that stops trials at
different steps. The documented combination (Falkner, Klein and Hutter, "BOHB: Robust and Efficient
Hyperparameter Optimization at Scale", 2018) is::

    study = shoal.Study("mlp", space, "maximize", sampler=BOHB(), scheduler=Hyperband(1, max_resource=27))

or ``sampler, scheduler = shoal.bohb(min_resource=1, max_resource=27)`` (``shoal.presets``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable

from .._keywords import keywords
from ..trial import Trial, TrialState
from .base import Proposal, SamplingContext
from .tpe import TPE

__all__ = ["BOHB", "observations"]

logger = logging.getLogger("shoal")

_COIN_STREAM = 0x626F6862  # "bohb"
_RANDOM_STREAM = 0x626F6863
_FINAL = math.inf  # the budget of a trial that finished without reporting

_SKIP = (TrialState.FAILED, TrialState.STALE, TrialState.QUEUED)


def observations(trials: list[Trial]) -> dict[float, list[tuple[Trial, float]]]:
    """Per budget (a report step), the trials observed there and the value they reported.

    A trial that finished with a value but never reported counts at budget ``inf``.
    """
    out: dict[float, list[tuple[Trial, float]]] = {}
    for trial in trials:
        if trial.state in _SKIP:
            continue
        if trial.reports:
            for step, value in trial.reports:
                out.setdefault(float(step), []).append((trial, float(value)))
        elif trial.state == TrialState.COMPLETE and trial.value is not None:
            out.setdefault(_FINAL, []).append((trial, float(trial.value)))
    return out


@keywords(renamed={"min_points": "n_startup"})
class BOHB(TPE):
    """TPE on the largest budget with more than ``d + 1`` observations (d: the number of dimensions).

    - ``n_startup`` (default ``d + 2``): observations a budget needs before the model uses it;
      until some budget has that many, proposals come from a Sobol sequence.
    - ``random_fraction`` (1/3): that share of proposals is uniformly random whatever the model says
      (BOHB's guarantee of Hyperband's worst case).
    - Every other keyword is TPE's (``n_candidates``, ``bandwidth``, ``gamma``, ...); running trials
      without a report at the chosen budget count as bad (a constant liar), as in TPE.
    """

    def __init__(
        self,
        *,
        n_startup: int | None = None,
        random_fraction: float = 1 / 3,
        n_candidates: int = 64,
        gamma: Callable[[int], int] | None = None,
        bandwidth: float = 0.05,
        min_bandwidth: float = 0.01,
        smoothing: float = 0.5,
        prior_weight: float = 1.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            n_startup=0, n_candidates=n_candidates, gamma=self._good if gamma is None else gamma,
            bandwidth=bandwidth,
            min_bandwidth=min_bandwidth, smoothing=smoothing, prior_weight=prior_weight, recent=False,
            seed=seed,
        )
        if n_startup is not None and (isinstance(n_startup, bool) or not isinstance(n_startup, int)
                                      or n_startup < 2):
            raise ValueError(f"BOHB: n_startup must be an int >= 2 or None (d + 2), got {n_startup!r}")
        if isinstance(random_fraction, bool) or not isinstance(random_fraction, (int, float)) or not (
            0 <= random_fraction <= 1
        ):
            raise ValueError(f"BOHB: random_fraction must be a number in [0, 1], got {random_fraction!r}")
        self.n_startup = n_startup  # TPE's own startup is off (0): the budgets decide
        self.random_fraction = float(random_fraction)
        self._d = 1  # dimensions of the space last proposed for (the default split needs it)

    def budget(self, context: SamplingContext) -> tuple[float | None, list[tuple[Trial, float]]]:
        """The largest budget with enough observations, and those observations (None, [] if none)."""
        needed = self.n_startup if self.n_startup is not None else len(context.space) + 2
        seen = observations([*context.history, *context.running])  # not the excluded (tweaked) trials
        for budget in sorted(seen, reverse=True):
            if len(seen[budget]) >= needed:
                return budget, seen[budget]
        return None, []

    def propose(self, context: SamplingContext) -> Proposal:
        coin = self.rng_for(context, _COIN_STREAM).random()
        if coin < self.random_fraction:
            unit = self.rng_for(context, _RANDOM_STREAM).random(len(context.space))
            return Proposal(unit, extra={"bohb": "random"})
        self._d = len(context.space)
        budget, scored = self.budget(context)
        if budget is None:
            proposal = self._startup_sampler().propose(context)
            return dataclasses.replace(proposal, extra={**proposal.extra, "bohb": "startup"})
        used = {t.number for t, _ in scored}
        # running trials observed at this budget are modelled; the others count as bad (liars)
        narrowed = dataclasses.replace(
            context, running=[t for t in context.running if t.number not in used]
        )
        try:
            proposal = self._propose_model(narrowed, scored)
        except Exception as exc:  # never crash a study over the model
            logger.warning("BOHB: model proposal failed (%s: %s); proposing a random point instead",
                           type(exc).__name__, exc)
            return self._random(context, "fallback")
        return dataclasses.replace(proposal, extra={"bohb": f"model@{budget:g}", "budget": budget})

    def _good(self, n: int) -> int:
        """BOHB's split of n observations: the best 15%, but at least d + 1 and at most n - 1."""
        return max(1, min(n - 1, max(self._d + 1, math.ceil(0.15 * n))))

    def describe(self) -> str:
        return (
            f"BOHB(n_startup={self.n_startup}, random_fraction={self.random_fraction:g}, "
            f"n_candidates={self.n_candidates}, bandwidth={self.bandwidth:g}, seed={self.seed})"
        )
