"""Rules: a scripted babysitter that changes a running trial's hyperparameters from what it reports.

A rule looks at one trial record (its ``reports`` and its ``changes`` rows) after each report and
answers which hyperparameters to change, or None. Rules keep no state of their own between calls, so
a rule decides the same way in every driver, on every executor and after a restart. Attach them to a
study: ``shoal.Study(..., rules=[ReduceOnPlateau("lr")])``; what they change is stored as tweaks with
source "rule" and reaches the objective right after the report that triggered it.
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from decimal import Decimal
from typing import Any

from .direction import MAXIMIZE, check_direction
from .space import Float, Int, Space
from .trial import Trial

__all__ = ["Rule", "ReduceOnPlateau"]


class Rule(ABC):
    """A decision, from one running trial's record alone, to change some of its hyperparameters.

    Subclasses implement ``decide`` (and may check the space in ``bind``); a rule must not keep
    per-trial state, since another driver or a restarted one asks it about the same trial.
    """

    def bind(self, space: Space) -> Rule:
        """This rule, checked against the study's ``space``: a bound copy, or a ``ValueError``."""
        return self

    @abstractmethod
    def decide(self, trial: Trial, direction: str) -> dict[str, Any] | None:
        """The changes to make to running ``trial`` now (``{name: new value}``), or None.

        ``direction`` ("minimize" or "maximize") is the direction of the reported values."""

    def describe(self) -> str:
        """A short human description, e.g. ``ReduceOnPlateau('lr', factor=0.5, patience=3)``."""
        return type(self).__name__

    def __repr__(self) -> str:
        return self.describe()


class ReduceOnPlateau(Rule):
    """Multiply hyperparameter ``name`` by ``factor`` when the trial's reports stop improving.

    The window is the trial's reports since the last change of ``name`` (a tweak by anyone, or the
    fork it started from), less the first ``cooldown`` of them after such a change. When the best
    report of the window is followed by ``patience`` reports that do not beat it by more than
    ``threshold`` (relative: ``threshold * |best|``) in the study's direction, the rule sets ``name`` to
    ``value * factor``, rounded down onto an ``Int`` or stepped ``Float`` grid and clipped up to the
    dimension's low bound and to ``min_value``. No change when that is not lower than the value now
    (already at the floor), nor while a change of ``name`` waits to be delivered.
    """

    def __init__(
        self,
        name: str,
        factor: float = 0.5,
        patience: int = 3,
        *,
        threshold: float = 1e-4,
        cooldown: int = 0,
        min_value: float | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise _bad("name", "a dimension's name (a non-empty str)", name)
        if not _number(factor) or not 0 < factor < 1:
            raise _bad("factor", "a number in (0, 1), e.g. 0.5", factor)
        if not _count(patience) or patience < 1:
            raise _bad("patience", "an int >= 1 (how many reports without improvement to wait)", patience)
        if not _number(threshold) or threshold < 0:
            raise _bad("threshold", "a number >= 0 (a relative improvement, e.g. 1e-4)", threshold)
        if not _count(cooldown) or cooldown < 0:
            raise _bad("cooldown", "an int >= 0 (reports to skip after a change)", cooldown)
        if min_value is not None and not _number(min_value):
            raise _bad("min_value", "a finite number or None", min_value)
        self.name = name
        self.factor = float(factor)
        self.patience = int(patience)
        self.threshold = float(threshold)
        self.cooldown = int(cooldown)
        self.min_value = None if min_value is None else float(min_value)
        self._dimension: Float | Int | None = None

    def bind(self, space: Space) -> ReduceOnPlateau:
        """A copy checked against ``space``: ``name`` must be one of its ``Float`` or ``Int`` dimensions."""
        dim = space.dimensions.get(self.name) if isinstance(space, Space) else None
        if dim is None:
            names = list(space.names) if isinstance(space, Space) else []
            raise ValueError(f"{self.describe()}: the space has no dimension {self.name!r}; it has {names}")
        if not isinstance(dim, (Float, Int)):
            raise ValueError(
                f"{self.describe()}: dimension {self.name!r} is {type(dim).__name__}; the rule multiplies "
                "its value, so it must be a Float or Int dimension"
            )
        if self.min_value is not None and self.min_value > dim.high:
            raise ValueError(
                f"{self.describe()}: min_value {self.min_value:g} is above {self.name!r}'s high bound "
                f"{dim.high:g}, so the rule could never lower it; pick a lower min_value"
            )
        bound = copy.copy(self)
        bound._dimension = dim
        return bound

    def decide(self, trial: Trial, direction: str) -> dict[str, Any] | None:
        """``{name: lower value}`` when ``trial``'s reports have plateaued, else None."""
        direction = check_direction(direction)
        if self._dimension is None:
            raise RuntimeError(f"{self.describe()} is not bound to a space: use it in Study(rules=[...])")
        if self.name in trial.pending_changes:
            return None  # a change of it is on its way: judge the reports made with it
        current = trial.current_config.get(self.name)
        if current is None or isinstance(current, bool):
            return None  # inactive in this trial (a conditional dimension)
        if not self.plateaued(self.window(trial), direction):
            return None
        lowered = self._lowered(current)
        return None if lowered is None else {self.name: lowered}

    def window(self, trial: Trial) -> list[float]:
        """The reported values the rule judges: those since the last delivered change of ``name``,
        less the first ``cooldown`` after it."""
        changed_at = [c.step for c in trial.changes if c.name == self.name and c.step is not None]
        if not changed_at:
            return [value for _, value in trial.reports]
        since = max(changed_at)
        values = [value for step, value in trial.reports if step >= since]
        return values[self.cooldown:]

    def plateaued(self, values: list[float], direction: str) -> bool:
        """Whether the best of ``values`` (a value counts as better only by more than ``threshold``
        relative to the best before it) is followed by ``patience`` or more values."""
        if len(values) <= self.patience:
            return False
        best, since_best = values[0], 0
        for value in values[1:]:
            if self._improves(value, best, direction):
                best, since_best = value, 0
            else:
                since_best += 1
        return since_best >= self.patience

    def _improves(self, value: float, best: float, direction: str) -> bool:
        margin = self.threshold * abs(best)
        return value > best + margin if direction == MAXIMIZE else value < best - margin

    def _lowered(self, current: Any) -> Any:
        """``current * factor`` made legal for the dimension, or None when that is no lower."""
        dim = self._dimension
        assert dim is not None
        floor = dim.low if self.min_value is None else max(dim.low, self.min_value)
        target = max(float(current) * self.factor, floor)
        new: Any
        if isinstance(dim, Int):
            k = math.floor((target - dim.low) / dim.step)
            if dim.low + k * dim.step < floor:
                k += 1
            new = int(dim.low + k * dim.step)
        elif dim.step is not None:
            k = math.floor((target - dim.low) / dim.step + 1e-9)
            new = _grid_value(dim, k)
            if new < floor - 1e-12:
                new = _grid_value(dim, k + 1)
        else:
            new = float(target)
        if not new < current or not dim.contains(new):
            return None
        return new

    def describe(self) -> str:
        extra = "".join([
            f", threshold={self.threshold:g}" if self.threshold != 1e-4 else "",
            f", cooldown={self.cooldown}" if self.cooldown else "",
            f", min_value={self.min_value:g}" if self.min_value is not None else "",
        ])
        return f"ReduceOnPlateau({self.name!r}, factor={self.factor:g}, patience={self.patience}{extra})"


def _grid_value(dim: Float, k: int) -> float:
    """``low + k * step`` in decimal arithmetic, at most ``high`` (a stepped Float's k-th value)."""
    assert dim.step is not None
    return min(dim.high, float(Decimal(repr(dim.low)) + max(k, 0) * Decimal(repr(dim.step))))


def _bad(parameter: str, must: str, got: Any) -> ValueError:
    return ValueError(f"ReduceOnPlateau: {parameter} must be {must}, got {got!r}")


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)
