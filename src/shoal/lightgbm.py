"""lightgbm integration: ``from shoal.lightgbm import PruningCallback`` (needs ``shoal[lightgbm]``)."""

from __future__ import annotations

from shoal.integrations.lightgbm import PruningCallback

__all__ = ["PruningCallback"]
