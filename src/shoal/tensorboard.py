"""TensorBoard HParams: ``from shoal.tensorboard import TensorBoardCallback`` (``shoal[tensorboard]``)."""

from __future__ import annotations

from shoal.integrations.tensorboard import TensorBoardCallback

__all__ = ["TensorBoardCallback"]
