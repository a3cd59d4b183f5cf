"""PBT's numeric core: who exploits whom, and how a copied config is perturbed (pure functions).

Perturbation happens on each dimension's own scale: a log-scale value is multiplied by a factor,
a reverse_log value has its distance to 1 multiplied (``1 - (1 - x) * f``), a linear value is
multiplied too (the rule of the PBT paper), a choice moves one index up or down. Every result is
clipped to the bounds and snapped to the dimension's steps; a value the factor would leave where it
was (zero, a small integer, a stepped float) moves one step in the factor's direction instead, so
explore always explores. With ``resample_probability`` a dimension is drawn afresh from its prior.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..direction import sign as direction_sign
from ..space import Choice, Custom, Dimension, Fixed, Float, Int, Space

__all__ = ["perturb_value", "explore", "split_population"]


def _snap_float(dim: Float, value: float, direction: int, old: float) -> float:
    value = min(dim.high, max(dim.low, value))
    if dim.step is None:
        return float(value)
    k_old = round((old - dim.low) / dim.step)
    k = round((value - dim.low) / dim.step)
    if k == k_old and direction:
        k = k_old + direction
    return dim.from_unit((min(max(k, 0), dim._n_steps) + 0.5) / (dim._n_steps + 1))


def perturb_value(dim: Dimension, value: Any, factor: float) -> Any:
    """``value`` of ``dim`` moved by ``factor`` on the dimension's own scale, clipped and snapped.

    ``factor > 1`` moves up (for reverse_log: moves 1 - x up, so x down), ``factor < 1`` down.
    A Choice moves one index (up for ``factor > 1``); a Fixed value never moves; a Custom value is
    moved through its unit coordinate (see ``explore``), not here.
    """
    if not (isinstance(factor, (int, float)) and factor > 0 and math.isfinite(factor)):
        raise ValueError(f"factor must be a finite number > 0, got {factor!r}")
    direction = (factor > 1) - (factor < 1)
    if isinstance(dim, Fixed):
        return dim.value
    if isinstance(dim, Choice):
        index = min(max(dim.index(value) + direction, 0), len(dim.values) - 1)
        return dim.values[index]
    if isinstance(dim, Float):
        old = float(value)
        if dim.scale == "reverse_log":
            moved = 1.0 - (1.0 - old) * factor
        else:
            moved = old * factor
            if moved == old and direction and dim.step is None:  # zero: step off it by a 1/100 of the range
                moved = old + direction * 0.01 * (dim.high - dim.low)
        return _snap_float(dim, moved, direction, old)
    if isinstance(dim, Int):
        old_int = int(value)
        moved_int = int(round(old_int * factor))
        moved_int = dim.low + round((moved_int - dim.low) / dim.step) * dim.step
        if moved_int == old_int:
            moved_int = old_int + direction * dim.step
        return int(min(dim.high, max(dim.low, moved_int)))
    raise ValueError(f"dimension {dim.name!r}: cannot perturb a {type(dim).__name__} value directly")


def explore(
    space: Space,
    config: Mapping[str, Any],
    unit: Mapping[str, float],
    rng: np.random.Generator,
    *,
    factors: Sequence[float] = (0.8, 1.2),
    resample_probability: float = 0.25,
) -> tuple[dict[str, Any], dict[str, float]]:
    """A perturbed copy of ``config`` (and its unit coordinates), one independent move per dimension.

    Each active dimension is, with probability ``resample_probability``, drawn afresh from its prior
    (a uniform unit coordinate); otherwise moved by a factor drawn from ``factors``. A Custom value
    moves through its unit coordinate (``u * factor``, clipped). A dimension that becomes active
    (its parent choice changed) is drawn from its prior; one that becomes inactive is dropped.
    """
    if not factors or not all(isinstance(f, (int, float)) and f > 0 for f in factors):
        raise ValueError(f"factors must be a non-empty sequence of numbers > 0, got {factors!r}")
    if not 0.0 <= resample_probability <= 1.0:
        raise ValueError(f"resample_probability must be in [0, 1], got {resample_probability!r}")
    new_config: dict[str, Any] = {}
    new_unit: dict[str, float] = {}
    for name, dim in space:
        if not space.is_active(name, new_config):
            continue
        resample = rng.random() < resample_probability
        factor = float(factors[int(rng.integers(len(factors)))])
        if name not in config or resample:
            u = float(rng.random())
            new_config[name], new_unit[name] = dim.from_unit(u), u
            continue
        if isinstance(dim, Custom):
            u = min(1.0, max(0.0, float(unit.get(name, 0.5)) * factor))
            new_config[name], new_unit[name] = dim.from_unit(u), u
            continue
        value = perturb_value(dim, config[name], factor)
        new_config[name] = value
        new_unit[name] = float(dim.to_unit(value))
    return new_config, new_unit


def split_population(
    scores: Mapping[int, float], quantile: float, direction: str
) -> tuple[list[int], list[int]]:
    """(bottom, top): the members in the worst and the best ``quantile`` of ``scores``.

    ``scores`` maps a member to its latest value. Each side holds ``max(1, floor(n * quantile))``
    members once there are at least two, never overlapping; ties are broken by member id.
    """
    if not 0.0 < quantile <= 0.5:
        raise ValueError(f"quantile must be in (0, 0.5], got {quantile!r}")
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    n = len(scores)
    if n < 2:
        return [], []
    sign = direction_sign(direction)
    ranked = sorted(scores, key=lambda m: (sign * scores[m], m))  # best first
    k = min(max(1, int(n * quantile)), n // 2)
    return ranked[-k:], ranked[:k]
