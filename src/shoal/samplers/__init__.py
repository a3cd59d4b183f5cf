"""Samplers decide what to try next; every one works in the unit cube."""

from .auto import Auto
from .base import Proposal, Sampler, SamplingContext, SearchExhausted
from .bohb import BOHB
from .cmaes import CMAES
from .coarse_to_fine import Box, CoarseToFine
from .gp import GP
from .grid import Grid
from .mo_gp import MOGP
from .motpe import MOTPE
from .nsga2 import NSGAII
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
    "MOGP",
    "MOTPE",
    "NSGAII",
    "Auto",
]
