"""Search spaces: named dimensions that map a unit number u in [0, 1] to a value and back.

Every search strategy in shoal works on the unit cube; a dimension decides what a unit number means
(log scale for a learning rate, the scale of 1 - beta for a momentum, equal mass per integer for a
unit count). Dimensions are small immutable value objects with a JSON form.
"""

from __future__ import annotations

import importlib
import inspect
import math
import numbers
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from .errors import SpaceMismatch  # noqa: F401 - defined in shoal.errors

__all__ = [
    "Dimension",
    "Float",
    "Int",
    "Choice",
    "Fixed",
    "Custom",
    "Space",
    "SpaceMismatch",
]

_NO_DEFAULT = object()
_SCALAR_TYPES = (str, int, float, bool, type(None))
_STEP_TOLERANCE = 1e-9
#: An Int's bounds must fit a signed 64-bit integer (storage, numpy and the unit map all cope).
_INT_LIMIT = 2**63


def _show(value: Any) -> str:
    """A value for an error message: a 400-digit number is named by its length, not printed."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        sign = "-" if value < 0 else ""
        return f"{sign}a {len(str(abs(value)))}-digit integer"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _real(label: str, field: str, value: Any) -> float:
    """A finite real number for a Float field (an int, a float or a numpy number; not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{label}: {field} must be a number, got {_show(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(
            f"{label}: {field} must be a finite number (at most {sys.float_info.max:.4g} in size), "
            f"got {_show(value)}"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"{label}: {field} must be a finite number, got {number!r}")
    return number


def _integer(label: str, field: str, value: Any) -> int:
    """An integer for an Int field (an int, an integral float or numpy number) that fits 64 bits."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{label}: {field} must be an integer, got {_show(value)}")
    if not isinstance(value, numbers.Integral):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ValueError(f"{label}: {field} must be an integer, got {_show(value)}")
    number = int(value)
    if not -_INT_LIMIT < number < _INT_LIMIT:
        raise ValueError(
            f"{label}: {field} must be an integer between -2**63 and 2**63 (a 64-bit integer), "
            f"got {_show(value)}"
        )
    return number



def _check_when(name: str, when: Mapping[str, Iterable[Any]] | None) -> dict[str, tuple] | None:
    if when is None:
        return None
    if not isinstance(when, Mapping) or not when:
        raise ValueError(
            f"dimension {name!r}: when must be a non-empty mapping like {{'opt': ['adam']}}"
        )
    checked: dict[str, tuple] = {}
    for parent, values in when.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]
        values = tuple(values)
        if not values:
            raise ValueError(
                f"dimension {name!r}: when[{parent!r}] lists no values; give the parent values "
                "for which this dimension is active"
            )
        checked[str(parent)] = values
    return checked


def _same_value(a: Any, b: Any) -> bool:
    """Equality that keeps types apart: 1, 1.0 and True are three different choices."""
    return type(a) is type(b) and a == b


def distinct(values: Iterable[Any]) -> list[Any]:
    """The values in their order, each once (1, 1.0 and True kept apart); linear in their number."""
    out: list[Any] = []
    seen: set[tuple[type, Any]] = set()
    unhashable: list[Any] = []
    for value in values:
        try:
            key = (type(value), value)
            if key in seen:
                continue
            seen.add(key)
        except TypeError:  # a custom map may return a list
            if any(_same_value(value, other) for other in unhashable):
                continue
            unhashable.append(value)
        out.append(value)
    return out


def _check_resolution(name: str, k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"dimension {name!r}: grid resolution must be an int >= 1, got {k!r}")


def _spread_apart(gap: float, magnitude: float) -> bool:
    """Whether evenly spaced numbers ``gap`` apart, near ``magnitude``, stay distinct as floats
    (the gap is many times the rounding error of the arithmetic that makes them)."""
    return gap > 64 * math.ulp(max(1e-300, abs(magnitude)))


def _distinct_indices(n: int, k: int) -> bool:
    """Whether ``min(int(u * n), n - 1)`` takes k distinct values over ``np.linspace(0, 1, k)``
    (2 <= k < n): the gap n / (k - 1) must exceed twice the rounding error of ``u * n`` plus one."""
    return n / (k - 1) >= 2.0 + n * 2.0**-45


class Dimension(ABC):
    """One named axis of a search space.

    Subclasses implement ``from_unit`` (u in [0, 1] -> value), ``to_unit`` (value -> u),
    ``contains`` (is a value a legal one?), ``grid`` (k representative values) and ``to_dict``.
    """

    kind: str = ""
    name: str = ""
    when: dict[str, tuple] | None = None
    default: Any = _NO_DEFAULT
    #: True when the dimension has a finite set of values (integers, choices, stepped floats).
    discrete: bool = False

    def _init_common(self, when: Any, default: Any) -> None:
        self.when = when  # checked once the dimension is given its name
        self.default = default

    def _bind(self, name: str) -> Dimension:
        """Return the dimension with its name set and its ``when`` and ``default`` validated."""
        clone = self._copy()
        clone.name = name
        clone.when = _check_when(name, self.when)
        if clone.default is not _NO_DEFAULT and not clone.contains(clone.default):
            raise ValueError(
                f"dimension {name!r}: default {_show(clone.default)} is not a value of this dimension"
            )
        return clone

    def _copy(self) -> Dimension:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        ...

    @abstractmethod
    def to_unit(self, value: Any) -> float:
        ...

    @abstractmethod
    def contains(self, value: Any) -> bool:
        ...

    def grid(self, k: int) -> list[Any]:
        """Up to ``k`` values spread evenly on the dimension's own scale (all values if fewer)."""
        _check_resolution(self.name, k)
        if k == 1:
            return [self.from_unit(0.5)]
        return distinct(self.from_unit(float(u)) for u in np.linspace(0.0, 1.0, k))

    def grid_count(self, k: int) -> int:
        """``len(self.grid(k))``, by arithmetic where it is exact (without building the grid)."""
        _check_resolution(self.name, k)
        return len(self.grid(k))

    def n_values(self) -> int | None:
        """Number of distinct values, or None for a continuous dimension."""
        return None

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        ...

    def _common_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.when is not None:
            out["when"] = {parent: list(values) for parent, values in self.when.items()}
        if self.has_default:
            out["default"] = self.default
        return out

    def _fields(self) -> tuple:
        return tuple(sorted((k, repr(v)) for k, v in self.to_dict().items()))

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "type")
        return f"{type(self).__name__}({fields})"


def _clip_unit(u: float) -> float:
    return min(1.0, max(0.0, float(u)))


class Float(Dimension):
    """A real number in [low, high] (inclusive).

    ``scale="linear"`` is uniform; ``"log"`` is log-uniform (needs low > 0): a learning rate in
    [1e-4, 1] gets equal mass per decade; ``"reverse_log"`` makes 1 - x log-uniform (needs high < 1):
    a momentum beta in [0.9, 0.999] gets as much mass in [0.99, 0.999] as in [0.9, 0.99].
    ``step`` restricts a linear float to low, low + step, ..., high.
    """

    kind = "float"

    def __init__(
        self,
        low: float,
        high: float,
        scale: str = "linear",
        step: float | None = None,
        *,
        when: Mapping[str, Iterable[Any]] | None = None,
        default: Any = _NO_DEFAULT,
    ) -> None:
        self.low = _real("Float", "low", low)
        self.high = _real("Float", "high", high)
        self.scale = scale
        self.step = None if step is None else _real("Float", "step", step)
        if isinstance(default, int) and not isinstance(default, bool):
            try:
                default = float(default)  # a float dimension fills in a float
            except OverflowError:
                pass  # too large for any float: refused as not a value once the dimension is named
        self._init_common(when, default)
        self._validate("")

    def _validate(self, name: str) -> None:
        label = f"dimension {name!r}" if name else "Float"
        for field in ("low", "high"):
            if not math.isfinite(getattr(self, field)):
                raise ValueError(f"{label}: {field} must be a finite number, got {getattr(self, field)!r}")
        if self.low >= self.high:
            raise ValueError(
                f"{label}: low ({self.low:g}) must be < high ({self.high:g}); use Fixed for one value"
            )
        if not math.isfinite(self.high - self.low):
            raise ValueError(
                f"{label}: high - low must be a finite number, but the range [{self.low:g}, "
                f"{self.high:g}] is wider than the largest float ({sys.float_info.max:.4g}), so every "
                "sample would land on one end; narrow the range (e.g. search a scaled value)"
            )
        if self.scale not in ("linear", "log", "reverse_log"):
            raise ValueError(
                f"{label}: scale must be 'linear', 'log' or 'reverse_log', got {self.scale!r}"
            )
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"{label}: low must be > 0 for scale='log' (got {self.low:g})")
        if self.scale == "reverse_log" and self.high >= 1:
            raise ValueError(
                f"{label}: high must be < 1 for scale='reverse_log', which samples 1 - x on a log "
                f"scale (got {self.high:g})"
            )
        if self.step is not None:
            if self.scale != "linear":
                raise ValueError(f"{label}: step is only allowed with scale='linear'")
            if not self.step > 0:
                raise ValueError(f"{label}: step must be > 0 (got {self.step:g})")
            n = (self.high - self.low) / self.step
            if not math.isfinite(n):
                raise ValueError(
                    f"{label}: step {self.step:g} is too small for the range [{self.low:g}, "
                    f"{self.high:g}]: it makes more steps than a float can count; pick a larger step"
                )
            if abs(n - round(n)) > _STEP_TOLERANCE * max(1.0, n):
                raise ValueError(
                    f"{label}: step {self.step:g} does not divide the range "
                    f"[{self.low:g}, {self.high:g}]; pick a step that does or move high to "
                    f"{self.low + math.floor(n) * self.step:g}"
                )

    def _bind(self, name: str) -> Dimension:
        self._validate(name)
        return super()._bind(name)

    @property
    def _n_steps(self) -> int:
        assert self.step is not None
        return int(round((self.high - self.low) / self.step))

    @property
    def discrete(self) -> bool:  # type: ignore[override]
        return self.step is not None

    def n_values(self) -> int | None:
        return None if self.step is None else self._n_steps + 1

    def _step_value(self, k: int) -> float:
        """low + k * step in decimal arithmetic: 0.1 + 2 * 0.1 is 0.3, not 0.30000000000000004."""
        if k >= self._n_steps:
            return self.high
        assert self.step is not None
        return min(self.high, float(Decimal(repr(self.low)) + k * Decimal(repr(self.step))))

    def grid(self, k: int) -> list[Any]:
        if self.step is not None and k >= self._n_steps + 1:
            return [self._step_value(i) for i in range(self._n_steps + 1)]
        return super().grid(k)

    def grid_count(self, k: int) -> int:
        _check_resolution(self.name, k)
        magnitude = max(abs(self.low), abs(self.high))
        if self.step is not None:
            n = self._n_steps + 1
            if k >= n:
                return n
            if k == 1 or (_distinct_indices(n, k) and _spread_apart(self.step, magnitude)):
                return k
            return len(self.grid(k))
        if k == 1:
            return 1
        if self.scale == "linear":
            exact = _spread_apart((self.high - self.low) / (k - 1), magnitude)
        elif self.scale == "log":
            lo, hi = math.log(self.low), math.log(self.high)
            exact = _spread_apart((hi - lo) / (k - 1), max(1.0, abs(lo), abs(hi)))
        else:
            lo, hi = math.log(1.0 - self.low), math.log(1.0 - self.high)
            exact = _spread_apart(
                (1.0 - self.high) * (lo - hi) / (k - 1), (1.0 - self.low) * max(1.0, abs(lo), abs(hi))
            )
        return k if exact else len(self.grid(k))

    def from_unit(self, u: float) -> float:
        u = _clip_unit(u)
        if self.step is not None:
            return self._step_value(min(int(u * (self._n_steps + 1)), self._n_steps))
        if self.scale == "log":
            lo, hi = math.log(self.low), math.log(self.high)
            return float(min(self.high, max(self.low, math.exp(lo + u * (hi - lo)))))
        if self.scale == "reverse_log":
            lo, hi = math.log(1.0 - self.low), math.log(1.0 - self.high)
            return float(min(self.high, max(self.low, 1.0 - math.exp(lo + u * (hi - lo)))))
        return float(min(self.high, self.low + u * (self.high - self.low)))

    def to_unit(self, value: float) -> float:
        value = float(value)
        if self.step is not None:
            k = round((value - self.low) / self.step)
            return (k + 0.5) / (self._n_steps + 1)
        if self.scale == "log":
            lo, hi = math.log(self.low), math.log(self.high)
            return _clip_unit((math.log(value) - lo) / (hi - lo))
        if self.scale == "reverse_log":
            lo, hi = math.log(1.0 - self.low), math.log(1.0 - self.high)
            return _clip_unit((math.log(1.0 - value) - lo) / (hi - lo))
        return _clip_unit((value - self.low) / (self.high - self.low))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not (self.low <= value <= self.high):
            return False
        if self.step is not None:
            n = (value - self.low) / self.step
            return abs(n - round(n)) <= 1e-6
        return True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.scale != "linear":
            out["scale"] = self.scale
        if self.step is not None:
            out["step"] = self.step
        out.update(self._common_dict())
        return out


class Int(Dimension):
    """An integer in [low, high] (inclusive), every ``step``-th one from low.

    ``scale="linear"`` gives every value equal mass (unit counts, layers); ``"log"`` gives equal mass
    per decade (needs low >= 1 and step 1).
    """

    kind = "int"
    discrete = True

    def __init__(
        self,
        low: int,
        high: int,
        step: int = 1,
        scale: str = "linear",
        *,
        when: Mapping[str, Iterable[Any]] | None = None,
        default: Any = _NO_DEFAULT,
    ) -> None:
        self.low = _integer("Int", "low", low)
        self.high = _integer("Int", "high", high)
        self.step = _integer("Int", "step", step)
        self.scale = scale
        self._init_common(when, default)
        self._validate("")

    def _validate(self, name: str) -> None:
        label = f"dimension {name!r}" if name else "Int"
        if self.low >= self.high:
            raise ValueError(
                f"{label}: low ({self.low}) must be < high ({self.high}); use Fixed for one value"
            )
        if self.scale not in ("linear", "log"):
            raise ValueError(f"{label}: scale must be 'linear' or 'log', got {self.scale!r}")
        if self.step < 1:
            raise ValueError(f"{label}: step must be >= 1 (got {self.step})")
        if (self.high - self.low) % self.step:
            raise ValueError(
                f"{label}: step {self.step} does not divide the range [{self.low}, {self.high}]; "
                f"pick a step that does or move high to "
                f"{self.low + (self.high - self.low) // self.step * self.step}"
            )
        if self.scale == "log":
            if self.low < 1:
                raise ValueError(f"{label}: low must be >= 1 for scale='log' (got {self.low})")
            if self.step != 1:
                raise ValueError(f"{label}: scale='log' needs step=1 (got step={self.step})")

    def _bind(self, name: str) -> Dimension:
        self._validate(name)
        return super()._bind(name)

    def n_values(self) -> int:
        return (self.high - self.low) // self.step + 1

    def grid(self, k: int) -> list[Any]:
        if k >= self.n_values():
            return list(range(self.low, self.high + 1, self.step))
        return super().grid(k)

    def grid_count(self, k: int) -> int:
        _check_resolution(self.name, k)
        n = self.n_values()
        if k >= n:
            return n
        if k == 1 or (self.scale == "linear" and _distinct_indices(n, k)):
            return k
        return len(self.grid(k))

    def from_unit(self, u: float) -> int:
        u = _clip_unit(u)
        if self.scale == "log":
            lo, hi = math.log(self.low), math.log(self.high + 1)
            return int(min(self.high, max(self.low, math.floor(math.exp(lo + u * (hi - lo))))))
        n = self.n_values()
        return self.low + min(int(u * n), n - 1) * self.step

    def to_unit(self, value: int) -> float:
        if self.scale == "log":
            lo, hi = math.log(self.low), math.log(self.high + 1)
            middle = 0.5 * (math.log(value) + math.log(value + 1))
            return _clip_unit((middle - lo) / (hi - lo))
        return ((int(value) - self.low) // self.step + 0.5) / self.n_values()

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            return False
        return self.low <= value <= self.high and (value - self.low) % self.step == 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.step != 1:
            out["step"] = self.step
        if self.scale != "linear":
            out["scale"] = self.scale
        out.update(self._common_dict())
        return out


class Choice(Dimension):
    """One of a list of values (strings, numbers, booleans or None), each with equal mass.

    Values keep their own type: ``Choice([16, 32, 64])`` yields ints, ``Choice(["adam", "sgd"])``
    strings.
    """

    kind = "choice"
    discrete = True

    def __init__(
        self,
        values: Sequence[Any],
        *,
        when: Mapping[str, Iterable[Any]] | None = None,
        default: Any = _NO_DEFAULT,
    ) -> None:
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(f"Choice: values must be a list, got {values!r}")
        values = tuple(v.item() if isinstance(v, np.generic) else v for v in values)
        if not values:
            raise ValueError("Choice: values is empty; give at least one value")
        for v in values:
            if not isinstance(v, _SCALAR_TYPES):
                raise ValueError(
                    f"Choice: value {v!r} is a {type(v).__name__}; choices must be str, int, float, "
                    "bool or None so they survive storage (map an index to objects yourself)"
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"Choice: value {v!r} is not finite; storage keeps finite numbers only")
        for i, v in enumerate(values):
            if any(_same_value(v, w) for w in values[:i]):
                raise ValueError(f"Choice: value {v!r} is listed twice; list each value once")
        self.values = values
        self._init_common(when, default)

    def n_values(self) -> int:
        return len(self.values)

    def index(self, value: Any) -> int:
        for i, v in enumerate(self.values):
            if _same_value(v, value):
                return i
        raise ValueError(f"dimension {self.name!r}: {value!r} is not one of {list(self.values)}")

    def from_unit(self, u: float) -> Any:
        n = len(self.values)
        return self.values[min(int(_clip_unit(u) * n), n - 1)]

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.values)

    def contains(self, value: Any) -> bool:
        return any(_same_value(v, value) for v in self.values)

    def grid(self, k: int) -> list[Any]:
        return list(self.values)

    def grid_count(self, k: int) -> int:
        _check_resolution(self.name, k)
        return len(self.values)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "choice", "values": list(self.values)}
        out.update(self._common_dict())
        return out


class Fixed(Dimension):
    """A constant: recorded in every config, never searched."""

    kind = "fixed"
    discrete = True

    def __init__(
        self, value: Any, *, when: Mapping[str, Iterable[Any]] | None = None
    ) -> None:
        if not isinstance(value, _SCALAR_TYPES):
            raise ValueError(f"Fixed: value must be str, int, float, bool or None, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"Fixed: value {value!r} is not finite; storage keeps finite numbers only")
        self.value = value
        self._init_common(when, _NO_DEFAULT)

    def n_values(self) -> int:
        return 1

    def from_unit(self, u: float) -> Any:
        return self.value

    def to_unit(self, value: Any) -> float:
        return 0.5

    def contains(self, value: Any) -> bool:
        return _same_value(value, self.value)

    def grid(self, k: int) -> list[Any]:
        return [self.value]

    def grid_count(self, k: int) -> int:
        _check_resolution(self.name, k)
        return 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "fixed", "value": self.value}
        out.update(self._common_dict())
        return out


def _function_path(fn: Callable | None) -> str | None:
    if fn is None:
        return None
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def import_object(path: str) -> Any:
    """Import ``"package.module:attribute"`` (the form used for objectives and custom maps)."""
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{path!r} is not of the form 'module:function'")
    obj = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


class Custom(Dimension):
    """Any map from a unit number u in (0, 1) to a value, e.g. ``Custom(lambda u: 10 ** (-3 * u) / 10)``.

    ``inverse`` (value -> u) is optional: trials store their unit coordinates, so samplers never
    need it; it is used only to check and place values a person enqueues by hand.
    """

    kind = "custom"

    def __init__(
        self,
        fn: Callable[[float], Any],
        inverse: Callable[[Any], float] | None = None,
        *,
        when: Mapping[str, Iterable[Any]] | None = None,
        default: Any = _NO_DEFAULT,
    ) -> None:
        if not callable(fn):
            raise ValueError(f"Custom: fn must be callable (u -> value), got {fn!r}")
        if inverse is not None and not callable(inverse):
            raise ValueError(f"Custom: inverse must be callable (value -> u), got {inverse!r}")
        self.fn = fn
        self.inverse = inverse
        self._init_common(when, default)

    def from_unit(self, u: float) -> Any:
        value = self.fn(_clip_unit(u))
        return value.item() if isinstance(value, np.generic) else value

    def to_unit(self, value: Any) -> float:
        if self.inverse is None:
            raise ValueError(
                f"dimension {self.name!r}: Custom has no inverse, so a value cannot be placed in "
                "the unit cube; pass Custom(fn, inverse=...)"
            )
        return _clip_unit(self.inverse(value))

    def contains(self, value: Any) -> bool:
        return isinstance(value, _SCALAR_TYPES)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "custom", "fn": _function_path(self.fn) or repr(self.fn)}
        inverse = _function_path(self.inverse)
        if inverse is not None:
            out["inverse"] = inverse
        out.update(self._common_dict())
        return out


_KINDS: dict[str, type[Dimension]] = {
    "float": Float,
    "int": Int,
    "choice": Choice,
    "fixed": Fixed,
    "custom": Custom,
}


def _as_number(name: str, field: str, value: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` as a string; accept it as the number it obviously is."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"dimension {name!r}: {field} must be a number, got {_show(value)}") from None
    return value


def _named(name: Any, kind: str, exc: ValueError) -> ValueError:
    """A constructor's complaint (``Float: low must be ...``) as one about dimension ``name``."""
    message = str(exc)
    prefix = f"{_KINDS[kind].__name__}: "
    if message.startswith(prefix):
        message = message[len(prefix):]
    return ValueError(f"dimension {name!r}: {message}")


def dimension_from_dict(name: str, data: Mapping[str, Any]) -> Dimension:
    """Build a dimension from its JSON/YAML form, e.g. ``{"type": "float", "low": 1e-4, ...}``.

    Every error is a ``ValueError`` that names the dimension and the field at fault.
    """
    if not isinstance(data, Mapping):
        try:
            return Fixed(data)._bind(name)
        except ValueError as exc:
            raise _named(name, "fixed", exc) from None
    data = dict(data)
    kind = data.pop("type", None)
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(
            f"dimension {name!r}: type must be one of {sorted(_KINDS)}, got {_show(kind)}"
        )
    cls = _KINDS[kind]
    parameters = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    fields = [p.name for p in parameters]
    unknown = sorted(map(str, set(data) - set(fields)))
    if unknown:
        raise ValueError(
            f"dimension {name!r}: unknown field(s) {unknown} for type {kind!r}; "
            f"the fields are {['type', *fields]}"
        )
    missing = [p.name for p in parameters if p.default is inspect.Parameter.empty and p.name not in data]
    if missing:
        raise ValueError(
            f"dimension {name!r}: missing field {missing[0]!r} for type {kind!r}; "
            f"the fields are {['type', *fields]}"
        )
    numeric = ("low", "high", "step", "default") if kind in ("float", "int") else ("low", "high", "step")
    for field in numeric:
        if field in data and data[field] is not None:
            data[field] = _as_number(name, field, data[field])
    if kind == "int":
        for field in ("low", "high", "step", "default"):
            value = data.get(field)
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                data[field] = int(value)
    if kind == "custom":
        for field in ("fn", "inverse"):
            if isinstance(data.get(field), str):
                try:
                    data[field] = import_object(data[field])
                except (Exception, SystemExit) as exc:  # a missing name, or the module failed to import
                    raise ValueError(
                        f"dimension {name!r}: cannot import custom {field} {data[field]!r} "
                        f"({type(exc).__name__}: {_first_line(exc)}); give an importable "
                        "'module:function' or pass the space in Python"
                    ) from None
    try:
        dim = cls(**data)
    except TypeError as exc:
        raise ValueError(f"dimension {name!r}: {exc}; the fields are {['type', *fields]}") from None
    except ValueError as exc:
        raise _named(name, kind, exc) from None
    return dim._bind(name)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else "no message"


class Space:
    """An ordered set of named dimensions; maps points of the unit cube to configs and back.

    A dimension with ``when={"parent": [values]}`` is active only when its parent (defined before it)
    takes one of those values; inactive dimensions are absent from the config.
    """

    def __init__(self, dimensions: Mapping[str, Dimension | Any]) -> None:
        if isinstance(dimensions, Space):
            dimensions = dimensions.dimensions
        if not isinstance(dimensions, Mapping) or not dimensions:
            raise ValueError(
                "space must be a non-empty mapping of names to dimensions, e.g. "
                "{'lr': shoal.Float(1e-4, 1.0, scale='log')}"
            )
        bound: dict[str, Dimension] = {}
        for name, dim in dimensions.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"dimension names must be non-empty strings, got {name!r}")
            if not isinstance(dim, Dimension):
                if isinstance(dim, Mapping):
                    dim = dimension_from_dict(name, dim)
                else:
                    raise ValueError(
                        f"dimension {name!r}: expected a shoal dimension (Float, Int, Choice, Fixed, "
                        f"Custom), got {dim!r}; wrap a constant in shoal.Fixed({dim!r})"
                    )
            elif dim.name != name:
                dim = dim._bind(name)
            if dim.when:
                for parent, values in dim.when.items():
                    if parent == name:
                        raise ValueError(
                            f"dimension {name!r}: when names itself (a cycle); name a parent "
                            "dimension defined before it"
                        )
                    if parent not in bound:
                        where = "defined later" if parent in dimensions else "unknown"
                        raise ValueError(
                            f"dimension {name!r}: when names parent {parent!r}, which is {where}; "
                            "define the parent before the dimensions that depend on it"
                        )
                    parent_dim = bound[parent]
                    if isinstance(parent_dim, Custom):
                        continue
                    for v in values:
                        if not parent_dim.contains(v):
                            legal = (
                                f"one of {list(parent_dim.values)}"
                                if isinstance(parent_dim, Choice)
                                else f"a value of {parent_dim!r}"
                            )
                            raise ValueError(
                                f"dimension {name!r}: when[{parent!r}] lists {v!r}, which "
                                f"{parent!r} can never take; list {legal}"
                            )
            bound[name] = dim
        self.dimensions: dict[str, Dimension] = bound
        self.names: tuple[str, ...] = tuple(bound)
        self._dims: tuple[Dimension, ...] = tuple(bound.values())
        self.is_conditional = any(d.when for d in self._dims)
        self.parents = frozenset(p for d in self._dims if d.when for p in d.when)

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self):
        return iter(self.dimensions.items())

    def __getitem__(self, name: str) -> Dimension:
        return self.dimensions[name]

    def __contains__(self, name: object) -> bool:
        return name in self.dimensions

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {d!r}" for n, d in self.dimensions.items())
        return f"Space({{{inner}}})"

    @staticmethod
    def _active(dim: Dimension, config: Mapping[str, Any]) -> bool:
        if not dim.when:
            return True
        for parent, values in dim.when.items():
            if parent not in config or not any(_same_value(config[parent], v) for v in values):
                return False
        return True

    def is_active(self, name: str, config: Mapping[str, Any]) -> bool:
        """Whether dimension ``name`` is active given the (partial) config of its parents."""
        return self._active(self.dimensions[name], config)

    def decode(self, unit: Sequence[float]) -> tuple[dict[str, Any], dict[str, float]]:
        """Map a point of the unit cube (one coordinate per dimension) to (config, unit coords).

        Inactive dimensions are left out of both.
        """
        if len(unit) != len(self._dims):
            raise ValueError(f"expected {len(self._dims)} unit coordinates, got {len(unit)}")
        config: dict[str, Any] = {}
        coords: dict[str, float] = {}
        for dim, u in zip(self._dims, unit, strict=True):
            if dim.when and not self._active(dim, config):
                continue
            u = _clip_unit(u)
            config[dim.name] = dim.from_unit(u)
            coords[dim.name] = u
        return config, coords

    def encode(self, config: Mapping[str, Any], unit: Mapping[str, float] | None = None) -> np.ndarray:
        """The unit-cube vector of a config: stored unit coordinates first, else ``to_unit``.

        Inactive dimensions (and custom values with no inverse) are NaN.
        """
        out = np.full(len(self._dims), np.nan)
        for i, dim in enumerate(self._dims):
            if unit is not None and dim.name in unit:
                out[i] = unit[dim.name]
            elif dim.name in config:
                try:
                    out[i] = dim.to_unit(config[dim.name])
                except ValueError:  # a Custom value without an inverse: position unknown
                    pass
        return out

    def units_by_value(
        self, config: Mapping[str, Any], stored: Mapping[str, float] | None = None
    ) -> dict[str, float]:
        """Where a stored config lies in this space, placed by its values (``to_unit``): what a
        trial run under an older definition of the space gets when the space changes. A value with
        no inverse (a ``Custom`` map without one) keeps its ``stored`` coordinate, if any."""
        out: dict[str, float] = {}
        for dim in self._dims:
            if dim.name not in config:
                continue
            try:
                out[dim.name] = float(dim.to_unit(config[dim.name]))
            except ValueError:
                if stored is not None and dim.name in stored:
                    out[dim.name] = float(stored[dim.name])
        return out

    def validate(self, config: Mapping[str, Any], *, fill_defaults: bool = False) -> dict[str, Any]:
        """Check a hand-written config against the space; returns it in space order.

        Raises ``ValueError`` naming the offending dimension. With ``fill_defaults`` a missing
        active dimension that has a default takes it.
        """
        if not isinstance(config, Mapping):
            raise ValueError(f"a config must be a mapping of dimension names to values, got {config!r}")
        unknown = [k for k in config if k not in self.dimensions]
        if unknown:
            raise ValueError(
                f"config names unknown dimension(s) {unknown}; the space has {list(self.names)}"
            )
        out: dict[str, Any] = {}
        for dim in self._dims:
            active = self._active(dim, out)
            if not active:
                if dim.name in config:
                    raise ValueError(
                        f"dimension {dim.name!r} is inactive for this config (it needs "
                        f"{dict(dim.when or {})}); leave it out"
                    )
                continue
            if dim.name not in config:
                if isinstance(dim, Fixed):
                    out[dim.name] = dim.value
                    continue
                if fill_defaults and dim.has_default:
                    out[dim.name] = dim.default
                    continue
                raise ValueError(f"config is missing dimension {dim.name!r}")
            value = config[dim.name]
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(dim, Float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not dim.contains(value):
                raise ValueError(f"dimension {dim.name!r}: {value!r} is not a legal value ({dim!r})")
            out[dim.name] = value
        return out

    def grid_size(self, resolution: int) -> int:
        """How many points ``Grid(resolution)`` has for this space (conditionals counted exactly).

        Counted by arithmetic (``Dimension.grid_count``): a grid of 10**12 points is sized at once.
        Only the values of parent dimensions (those another one's ``when`` names) are listed.
        """
        if isinstance(resolution, bool) or not isinstance(resolution, numbers.Integral) or resolution < 1:
            raise ValueError(f"grid resolution must be an int >= 1, got {resolution!r}")
        return self._count(0, {}, int(resolution))

    def _count(self, start: int, config: dict[str, Any], resolution: int) -> int:
        total = 1
        for i in range(start, len(self._dims)):
            dim = self._dims[i]
            if dim.when and not self._active(dim, config):
                continue
            if dim.name in self.parents:
                return total * sum(
                    self._count(i + 1, {**config, dim.name: v}, resolution) for v in dim.grid(resolution)
                )
            total *= dim.grid_count(resolution)
        return total

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dim.to_dict() for name, dim in self.dimensions.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> Space:
        if not isinstance(data, Mapping) or not data:
            raise ValueError("space must be a non-empty mapping of names to dimension specs")
        return cls({name: dimension_from_dict(name, spec) for name, spec in data.items()})

    def check_fits(self, configs: Iterable[Mapping[str, Any]]) -> None:
        """Raise ``SpaceMismatch`` naming the first dimension an existing config does not fit."""
        for config in configs:
            extra = [k for k in config if k not in self.dimensions]
            if extra:
                raise SpaceMismatch(
                    f"dimension {extra[0]!r} is used by stored trials but missing from the new "
                    "space; keep it (a Fixed works) or start a new study"
                )
            seen: dict[str, Any] = {}
            for dim in self._dims:
                if not self._active(dim, seen):
                    if dim.name in config:
                        raise SpaceMismatch(
                            f"dimension {dim.name!r}: stored trials set it where the new space "
                            "makes it inactive; keep its old 'when' or start a new study"
                        )
                    continue
                if dim.name not in config:
                    if not dim.has_default and not isinstance(dim, Fixed):
                        raise SpaceMismatch(
                            f"dimension {dim.name!r} is new: stored trials have no value for it; "
                            "give it a default (e.g. default=...) or start a new study"
                        )
                    seen[dim.name] = dim.value if isinstance(dim, Fixed) else dim.default
                    continue
                value = config[dim.name]
                if not dim.contains(value):
                    raise SpaceMismatch(
                        f"dimension {dim.name!r}: stored trial value {value!r} is outside the new "
                        f"definition {dim!r}; widen it to include the old values or start a new study"
                    )
                seen[dim.name] = value

    def complete(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """An old config filled with the defaults of dimensions added since it was run."""
        out: dict[str, Any] = {}
        for dim in self._dims:
            if not self._active(dim, {**config, **out}):
                continue
            if dim.name in config:
                out[dim.name] = config[dim.name]
            elif isinstance(dim, Fixed):
                out[dim.name] = dim.value
            elif dim.has_default:
                out[dim.name] = dim.default
        return out


def as_space(space: Space | Mapping[str, Any]) -> Space:
    """Accept a ``Space`` or a plain dict of dimensions."""
    return space if isinstance(space, Space) else Space(space)
