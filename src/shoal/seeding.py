"""Seeded random streams for samplers and schedulers, with no global random state.

A stream is a function of (seed, study name, keys...) only, so a seeded run repeats exactly, several
drivers of one study draw the same numbers for the same trial, and parallel trials never share a
stream. Without a seed, fresh entropy (drawn once per object) takes the seed's place.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["Seeded", "study_key"]


def study_key(name: str) -> int:
    """A stable integer for a study name (the same in every process)."""
    return zlib.crc32(name.encode("utf-8"))


class Seeded:
    """Mixin: a ``seed`` (validated), ``with_seed`` for ``Study(seed=...)``, and ``stream(...)``."""

    seed: int | None = None

    def _set_seed(self, seed: int | None) -> None:
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ValueError(f"seed must be an int >= 0 or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._entropy = np.random.SeedSequence().entropy if seed is None else None

    def with_seed(self, seed: int | None):  # noqa: ANN201 - returns self, typed by subclasses
        """Seed this object unless it already has a seed (``Study(seed=...)`` seeds what it is given)."""
        if seed is not None and self.seed is None:
            self._set_seed(seed)
        return self

    def stream(self, study_name: str, *keys: int) -> np.random.Generator:
        """The generator for (seed, study, keys): the same numbers in every process."""
        root = self.seed if self.seed is not None else self._entropy
        return np.random.default_rng([int(root), study_key(study_name), *map(int, keys)])
