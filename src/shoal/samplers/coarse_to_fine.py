"""Coarse to fine: search the whole cube, then zoom in on the region where the best trials were.

The budget is split into ``rounds`` equal shares. Round 0 runs the base sampler over the whole unit
cube; each later round keeps the best ``top`` fraction of the completed trials of earlier rounds,
shrinks the box to their bounding box (widened by ``margin`` times the previous box's width on each
side) and narrows every choice to the values seen among them, then runs the base sampler inside.
The box is a pure function of the history (``box_for_round``), so resumed and parallel drivers agree.

With ``freeze_unimportant=True`` each later round also fixes the dimensions that the importance
estimate (``shoal.importance``, permutation method, over the completed trials of earlier rounds) finds
negligible (share below ``freeze_below``) at the best trial's values, so the round's budget goes to
the dimensions that matter. The frozen set is recomputed every round from the whole history
(``frozen_for_round``): a dimension whose importance grows again is free again in the next round, and
the same sampler with ``freeze_unimportant=False`` resumes the study with nothing frozen.

A study with several objectives or with constraints zooms on its Pareto set: the best trials are the
feasible non-dominated ones (all of them, even beyond the ``top`` fraction), then the others by
constraint-domination rank (feasible by non-dominated rank, then infeasible by smaller violation), and
the best trial a frozen dimension is fixed at is the first of that order. The base sampler sees the
study's objectives.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..direction import sign as direction_sign
from ..space import Choice, Fixed, Space
from ..trial import Trial, TrialState
from . import _mo
from .base import Proposal, Sampler, SamplingContext, SearchExhausted
from .quasirandom import QuasiRandom

__all__ = ["CoarseToFine", "Box"]

_CHOICE_EDGE = 1.0 - 1e-9  # keeps a remapped u inside its choice's bin
#: Freezing needs at least this many completed trials from earlier rounds (fewer: nothing is frozen).
FREEZE_MIN_TRIALS = 8
logger = logging.getLogger("shoal")


@dataclass(frozen=True, eq=False)
class Box:
    """The region a round searches: ``lo``/``hi`` per dimension (unit cube, space order) and the
    values each choice dimension may still take."""

    lo: np.ndarray
    hi: np.ndarray
    choices: Mapping[str, tuple[Any, ...]]

    def contains(self, space: Space, unit: Mapping[str, float], config: Mapping[str, Any]) -> bool:
        """Whether a trial (its unit coordinates and config) lies in the box."""
        for i, name in enumerate(space.names):
            if name in self.choices:
                if name in config and not any(_same(config[name], v) for v in self.choices[name]):
                    return False
            elif name in unit and not self.lo[i] - 1e-12 <= unit[name] <= self.hi[i] + 1e-12:
                return False
        return True

    def spans(self, space: Space) -> dict[str, tuple[float, float]]:
        """(low, high) per dimension on the unit scale; a choice spans its allowed values' slots."""
        out = {}
        for i, (name, dim) in enumerate(space):
            if isinstance(dim, Choice) and name in self.choices:
                slots = [dim.index(v) for v in self.choices[name]]
                n = len(dim.values)
                out[name] = (min(slots) / n, (max(slots) + 1) / n)
            else:
                out[name] = (float(self.lo[i]), float(self.hi[i]))
        return out


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _without(space: Space, frozen: Mapping[str, Any]) -> tuple[Space, list[int]]:
    """The space the base sampler searches in a round: frozen dimensions left out (a frozen parent of
    a conditional dimension stays, as ``Fixed``), and the positions of the kept dimensions."""
    if not frozen:
        return space, list(range(len(space)))
    dims: dict[str, Any] = {}
    for name, dim in space:
        if name not in frozen:
            dims[name] = dim
        elif name in space.parents:
            dims[name] = Fixed(frozen[name], when=dim.when)
    if not dims:  # pragma: no cover - the most important dimension is never frozen
        return space, list(range(len(space)))
    return Space(dims), [space.names.index(n) for n in dims]


def _pareto(context: SamplingContext) -> bool:
    """Whether the study's best trials are a Pareto set (several objectives, or constraints)."""
    spec = context.spec
    return spec.multi or bool(spec.constraints)


def _pareto_best(context: SamplingContext, pool: Sequence[Trial], keep: int) -> list[Trial]:
    """The ``keep`` best of ``pool`` by constraint domination (see the module docstring), and never
    fewer than the feasible non-dominated ones; pool trials without every objective come last."""
    data = _mo.outcomes(pool, context.spec)
    numbers = np.array([t.number for t in data.trials], dtype=int)
    order = _mo.select(data.scores, data.feasible, data.violation, len(data), tiebreak=numbers)
    ranks = _mo.constrained_ranks(data.scores, data.feasible, data.violation)
    n_front = int(np.sum(data.feasible & (ranks == 0)))
    best = [data.trials[i] for i in order[:max(keep, n_front)]]
    if len(best) < keep:  # trials without values (e.g. a missing objective) fill up, oldest first
        seen = {t.number for t in best}
        best += [t for t in sorted(pool, key=lambda t: t.number) if t.number not in seen][:keep - len(best)]
    return best


def _check_int(owner: str, field: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{owner}: {field} must be an int >= {minimum}, got {value!r}")
    return int(value)


class CoarseToFine(Sampler):
    """Search in ``rounds`` rounds, each inside a smaller box around the best trials so far.

    ``base`` (default ``QuasiRandom()``) proposes the points of every round, mapped into the round's
    box. The budget is ``round_size`` per round when given, else the ``optimize`` call's ``n_trials``
    split evenly; pass ``round_size`` for ask/tell loops and for runs resumed over several
    ``optimize`` calls. Once the last round's share is used up, trials keep coming from the last box.
    A round shrinks the box from the completed trials of earlier rounds (with fewer than two, it keeps
    the previous box); a base with nothing left in a round (a finished grid) hands over to the next.
    ``freeze_unimportant=True`` fixes, from the second round on, the dimensions whose importance share
    is below ``freeze_below`` at the best trial's values (see the module docstring); it pays with a
    model-based base such as ``GP()`` when those dimensions do not matter at all.
    """

    def __init__(
        self,
        rounds: int = 3,
        top: float = 0.2,
        base: Sampler | None = None,
        margin: float = 0.1,
        round_size: int | None = None,
        *,
        freeze_unimportant: bool = False,
        freeze_below: float = 0.05,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        self.rounds = _check_int("CoarseToFine", "rounds", rounds, 1)
        if isinstance(top, bool) or not isinstance(top, (int, float)) or not 0.0 < top <= 1.0:
            raise ValueError(
                f"CoarseToFine: top must be a fraction in (0, 1] (e.g. 0.2 keeps the best 20%), got {top!r}"
            )
        self.top = float(top)
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not (
            math.isfinite(margin) and margin >= 0
        ):
            raise ValueError(
                f"CoarseToFine: margin must be a number >= 0 (a fraction of the previous box's width), "
                f"got {margin!r}"
            )
        self.margin = float(margin)
        self.round_size = (
            None if round_size is None else _check_int("CoarseToFine", "round_size", round_size, 1)
        )
        if base is not None and not isinstance(base, Sampler):
            raise ValueError(
                f"CoarseToFine: base must be a shoal sampler such as QuasiRandom(), got {base!r}"
            )
        self.base: Sampler = base if base is not None else QuasiRandom()
        self.base.with_seed(self.seed)
        if not isinstance(freeze_unimportant, bool):
            raise ValueError(
                f"CoarseToFine: freeze_unimportant must be True or False, got {freeze_unimportant!r}"
            )
        if isinstance(freeze_below, bool) or not isinstance(freeze_below, (int, float)) or not (
            0.0 < freeze_below < 1.0
        ):
            raise ValueError(
                f"CoarseToFine: freeze_below must be a share in (0, 1) (e.g. 0.05 freezes dimensions "
                f"with under 5% of the importance), got {freeze_below!r}"
            )
        if freeze_unimportant:
            try:
                import sklearn  # noqa: F401
            except ImportError:
                raise ValueError(
                    "CoarseToFine: freeze_unimportant=True estimates importance with scikit-learn; "
                    "pip install 'shoal[sklearn]' or leave freeze_unimportant off"
                ) from None
        self.freeze_unimportant = freeze_unimportant
        self.freeze_below = float(freeze_below)
        self._frozen_cache: dict[tuple, dict[str, tuple[Any, float]]] = {}

    def with_seed(self, seed: int | None) -> Sampler:
        super().with_seed(seed)
        self.base.with_seed(self.seed)
        return self

    # -- rounds --------------------------------------------------------------------------------
    def round_sizes(self, context: SamplingContext) -> list[int]:
        """How many trials each round gets."""
        if self.round_size is not None:
            return [self.round_size] * self.rounds
        budget = context.budget
        if budget is None:
            raise ValueError(
                "CoarseToFine needs a budget to split into rounds: call study.optimize(objective, "
                "n_trials=...) or pass CoarseToFine(round_size=...)"
            )
        if budget < self.rounds:
            raise ValueError(
                f"CoarseToFine: n_trials={budget} is fewer than rounds={self.rounds}; run more trials, "
                "use fewer rounds, or pass round_size"
            )
        bounds = [r * budget // self.rounds for r in range(self.rounds + 1)]
        return [bounds[r + 1] - bounds[r] for r in range(self.rounds)]

    def current_round(self, context: SamplingContext) -> int:
        """The first round whose share is not yet used up (the last round once all are)."""
        sizes = self.round_sizes(context)
        counts = [0] * self.rounds
        for trial in context.trials:
            if trial.round is not None and trial.requeued_from is None and 0 <= trial.round < self.rounds:
                counts[trial.round] += 1
        for r in range(self.rounds):
            if counts[r] < sizes[r]:
                return r
        return self.rounds - 1

    def box_for_round(self, context: SamplingContext, r: int) -> Box:
        """The box round ``r`` searches, from the completed trials of rounds before it."""
        space = context.space
        lo, hi = np.zeros(len(space)), np.ones(len(space))
        choices: dict[str, tuple[Any, ...]] = {
            name: tuple(dim.values) for name, dim in space if isinstance(dim, Choice)
        }
        complete = [
            t
            for t in context.history
            if t.state == TrialState.COMPLETE and t.value is not None and t.round is not None
        ]
        sign = direction_sign(context.direction)
        for k in range(1, r + 1):
            pool = [t for t in complete if t.round < k]
            if len(pool) < 2:
                continue
            keep = max(2, math.ceil(self.top * len(pool)))
            if _pareto(context):
                best = _pareto_best(context, pool, keep)
            else:
                best = sorted(pool, key=lambda t: (sign * t.value, t.number))[:keep]
            new_lo, new_hi = lo.copy(), hi.copy()
            for i, (name, dim) in enumerate(space):
                if name in choices:
                    used = [t.config[name] for t in best if name in t.config]
                    seen = [v for v in dim.values if any(_same(u, v) for u in used)]
                    if seen:
                        choices[name] = tuple(seen)
                    continue
                coords = [t.unit[name] for t in best if name in t.unit and math.isfinite(t.unit[name])]
                if not coords:
                    continue
                pad = self.margin * (hi[i] - lo[i])
                new_lo[i] = max(0.0, min(coords) - pad)
                new_hi[i] = min(1.0, max(coords) + pad)
            lo, hi = new_lo, new_hi
        for name, (value, u) in self._frozen(context, r).items():
            if name in choices:
                choices[name] = (value,)
            else:
                i = space.names.index(name)
                lo[i] = hi[i] = u
        return Box(lo, hi, choices)

    def frozen_for_round(self, context: SamplingContext, r: int) -> dict[str, Any]:
        """The dimensions round ``r`` fixes, with the value each is fixed at (empty unless
        ``freeze_unimportant``): those with an importance share below ``freeze_below`` over the
        completed trials of earlier rounds, fixed at the best such trial's values. The most important
        dimension is never frozen."""
        return {name: value for name, (value, _) in self._frozen(context, r).items()}

    def _frozen(self, context: SamplingContext, r: int) -> dict[str, tuple[Any, float]]:
        """``frozen_for_round`` with each frozen dimension's unit coordinate: {name: (value, u)}."""
        if not self.freeze_unimportant or r < 1:
            return {}
        pool = sorted(
            (t for t in context.history
             if t.state == TrialState.COMPLETE and t.value is not None and t.round is not None
             and t.round < r),
            key=lambda t: t.number,
        )
        if len(pool) < FREEZE_MIN_TRIALS:
            return {}
        key = (context.study_name, r, tuple(t.number for t in pool))
        if key not in self._frozen_cache:
            from ..stats.importance import importance_of

            shares = importance_of(context.space, pool, seed=self.seed or 0)
            sign = direction_sign(context.direction)
            if _pareto(context):
                best = _pareto_best(context, pool, 1)[0]
            else:
                best = min(pool, key=lambda t: (sign * t.value, t.number))  # type: ignore[operator]
            ranking = shares.ranking
            frozen = {
                name: (best.config[name], float(best.unit[name]))
                for name in ranking[1:]
                if shares[name] < self.freeze_below and name in best.config and name in best.unit
            }
            if len(self._frozen_cache) > 64:
                self._frozen_cache.clear()
            self._frozen_cache[key] = frozen
            if frozen:
                logger.info("coarse-to-fine round %d: froze %s at the best trial's values", r,
                            ", ".join(f"{n}={v!r}" for n, (v, _) in frozen.items()))
        return dict(self._frozen_cache[key])

    # -- mapping between the cube the base sees and the box ------------------------------------
    @staticmethod
    def _into_box(space: Space, box: Box, u: np.ndarray) -> np.ndarray:
        x = box.lo + np.clip(u, 0.0, 1.0) * (box.hi - box.lo)
        for i, (name, dim) in enumerate(space):
            if name in box.choices:
                allowed = [dim.index(v) for v in box.choices[name]]
                m, n = len(allowed), len(dim.values)
                j = min(int(u[i] * m), m - 1)
                frac = min(max(u[i] * m - j, 0.0), _CHOICE_EDGE)
                x[i] = (allowed[j] + frac) / n
        return np.clip(x, 0.0, 1.0)

    @staticmethod
    def _out_of_box(space: Space, box: Box, trial: Trial, prefix: str) -> Trial:
        """The trial as the base sampler sees it: unit coordinates relative to the box, claim unprefixed."""
        unit: dict[str, float] = {}
        for i, (name, dim) in enumerate(space):
            if name not in trial.unit:
                continue
            x = trial.unit[name]
            if name in box.choices:
                allowed = [dim.index(v) for v in box.choices[name]]
                n = len(dim.values)
                idx = min(int(x * n), n - 1)
                if idx in allowed:
                    unit[name] = (allowed.index(idx) + x * n - idx) / len(allowed)
                continue
            width = box.hi[i] - box.lo[i]
            unit[name] = 0.5 if width <= 0 else min(1.0, max(0.0, (x - box.lo[i]) / width))
        claim = trial.claim
        claim = claim[len(prefix):] if claim is not None and claim.startswith(prefix) else None
        return dataclasses.replace(trial, unit=unit, claim=claim)

    def check_space(self, space: Space) -> None:
        """The first round searches the whole space with the base sampler: it must accept it."""
        self.base.check_space(space)

    def propose(self, context: SamplingContext) -> Proposal:
        sizes = self.round_sizes(context)
        first = self.current_round(context)
        for r in range(first, self.rounds):
            try:
                return self._propose_in_round(context, r, sizes[r])
            except SearchExhausted:
                if r == self.rounds - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _propose_in_round(self, context: SamplingContext, r: int, size: int) -> Proposal:
        """The base's next point for round ``r``, mapped into the round's box.

        A base with nothing left in a round (a finished grid) raises ``SearchExhausted``, and the
        search moves on to the next round.
        """
        box = self.box_for_round(context, r)
        space, prefix = context.space, f"c2f:{r}:"
        frozen = self.frozen_for_round(context, r)
        inner_space, kept = _without(space, frozen)

        def mine(trials: Sequence[Trial]) -> list[Trial]:
            out = []
            for t in trials:
                if t.round == r:
                    seen = self._out_of_box(space, box, t, prefix)
                    out.append(dataclasses.replace(
                        seen,
                        unit={n: u for n, u in seen.unit.items() if n in inner_space},
                        config={n: v for n, v in seen.config.items() if n in inner_space},
                    ))
            return out

        inner = SamplingContext(
            space=inner_space,
            study_name=f"{context.study_name}#round{r}",
            direction=context.direction,
            trial_number=context.trial_number,
            history=mine(context.history),
            excluded=mine(context.excluded),  # out of the base's model, but their claims still hold
            running=mine(context.running),
            budget=size,
            objectives=context.objectives,
        )
        proposal = self.base.propose(inner)
        claim = None if proposal.claim is None else prefix + proposal.claim
        extra = dict(proposal.extra)
        unit = np.full(len(space), 0.5)  # a frozen dimension's box is one point: any u lands on it
        unit[kept] = np.asarray(proposal.unit, dtype=float)
        if frozen:
            extra["frozen"] = frozen
        return Proposal(
            self._into_box(space, box, unit),
            claim=claim,
            round=r,
            box=box.spans(space),
            extra=extra,
        )

    def describe(self) -> str:
        return (
            f"CoarseToFine(rounds={self.rounds}, top={self.top:g}, margin={self.margin:g}, "
            f"round_size={self.round_size}, base={self.base.describe()}, seed={self.seed}"
            + (f", freeze_unimportant=True, freeze_below={self.freeze_below:g})" if self.freeze_unimportant
               else ")")
        )

