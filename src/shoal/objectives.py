"""What a study optimizes: one or more named objectives, and the constraints a trial must meet.

A leaf module (numbers and strings only), so storage, samplers, schedulers and the study all read the
same definition. ``Objectives.single("maximize")`` is the classic one-number study (its objective is
named ``"value"``); ``Objectives.build(objectives={"accuracy": "maximize", "latency_ms": "minimize"},
constraints=["memory_mb <= 512"])`` a multi-objective, constrained one.

Scores: ``score(values)`` turns the objectives' values into a vector where lower is better on every
axis, what Pareto fronts and hypervolumes are computed on. A constraint ``"m <= b"`` is met when the
trial's metric ``m`` is at most ``b``; its violation is how far it misses (0 when met).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .direction import DIRECTIONS, check_direction, sign

__all__ = ["Objective", "Constraint", "Objectives", "SINGLE_NAME"]

#: The name of the one objective of a study created with ``direction=``.
SINGLE_NAME = "value"
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(<=|>=)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Objective:
    """One named number to minimize or maximize."""

    name: str
    direction: str

    def score(self, value: float) -> float:
        """The value turned so that lower is better."""
        return sign(self.direction) * value


@dataclass(frozen=True)
class Constraint:
    """``metric <= bound`` or ``metric >= bound`` on a number the objective returns."""

    metric: str
    op: str
    bound: float

    @classmethod
    def parse(cls, text: Any) -> Constraint:
        """``"memory_mb <= 512"`` -> Constraint; a ``ValueError`` naming the constraint and the fix."""
        if not isinstance(text, str):
            raise ValueError(
                f"constraint {text!r} must be a string such as 'memory_mb <= 512' (a returned key, "
                "<= or >=, a number)"
            )
        match = _CONSTRAINT.match(text)
        if match is None:
            raise ValueError(
                f"constraint {text!r} is not '<metric> <= <number>' or '<metric> >= <number>'; "
                "write it like 'memory_mb <= 512'"
            )
        metric, op, number = match.groups()
        try:
            bound = float(number)
        except ValueError:
            raise ValueError(
                f"constraint {text!r}: {number!r} is not a number; write e.g. 'memory_mb <= 512'"
            ) from None
        if not math.isfinite(bound):
            raise ValueError(f"constraint {text!r}: the bound must be a finite number")
        return cls(metric, op, bound)

    def violation(self, values: Mapping[str, float]) -> float:
        """How far ``values`` miss the constraint (0 when met; inf when the metric is missing)."""
        value = values.get(self.metric)
        if value is None or not math.isfinite(value):
            return math.inf
        return max(0.0, value - self.bound) if self.op == "<=" else max(0.0, self.bound - value)

    def __str__(self) -> str:
        short = f"{self.bound:g}"  # the shortest text that reads back as the same bound (stored form)
        return f"{self.metric} {self.op} {short if float(short) == self.bound else repr(self.bound)}"


@dataclass(frozen=True)
class Objectives:
    """The objectives of a study (one or more, in order) and its constraints."""

    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = ()

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def single(cls, direction: str, constraints: Sequence[Any] = ()) -> Objectives:
        """One objective named ``"value"`` (a study created with ``direction=``)."""
        return cls((Objective(SINGLE_NAME, check_direction(direction)),), _parse_all(constraints))

    @classmethod
    def build(
        cls,
        *,
        direction: str | None = None,
        objectives: Mapping[str, str] | None = None,
        constraints: Sequence[Any] | None = None,
    ) -> Objectives:
        """From ``Study``'s arguments: ``objectives={"name": "minimize"|"maximize", ...}`` or a
        ``direction``, plus ``constraints``. Errors name the argument and the fix."""
        if objectives is not None and direction is not None:
            raise ValueError(
                "pass either direction= (one objective) or objectives={name: direction, ...}, not both"
            )
        listed = isinstance(constraints, Sequence) and not isinstance(constraints, str)
        if constraints is not None and not listed:
            raise ValueError(
                f"constraints must be a list of strings such as ['memory_mb <= 512'], got {constraints!r}"
            )
        if objectives is None:
            return cls.single(direction or "minimize", constraints or ())
        if not isinstance(objectives, Mapping) or not objectives:
            raise ValueError(
                "objectives must be a non-empty mapping of names to 'minimize' or 'maximize', e.g. "
                f"{{'accuracy': 'maximize', 'latency_ms': 'minimize'}}; got {objectives!r}"
            )
        built = []
        for name, way in objectives.items():
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"objectives: every name must be a non-empty string, got {name!r}")
            if way not in DIRECTIONS:
                raise ValueError(f"objectives: {name!r} must be 'minimize' or 'maximize', got {way!r}")
            built.append(Objective(name, way))
        return cls(tuple(built), _parse_all(constraints or ()))

    # -- reading ---------------------------------------------------------------------------------
    @cached_property
    def multi(self) -> bool:
        """True with several objectives (then a study has a Pareto front, not one best trial)."""
        return len(self.objectives) > 1

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.objectives)

    @cached_property
    def plain(self) -> bool:
        """True for a one-number study: one objective named ``"value"`` and no constraints."""
        return not self.multi and not self.constraints and self.first.name == SINGLE_NAME

    @cached_property
    def first(self) -> Objective:
        """The first objective: what single-objective views (history plot, ``trial.value``) show."""
        return self.objectives[0]

    def score(self, values: Mapping[str, float]) -> tuple[float, ...]:
        """The objectives' values as a lower-is-better vector, in objective order."""
        return tuple(o.score(values[o.name]) for o in self.objectives)

    def violations(self, values: Mapping[str, float]) -> dict[str, float]:
        """Each constraint's violation (text -> amount; 0 when met)."""
        return {str(c): c.violation(values) for c in self.constraints}

    def feasible(self, values: Mapping[str, float]) -> bool:
        """Whether ``values`` meet every constraint."""
        return all(c.violation(values) == 0.0 for c in self.constraints)

    def read(self, result: Any) -> tuple[dict[str, float] | None, str | None]:
        """What an objective returned, as named numbers: ``(values, None)``, or ``(None, reason)``
        when it is not usable (a missing objective key, a NaN, a non-number)."""
        if isinstance(result, Mapping):
            values: dict[str, float] = {}
            for key, raw in result.items():
                if not isinstance(key, str):
                    return None, f"returned keys must be strings, got {key!r}"
                number = _number(raw)
                if number is None:
                    return None, f"returned {key!r} = {raw!r}, which is not a finite number"
                values[key] = number
            missing = [n for n in self.names if n not in values]
            if missing:
                return None, (f"the objective returned no {missing[0]!r}; return a dict with every "
                              f"objective: {list(self.names)}")
            return values, None
        if self.multi or self.constraints:
            if self.multi:
                return None, (f"a study with several objectives needs a dict: return one such as "
                              f"{self.example()}, not {result!r}")
            return None, (f"a study with constraints needs a dict: return one such as {self.example()} "
                          f"(the objective under {self.first.name!r}, with the constrained metrics), "
                          f"not {result!r}")
        number = _number(result)
        if number is None:
            return None, f"return a number, got {result!r}"
        return {self.first.name: number}, None

    def example(self) -> str:
        """A dict an objective of this study may return, e.g. ``{'value': ..., 'memory_mb': ...}``."""
        keys = dict.fromkeys([*self.names, *(c.metric for c in self.constraints)])
        return "{" + ", ".join(f"{k!r}: ..." for k in keys) + "}"

    # -- stored form -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"objectives": [[o.name, o.direction] for o in self.objectives],
                "constraints": [str(c) for c in self.constraints]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Objectives:
        objectives = tuple(Objective(n, d) for n, d in data["objectives"])
        return cls(objectives, _parse_all(data.get("constraints", ())))

    def describe(self) -> str:
        """``accuracy (maximize), latency_ms (minimize); memory_mb <= 512``."""
        text = ", ".join(f"{o.name} ({o.direction})" for o in self.objectives)
        return text + ("; " + ", ".join(map(str, self.constraints)) if self.constraints else "")


def _parse_all(constraints: Sequence[Any]) -> tuple[Constraint, ...]:
    return tuple(Constraint.parse(c) for c in constraints)


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) and not hasattr(raw, "__float__"):
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
