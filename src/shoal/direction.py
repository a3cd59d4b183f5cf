"""Which way is better: the study's direction as one helper, not ``== "maximize"`` scattered about.

``sign(direction) * value`` is a score where lower is better, whatever the direction; ``better`` and
``best_value`` compare values the study's way.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MINIMIZE", "MAXIMIZE", "DIRECTIONS", "check_direction", "sign", "better", "best_value"]

MINIMIZE = "minimize"
MAXIMIZE = "maximize"
DIRECTIONS = (MINIMIZE, MAXIMIZE)


def check_direction(direction: object) -> str:
    """``direction`` itself, or a ``ValueError`` naming the two accepted words."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    return direction  # type: ignore[return-value]


def sign(direction: str) -> float:
    """+1 when minimizing, -1 when maximizing: ``sign(d) * value`` is lower-is-better."""
    return -1.0 if direction == MAXIMIZE else 1.0


def better(a: float, b: float, direction: str) -> bool:
    """True when ``a`` is strictly better than ``b``."""
    return a > b if direction == MAXIMIZE else a < b


def best_value(values: Iterable[float], direction: str) -> float | None:
    """The best of ``values`` (None when there are none)."""
    values = list(values)
    if not values:
        return None
    return max(values) if direction == MAXIMIZE else min(values)
