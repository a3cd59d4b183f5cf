"""Samplers decide what to try next; every one works in the unit cube."""

from .base import Proposal, Sampler, SamplingContext, SearchExhausted
from .random import Random

__all__ = [
    "Sampler",
    "SamplingContext",
    "Proposal",
    "SearchExhausted",
    "Random",
]
