"""Weights & Biases tracking: ``from shoal.wandb import WandbCallback`` (needs ``shoal[wandb]``)."""

from __future__ import annotations

from shoal.integrations.wandb import WandbCallback

__all__ = ["WandbCallback"]
