"""Random search: every trial tries a fresh value of every hyperparameter."""

from __future__ import annotations

from .base import Proposal, Sampler, SamplingContext


class Random(Sampler):
    """Independent uniform draws in the unit cube; each dimension's scale does the rest.

    With 25 trials it tries 25 values of every hyperparameter, where a 5 x 5 grid tries 5.
    """

    def propose(self, context: SamplingContext) -> Proposal:
        return Proposal(self.rng_for(context).random(len(context.space)))
