"""Presets: documented pairs of a sampler and a scheduler, for ``Study(sampler=..., scheduler=...)``.

This module sits above ``shoal.samplers`` and ``shoal.schedulers`` (the samplers never import the
schedulers), so a pairing of the two lives here::

    sampler, scheduler = shoal.bohb(min_resource=1, max_resource=27)
    study = shoal.Study("mlp", space, "maximize", sampler=sampler, scheduler=scheduler)
"""

from __future__ import annotations

from typing import Any

from .samplers.bohb import BOHB
from .schedulers.hyperband import Hyperband

__all__ = ["bohb"]


def bohb(
    min_resource: int = 1,
    max_resource: int = 81,
    reduction_factor: int = 3,
    *,
    seed: int | None = None,
    **sampler_options: Any,
) -> tuple[BOHB, Hyperband]:
    """The documented BOHB pair: ``(BOHB(...), Hyperband(...))`` for ``Study(sampler=..., scheduler=...)``.

    ``min_resource``, ``max_resource`` and ``reduction_factor`` go to ``Hyperband``; ``seed`` and the
    other keywords (``n_startup``, ``random_fraction``, ...) to the ``BOHB`` sampler.
    """
    sampler = BOHB(seed=seed, **sampler_options)
    scheduler = Hyperband(min_resource, max_resource=max_resource, reduction_factor=reduction_factor)
    return sampler, scheduler
