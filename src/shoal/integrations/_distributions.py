"""scikit-learn style ``param_distributions`` as a shoal space, and shoal configs back as parameters.

``param_distributions`` is what ``RandomizedSearchCV`` takes: a dict (or a list of dicts) of
parameter name -> list of values or a frozen ``scipy.stats`` distribution. Each becomes a dimension:

- a list of plain values -> ``Choice``; a list holding objects (tuples, estimators) -> ``Choice`` over
  their reprs (or positions), turned back into the objects when the parameters are set;
- ``uniform(loc, scale)`` -> ``Float(loc, loc + scale)``; ``loguniform(a, b)`` -> ``Float(a, b, "log")``;
  ``randint(low, high)`` -> ``Int(low, high - 1)``;
- any other frozen distribution -> ``Custom`` through its quantile function (``ppf``), so a sampler
  that places points evenly in the unit cube places them evenly in probability under that law;
- a shoal dimension, a dict of them or a ``Space`` is taken as it is.

A list of dicts becomes a conditional space: a ``branch`` choice picks the dict, and each dict's
dimensions (named ``"<i>/<name>"``) are active only on their branch, as ``RandomizedSearchCV`` first
picks a dict and then samples inside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..space import Choice, Custom, Dimension, Fixed, Float, Int, Space

__all__ = ["ParamSpace", "as_param_space"]

_SCALARS = (str, int, float, bool, type(None))
_BRANCH = "branch"
#: ppf(0) and ppf(1) are infinite for unbounded laws; keep u strictly inside (0, 1).
_EDGE = 1e-12


class Quantile:
    """``u -> dist.ppf(u)`` for a frozen scipy distribution; picklable, with a stable repr."""

    def __init__(self, dist: Any) -> None:
        self.dist = dist
        self.discrete = hasattr(dist.dist, "pmf")

    def __call__(self, u: float) -> Any:
        value = float(self.dist.ppf(min(1.0 - _EDGE, max(_EDGE, float(u)))))
        return int(value) if self.discrete and math.isfinite(value) else value

    def inverse(self, value: Any) -> float:
        return float(self.dist.cdf(value))

    def __repr__(self) -> str:
        name = getattr(self.dist.dist, "name", type(self.dist.dist).__name__)
        args = [repr(a) for a in self.dist.args] + [f"{k}={v!r}" for k, v in self.dist.kwds.items()]
        return f"{name}({', '.join(args)}).ppf"


def _frozen_args(dist: Any) -> tuple[tuple, float, float]:
    """(shape args, loc, scale) of a frozen distribution, whether given by position or keyword."""
    shapes, loc, scale = dist.dist._parse_args(*dist.args, **dist.kwds)
    return tuple(float(s) for s in shapes), float(loc), float(scale)


def _from_distribution(label: str, dist: Any) -> Dimension:
    family = getattr(getattr(dist, "dist", None), "name", None)
    if family is None or not hasattr(dist, "ppf"):
        raise ValueError(
            f"param_distributions[{label!r}]: {dist!r} has no quantile function (ppf); give a list of "
            "values, a frozen scipy.stats distribution (e.g. loguniform(1e-3, 1e2)) or a shoal dimension"
        )
    try:
        shapes, loc, scale = _frozen_args(dist)
    except Exception:  # noqa: BLE001 - a private scipy helper; fall back to the quantile map
        shapes, loc, scale = (), math.nan, math.nan
    if family == "uniform" and scale > 0:
        return Float(loc, loc + scale)
    if family in ("loguniform", "reciprocal") and loc == 0 and scale == 1 and len(shapes) == 2:
        return Float(shapes[0], shapes[1], scale="log")
    if family == "randint" and len(shapes) == 2 and loc == 0 and shapes[1] - shapes[0] >= 2:
        return Int(int(shapes[0]), int(shapes[1]) - 1)
    quantile = Quantile(dist)
    return Custom(quantile, inverse=quantile.inverse)


class _Objects:
    """Maps the stored labels of an object-valued choice back to the objects."""

    def __init__(self, values: Sequence[Any]) -> None:
        reprs = [repr(v) for v in values]
        self.labels: list[Any] = reprs if len(set(reprs)) == len(reprs) else list(range(len(values)))
        self.values = list(values)

    def __call__(self, label: Any) -> Any:
        return self.values[self.labels.index(label)]


def _from_list(label: str, values: Any) -> tuple[Dimension, _Objects | None]:
    values = list(values)
    if not values:
        raise ValueError(f"param_distributions[{label!r}]: the list of values is empty")
    plain = [v.item() if isinstance(v, np.generic) else v for v in values]
    if all(isinstance(v, _SCALARS) and not (isinstance(v, float) and not math.isfinite(v)) for v in plain):
        try:
            return (Fixed(plain[0]) if len(plain) == 1 else Choice(plain)), None
        except ValueError:  # repeated values: RandomizedSearchCV allows them
            pass
    objects = _Objects(values)
    return Choice(objects.labels), objects


def _dimension(label: str, spec: Any) -> tuple[Dimension, _Objects | None]:
    if isinstance(spec, Dimension):
        return spec, None
    if hasattr(spec, "rvs"):
        return _from_distribution(label, spec), None
    if isinstance(spec, (str, bytes)) or not isinstance(spec, (Sequence, np.ndarray)):
        raise ValueError(
            f"param_distributions[{label!r}]: expected a list of values, a frozen scipy.stats "
            f"distribution or a shoal dimension, got {spec!r}"
        )
    return _from_list(label, spec)


class ParamSpace:
    """A shoal ``Space`` plus the map from a trial's config to estimator parameters."""

    def __init__(
        self, space: Space, names: dict[str, str], objects: dict[str, _Objects], branched: bool
    ) -> None:
        self.space = space
        self._names = names  # dimension name -> estimator parameter name
        self._objects = objects
        self._branched = branched

    def to_params(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The estimator parameters of a config (objects restored, branch and prefixes dropped)."""
        params: dict[str, Any] = {}
        for dim_name, value in config.items():
            if self._branched and dim_name == _BRANCH:
                continue
            if dim_name in self._objects:
                value = self._objects[dim_name](value)
            params[self._names.get(dim_name, dim_name)] = value
        return params


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"param_distributions: parameter names must be non-empty strings, got {name!r}")
    return name


def as_param_space(param_distributions: Any) -> ParamSpace:
    """Build the space for ``param_distributions`` (see the module docstring)."""
    if isinstance(param_distributions, Space):
        return ParamSpace(param_distributions, {}, {}, False)
    if isinstance(param_distributions, Mapping):
        groups: list[Mapping[str, Any]] = [param_distributions]
    elif isinstance(param_distributions, Sequence) and not isinstance(param_distributions, str):
        groups = list(param_distributions)
        if not groups or not all(isinstance(g, Mapping) for g in groups):
            raise ValueError(
                "param_distributions must be a dict of parameter -> values/distribution, a non-empty "
                f"list of such dicts, or a shoal Space; got {param_distributions!r}"
            )
    else:
        raise ValueError(
            "param_distributions must be a dict of parameter -> values/distribution, a list of such "
            f"dicts, or a shoal Space; got {param_distributions!r}"
        )
    if any(not g for g in groups):
        raise ValueError("param_distributions: a dict is empty; give at least one parameter in each")
    if all(isinstance(v, Dimension) for g in groups for v in g.values()) and len(groups) == 1:
        return ParamSpace(Space(dict(groups[0])), {}, {}, False)
    dims: dict[str, Dimension] = {}
    names: dict[str, str] = {}
    objects: dict[str, _Objects] = {}
    branched = len(groups) > 1
    if branched:
        dims[_BRANCH] = Choice(list(range(len(groups))))
    for i, group in enumerate(groups):
        for name, spec in group.items():
            name = _check_name(name)
            dim_name = f"{i}/{name}" if branched else name
            dim, objs = _dimension(name, spec)
            if branched:
                dim = _conditional(dim, {_BRANCH: [i]})
            dims[dim_name] = dim
            names[dim_name] = name
            if objs is not None:
                objects[dim_name] = objs
    return ParamSpace(Space(dims), names, objects, branched)


def _conditional(dim: Dimension, when: dict[str, list[Any]]) -> Dimension:
    clone = dim._copy()
    clone.when = when
    return clone
