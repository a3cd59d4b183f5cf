"""Keras Tuner hyperparameters as shoal dimensions, and ``from_unit``: a value from a map of u in (0, 1).

``hp.Int/Float/Choice/Boolean/Fixed`` map to ``Int/Float/Choice/Fixed``; ``sampling="log"`` to
``scale="log"``, ``sampling="reverse_log"`` to ``scale="reverse_log"`` (1 - x on a log scale) where the
range lies below 1, else to Keras Tuner's own mirrored log map; stepped ranges that shoal cannot
step natively (a log ``step`` multiplies) become a ``Choice`` of their values. Conditional scopes
become ``when=``. Every dimension keeps the hyperparameter's default, so a search whose
``build_model`` grows new hyperparameters resumes with the old trials.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..space import Choice, Custom, Dimension, Fixed, Float, Int, Space

__all__ = ["from_unit", "space_of", "is_unit_dimension"]

#: name -> map, for the dimensions ``from_unit`` declared (the oracle reads it to build Custom dims)
_UNIT_MAPS: dict[str, Callable[[float], Any]] = {}
_LOCK = threading.Lock()
_SCALARS = (str, int, float, bool, type(None))


def from_unit(
    hp: Any,
    name: str,
    fn: Callable[[float], Any],
    *,
    parent_name: str | None = None,
    parent_values: Sequence[Any] | None = None,
) -> Any:
    """Inside ``build_model``: a hyperparameter whose value is ``fn(u)`` for a unit number u in (0, 1).

    ``alpha = from_unit(hp, "alpha", lambda u: 10 ** (-3 * u) / 10)`` spreads alpha log-uniformly over
    [1e-4, 1e-1]. With ``parent_name``/``parent_values`` it exists only when that parent takes one of
    those values (and is None otherwise). Under ``ShoalOracle`` the study records the value ``fn(u)``
    and any shoal sampler chooses u; Keras Tuner's trial shows the value (``get_best_hyperparameters``,
    ``results_summary``) and keeps u aside, so building from it gives the same model. Under Keras
    Tuner's own oracles u is drawn uniformly and shown.
    """
    if not callable(fn):
        raise ValueError(f"from_unit({name!r}): fn must be callable (u -> value), got {fn!r}")
    if (parent_name is None) != (parent_values is None):
        raise ValueError(f"from_unit({name!r}): give both parent_name and parent_values, or neither")
    with _LOCK:
        _UNIT_MAPS[name] = fn
    if parent_name is None:
        u = hp.Float(name, 0.0, 1.0, default=0.5)
    else:
        values = [parent_values] if isinstance(parent_values, (str, bytes)) else list(parent_values)
        with hp.conditional_scope(parent_name, values):
            u = hp.Float(name, 0.0, 1.0, default=0.5)
    if u is None:
        return None
    units = getattr(hp, "shoal_units", None) or {}  # a ShoalOracle trial keeps the value under ``name``
    if name not in units:
        return fn(u)
    return u if units[name] is None else fn(units[name])  # None: a value enqueued by hand


def is_unit_dimension(name: str) -> bool:
    return name in _UNIT_MAPS


class _MirroredLog:
    """Keras Tuner's ``reverse_log``, dense near ``high``: high + low - low * (high/low) ** (1 - u)."""

    def __init__(self, low: float, high: float, integer: bool) -> None:
        self.low, self.high, self.integer = low, high, integer

    def __call__(self, u: float) -> float | int:
        value = self.high + self.low - self.low * math.pow(self.high / self.low, 1.0 - u)
        value = min(self.high, max(self.low, value))
        return int(round(value)) if self.integer else float(value)

    def __repr__(self) -> str:
        return f"reverse_log({self.low!r}, {self.high!r})"


def _default(hp: Any) -> Any:
    value = getattr(hp, "default", None)
    return value if isinstance(value, _SCALARS) and value is not None else None


def _with_default(dim: Dimension, default: Any) -> Dimension:
    if default is not None and dim.contains(default):
        dim.default = default
    return dim


def _values(hp: Any, integer: bool) -> Choice:
    """The finite set of values Keras Tuner samples from (its Int yields floats on a log step)."""
    return Choice(sorted({int(round(v)) if integer else float(v) for v in hp.values}))


def _numeric(hp: Any, integer: bool) -> Dimension:
    low, high, step, sampling = hp.min_value, hp.max_value, hp.step, hp.sampling or "linear"
    kind = Int if integer else Float
    if sampling == "linear":
        if step is None or (integer and step == 1):
            return kind(low, high)
        try:
            return Int(low, high, step=step) if integer else Float(low, high, step=step)
        except ValueError:  # a step that does not divide the range: its values, as Keras Tuner has them
            return _values(hp, integer)
    if step is not None and not (integer and step == 1):  # a log step multiplies
        return _values(hp, integer)
    if sampling == "log":
        return Int(low, high, scale="log") if integer else Float(low, high, scale="log")
    if sampling == "reverse_log" and not integer and high < 1:
        return Float(low, high, scale="reverse_log")
    return Custom(_MirroredLog(low, high, integer))


def _dimension(hp: Any) -> Dimension:
    kind = type(hp).__name__
    if hp.name in _UNIT_MAPS and kind == "Float":
        fn = _UNIT_MAPS[hp.name]
        middle = fn(0.5)
        middle = middle.item() if hasattr(middle, "item") else middle
        return Custom(fn, default=middle) if isinstance(middle, _SCALARS) else Custom(fn)
    if kind == "Boolean":
        return _with_default(Choice([False, True]), _default(hp))
    if kind == "Fixed":
        return Fixed(hp.value)
    if kind == "Choice":
        return _with_default(Choice(list(hp.values)), _default(hp))
    if kind in ("Int", "Float"):
        return _with_default(_numeric(hp, kind == "Int"), _default(hp))
    raise ValueError(
        f"hyperparameter {hp.name!r}: type {kind} is not one of Int, Float, Choice, Boolean, Fixed"
    )


def space_of(hyperparameters: Any) -> Space:
    """The shoal space of a ``keras_tuner.HyperParameters`` (conditional scopes become ``when``)."""
    dims: dict[str, Dimension] = {}
    for hp in hyperparameters.space:
        dim = _dimension(hp)
        if hp.conditions:
            when: dict[str, list[Any]] = {}
            for condition in hp.conditions:
                when[condition.name] = list(condition.values)
            dim.when = when
        dims[hp.name] = dim
    if not dims:
        raise ValueError(
            "the search space is empty: build_model declares no hyperparameter (hp.Int, hp.Float, ...)"
        )
    return Space(dims)
