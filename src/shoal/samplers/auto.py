"""Auto: the default sampler. It picks GP, TPE or CMA-ES for each proposal from the space and budget
(MOGP, MOTPE or NSGA-II for a study with several objectives or constraints, see the second table).

The rule table (first match wins; ``planned`` is the larger of the ``optimize`` budget and the
number of trials the study already holds, d the number of searched dimensions):

1. nothing to search (every dimension fixed)                      -> Random
2. planned >= 300: conditional dimensions, any choice, or integers with <= 8 values
   making up half of the dimensions -> TPE; else CMA-ES if ``cmaes`` is installed, else TPE
3. d > 20                                                         -> TPE
4. otherwise (a small budget, modest dimension; choices and
   conditional dimensions included)                               -> GP

Choice-heavy and conditional spaces go to GP on small budgets (``benchmarks/auto_spaces.py``, 60
trials, 10 seeds): with choices one-hot and swept exactly it beat TPE on 29 of 40 (space, seed)
pairs of four choice-heavy spaces (10 ties, 1 loss); with an activity column per condition it beat
TPE on 14 of 30 pairs of three conditional spaces (6 ties, 10 losses; higher mean score on two).

The choice depends only on (space, budget, trials so far), so every driver and a resumed study make
the same one, and it only moves forward as the study grows (an open-ended study of continuous
dimensions: GP for its first 300 trials, then CMA-ES started at GP's best point).
Each proposal says which sampler made it and why in ``Proposal.extra`` (``{"sampler": "gp", "why":
"..."}``); a change of sampler is logged on ``logging.getLogger("shoal")``; ``Auto.choice(space,
budget)`` answers the same question for a user.

A study with several objectives or with constraints (``context.spec.multi`` or constraints) follows
its own table (the single-objective one above is unchanged):

1. nothing to search                                              -> Random
2. planned >= 1000 (``MO_VERY_LARGE_BUDGET``), no choice, no conditional dimension and fewer than
   half coarse integers                                           -> NSGA-II (generations of 50)
3. planned >= 300, or d > 20                                      -> MOTPE
4. otherwise                                                      -> MOGP (EHVI x P(feasible))

MOGP's cost per proposal grows as n^3 per model (one per objective and constraint), and NSGA-II needs
dozens of generations of 50 members; in between, and for conditional or choice-heavy spaces, MOTPE.
ZDT1 in 4 dimensions (mean of 3 seeds, hypervolume with reference point (1.1, 1.1); the true front's
is 0.877): 40 trials: MOGP 0.857, random 0.004; 500 trials: MOTPE 0.73, NSGA-II 0.57, random 0.20;
1000 trials: NSGA-II 0.82, MOTPE 0.77 (MOTPE about 40 ms per ask there, NSGA-II 10 ms).
``Auto.choice(space, budget, n_trials, objectives)`` answers for such a study.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from collections.abc import Mapping
from typing import Any

from ..objectives import Objectives
from ..space import Choice, Fixed, Space, as_space
from .base import Proposal, Sampler, SamplingContext

__all__ = ["Auto", "LARGE_BUDGET", "MAX_GP_DIMS", "CATEGORICAL_SHARE", "COARSE_VALUES",
           "MO_VERY_LARGE_BUDGET"]

logger = logging.getLogger("shoal")

#: From this many trials on, CMA-ES (or TPE) replaces GP. GP is the most sample-efficient (10-D
#: ellipsoid, 300 trials: GP 1e-4, CMA-ES 0.07, TPE 0.23), but its cost per proposal grows as n^3:
#: measured 0.02-0.03 s per ask at 100 trials, 0.07-0.09 s at 200, 0.12-0.15 s at 300 (3-D and 10-D).
#: CMA-ES costs about 2 ms per ask at any size and needs a few dozen generations of 4 + 3 ln d
#: members, which a budget this size gives up to about d = 20.
LARGE_BUDGET = 300
#: Above this many searched dimensions GP's length-scale fit is slow and poorly determined by a small
#: budget; TPE's per-dimension kernels scale linearly.
MAX_GP_DIMS = 20
#: On large budgets, when coarse integers make up this share of the dimensions, TPE replaces CMA-ES.
CATEGORICAL_SHARE = 0.5
#: A discrete dimension with at most this many values is coarse: CMA-ES's Gaussian steps collapse on it.
COARSE_VALUES = 8

#: With several objectives or constraints, from this many trials on NSGA-II replaces MOTPE on spaces
#: without choices or conditional dimensions (20 generations of 50 members).
MO_VERY_LARGE_BUDGET = 1000

SAMPLERS = ("random", "gp", "tpe", "cmaes", "mogp", "motpe", "nsga2")
_FALLBACK_STREAM = 0x6175746F  # "auto"


def _cmaes_installed() -> bool:
    return importlib.util.find_spec("cmaes") is not None


class Auto(Sampler):
    """Picks a sampler per proposal from the space and the budget (see the module's rule table).

    ``Auto.choice(space, budget)`` returns ``(name, reason)`` for a space and budget without
    proposing anything. The samplers it delegates to are seeded with its seed.
    """

    def __init__(self, *, seed: int | None = None) -> None:
        super().__init__(seed)
        self._samplers: dict[str, Sampler] = {}
        self._last: dict[str, str] = {}

    @staticmethod
    def choice(
        space: Space | Mapping[str, Any],
        budget: int | None = None,
        n_trials: int = 0,
        objectives: Objectives | None = None,
    ) -> tuple[str, str]:
        """``(sampler name, reason)`` for ``space`` with an ``optimize`` budget and trials so far;
        ``objectives`` (a study's ``Objectives``) with several objectives or constraints follows the
        multi-objective table."""
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 0):
            raise ValueError(f"Auto.choice: budget must be an int >= 0 or None, got {budget!r}")
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0:
            raise ValueError(f"Auto.choice: n_trials must be an int >= 0, got {n_trials!r}")
        space = as_space(space)
        dims = [dim for _, dim in space if not _constant(dim)]
        d = len(dims)
        if d == 0:
            return "random", "every dimension is fixed: nothing to model"
        n_choice = sum(isinstance(dim, Choice) for dim in dims)
        planned = max(budget or 0, n_trials)
        if objectives is not None and (objectives.multi or objectives.constraints):
            return _multi_choice(space, dims, n_choice, planned, objectives)
        if planned >= LARGE_BUDGET:
            many = f"{planned} trials (>= {LARGE_BUDGET})"
            if space.is_conditional:
                return "tpe", f"{many} with conditional dimensions, which CMA-ES cannot search"
            if n_choice:
                return "tpe", f"{many} with {n_choice} choice dimension(s), which CMA-ES cannot search"
            n_coarse = sum(_coarse(dim) for dim in dims)
            if n_coarse >= CATEGORICAL_SHARE * d:
                return "tpe", f"{many} and {n_coarse} of {d} dimensions have few values"
            if not _cmaes_installed():
                return "tpe", f"{many}; CMA-ES would fit but needs: pip install 'shoal[cmaes]'"
            return "cmaes", f"{many} over {d} mostly continuous/integer dimensions"
        if d > MAX_GP_DIMS:
            return "tpe", f"{d} dimensions (> {MAX_GP_DIMS}): too many for GP's length-scale fit"
        budget_text = f"budget {planned}" if planned else "no budget given"
        return "gp", f"{budget_text} (< {LARGE_BUDGET} trials), {d} dimensions: GP is most sample-efficient"

    def _sampler(self, name: str) -> Sampler:
        sampler = self._samplers.get(name)
        if sampler is None:
            from .cmaes import CMAES
            from .gp import GP
            from .random import Random
            from .tpe import TPE

            if name == "cmaes":
                sampler = CMAES(seed=self.seed)
            elif name in ("mogp", "motpe", "nsga2"):
                from .mo_gp import MOGP
                from .motpe import MOTPE
                from .nsga2 import NSGAII

                sampler = {"mogp": MOGP, "motpe": MOTPE, "nsga2": NSGAII}[name](seed=self.seed)
            else:
                sampler = {"random": Random, "gp": GP, "tpe": TPE}[name](seed=self.seed)
            if self.seed is None:
                sampler._entropy = self._entropy
            self._samplers[name] = sampler
        return sampler

    def with_seed(self, seed: int | None) -> Sampler:
        super().with_seed(seed)
        for sampler in self._samplers.values():
            sampler.with_seed(seed)
        return self

    def propose(self, context: SamplingContext) -> Proposal:
        name, why = self.choice(context.space, context.budget, len(context.history) + len(context.running),
                                context.objectives)
        if self._last.get(context.study_name) != name:
            logger.info("Auto: study %r uses %s from trial %d: %s",
                        context.study_name, name, context.trial_number, why)
            self._last[context.study_name] = name
        try:
            proposal = self._sampler(name).propose(context)
        except Exception as exc:  # the default sampler never crashes a study over a model
            logger.warning("Auto: %s failed for trial %d (%s: %s); proposing a random point instead",
                           name, context.trial_number, type(exc).__name__, exc)
            unit = self.rng_for(context, _FALLBACK_STREAM).random(len(context.space))
            return Proposal(unit, extra={"sampler": "random", "why": f"{name} failed: {type(exc).__name__}"})
        own = proposal.extra.get("why")  # what the model says of this proposal, after why it was chosen
        return dataclasses.replace(proposal, extra={**proposal.extra, "sampler": name,
                                                    "why": f"{why}; {own}" if own else why})

    def describe(self) -> str:
        return f"Auto(seed={self.seed})"


def _multi_choice(
    space: Space, dims: list[Any], n_choice: int, planned: int, objectives: Objectives
) -> tuple[str, str]:
    """The multi-objective table (see the module docstring)."""
    d = len(dims)
    what = (f"{len(objectives.objectives)} objective(s)"
            + (f" and {len(objectives.constraints)} constraint(s)" if objectives.constraints else ""))
    if planned >= MO_VERY_LARGE_BUDGET:
        many = f"{what}, {planned} trials (>= {MO_VERY_LARGE_BUDGET})"
        n_coarse = sum(_coarse(dim) for dim in dims)
        if space.is_conditional:
            return "motpe", f"{many} with conditional dimensions, which NSGA-II's crossover ignores"
        if n_choice:
            return "motpe", f"{many} with {n_choice} choice dimension(s): MOTPE models them directly"
        if n_coarse >= CATEGORICAL_SHARE * d:
            return "motpe", f"{many} and {n_coarse} of {d} dimensions have few values"
        return "nsga2", f"{many} over {d} mostly continuous/integer dimensions: NSGA-II generations of 50"
    if planned >= LARGE_BUDGET:
        return "motpe", (f"{what}, {planned} trials (>= {LARGE_BUDGET}): too many for MOGP's models, "
                         f"too few for NSGA-II's generations")
    if d > MAX_GP_DIMS:
        return "motpe", f"{what}, {d} dimensions (> {MAX_GP_DIMS}): too many for MOGP's length-scale fits"
    budget_text = f"budget {planned}" if planned else "no budget given"
    gain = "EHVI" if len(objectives.objectives) <= 3 else "ParEGO"
    feasible = " x P(feasible)" if objectives.constraints else ""
    return "mogp", (f"{what}, {budget_text} (< {LARGE_BUDGET} trials), {d} dimensions: MOGP "
                    f"({gain}{feasible}) is most sample-efficient")


def _constant(dim: Any) -> bool:
    return isinstance(dim, Fixed) or (isinstance(dim, Choice) and dim.n_values() == 1)


def _coarse(dim: Any) -> bool:
    if isinstance(dim, Choice):
        return True
    n = dim.n_values() if dim.discrete else None
    return n is not None and n <= COARSE_VALUES
