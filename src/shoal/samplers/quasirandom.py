"""Quasi-random search: low-discrepancy sequences fill the unit cube more evenly than random draws.

Trial k of a study takes position k of one scrambled sequence (Sobol, Halton) or one row of a Latin
hypercube. The position is claimed in storage (``qmc:<k>``), so parallel workers and drivers walk the
sequence together instead of repeating it.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .base import Proposal, Sampler, SamplingContext

__all__ = ["QuasiRandom"]

METHODS = ("sobol", "halton", "lhs")
DEFAULT_BLOCK = 64
_CLAIM_PREFIX = "qmc:"
_SCRAMBLE_STREAM = 0x716D63  # "qmc"
_LHS_STREAM = 0x6C6873  # "lhs"


def held_positions(trials: Iterable[Any], prefix: str = _CLAIM_PREFIX) -> set[int]:
    """Sequence positions already claimed (``prefix<k>``) by the given trials."""
    held: set[int] = set()
    for trial in trials:
        claim = trial.claim
        if claim is not None and claim.startswith(prefix):
            try:
                held.add(int(claim[len(prefix):]))
            except ValueError:
                continue
    return held


def first_free(held: set[int]) -> int:
    """The smallest position >= 0 not in ``held`` (the count of held positions when there are no gaps)."""
    n = len(held)
    if n not in held and (not held or max(held) < n):
        return n
    position = 0
    while position in held:
        position += 1
    return position


class QuasiRandom(Sampler):
    """Points of a scrambled low-discrepancy sequence: ``"sobol"``, ``"halton"`` or ``"lhs"``.

    The scrambling is drawn from the seed and the study name, so a seeded run repeats and two studies
    get different sequences. ``"lhs"`` builds Latin hypercubes of B points (B = the ``optimize``
    budget, else 64): within each block every dimension has exactly one point in each of its B
    equal bins.
    """

    def __init__(self, method: str = "sobol", *, seed: int | None = None) -> None:
        super().__init__(seed)
        if method not in METHODS:
            raise ValueError(
                f"QuasiRandom: method must be one of 'sobol', 'halton', 'lhs', got {method!r}"
            )
        self.method = method
        self._engines: dict[tuple, Any] = {}
        self._block: tuple[tuple, np.ndarray] | None = None

    def _scramble_rng(self, context: SamplingContext, key: int, stream: int) -> np.random.Generator:
        """A generator for the whole sequence (not one trial): trial_number carries ``key``."""
        return self.rng_for(dataclasses.replace(context, trial_number=key), stream)

    def _sequence_point(self, context: SamplingContext, position: int) -> np.ndarray:
        from scipy.stats import qmc

        d = len(context.space)
        key = (context.study_name, d, self.seed, self._entropy)
        engine = self._engines.get(key)
        if engine is None:
            rng = self._scramble_rng(context, 0, _SCRAMBLE_STREAM)
            make = qmc.Sobol if self.method == "sobol" else qmc.Halton
            engine = make(d, scramble=True, seed=rng)
            self._engines[key] = engine
        if position < engine.num_generated:
            engine.reset()
        if position > engine.num_generated:
            engine.fast_forward(position - engine.num_generated)
        with warnings.catch_warnings():
            # Sobol warns unless points come in powers of two; trials come one at a time.
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            return engine.random(1)[0]

    def _lhs_point(self, context: SamplingContext, position: int) -> np.ndarray:
        from scipy.stats import qmc

        size = context.budget if context.budget else DEFAULT_BLOCK
        block, row = divmod(position, size)
        key = (context.study_name, len(context.space), self.seed, self._entropy, size, block)
        if self._block is None or self._block[0] != key:
            rng = self._scramble_rng(context, block, (_LHS_STREAM << 32) | size)
            sample = qmc.LatinHypercube(len(context.space), scramble=True, seed=rng).random(size)
            self._block = (key, sample)
        return self._block[1][row]

    def _point(self, context: SamplingContext, position: int) -> Proposal:
        if self.method == "lhs":
            unit = self._lhs_point(context, position)
        else:
            unit = self._sequence_point(context, position)
        return Proposal(np.clip(unit, 0.0, 1.0), claim=f"{_CLAIM_PREFIX}{position}")

    def propose(self, context: SamplingContext) -> Proposal:
        return self._point(context, first_free(held_positions(context.trials)))

    def propose_unrepeated(
        self, context: SamplingContext, repeats: Callable[[np.ndarray], bool], tries: int = 32
    ) -> Proposal:
        """The first free position whose point ``repeats`` does not reject (e.g. a config already
        tried, in a small discrete space), among the next ``tries`` free ones; else the first."""
        held = held_positions(context.trials)
        first = position = first_free(held)
        for _ in range(tries):
            proposal = self._point(context, position)
            if not repeats(proposal.unit):
                return proposal
            position += 1
            while position in held:
                position += 1
        return self._point(context, first)

    def describe(self) -> str:
        return f"QuasiRandom(method={self.method!r}, seed={self.seed})"
