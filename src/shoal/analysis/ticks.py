"""Axis ticks that read well: decades on log axes, 1 - x decades on reverse-log axes (0.9, 0.99,
0.999), whole numbers on integer axes, and labels with just enough digits to tell ticks apart.

The plots draw a dimension on its unit coordinate (``Dimension.to_unit``), so a tick is a value of
the dimension placed at its unit position: ``unit_ticks(dim) -> (positions, labels)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..space import Choice, Dimension, Float, Int

__all__ = ["label", "labels", "nice_values", "unit_ticks", "integer_axis"]

#: At most this many ticks on a numeric axis (and every value of a discrete one up to this many).
MOST = 9


def label(value: float, digits: int = 1) -> str:
    """``value`` with the fewest significant digits (at least ``digits``) that still read back as it
    (to 1e-9 relative): ``0.9999`` -> ``"0.9999"``, ``1e-05`` -> ``"1e-5"``, ``0.0003`` -> ``"0.0003"``."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    for p in range(max(1, digits), 16):
        text = f"{value:.{p}g}"
        if math.isclose(float(text), value, rel_tol=1e-9, abs_tol=0.0):
            break
    mantissa, _, exponent = text.partition("e")
    return mantissa if not exponent else f"{mantissa}e{int(exponent)}"


def labels(values: Sequence[float]) -> list[str]:
    """Labels for ``values``, with more digits where two would otherwise read the same."""
    for digits in range(1, 16):
        texts = [label(v, digits) for v in values]
        if len(set(texts)) == len(set(values)):
            return texts
    return [repr(float(v)) for v in values]


def nice_values(low: float, high: float, most: int = MOST, *, integer: bool = False) -> list[float]:
    """Round values (steps of 1, 2 or 5 times a power of ten) in [low, high], at most ``most``, at
    least two when the range allows; whole steps only when ``integer``."""
    if not high > low:
        return [low]
    raw = (high - low) / max(1, most - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(low / step - 1e-9)
    out = []
    k = first
    while k * step <= high * (1 + 1e-12) + 1e-12 * step:
        out.append(round(k * step, 12))
        k += 1
    return out


def _decades(low: float, high: float, scale: float = 1.0) -> list[float]:
    """Values m * 10**k in [low, high] (both > 0): decades, and 2 and 5 between them when the range
    spans under two decades (more when it spans under one)."""
    span = math.log10(high / low)
    mults = (1,) if span >= 2 - 1e-9 else (1, 2, 5) if span >= 0.7 else (1, 2, 3, 4, 5, 6, 7, 8, 9)
    out = []
    for k in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        for m in mults:
            v = float(f"{m}e{k}")
            if low * (1 - 1e-12) <= v <= high * (1 + 1e-12):
                out.append(v)
    if len(out) > MOST:  # many decades: every second (or third, ...) one
        every = math.ceil(len(out) / MOST)
        out = out[::every]
    return out


def _float_values(dim: Float) -> list[float]:
    if dim.scale == "log":
        values = _decades(dim.low, dim.high)
    elif dim.scale == "reverse_log":  # the decades of 1 - x: 0.9, 0.99, 0.999 (and 0.95, 0.98, ...)
        gaps = _decades(1.0 - dim.high, 1.0 - dim.low)
        values = sorted(round(1.0 - g, 15) for g in gaps)
    elif dim.step is not None and dim.n_values() <= MOST:  # type: ignore[operator]
        return dim.grid(MOST)
    else:
        return nice_values(dim.low, dim.high)
    return values if len(values) >= 2 else nice_values(dim.low, dim.high)


def _int_values(dim: Int) -> list[float]:
    if dim.n_values() <= MOST:
        return list(range(dim.low, dim.high + 1, dim.step))
    if dim.scale == "log":
        values = _decades(float(dim.low), float(dim.high))
        if len(values) >= 2:
            return [int(v) for v in values]
    values = [int(v) for v in nice_values(dim.low, dim.high, integer=True)]
    if dim.step == 1:
        return values
    last = dim.n_values() - 1  # onto the grid low, low + step, ..., high
    return sorted({dim.low + min(last, max(0, round((v - dim.low) / dim.step))) * dim.step for v in values})


def unit_ticks(dim: Dimension) -> tuple[list[float], list[str]]:
    """Where to put ticks on ``dim``'s unit axis, and their labels in the dimension's values."""
    if isinstance(dim, Choice):
        n = len(dim.values)
        return [(i + 0.5) / n for i in range(n)], [str(v) for v in dim.values]
    values: list[Any]
    if isinstance(dim, Int):
        values = _int_values(dim)
        return [dim.to_unit(v) for v in values], [str(int(v)) for v in values]
    if isinstance(dim, Float):
        values = _float_values(dim)
        return [dim.to_unit(v) for v in values], labels(values)
    us = [0.0, 0.25, 0.5, 0.75, 1.0]  # a custom dimension: its own values at even unit steps
    return us, [str(dim.from_unit(u)) for u in us]


def integer_axis(values: Sequence[float]) -> dict[str, Any]:
    """Plotly axis settings for whole-number data (trial numbers, steps): ticks on whole numbers only
    (1, 2, 5, 10, ... apart), never 1.5."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return {}
    ticks = nice_values(min(finite), max(finite), integer=True)
    dtick = int(ticks[1] - ticks[0]) if len(ticks) > 1 else 1
    return {"tickmode": "linear", "tick0": 0, "dtick": max(1, dtick), "tickformat": "d"}
