"""MLflow tracking: ``from shoal.mlflow import MLflowCallback`` (needs ``shoal[mlflow]``)."""

from __future__ import annotations

from shoal.integrations.mlflow import MLflowCallback

__all__ = ["MLflowCallback"]
