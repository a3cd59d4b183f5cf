"""scikit-learn integration: ``from shoal.sklearn import ShoalSearchCV`` (needs ``shoal[sklearn]``)."""

from __future__ import annotations

from shoal.integrations.sklearn import ShoalSearchCV

__all__ = ["ShoalSearchCV"]
