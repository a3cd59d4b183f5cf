"""Hyperparameter importance of a study; the numbers come from ``shoal.stats.importance``."""

from __future__ import annotations

from typing import Any

from ..stats.importance import METHODS, MIN_TRIALS, Importance, importance_of, surrogate
from ._data import as_study_data

__all__ = ["Importance", "importance", "importance_of", "surrogate", "METHODS", "MIN_TRIALS"]


def importance(
    study: Any, *, method: str = "permutation", n_trees: int | None = None, seed: int = 0
) -> Importance:
    """How much each dimension of ``study`` moves its objective, from the completed trials.

    ``method="permutation"`` (fast, the default) or ``"fanova"`` (variance decomposition, with pair
    interactions in ``.pairs``). ``n_trees`` defaults to 32 (permutation) or 64 (fANOVA); ``seed``
    fixes the forest, so the same trials give the same answer. Trials whose hyperparameters changed
    while they trained (``study.tweak``, a rule, PBT) or that were forked are left out: their value
    belongs to no single configuration; ``.excluded`` says how many. Raises ``ValueError`` with fewer
    than 4 completed trials left.
    """
    data = as_study_data(study)
    return importance_of(data.space, data.trials, method=method, n_trees=n_trees, seed=seed)
