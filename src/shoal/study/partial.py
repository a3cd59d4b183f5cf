"""A configuration queued with only some of its values (``Study.enqueue({"lr": 1e-3})``).

The given values are checked against the space at once, as a full configuration's are. The trial is
stored with them alone; when a driver claims it, the study's sampler proposes a point as for any new
trial, and the missing values are taken from it (the given ones always win). A dimension with a
default takes its default, as it did before; a ``Fixed`` one its value. Conditionals follow the given
values: a given parent decides which children are active, and a given child makes its missing
parents take a value that keeps it active (the sampled one when it does, else the nearest that does).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SearchExhausted
from ..samplers.random import Random
from ..space import Dimension, Fixed, Float, Space
from ..trial import Trial

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

__all__ = ["PartialConfig", "fill_started"]

logger = logging.getLogger("shoal")


def _same(a: Any, b: Any) -> bool:
    """Equality as a conditional reads it: 1, 1.0 and True are three different values."""
    return type(a) is type(b) and a == b


def _unit_of(dim: Dimension, value: Any) -> float | None:
    try:
        return float(dim.to_unit(value))
    except ValueError:  # a Custom value without an inverse: its position is unknown
        return None


class PartialConfig:
    """Some values of a configuration, checked against ``space`` (``ValueError`` naming the
    dimension): names it has, legal values, no value for a dimension its given parents switch off.
    ``normalize`` reads values as ``Space.validate`` does (numpy scalars, an int for a float); a
    stored config is read as it is."""

    def __init__(self, space: Space, config: Mapping[str, Any], *, normalize: bool = True) -> None:
        if not isinstance(config, Mapping):
            raise ValueError(f"a config must be a mapping of dimension names to values, got {config!r}")
        unknown = [k for k in config if k not in space]
        if unknown:
            raise ValueError(
                f"config names unknown dimension(s) {unknown}; the space has {list(space.names)}"
            )
        self.space = space
        self.given: dict[str, Any] = {}
        for name, dim in space:
            if name in config:
                value = _normalized(dim, config[name]) if normalize else config[name]
                if not dim.contains(value):
                    raise ValueError(f"dimension {name!r}: {value!r} is not a legal value ({dim!r})")
                self.given[name] = value
        #: the values a missing parent may take so that every given dimension below it is active
        self.needed: dict[str, list[Any]] = {}
        self._check_conditionals()

    def _check_conditionals(self) -> None:
        """Walk from the last dimension up: a given (or needed) dimension needs its parents' values."""
        wanted_by: dict[str, str] = {}
        for name, dim in reversed(list(self.space)):
            if not dim.when or (name not in self.given and name not in self.needed):
                continue
            for parent, values in dim.when.items():
                parent_dim = self.space[parent]
                if parent in self.given or isinstance(parent_dim, Fixed):
                    value = self.given[parent] if parent in self.given else parent_dim.value  # type: ignore[attr-defined]
                    if not any(_same(value, v) for v in values):
                        lead = (f"dimension {name!r} is inactive" if name in self.given else
                                f"dimension {wanted_by[name]!r} needs {name!r}, which is inactive")
                        raise ValueError(f"{lead} for this config (it needs {dict(dim.when)}); leave it out")
                    continue
                allowed = [v for v in values if parent not in self.needed
                           or any(_same(v, w) for w in self.needed[parent])]
                if not allowed:
                    raise ValueError(
                        f"dimensions {wanted_by.get(parent, name)!r} and {name!r} need different values of "
                        f"{parent!r} to be active; give {parent!r}, or leave one of them out"
                    )
                self.needed[parent] = allowed
                wanted_by.setdefault(parent, wanted_by.get(name, name))

    @property
    def given_unit(self) -> dict[str, float]:
        """The unit coordinates of the given values (placed by value)."""
        placed = {name: _unit_of(self.space[name], value) for name, value in self.given.items()}
        return {name: u for name, u in placed.items() if u is not None}

    def fill(
        self, point: Sequence[float] | np.ndarray | None
    ) -> tuple[dict[str, Any], dict[str, float]] | None:
        """The full (config, unit coordinates): the given values, ``Fixed`` values and defaults, and
        the rest from ``point`` (one unit coordinate per dimension, a sampler's proposal). None when
        a value must come from a point and none is given."""
        config: dict[str, Any] = {}
        unit: dict[str, float] = {}
        for i, (name, dim) in enumerate(self.space):
            if not self.space.is_active(name, config):
                continue
            allowed = self.needed.get(name)
            u: float | None
            if name in self.given:
                value = self.given[name]
                u = _unit_of(dim, value)
            elif isinstance(dim, Fixed) or (
                dim.has_default and (allowed is None or any(_same(dim.default, a) for a in allowed))
            ):
                value = dim.value if isinstance(dim, Fixed) else dim.default  # type: ignore[attr-defined]
                u = _unit_of(dim, value)
            elif allowed is not None and len(allowed) == 1:
                value = allowed[0]
                u = _unit_of(dim, value)
            elif point is None:
                return None
            else:
                u = min(1.0, max(0.0, float(point[i])))
                value = dim.from_unit(u)
                if allowed is not None and not any(_same(value, a) for a in allowed):
                    sampled = u
                    value = min(allowed, key=lambda a: abs((_unit_of(dim, a) or 0.0) - sampled))
                    u = _unit_of(dim, value)
            config[name] = value
            if u is not None:
                unit[name] = u
        return config, unit


def _normalized(dim: Dimension, value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(dim, Float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


def fill_started(study: Study, record: Trial, budget: int | None) -> Trial:
    """A claimed queued trial with its config complete: a partial one filled from the study's
    sampler and stored (``Storage.fill_config``); a full one as it is."""
    try:
        partial = PartialConfig(study.space, record.config, normalize=False)
    except ValueError as exc:  # a stored config the space no longer takes: it runs as it was queued
        logger.warning("study %r: queued trial %d: %s; it runs as queued", study.name, record.number, exc)
        return record
    filled = partial.fill(None)
    proposed_by = None
    if filled is None:
        context = study._context(budget)
        context = dataclasses.replace(
            context, trial_number=record.number,
            running=[t for t in context.running if t.number != record.number],
        )
        try:
            proposal = study.sampler.propose(context)
        except SearchExhausted:  # a finished grid: the missing values at random
            proposal = Random(seed=study.sampler.seed).propose(context)
        filled = partial.fill(proposal.unit)
        assert filled is not None
        by = proposal.proposed_by or study.sampler.describe()
        proposed_by = f"enqueued with {', '.join(partial.given) or 'no values'}; the rest by {by}"
    if filled[0] == record.config:
        return record
    assert record.trial_id is not None
    return study.storage.fill_config(record.trial_id, filled[0], filled[1], proposed_by=proposed_by)
