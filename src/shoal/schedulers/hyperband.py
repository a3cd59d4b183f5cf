"""Hyperband: several brackets of asynchronous successive halving, from aggressive to none.

Bracket b starts halving at ``min_resource * eta ** b``; the last bracket has no rung below
``max_resource`` (its trials all train fully, a plain random-search hedge). Trials are spread over the
brackets by their number, in the proportions of Hyperband (Li et al., 2018): bracket b gets
``ceil((B + 1) / (B - b + 1) * eta ** (B - b))`` parts, B being the last bracket. The assignment is a
function of the trial number only, so every driver of a study places a trial in the same bracket.
"""

from __future__ import annotations

import math
from functools import cached_property

from .._keywords import keywords
from .asha import ASHA, n_rungs

__all__ = ["Hyperband"]


@keywords()
class Hyperband(ASHA):
    """Brackets of ASHA (asynchronous Hyperband).

    ``Hyperband(1, max_resource=27, reduction_factor=3)``: only ``min_resource`` may be positional.
    ``min_resource`` / ``max_resource``: the steps of the smallest rung and of a full trial;
    ``reduction_factor`` (eta): each rung keeps 1/eta of its trials; ``mode``: ``"stop"`` or
    ``"promote"`` as for ``ASHA``; ``n_brackets`` (default: every bracket, ``floor(log_eta(max/min)) + 1``)
    keeps only the most aggressive ones.
    """

    def __init__(
        self,
        min_resource: int = 1,
        *,
        max_resource: int = 81,
        reduction_factor: int = 3,
        mode: str = "stop",
        n_brackets: int | None = None,
    ) -> None:
        if max_resource is None:
            raise ValueError("Hyperband: max_resource is required (the step a full trial reaches)")
        super().__init__(
            min_resource, reduction_factor=reduction_factor, max_resource=max_resource, mode=mode
        )
        assert self.max_resource is not None
        most = n_rungs(self.min_resource, self.max_resource, self.reduction_factor)
        if n_brackets is not None:
            if isinstance(n_brackets, bool) or not isinstance(n_brackets, int) or not 1 <= n_brackets <= most:
                raise ValueError(
                    f"Hyperband: n_brackets must be an int in [1, {most}] for these resources, "
                    f"got {n_brackets!r}"
                )
        self.n_brackets = most if n_brackets is None else int(n_brackets)

    @cached_property
    def _cycle(self) -> list[int]:
        """One period of the bracket assignment: bracket b appears in its Hyperband proportion."""
        last = n_rungs(self.min_resource, self.max_resource or 1, self.reduction_factor) - 1
        sizes = {
            b: math.ceil((last + 1) / (last - b + 1) * self.reduction_factor ** (last - b))
            for b in range(self.n_brackets)
        }
        slots = [((i + 0.5) / n, b) for b, n in sizes.items() for i in range(n)]
        return [b for _, b in sorted(slots)]

    def bracket_of(self, number: int) -> int:
        return self._cycle[number % len(self._cycle)]

    def describe(self) -> str:
        return (
            f"Hyperband(min_resource={self.min_resource}, max_resource={self.max_resource}, "
            f"reduction_factor={self.reduction_factor}, mode={self.mode!r}, n_brackets={self.n_brackets})"
        )
