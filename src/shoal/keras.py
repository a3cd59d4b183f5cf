"""Keras Tuner integration: ``from shoal.keras import Tuner, ShoalOracle, PruningCallback, from_unit``.

Needs ``shoal[keras]``; set ``KERAS_BACKEND`` (e.g. ``torch``) before importing it, as for Keras.
"""

from __future__ import annotations

from shoal.integrations.keras import PruningCallback, ShoalOracle, Tuner, from_unit, space_of

__all__ = ["ShoalOracle", "PruningCallback", "Tuner", "from_unit", "space_of"]
