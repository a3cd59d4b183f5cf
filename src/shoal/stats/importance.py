"""Hyperparameter importance: which dimensions move the objective, from a study's completed trials.

Both estimators fit a random forest (scikit-learn) to the trials' unit-cube coordinates, so a
log-scale learning rate is judged on its log scale and a choice by its values, never by raw numbers:

- ``method="permutation"`` (the fast default): how much the forest's squared error on the trials grows
  when one dimension's column is shuffled (3 shuffles, 32 trees). A dimension that only acts through an
  interaction is caught too (shuffling it breaks the interaction).
- ``method="fanova"``: functional ANOVA computed exactly over every tree's partition (``shoal.stats.fanova``):
  the variance share of each main effect and of each pair interaction (pairs among the 8 dimensions
  the forest splits on most). A dimension's share is its main effect plus half of each interaction it
  takes part in.

Shares are normalized to sum to 1 and ranked, largest first. Conditional dimensions: a trial in which
a dimension is inactive gets the coordinate -0.5, outside [0, 1], so the trees can split on
"inactive"; fANOVA weighs that region by the fraction of trials in which the dimension was inactive.
Only COMPLETE trials with a finite value count; ``Fixed`` dimensions are left out, and so are trials
whose value belongs to no single configuration (``Trial.excluded_from_models``: tweaked while they
trained, or forked from another trial's checkpoint); ``Importance.excluded`` counts those.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..space import Space
from ..trial import Trial
from .fanova import INACTIVE, forest_decomposition
from .trial_matrix import completed, tunable, unit_matrix

__all__ = ["Importance", "importance_of", "surrogate", "METHODS", "MIN_TRIALS"]

logger = logging.getLogger("shoal")

METHODS = ("permutation", "fanova")
#: Fewer completed trials than this give no estimate (a ValueError says so).
MIN_TRIALS = 4
_MAX_PAIR_DIMS = 8
_REPEATS = 3


class Importance(Mapping[str, float]):
    """A ranked mapping ``{dimension: share}`` (largest first, summing to 1).

    ``pairs`` maps ``(a, b)`` to the share of the variance due to that pair's interaction (fANOVA
    only); ``main`` holds each dimension's main-effect share of the variance (fANOVA) or its raw
    permutation score (permutation); ``n_trials`` is how many completed trials were used, and
    ``excluded`` how many completed ones were left out (their hyperparameters changed while they
    trained, or they were forked).
    """

    def __init__(
        self,
        shares: Mapping[str, float],
        method: str,
        n_trials: int,
        main: Mapping[str, float] | None = None,
        pairs: Mapping[tuple[str, str], float] | None = None,
        excluded: int = 0,
    ) -> None:
        ranked = sorted(shares.items(), key=lambda kv: -kv[1])
        self._shares = dict(ranked)
        self.method = method
        self.n_trials = n_trials
        self.excluded = excluded
        self.main = dict(main or {})
        self.pairs = dict(sorted((pairs or {}).items(), key=lambda kv: -kv[1]))

    def __getitem__(self, name: str) -> float:
        return self._shares[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._shares)

    def __len__(self) -> int:
        return len(self._shares)

    @property
    def ranking(self) -> list[str]:
        """Dimension names, most important first."""
        return list(self._shares)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {
            "method": self.method,
            "n_trials": self.n_trials,
            "excluded": self.excluded,
            "shares": dict(self._shares),
            "pairs": [[a, b, v] for (a, b), v in self.pairs.items()],
        }

    def __str__(self) -> str:
        width = max((len(n) for n in self._shares), default=4)
        left_out = f"; {self.excluded} left out: tweaked or forked" if self.excluded else ""
        lines = [f"importance ({self.method}, {self.n_trials} trials{left_out})"]
        for rank, (name, share) in enumerate(self._shares.items(), 1):
            bar = "#" * int(round(share * 40))
            lines.append(f"{rank:>3}. {name:<{width}}  {share:6.1%}  {bar}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v:.3f}" for k, v in self._shares.items())
        return f"Importance({self.method}, {{{inner}}})"


def _check(method: str, n_trees: int | None) -> None:
    if method not in METHODS:
        raise ValueError(f"importance: method must be one of {list(METHODS)}, got {method!r}")
    if n_trees is not None and (isinstance(n_trees, bool) or not isinstance(n_trees, int) or n_trees < 1):
        raise ValueError(f"importance: n_trees must be an int >= 1 (e.g. 64), got {n_trees!r}")


def _forest(n_trees: int, seed: int, **kwargs: Any):
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError:
        raise ImportError("shoal.importance needs scikit-learn: pip install 'shoal[sklearn]'") from None
    return RandomForestRegressor(n_estimators=n_trees, random_state=seed, n_jobs=1, **kwargs)


def importance_of(
    space: Space,
    trials: Sequence[Trial],
    *,
    method: str = "permutation",
    n_trees: int | None = None,
    seed: int = 0,
) -> Importance:
    """``importance`` for a space and a list of trials (what samplers and plots call)."""
    _check(method, n_trees)
    names = tunable(space)
    done = completed(trials)
    left_out = [t for t in done if t.excluded_from_models is not None]
    if left_out:  # a value that belongs to no single configuration says nothing about one
        done = [t for t in done if t.excluded_from_models is None]
        logger.info("importance: %d trial(s) left out, their hyperparameters changed while they trained "
                    "or they were forked: %s", len(left_out), [t.number for t in left_out])
    if len(done) < MIN_TRIALS:
        more = (f" ({len(left_out)} more left out: their hyperparameters changed while they trained, or "
                "they were forked)" if left_out else "")
        raise ValueError(
            f"importance needs at least {MIN_TRIALS} completed trials, got {len(done)}{more}; run more trials"
        )
    result = _estimate(names, done, method, n_trees, seed)
    result.excluded = len(left_out)
    return result


def _estimate(names: list[str], done: list[Trial], method: str, n_trees: int | None, seed: int) -> Importance:
    if not names:
        return Importance({}, method, len(done))
    x = unit_matrix(done, names)
    y = np.array([t.value for t in done], dtype=float)
    varies = np.array([np.ptp(x[:, j]) > 0 for j in range(len(names))])
    if np.ptp(y) == 0 or not varies.any():
        return Importance({n: 0.0 for n in names}, method, len(done))
    if method == "fanova":
        return _fanova(names, x, y, varies, n_trees or 64, seed)
    return _permutation(names, x, y, varies, n_trees or 32, seed)


def surrogate(
    space: Space, trials: Sequence[Trial], names: Sequence[str] | None = None, *, n_trees: int = 32,
    seed: int = 0,
):
    """A random forest fitted to the completed trials' unit coordinates: (forest, unit matrix)."""
    done = completed(trials)
    names = tunable(space) if names is None else list(names)
    x = unit_matrix(done, names)
    y = np.array([t.value for t in done], dtype=float)
    return _forest(n_trees, seed, min_samples_leaf=2).fit(x, y), x


def _normalized(names: Sequence[str], raw: np.ndarray) -> dict[str, float]:
    total = float(raw.sum())
    if total <= 0:
        return {n: 0.0 for n in names}
    return {n: float(r / total) for n, r in zip(names, raw, strict=True)}


def _permutation(
    names: Sequence[str], x: np.ndarray, y: np.ndarray, varies: np.ndarray, n_trees: int, seed: int
) -> Importance:
    forest = _forest(n_trees, seed, min_samples_leaf=2).fit(x, y)
    base = float(np.mean((forest.predict(x) - y) ** 2))
    rng = np.random.default_rng(seed)
    raw = np.zeros(len(names))
    for j in np.flatnonzero(varies):
        shuffled = x.copy()
        losses = []
        for _ in range(_REPEATS):
            shuffled[:, j] = rng.permutation(x[:, j])
            losses.append(float(np.mean((forest.predict(shuffled) - y) ** 2)))
        raw[j] = max(0.0, float(np.mean(losses)) - base)
    main = {n: float(r) for n, r in zip(names, raw, strict=True)}
    return Importance(_normalized(names, raw), "permutation", len(y), main=main)


def _fanova(
    names: Sequence[str], x: np.ndarray, y: np.ndarray, varies: np.ndarray, n_trees: int, seed: int
) -> Importance:
    forest = _forest(n_trees, seed, max_leaf_nodes=256).fit(x, y)
    inactive = x == INACTIVE
    conditional = inactive.any(axis=0)
    p_inactive = inactive.mean(axis=0)
    order = np.argsort(-forest.feature_importances_, kind="stable")
    pair_dims = [int(j) for j in order[:_MAX_PAIR_DIMS] if varies[j]]
    parts = forest_decomposition(forest.estimators_, conditional, p_inactive, pair_dims)
    raw = parts.main.copy()
    for (d, e), share in parts.pairs.items():
        raw[d] += share / 2
        raw[e] += share / 2
    return Importance(
        _normalized(names, raw),
        "fanova",
        len(y),
        main={n: float(m) for n, m in zip(names, parts.main, strict=True)},
        pairs={(names[d], names[e]): float(v) for (d, e), v in parts.pairs.items()},
    )
