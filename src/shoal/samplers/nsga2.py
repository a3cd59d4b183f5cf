"""NSGA-II (Deb et al. 2002) on the unit cube, for very large budgets of several objectives.

Like ``CMAES`` the sampler keeps no state a restart would lose: every member of a generation is a
trial claimed ``nsga:<generation>:<index>``, and on each proposal the run is replayed from the trials
(cached by what each generation was told), so several drivers and a resumed study continue one run:

- generation 0 is ``population`` uniform random points; when the study already holds finished
  trials of other samplers (at least half a population, e.g. ``Auto`` moving on from MOGP), the run
  starts instead from the best ``population`` of them (those numbered below the run's first member)
  and its first generation is 1;
- generation g is *told* once its members 0 .. population-1 have all finished (a failed or stale
  member, unless a repeat of it has values, and a pruned one without every objective count as
  infeasible with infinite violation); the next parents are then the best ``population`` of the
  parents and generation g together, by constraint domination (feasible first by non-dominated rank,
  then smaller total violation), the last rank that does not fit filled by crowding distance;
- each member of the next generation is one child, drawn from its own seed (seed, study, generation,
  index), so parallel asks differ and a seeded run repeats: two binary tournaments (lower rank, then
  larger crowding distance), simulated binary crossover (``eta_crossover``, with probability
  ``crossover_prob``, each coordinate with probability 1/2) and polynomial mutation (``eta_mutation``,
  each coordinate with probability ``mutation_prob``, default 1/d), on unit coordinates; a choice
  takes one parent's value and mutates to a uniform draw; a coordinate inactive in one parent comes
  from the other (from neither: uniform);
- when every member of the current generation is out but some still run, extra members of the same
  generation are proposed (evaluated, never selected from).

A failure falls back to a random proposal and logs why on ``logging.getLogger("shoal")``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..objectives import Objectives
from ..space import Choice, Space
from ..stats import pareto
from ..trial import Trial, TrialState
from . import _mo
from .base import Proposal, Sampler, SamplingContext

__all__ = ["NSGAII"]

log = logging.getLogger("shoal")
NAME = "nsga2"
_PREFIX = "nsga:"
_MEMBER_STREAM = 0x6E7367  # "nsg"
_FALLBACK_STREAM = 0x6E7368


def parse_claim(claim: str | None) -> tuple[int, int] | None:
    """``(generation, index)`` of an ``nsga:g:i`` claim, else None."""
    if claim is None or not claim.startswith(_PREFIX):
        return None
    try:
        gen, idx = (int(p) for p in claim[len(_PREFIX):].split(":"))
    except ValueError:
        return None
    return gen, idx


@dataclass(frozen=True, eq=False)
class Population:
    """Individuals as arrays: trial numbers, unit points (NaN where inactive), lower-is-better scores
    (inf for a member without values), feasibility and total violation."""

    numbers: np.ndarray
    x: np.ndarray
    scores: np.ndarray
    feasible: np.ndarray
    violation: np.ndarray

    def __len__(self) -> int:
        return len(self.numbers)

    def take(self, rows: np.ndarray) -> Population:
        return Population(self.numbers[rows], self.x[rows], self.scores[rows], self.feasible[rows],
                          self.violation[rows])

    @staticmethod
    def join(a: Population, b: Population) -> Population:
        return Population(*(np.concatenate([getattr(a, f.name), getattr(b, f.name)])
                            for f in dataclasses.fields(Population)))

    def best(self, k: int) -> Population:
        """The ``k`` best by constraint domination, the last rank that fits partly by crowding."""
        return self.take(_mo.select(self.scores, self.feasible, self.violation, k, fill="crowding",
                                    tiebreak=self.numbers))

    def signature(self) -> tuple:
        return (tuple(self.numbers.tolist()), self.scores.tobytes(), self.feasible.tobytes(),
                self.violation.tobytes())


class NSGAII(Sampler):
    """NSGA-II over the unit cube (see the module docstring).

    - ``population`` (50): members per generation.
    - ``crossover_prob`` (0.9), ``eta_crossover`` (20): simulated binary crossover.
    - ``mutation_prob`` (None: 1/d), ``eta_mutation`` (20): polynomial mutation.
    - Best with many trials (dozens of generations); for small budgets prefer ``MOGP``.
    """

    def __init__(
        self,
        population: int = 50,
        *,
        crossover_prob: float = 0.9,
        eta_crossover: float = 20.0,
        mutation_prob: float | None = None,
        eta_mutation: float = 20.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if isinstance(population, bool) or not isinstance(population, (int, np.integer)) or population < 2:
            raise ValueError(f"NSGAII: population must be an int >= 2, got {population!r}")
        for name, value in (("crossover_prob", crossover_prob), ("mutation_prob", mutation_prob)):
            if value is None and name == "mutation_prob":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"NSGAII: {name} must be a probability in [0, 1], got {value!r}")
        for name, value in (("eta_crossover", eta_crossover), ("eta_mutation", eta_mutation)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"NSGAII: {name} must be a number >= 0, got {value!r}")
        self.population = int(population)
        self.crossover_prob = float(crossover_prob)
        self.eta_crossover = float(eta_crossover)
        self.mutation_prob = None if mutation_prob is None else float(mutation_prob)
        self.eta_mutation = float(eta_mutation)
        self._cache: dict[tuple, Population] = {}
        self._readers: dict[tuple, _Reader] = {}

    # -- proposing ---------------------------------------------------------------------------
    def propose(self, context: SamplingContext) -> Proposal:
        try:
            return self._propose(context)
        except Exception as exc:  # never crash a study over the model
            log.warning("NSGAII: proposal failed (%s: %s); proposing a random point instead",
                        type(exc).__name__, exc)
            unit = self.rng_for(context, _FALLBACK_STREAM).random(len(context.space))
            return Proposal(unit, extra={"sampler": NAME, "why": f"random fallback ({type(exc).__name__})"})

    def _propose(self, context: SamplingContext) -> Proposal:
        members = _members(context.trials)
        parents, gen = self.replay(context, members)
        current = members.get(gen, {})
        idx = 0
        while idx in current:
            idx += 1
        rng = self.rng_for(dataclasses.replace(context, trial_number=gen), (_MEMBER_STREAM << 20) | idx)
        if parents is None:
            unit = rng.random(len(context.space))
            why = f"generation 0 (uniform random), member {idx}"
        else:
            unit = self._child(context.space, parents, rng)
            why = f"generation {gen}, member {idx}: child of {len(parents)} parents"
        if idx >= self.population:
            why += " (an extra while the generation finishes)"
        extra = {"sampler": NAME, "why": why, "generation": gen, "member": idx}
        return Proposal(np.clip(unit, 0.0, 1.0), claim=f"{_PREFIX}{gen}:{idx}", extra=extra)

    # -- replaying the run from the history ------------------------------------------------
    def replay(
        self, context: SamplingContext, members: Mapping[int, Mapping[int, Trial]] | None = None
    ) -> tuple[Population | None, int]:
        """(the parents of the generation to fill, its number); parents None for generation 0."""
        spec = context.spec
        trials = context.trials
        members = _members(trials) if members is None else members
        reader = self._reader(context)
        repeats = {t.requeued_from: t for t in trials if t.requeued_from is not None}
        numbers = [t.number for gen in members.values() for t in gen.values()]
        first = min(numbers) if numbers else None
        if 0 in members:
            parents = _told(members[0], self.population, repeats, reader)
            if parents is None:
                return None, 0
        else:
            pool = [t for t in context.history
                    if parse_claim(t.claim) is None and (first is None or t.number < first)]
            parents = reader.population([(t, t) for t in pool if t.state.finished])
            if len(parents) < max(2, self.population // 2) and not numbers:
                return None, 0
        parents = parents.best(self.population)
        key: tuple = (context.study_name, spec, self.population, parents.signature())
        gen = 1
        while True:
            told = _told(members.get(gen, {}), self.population, repeats, reader)
            if told is None:
                return parents, gen
            key = (key, told.signature())
            cached = self._cache.get(key)
            if cached is None:
                cached = Population.join(parents, told).best(self.population)
                if len(self._cache) > 4096:
                    self._cache.clear()
                self._cache[key] = cached
            parents = cached
            gen += 1

    def _reader(self, context: SamplingContext) -> _Reader:
        key = (context.study_name, context.spec)
        reader = self._readers.get(key)
        if reader is None or reader.space is not context.space:
            if len(self._readers) > 8:
                self._readers.clear()
            self._readers[key] = _Reader(context.space, context.spec)
        return self._readers[key]

    # -- variation ----------------------------------------------------------------------------
    def _child(self, space: Space, parents: Population, rng: np.random.Generator) -> np.ndarray:
        ranks = _mo.constrained_ranks(parents.scores, parents.feasible, parents.violation)
        crowd = np.zeros(len(parents))
        for rank in np.unique(ranks):
            rows = np.flatnonzero(ranks == rank)
            if parents.feasible[rows[0]]:
                crowd[rows] = pareto.crowding_distance(parents.scores[rows])
        a, b = _tournament(ranks, crowd, rng), _tournament(ranks, crowd, rng)
        x1, x2 = parents.x[a].copy(), parents.x[b].copy()
        d = len(x1)
        fill = rng.random(d)
        x1 = np.where(np.isnan(x1), np.where(np.isnan(x2), fill, x2), x1)
        x2 = np.where(np.isnan(x2), x1, x2)
        choice = np.array([isinstance(dim, Choice) for _, dim in space], dtype=bool)
        cross = rng.random() < self.crossover_prob
        child = _sbx(x1, x2, rng, self.eta_crossover)
        pick = rng.random(d) < 0.5
        child = np.where(choice, np.where(pick, x2, x1), child)
        if not cross:
            child = x1
        p_mut = self.mutation_prob if self.mutation_prob is not None else 1.0 / max(1, d)
        mutated = _polynomial_mutation(child, rng, self.eta_mutation)
        redraw = rng.random(d)
        mutated = np.where(choice, redraw, mutated)
        return np.where(rng.random(d) < p_mut, mutated, child)

    def describe(self) -> str:
        return (f"NSGAII(population={self.population}, crossover_prob={self.crossover_prob:g}, "
                f"eta_crossover={self.eta_crossover:g}, mutation_prob={self.mutation_prob}, "
                f"eta_mutation={self.eta_mutation:g}, seed={self.seed})")


def _members(trials: Iterable[Trial]) -> dict[int, dict[int, Trial]]:
    """The NSGA-II members among ``trials``: generation -> {index: trial}."""
    out: dict[int, dict[int, Trial]] = {}
    for trial in trials:
        parsed = parse_claim(trial.claim)
        if parsed is not None:
            out.setdefault(parsed[0], {})[parsed[1]] = trial
    return out


class _Reader:
    """Finished trials as individuals, each read once (a finished trial never changes)."""

    def __init__(self, space: Space, spec: Objectives) -> None:
        self.space, self.spec = space, spec
        self.m = len(spec.objectives)
        self._rows: dict[tuple, tuple[np.ndarray, np.ndarray, bool, float]] = {}

    def row(self, member: Trial, result: Trial) -> tuple[np.ndarray, np.ndarray, bool, float]:
        """(unit point of the member, scores, feasible, violation of the trial holding its result);
        without values: infeasible, infinite violation."""
        key = (member.number, result.number, result.state)
        row = self._rows.get(key)
        if row is None:
            x = self.space.encode(member.config, member.unit)
            read = _mo.outcome(result, self.spec) if result.state != TrialState.FAILED else None
            if read is None:
                row = (x, np.full(self.m, np.inf), False, np.inf)
            else:
                row = (x, np.array(read[0], dtype=float), read[1], read[2])
            self._rows[key] = row
        return row

    def population(self, pairs: Sequence[tuple[Trial, Trial]]) -> Population:
        """(member, result) pairs as a population."""
        rows = [self.row(member, result) for member, result in pairs]
        d = len(self.space)
        return Population(
            np.array([member.number for member, _ in pairs], dtype=int),
            np.array([r[0] for r in rows], dtype=float).reshape(-1, d),
            np.array([r[1] for r in rows], dtype=float).reshape(-1, self.m),
            np.array([r[2] for r in rows], dtype=bool),
            np.array([r[3] for r in rows], dtype=float),
        )


def _result(trial: Trial, repeats: Mapping[int, Trial]) -> Trial:
    """The trial holding a member's result: a failed or stale one's repeat when it has one."""
    result = trial
    while result.state in (TrialState.FAILED, TrialState.STALE) and result.number in repeats:
        result = repeats[result.number]
    return result


def _told(
    gen: Mapping[int, Trial], population: int, repeats: Mapping[int, Trial], reader: _Reader
) -> Population | None:
    """Members 0 .. population-1 of a generation as individuals, or None while any is unfinished."""
    pairs = []
    for idx in range(population):
        trial = gen.get(idx)
        if trial is None:
            return None
        result = _result(trial, repeats)
        if not result.state.finished:
            return None
        pairs.append((trial, result))
    return reader.population(pairs)


def _tournament(ranks: np.ndarray, crowd: np.ndarray, rng: np.random.Generator) -> int:
    """Binary tournament: the lower rank wins, then the larger crowding distance, then the first drawn."""
    if len(ranks) == 1:
        rng.random(2)
        return 0
    i, j = rng.choice(len(ranks), size=2, replace=False)
    if ranks[j] < ranks[i] or (ranks[j] == ranks[i] and crowd[j] > crowd[i]):
        return int(j)
    return int(i)


def _sbx(x1: np.ndarray, x2: np.ndarray, rng: np.random.Generator, eta: float) -> np.ndarray:
    """One child of bounded simulated binary crossover on [0, 1] (Deb and Agrawal 1995, as in Deb's
    reference NSGA-II code: each coordinate crossed with probability 1/2, the two children swapped
    with probability 1/2)."""
    d = len(x1)
    u, swap, cross = rng.random(d), rng.random(d) < 0.5, rng.random(d) < 0.5
    y1, y2 = np.minimum(x1, x2), np.maximum(x1, x2)
    diff = y2 - y1
    ok = cross & (diff > 1e-14)
    safe = np.where(ok, diff, 1.0)
    power = 1.0 / (eta + 1.0)

    def spread(beta: np.ndarray) -> np.ndarray:
        alpha = 2.0 - beta ** -(eta + 1.0)
        inside = (u * alpha) ** power
        outside = (1.0 / np.maximum(2.0 - u * alpha, 1e-300)) ** power
        return np.where(u <= 1.0 / alpha, inside, outside)

    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        c1 = 0.5 * (y1 + y2 - spread(1.0 + 2.0 * y1 / safe) * diff)
        c2 = 0.5 * (y1 + y2 + spread(1.0 + 2.0 * (1.0 - y2) / safe) * diff)
    c1, c2 = np.clip(np.nan_to_num(c1, nan=0.5), 0.0, 1.0), np.clip(np.nan_to_num(c2, nan=0.5), 0.0, 1.0)
    return np.where(ok, np.where(swap, c2, c1), x1)


def _polynomial_mutation(x: np.ndarray, rng: np.random.Generator, eta: float) -> np.ndarray:
    """Every coordinate mutated by bounded polynomial mutation on [0, 1] (Deb and Goyal 1996)."""
    r = rng.random(len(x))
    power = 1.0 / (eta + 1.0)
    low = 2.0 * r + (1.0 - 2.0 * r) * (1.0 - x) ** (eta + 1.0)
    high = 2.0 * (1.0 - r) + 2.0 * (r - 0.5) * x ** (eta + 1.0)
    delta = np.where(r < 0.5, low ** power - 1.0, 1.0 - high ** power)
    return np.clip(x + delta, 0.0, 1.0)
