"""Grid search: every combination of a few values per dimension, each point tried exactly once.

Points are numbered 0 .. N-1 and an index maps lazily to its point (a mixed radix over the
dimensions; conditional dimensions only where their parent makes them active), so a grid of a million
points costs nothing until it is visited. Each trial claims ``grid:<index>`` in storage, so two workers
or two drivers never run the same point. With ``shuffle=True`` the visiting order is a seeded affine
permutation of the indices, chosen so that consecutive points differ in every dimension: a study
stopped after k trials has still varied every hyperparameter.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..space import Dimension, Space, as_space
from .base import Proposal, Sampler, SamplingContext, SearchExhausted

__all__ = ["Grid"]

_CLAIM_PREFIX = "grid:"
_ORDER_STREAM = 0x67726964  # "grid": the stream the visiting order is drawn from
_ORDER_CANDIDATES = 64
_LOOKAHEAD = 16  # the order is chosen so that its first points cover every dimension well


def _same_value(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _axis(dim: Dimension, resolution: int) -> list[float]:
    """Unit coordinates of ``dim.grid(resolution)``, one per grid value, in the same order.

    Discrete dimensions use ``to_unit`` (the middle of a value's bin, robust to rounding); continuous
    ones and custom maps reuse the evenly spaced u that produced each value, so a custom map needs no
    inverse and a log grid decodes to exactly its grid values.
    """
    values = dim.grid(resolution)
    if dim.discrete:
        return [float(dim.to_unit(v)) for v in values]
    us = [0.5] if resolution == 1 else [float(u) for u in np.linspace(0.0, 1.0, resolution)]
    seen: set[tuple[type, Any]] = set()
    unhashable: list[Any] = []
    coords: list[float] = []
    for u in us:  # linear in the resolution: a set of (type, value), as Dimension.grid keeps them apart
        v = dim.from_unit(u)
        try:
            key = (type(v), v)
            if key in seen:
                continue
            seen.add(key)
        except TypeError:
            if any(_same_value(v, s) for s in unhashable):
                continue
            unhashable.append(v)
        coords.append(u)
    if len(coords) != len(values):  # a dimension with its own grid(): place its values by inverse
        return [float(dim.to_unit(v)) for v in values]
    return coords


class _Plan:
    """The grid of one space at one resolution: its size and the lazy map index -> unit point."""

    def __init__(self, space: Space, resolution: int) -> None:
        self.space = space
        self.dims: list[Dimension] = [dim for _, dim in space]
        self.axes: list[list[float]] = [_axis(dim, resolution) for dim in self.dims]
        self.values: list[list[Any]] = [dim.grid(resolution) for dim in self.dims]
        self._memo: dict[tuple, int] = {}
        self.size = self._count(0, {})

    @staticmethod
    def _key(start: int, config: Mapping[str, Any]) -> tuple:
        return (start, tuple((k, type(v).__name__, v) for k, v in config.items()))

    def _active(self, i: int, config: Mapping[str, Any]) -> bool:
        dim = self.dims[i]
        return not dim.when or self.space.is_active(dim.name, config)

    def _count(self, start: int, config: dict[str, Any]) -> int:
        """Grid points of the dimensions from ``start`` on, given the parents' values in ``config``."""
        key = self._key(start, config)
        if key in self._memo:
            return self._memo[key]
        total = 1
        for i in range(start, len(self.dims)):
            if not self._active(i, config):
                continue
            if self.dims[i].name in self.space.parents:
                total *= sum(self._subcounts(i, config))
                break
            total *= len(self.axes[i])
        self._memo[key] = total
        return total

    def _subcounts(self, i: int, config: dict[str, Any]) -> list[int]:
        name = self.dims[i].name
        return [self._count(i + 1, {**config, name: v}) for v in self.values[i]]

    def radices(self) -> list[int]:
        """Sizes of the index's digits at the top level, most significant first."""
        out: list[int] = []
        for i in range(len(self.dims)):
            if not self._active(i, {}):
                continue
            if self.dims[i].name in self.space.parents:
                out.append(sum(self._subcounts(i, {})))
                break
            out.append(len(self.axes[i]))
        return out

    def point(self, index: int) -> np.ndarray:
        """The unit point of grid index ``index`` (inactive dimensions at 0.5)."""
        unit = np.full(len(self.dims), 0.5)
        self._fill(index, 0, {}, unit)
        return unit

    def _fill(self, index: int, start: int, config: dict[str, Any], unit: np.ndarray) -> None:
        plain: list[int] = []  # active non-parent dimensions before the next parent
        rest = index
        for i in range(start, len(self.dims)):
            if not self._active(i, config):
                continue
            if self.dims[i].name in self.space.parents:
                subcounts = self._subcounts(i, config)
                rest, offset = divmod(index, sum(subcounts))
                j = 0
                while offset >= subcounts[j]:
                    offset -= subcounts[j]
                    j += 1
                unit[i] = self.axes[i][j]
                self._digits(rest, plain, unit)
                self._fill(offset, i + 1, {**config, self.dims[i].name: self.values[i][j]}, unit)
                return
            plain.append(i)
        self._digits(rest, plain, unit)

    def _digits(self, number: int, dims: list[int], unit: np.ndarray) -> None:
        for i in reversed(dims):  # row-major: the last dimension varies fastest
            number, digit = divmod(number, len(self.axes[i]))
            unit[i] = self.axes[i][digit]


def _coverage(a: int, b: int, n: int, radices: list[int]) -> tuple[float, ...]:
    """How well the order p -> (a * p + b) mod n spreads its first K = min(n, _LOOKAHEAD) points.

    Scores each top-level digit (larger is better, 0 perfect), worst digit first: the share of steps
    on which it does not change, then how many points it takes to show min(radix, K) distinct values
    over that ideal.
    """
    k = min(n, _LOOKAHEAD)
    targets = [min(r, k) for r in radices]
    seen: list[set[int]] = [set() for _ in radices]
    took = [float(k + 1)] * len(radices)
    stays = [0] * len(radices)
    previous: list[int] | None = None
    for p in range(k):
        number = (a * p + b) % n
        digits = [0] * len(radices)
        for j in range(len(radices) - 1, -1, -1):
            number, digits[j] = divmod(number, radices[j])
            seen[j].add(digits[j])
            if len(seen[j]) == targets[j] and took[j] > k:
                took[j] = p + 1
        if previous is not None:
            for j, (d, e) in enumerate(zip(digits, previous, strict=True)):
                stays[j] += d == e
        previous = digits
    used = [j for j, r in enumerate(radices) if r > 1]
    if not used:
        return (0.0, 0.0, 0.0)
    still = [stays[j] / max(1, k - 1) for j in used]
    slow = [took[j] / targets[j] - 1.0 for j in used]
    return (-max(still), -max(slow), -sum(slow) / len(slow))


class Grid(Sampler):
    """Exhaustive grid search: ``resolution`` values per continuous dimension, all choices.

    Continuous dimensions get ``resolution`` points on their own scale (a log grid for a log scale),
    integers and stepped floats up to ``resolution`` of their values evenly spread, choices every
    value; conditional dimensions appear only where they are active. Each point is tried once; when
    all are taken ``propose`` raises ``SearchExhausted`` and ``optimize`` stops.

    ``max_points`` guards against a grid too large to finish (``None`` lifts the guard);
    ``shuffle=False`` visits points in row-major order (the last dimension fastest).
    """

    def __init__(
        self,
        resolution: int = 5,
        *,
        max_points: int | None = 1_000_000,
        shuffle: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed)
        if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1:
            raise ValueError(f"Grid: resolution must be an int >= 1, got {resolution!r}")
        if max_points is not None and (
            isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1
        ):
            raise ValueError(
                f"Grid: max_points must be an int >= 1, or None for no limit, got {max_points!r}"
            )
        if not isinstance(shuffle, bool):
            raise ValueError(f"Grid: shuffle must be True or False, got {shuffle!r}")
        self.resolution = int(resolution)
        self.max_points = None if max_points is None else int(max_points)
        self.shuffle = shuffle
        self._plan: _Plan | None = None
        self._sized: tuple[Space, int] | None = None
        self._orders: dict[tuple[str, int | None], tuple[int, int]] = {}
        self._cursors: dict[str, int] = {}

    def _plan_for(self, space: Space) -> _Plan:
        if self._plan is None or self._plan.space is not space:
            self._plan = _Plan(space, self.resolution)
            self._orders.clear()
            self._cursors.clear()
        return self._plan

    def size(self, space: Space | Mapping[str, Any]) -> int:
        """How many points the grid has over ``space`` (conditional dimensions counted exactly).

        Counted by arithmetic (``Space.grid_size``), without listing the points.
        """
        space = as_space(space)
        if self._sized is None or self._sized[0] is not space:
            self._sized = (space, space.grid_size(self.resolution))
        return self._sized[1]

    def check_space(self, space: Space | Mapping[str, Any]) -> None:
        """Refuse a grid of more than ``max_points`` points, sized by arithmetic (at once)."""
        if self.max_points is None:
            return
        n = self.size(space)
        if n > self.max_points:
            raise ValueError(
                f"Grid: the grid has {n} points, more than max_points={self.max_points}; lower "
                f"resolution (now {self.resolution}), remove dimensions, or pass max_points=None "
                "to run it anyway"
            )

    def point(self, space: Space | Mapping[str, Any], index: int) -> dict[str, Any]:
        """The config of grid point ``index`` (0 <= index < size), in row-major numbering."""
        plan = self._plan_for(as_space(space))
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < plan.size:
            raise ValueError(f"index must be an int in [0, {plan.size}), got {index!r}")
        return plan.space.decode(plan.point(int(index)))[0]

    def _order(self, context: SamplingContext, plan: _Plan) -> tuple[int, int]:
        """(a, b) of the visiting order position p -> (a * p + b) mod n."""
        n = plan.size
        if not self.shuffle or n == 1:
            return 1, 0
        cache_key = (context.study_name, self.seed)
        order = self._orders.get(cache_key)
        if order is None:
            radices = plan.radices()
            rng = self.rng_for(dataclasses.replace(context, trial_number=0), _ORDER_STREAM)
            high = min(n, 2**62)
            b = int(rng.integers(0, high))
            best, best_score = 1, (-math.inf,) * 3
            for _ in range(_ORDER_CANDIDATES):
                a = int(rng.integers(1, high))
                if math.gcd(a, n) != 1:
                    continue
                score = _coverage(a, b, n, radices)
                if score > best_score:
                    best, best_score = a, score
                if score == (0.0, 0.0, 0.0):
                    break
            order = (best, b)
            self._orders[cache_key] = order
        return order

    def propose(self, context: SamplingContext) -> Proposal:
        self.check_space(context.space)  # before the plan lists any value
        plan = self._plan_for(context.space)
        n = plan.size
        held: set[int] = set()
        for trial in context.trials:
            claim = trial.claim
            if claim is not None and claim.startswith(_CLAIM_PREFIX):
                try:
                    index = int(claim[len(_CLAIM_PREFIX):])
                except ValueError:
                    continue
                if 0 <= index < n:
                    held.add(index)
        if len(held) >= n:
            raise SearchExhausted(f"grid of {n} points is exhausted")
        a, b = self._order(context, plan)
        start = self._cursors.get(context.study_name, 0)
        for step in range(n):  # ends: fewer than n indices are held
            position = (start + step) % n
            index = (a * position + b) % n
            if index not in held:
                break
        self._cursors[context.study_name] = position + 1
        return Proposal(plan.point(index), claim=f"{_CLAIM_PREFIX}{index}")

    def describe(self) -> str:
        return (
            f"Grid(resolution={self.resolution}, max_points={self.max_points}, "
            f"shuffle={self.shuffle}, seed={self.seed})"
        )
