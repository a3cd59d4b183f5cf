"""What Keras Tuner shows for a trial of a shoal study: the values it ran with, and the unit numbers
``from_unit`` needs to build the same model again.

A ``from_unit`` dimension is a map of a unit number u. Keras Tuner's trial keeps the value ``fn(u)``
under the hyperparameter's name (what ``get_best_hyperparameters()`` and ``results_summary()`` show)
and u in ``shoal_units``, which ``from_unit`` reads, so ``build_model(best_hp)`` builds the model the
trial trained.
"""

from __future__ import annotations

from typing import Any

import keras_tuner

__all__ = ["UnitHyperParameters", "shown_value", "with_units"]

_SCALARS = (str, int, float, bool)


def shown_value(value: Any, u: float | None) -> Any:
    """The value Keras Tuner keeps for a ``from_unit`` dimension: ``value`` when it is a plain scalar
    (saved in the project's JSON files), else the unit number ``u``."""
    value = value.item() if hasattr(value, "item") else value
    return value if isinstance(value, _SCALARS) else u


class UnitHyperParameters(keras_tuner.HyperParameters):
    """``keras_tuner.HyperParameters`` that also carry the unit numbers of ``from_unit`` dimensions."""

    def __init__(self) -> None:
        super().__init__()
        self.shoal_units: dict[str, float | None] = {}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "shoal_units": dict(self.shoal_units)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> UnitHyperParameters:
        hps = super().from_config(config)
        hps.shoal_units = dict(config.get("shoal_units", {}))
        return hps

    def copy(self) -> UnitHyperParameters:
        return UnitHyperParameters.from_config(self.get_config())


def with_units(
    hyperparameters: Any, values: dict[str, Any], units: dict[str, float | None]
) -> UnitHyperParameters:
    """A copy of ``hyperparameters`` (their space) holding ``values`` and the unit numbers ``units``
    (None for a value enqueued by hand, which ``from_unit`` takes as it is)."""
    config = hyperparameters.get_config()
    return UnitHyperParameters.from_config({**config, "values": dict(values), "shoal_units": dict(units)})
