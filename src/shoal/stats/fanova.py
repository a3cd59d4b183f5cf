"""Functional ANOVA of a tree ensemble, computed exactly over each tree's axis-aligned partition.

A regression tree is a piecewise-constant function: leaf ``l`` holds value ``v_l`` on a box
``B_l = prod_d [lo_ld, hi_ld)``. Under a product measure ``mu = prod_d mu_d`` over the domain,
every marginal of the tree is a sum over leaves, so the variance decomposition needs no sampling:

- mean ``m = sum_l v_l mu(B_l)`` and variance ``V = sum_l v_l**2 mu(B_l) - m**2``;
- the main effect of ``d`` is the marginal ``f_d(x_d) = sum_l v_l [x_d in B_ld] prod_{e!=d} mu_e(B_le)``,
  constant on the cells between the tree's split points on ``d``; its variance ``V_d`` is the sum of
  ``mu_d(cell) * (f_d(cell) - m)**2``;
- the pair marginal ``f_de`` is constant on the grid of cells of ``d`` and ``e``; its variance less
  ``V_d + V_e`` is the pure interaction ``V_de``.

Each tree's fractions ``V_d / V`` and ``V_de / V`` are averaged over the forest (as in Hutter, Hoos and
Leyton-Brown 2014, "An efficient approach for assessing hyperparameter importance").

The measure of each dimension is uniform on the unit interval [0, 1]. A conditional dimension also
has an inactive region [-1, 0) (inactive trials are encoded as ``INACTIVE`` = -0.5) holding the
fraction of trials in which it was inactive; split points between the inactive code and the first
active value are moved to 0, the border of the two regions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["INACTIVE", "Decomposition", "forest_decomposition", "leaf_boxes"]

#: The coordinate an inactive (or unplaced) dimension gets: outside [0, 1].
INACTIVE = -0.5
_LOW = -1.0  # the lower end of a conditional dimension's domain


@dataclass(frozen=True)
class Decomposition:
    """Fractions of the variance of the surrogate: ``main[d]`` per dimension, ``pairs[(d, e)]`` per
    pair interaction (d < e, only the pairs that were computed), averaged over trees."""

    main: np.ndarray
    pairs: dict[tuple[int, int], float]
    n_trees: int


def leaf_boxes(tree, conditional: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The leaves of a fitted scikit-learn tree (``estimator.tree_``) as boxes: (lo, hi, value).

    ``lo`` and ``hi`` are (leaves x dims); a conditional dimension's domain starts at -1, others at 0.
    """
    n_dims = len(conditional)
    left, right = tree.children_left, tree.children_right
    feature, threshold = tree.feature, tree.threshold
    values = tree.value.reshape(tree.node_count, -1)[:, 0]
    root_lo = np.where(conditional, _LOW, 0.0)
    los, his, vals = [], [], []
    stack = [(0, root_lo.copy(), np.ones(n_dims))]
    while stack:
        node, lo, hi = stack.pop()
        if left[node] < 0:
            los.append(lo)
            his.append(hi)
            vals.append(values[node])
            continue
        d, t = int(feature[node]), float(threshold[node])
        if conditional[d] and t < 0.0:
            t = 0.0  # every inactive trial sits at -0.5 and every active one at >= 0
        t = min(max(t, lo[d]), hi[d])
        left_hi = hi.copy()
        left_hi[d] = t
        right_lo = lo.copy()
        right_lo[d] = t
        stack.append((int(left[node]), lo, left_hi))
        stack.append((int(right[node]), right_lo, hi))
    return np.array(los), np.array(his), np.array(vals, dtype=float)


def _measure(lo: np.ndarray, hi: np.ndarray, p_inactive: np.ndarray) -> np.ndarray:
    """mu_d([lo, hi)) for each entry: the inactive share spread over [-1, 0), the rest over [0, 1]."""
    inactive_len = np.clip(np.minimum(hi, 0.0) - np.maximum(lo, _LOW), 0.0, None)
    active_len = np.clip(np.minimum(hi, 1.0) - np.maximum(lo, 0.0), 0.0, None)
    return p_inactive * inactive_len + (1.0 - p_inactive) * active_len


def _cells(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cells a dimension's split points cut it into: (cell lower ends, cell upper ends)."""
    points = np.unique(np.concatenate([lo, hi]))
    return points[:-1], points[1:]


def _tree_terms(
    lo: np.ndarray,
    hi: np.ndarray,
    v: np.ndarray,
    p_inactive: np.ndarray,
    pair_dims: Sequence[int],
) -> tuple[np.ndarray, dict[tuple[int, int], float]] | None:
    """Main-effect and pair-interaction fractions of one tree; None for a constant tree."""
    n_dims = lo.shape[1]
    widths = _measure(lo, hi, p_inactive[None, :])  # leaves x dims
    prob = np.prod(widths, axis=1)
    mean = float(v @ prob)
    total = float((v * v) @ prob) - mean * mean
    if not total > 1e-12 * max(1.0, mean * mean):
        return None
    cover: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # d -> (leaves x cells indicator, cell measure)
    main = np.zeros(n_dims)
    for d in range(n_dims):
        cell_lo, cell_hi = _cells(lo[:, d], hi[:, d])
        inside = (lo[:, d, None] <= cell_lo[None, :]) & (cell_hi[None, :] <= hi[:, d, None])
        w = _measure(cell_lo, cell_hi, p_inactive[d])
        cover[d] = (inside.astype(float), w)
        rest = np.prod(np.delete(widths, d, axis=1), axis=1)
        marginal = (v * rest) @ cover[d][0]
        main[d] = float(w @ (marginal - mean) ** 2)
    pairs: dict[tuple[int, int], float] = {}
    chosen = sorted(pair_dims)
    for i, d in enumerate(chosen):
        for e in chosen[i + 1:]:
            rest = np.prod(np.delete(widths, [d, e], axis=1), axis=1)
            (a_d, w_d), (a_e, w_e) = cover[d], cover[e]
            grid = (a_d * (v * rest)[:, None]).T @ a_e
            joint = float(w_d @ (grid - mean) ** 2 @ w_e)
            pairs[(d, e)] = max(0.0, joint - main[d] - main[e]) / total
    return main / total, pairs


def forest_decomposition(
    estimators: Sequence, conditional: np.ndarray, p_inactive: np.ndarray, pair_dims: Sequence[int] = ()
) -> Decomposition:
    """Average the exact variance decomposition of every tree of a fitted scikit-learn forest."""
    n_dims = len(conditional)
    mains, pairs_sum, used = np.zeros(n_dims), {}, 0
    for estimator in estimators:
        lo, hi, v = leaf_boxes(estimator.tree_, conditional)
        terms = _tree_terms(lo, hi, v, p_inactive, pair_dims)
        if terms is None:
            continue
        main, pairs = terms
        mains += main
        for key, value in pairs.items():
            pairs_sum[key] = pairs_sum.get(key, 0.0) + value
        used += 1
    if used == 0:
        return Decomposition(np.zeros(n_dims), {}, 0)
    return Decomposition(mains / used, {k: v / used for k, v in pairs_sum.items()}, used)
