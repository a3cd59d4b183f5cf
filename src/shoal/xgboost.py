"""xgboost integration: ``from shoal.xgboost import PruningCallback`` (needs ``shoal[xgboost]``)."""

from __future__ import annotations

from shoal.integrations.xgboost import PruningCallback

__all__ = ["PruningCallback"]
