"""CMA-ES on the unit cube, through the ``cmaes`` package (install ``shoal[cmaes]``).

The sampler keeps no state a restart would lose: every member of a generation is a trial with the
claim ``cma:<run>:<generation>:<index>``, so the evolution state is a function of the history. On
each proposal the runs are replayed from the trials (cached, and checked against the history, so a
fresh sampler object on the same study continues the same run):

- generation g of a run is *told* to CMA-ES once its members 0 .. popsize-1 have all finished
  (failed or stale members, unless a repeat of them has a value, get a value worse than the
  generation's worst; pruned members their last report);
- members of the current generation are drawn one per proposal, each from its own seed
  (seed, study, run, generation, index), so parallel asks get distinct points and a seeded run
  repeats exactly; when every member is out but some still run, extra members of the same
  distribution are proposed (evaluated, never told);
- when CMA-ES says a run should stop, the next proposal starts run r + 1 from a random mean
  (``restart="ipop"`` also doubles the population each time).

The first run starts at the centre of the cube with step size ``sigma``, or, when the study already
holds scored trials from another sampler (e.g. ``Auto`` switching from GP), at the best of them with
a step size from the spread of the best tenth. Integer and stepped dimensions are searched on the
unit cube and snapped exactly by the dimension; choices and conditional dimensions are refused (use
``TPE`` or ``Auto``). A numerical failure falls back to a random proposal and logs why.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..direction import sign as direction_sign
from ..space import Choice, Fixed, Space
from ..trial import Trial, TrialState
from .base import Proposal, Sampler, SamplingContext, finished_score

__all__ = ["CMAES", "cma_columns"]

logger = logging.getLogger("shoal")

_PREFIX = "cma:"
_MEMBER_STREAM = 0x636D61  # "cma"
_RUN_STREAM = 0x636D62
_FALLBACK_STREAM = 0x636D63
RESTARTS = (None, "ipop")
_MIN_WARM_SIGMA = 0.02


def cma_columns(space: Space) -> list[int]:
    """Indices of the dimensions CMA-ES searches (constants are left at 0.5).

    Raises ``ValueError`` naming a dimension CMA-ES cannot search (a choice, a conditional one).
    """
    cols = []
    for i, (name, dim) in enumerate(space):
        if isinstance(dim, Fixed) or (isinstance(dim, Choice) and dim.n_values() == 1):
            continue
        if isinstance(dim, Choice):
            raise ValueError(
                f"CMAES: dimension {name!r} is a Choice; CMA-ES searches continuous and integer "
                "dimensions only. Use shoal.samplers.TPE() or Auto() for spaces with choices"
            )
        if dim.when:
            raise ValueError(
                f"CMAES: dimension {name!r} is conditional (when={dict(dim.when)}); CMA-ES needs every "
                "dimension active. Use shoal.samplers.TPE() or Auto() for conditional spaces"
            )
        cols.append(i)
    return cols


def parse_claim(claim: str | None) -> tuple[int, int, int] | None:
    """``(run, generation, index)`` of a ``cma:r:g:i`` claim, else None."""
    if claim is None or not claim.startswith(_PREFIX):
        return None
    try:
        run, gen, idx = (int(p) for p in claim[len(_PREFIX):].split(":"))
    except ValueError:
        return None
    return run, gen, idx


@dataclass
class _Run:
    """One CMA-ES run replayed from the history: its optimizer and what it was told."""

    cma: Any
    cols: tuple[int, ...]
    popsize: int
    told: list[tuple[tuple[int, float], ...]] = field(default_factory=list)


class CMAES(Sampler):
    """CMA-ES (Hansen's covariance matrix adaptation) over continuous and integer dimensions.

    - ``sigma`` (1/6): the initial step size as a fraction of the unit cube (the box is +-3 sigma
      around its centre, the usual convention; 0.1-0.3 all work).
    - ``popsize``: members per generation (default ``4 + floor(3 ln d)``, cmaes' default).
    - ``restart``: None (a run that stops restarts at a random point, same population) or
      ``"ipop"`` (each restart doubles the population).
    - Best with many trials (a few dozen generations); for small budgets prefer ``GP``.
    """

    def __init__(
        self,
        sigma: float = 1 / 6,
        popsize: int | None = None,
        restart: str | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0 < sigma <= 1:
            raise ValueError(f"CMAES: sigma must be a number in (0, 1] (a fraction of the unit cube), "
                             f"got {sigma!r}")
        if popsize is not None and (isinstance(popsize, bool) or not isinstance(popsize, (int, np.integer))
                                    or popsize < 2):
            raise ValueError(f"CMAES: popsize must be an int >= 2 or None (cmaes' default), got {popsize!r}")
        if restart not in RESTARTS:
            raise ValueError(f"CMAES: restart must be None or 'ipop', got {restart!r}")
        if importlib.util.find_spec("cmaes") is None:
            raise ImportError("CMAES needs the 'cmaes' package: pip install 'shoal[cmaes]' (or cmaes)")
        self.sigma = float(sigma)
        self.popsize = None if popsize is None else int(popsize)
        self.restart = restart
        self._runs: dict[tuple[str, int], _Run] = {}

    # -- seeds -------------------------------------------------------------------------------
    def _int_seed(self, context: SamplingContext, number: int, stream: int) -> int:
        rng = self.rng_for(dataclasses.replace(context, trial_number=number), stream)
        return int(rng.integers(2**31 - 1))

    # -- proposing ---------------------------------------------------------------------------
    def check_space(self, space: Space) -> None:
        """Refuse a space with a choice or a conditional dimension, naming it."""
        cma_columns(space)

    def propose(self, context: SamplingContext) -> Proposal:
        space = context.space
        cols = cma_columns(space)  # a space CMA-ES cannot search fails here, before any trial runs
        if not cols:
            return Proposal(np.full(len(space), 0.5), extra={"sampler": "cmaes", "why": "nothing to search"})
        try:
            return self._propose(context, cols)
        except Exception as exc:  # never crash a study over the model
            logger.warning("CMAES: proposal failed (%s: %s); proposing a random point instead",
                           type(exc).__name__, exc)
            unit = self.rng_for(context, _FALLBACK_STREAM).random(len(space))
            return Proposal(unit, extra={"sampler": "cmaes", "why": f"fallback: {type(exc).__name__}"})

    def _propose(self, context: SamplingContext, cols: list[int]) -> Proposal:
        trials = context.trials
        members = _members(trials)
        repeats = {t.requeued_from: t for t in trials if t.requeued_from is not None}
        run_no = max((r for r, _ in members), default=0)
        run = self._replay(context, cols, run_no, members, repeats)
        gen = len(run.told)
        current = members.get((run_no, gen), {})
        if not current and gen > 0 and run.cma.should_stop():
            run_no += 1
            run = self._replay(context, cols, run_no, members, repeats)
            gen, current = 0, {}
        idx = 0
        while idx in current:
            idx += 1
        seed = self._int_seed(context, gen, (_MEMBER_STREAM << 40) | (run_no << 20) | idx)
        run.cma.reseed_rng(seed)
        x = np.clip(run.cma.ask(), 0.0, 1.0)
        unit = np.full(len(context.space), 0.5)
        unit[cols] = x
        extra = {"sampler": "cmaes", "run": run_no, "generation": gen, "member": idx}
        return Proposal(unit, claim=f"{_PREFIX}{run_no}:{gen}:{idx}", extra=extra)

    # -- replaying a run from the history --------------------------------------------------
    def _replay(
        self,
        context: SamplingContext,
        cols: list[int],
        run_no: int,
        members: Mapping[tuple[int, int], Mapping[int, Trial]],
        repeats: Mapping[int, Trial],
    ) -> _Run:
        key = (context.study_name, run_no)
        sign = direction_sign(context.direction)
        run = self._runs.get(key)
        if run is not None and (run.cols != tuple(cols) or any(
            _told_values(members.get((run_no, g), {}), run.popsize, repeats, sign) != told
            for g, told in enumerate(run.told)
        )):
            run = None  # the history is not the one this cache was built from: replay from scratch
        if run is None:
            run = self._new_run(context, cols, run_no, members)
            self._runs[key] = run
        while True:
            gen = members.get((run_no, len(run.told)), {})
            told = _told_values(gen, run.popsize, repeats, sign)
            if told is None:
                return run
            solutions = []
            for (number, value) in told:
                trial = next(t for t in gen.values() if t.number == number)
                x = np.nan_to_num(context.space.encode(trial.config, trial.unit)[cols], nan=0.5)
                solutions.append((np.clip(x, 0.0, 1.0), value))
            run.cma.tell(solutions)
            run.told.append(told)

    def _new_run(
        self,
        context: SamplingContext,
        cols: list[int],
        run_no: int,
        members: Mapping[tuple[int, int], Mapping[int, Trial]],
    ) -> _Run:
        from cmaes import CMA

        d = len(cols)
        popsize = self.popsize or 4 + math.floor(3 * math.log(d))
        if self.restart == "ipop":
            popsize *= 2**run_no
        rng = self.rng_for(dataclasses.replace(context, trial_number=run_no), _RUN_STREAM)
        mean, sigma = np.full(d, 0.5), self.sigma
        if run_no > 0:
            mean = rng.uniform(0.25, 0.75, d)
        else:
            first = min((t.number for gen in members.values() for t in gen.values()), default=None)
            warm = warm_start(context, cols, first)
            if warm is not None:
                mean, sigma = warm[0], min(self.sigma, warm[1])
        bounds = np.tile([0.0, 1.0], (d, 1))
        cma = CMA(mean=mean, sigma=sigma, bounds=bounds, seed=int(rng.integers(2**31 - 1)),
                  population_size=popsize)
        return _Run(cma, tuple(cols), popsize)

    def describe(self) -> str:
        return (f"CMAES(sigma={self.sigma:g}, popsize={self.popsize}, restart={self.restart!r}, "
                f"seed={self.seed})")


def _members(trials: Iterable[Trial]) -> dict[tuple[int, int], dict[int, Trial]]:
    """The CMA-ES members among ``trials``: (run, generation) -> {index: trial}."""
    out: dict[tuple[int, int], dict[int, Trial]] = {}
    for trial in trials:
        parsed = parse_claim(trial.claim)
        if parsed is not None:
            run, gen, idx = parsed
            out.setdefault((run, gen), {})[idx] = trial
    return out


def _told_values(
    gen: Mapping[int, Trial], popsize: int, repeats: Mapping[int, Trial], sign: float
) -> tuple[tuple[int, float], ...] | None:
    """(trial number, minimized value) of members 0 .. popsize-1, or None while any is unfinished."""
    scores: list[tuple[int, float | None]] = []
    for idx in range(popsize):
        trial = gen.get(idx)
        if trial is None:
            return None
        number, result = trial.number, trial
        while result.state in (TrialState.FAILED, TrialState.STALE) and result.number in repeats:
            result = repeats[result.number]  # a re-queued or retried attempt of the same point
        if not result.state.finished:
            return None
        score = finished_score(result) if result.state != TrialState.FAILED else None
        scores.append((number, None if score is None else sign * score))
    finite = [s for _, s in scores if s is not None]
    worst = (max(finite) + 1.0 + abs(max(finite))) if finite else 0.0
    return tuple((n, worst if s is None else s) for n, s in scores)


def warm_start(
    context: SamplingContext, cols: Sequence[int], before: int | None
) -> tuple[np.ndarray, float] | None:
    """Mean and step size for a run started on a history of other samplers' trials, else None.

    The mean is the best scored trial numbered below ``before`` (the run's first member); the step
    size is the mean per-dimension spread of the best tenth (at least 5 trials), kept >= 0.02.
    """
    sign = direction_sign(context.direction)
    scored = [
        (sign * s, t) for t in context.history
        if parse_claim(t.claim) is None and (before is None or t.number < before)
        for s in (finished_score(t),) if s is not None and t.state != TrialState.FAILED
    ]
    if len(scored) < 2:
        return None
    scored.sort(key=lambda st: (st[0], st[1].number))
    k = min(len(scored), max(5, math.ceil(0.1 * len(scored))))
    x = np.array([context.space.encode(t.config, t.unit)[list(cols)] for _, t in scored[:k]])
    x = np.clip(np.nan_to_num(x, nan=0.5), 0.0, 1.0)
    sigma = float(np.mean(x.std(axis=0)))
    return x[0], max(_MIN_WARM_SIGMA, sigma)
