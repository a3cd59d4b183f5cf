"""Samplers decide what to try next; every one works in the unit cube."""

from .auto import Auto
from .base import Proposal, Sampler, SamplingContext, SearchExhausted
from .bohb import BOHB
from .cmaes import CMAES
from .coarse_to_fine import Box, CoarseToFine
from .gp import GP
from .grid import Grid
from .quasirandom import QuasiRandom
from .random import Random
from .tpe import TPE

__all__ = [
    "Sampler",
    "SamplingContext",
    "Proposal",
    "SearchExhausted",
    "Random",
    "Grid",
    "QuasiRandom",
    "CoarseToFine",
    "Box",
    "TPE",
    "BOHB",
    "GP",
    "CMAES",
    "Auto",
]
