"""Pareto fronts and hypervolumes of score matrices where lower is better on every column.

Pure functions on numpy arrays (``Objectives.score`` turns a trial's values into such a row). A point
*dominates* another when it is no worse on every objective and better on at least one; equal points do
not dominate each other, so duplicates of a front point are all on the front.

- ``pareto_mask`` / ``pareto_front``: the non-dominated points (O(n log n) for 2 objectives, else a
  sweep in lexicographic order comparing each point with the front so far, O(n * front size)).
- ``nondominated_ranks``: non-dominated sorting (rank 0 is the front, rank 1 the front of the rest...).
- ``crowding_distance``: NSGA-II's crowding distance within one front.
- ``reference_point``: the worst value per objective plus 10% of the observed range.
- ``hypervolume``: exact. 2 objectives: one sweep (O(n log n)); 3: slicing along the third objective,
  each slice a 2-D sweep (O(n^2 log n)); 4 and more: recursive slicing on the last objective with
  exclusive contributions and limit sets, as in WFG (While et al. 2012): exact, but its cost grows
  like n^(m-2) 2-D sweeps (4 objectives and a hundred points take about a second; beyond 5
  objectives keep fronts small).
The box decomposition, hypervolume improvement and EHVI live in ``shoal.stats.ehvi``:

- ``nondominated_boxes``: the region below the reference point that no front point dominates, as
  disjoint boxes: n+1 strips for 2 objectives; for 3 a sweep along the third objective over the 2-D
  staircases, O(n) boxes in practice; for more a grid, (n+1)^(m-1) boxes.
- ``hypervolume_improvement`` / ``hypervolume_contributions`` / ``hypervolume_subset``: exact, on
  those boxes.
- ``expected_hypervolume_improvement`` (and its stable log): the exact expected hypervolume
  improvement of a point whose objectives are independent Gaussians N(mean_j, std_j^2). On a box
  [l, u] the improvement of y is prod_j max(0, u_j - max(l_j, y_j)), a product of one-dimensional
  factors of independent variables, so its expectation is the product of the factors' expectations,
  each in closed form: E[max(0, u - max(l, y))] = std * (h(z_u) - h(z_l)) with z = (bound - mean) /
  std and h(z) = z Phi(z) + phi(z). Summed over the disjoint boxes this is exact for any number of
  objectives; the box count makes it practical for 2 and 3 (as in Couckuyt et al. 2014 and Yang et
  al. 2019, who also decompose the non-dominated region into boxes).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "crowding_distance",
    "dominates",
    "hypervolume",
    "nondominated_ranks",
    "pareto_front",
    "pareto_mask",
    "reference_point",
]

_LOG_2PI = math.log(2 * math.pi)
#: Candidates x boxes evaluated at once by the expected improvement (memory stays a few tens of MB).
_BLOCK = 1 << 21


def _matrix(scores: object, name: str = "scores") -> np.ndarray:
    """``scores`` as an (n, m) float array; a ValueError for another shape or a NaN."""
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2 or s.shape[1] < 1:
        raise ValueError(f"{name} must be an (n, m) array with m >= 1 objectives, got shape {s.shape}")
    if np.isnan(s).any():
        raise ValueError(f"{name} must not hold NaN")
    return s


def _reference(ref: object, m: int) -> np.ndarray:
    r = np.asarray(ref, dtype=float).reshape(-1)
    if r.shape != (m,) or not np.all(np.isfinite(r)):
        raise ValueError(f"the reference point must be {m} finite numbers, got {ref!r}")
    return r


def dominates(a: object, b: object) -> bool:
    """Whether point ``a`` dominates point ``b`` (no worse everywhere, better somewhere)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(x <= y) and np.any(x < y))


# -- fronts and ranks ------------------------------------------------------------------------------
def pareto_mask(scores: object) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``scores`` (n, m)."""
    s = _matrix(scores)
    n, m = s.shape
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    if m == 1:
        return s[:, 0] == s[:, 0].min()
    order = np.lexsort(s.T[::-1])  # by the first objective, then the second, ...
    sorted_s = s[order]
    if m == 2:
        x, y = sorted_s[:, 0], sorted_s[:, 1]
        start = np.searchsorted(x, x, side="left")  # the first point with the same first objective
        prefix = np.minimum.accumulate(y)
        before = np.where(start > 0, prefix[np.maximum(start - 1, 0)], np.inf)
        # dominated: an earlier point with a smaller first objective is no worse on the second, or a
        # point with the same first objective is better on the second (y[start] is its group's min)
        dominated = (before <= y) | (y[start] < y)
        mask[order] = ~dominated
        return mask
    # Only a point earlier in lexicographic order can dominate a later one, and a dominated earlier
    # point is dominated by a front point, so comparing with the front so far is enough.
    front = np.empty_like(sorted_s)
    k = 0
    keep = np.zeros(n, dtype=bool)
    for i in range(n):
        p = sorted_s[i]
        if k:
            f = front[:k]
            if np.any(np.all(f <= p, axis=1) & np.any(f < p, axis=1)):
                continue
        front[k] = p
        k += 1
        keep[i] = True
    mask[order] = keep
    return mask


def pareto_front(scores: object) -> np.ndarray:
    """Indices of the non-dominated rows of ``scores``, in row order."""
    return np.flatnonzero(pareto_mask(scores))


def nondominated_ranks(scores: object, n_stop: int | None = None) -> np.ndarray:
    """Non-dominated sorting: rank 0 for the front, 1 for the front of the others, and so on.

    With ``n_stop``, sorting stops once at least that many points have a rank; the points left share
    the next rank (a bound from below of their true rank), which is all selection of the best
    ``n_stop`` needs.
    """
    s = _matrix(scores)
    n = len(s)
    ranks = np.full(n, -1, dtype=int)
    remaining = np.arange(n)
    rank = done = 0
    while remaining.size:
        if n_stop is not None and done >= n_stop:
            ranks[remaining] = rank
            break
        mask = pareto_mask(s[remaining])
        ranks[remaining[mask]] = rank
        done += int(mask.sum())
        remaining = remaining[~mask]
        rank += 1
    return ranks


def crowding_distance(scores: object) -> np.ndarray:
    """NSGA-II's crowding distance of each row (meant for the rows of one front): the sum over
    objectives of the gap between its neighbours, divided by the objective's range; the extreme
    points of every objective get infinity."""
    s = _matrix(scores)
    n, m = s.shape
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(s[:, j], kind="stable")
        col = s[order, j]
        span = col[-1] - col[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0 and np.isfinite(span):
            distance[order[1:-1]] += (col[2:] - col[:-2]) / span
    return distance


def reference_point(scores: object, margin: float = 0.1) -> np.ndarray:
    """The worst value of each objective plus ``margin`` times its range over ``scores``.

    An objective whose values are all equal gets ``margin * max(1, |value|)`` instead of a zero margin,
    so every point stays strictly better than the reference and counts for the hypervolume.
    """
    s = _matrix(scores)
    if len(s) == 0:
        raise ValueError("reference_point needs at least one point")
    if not np.all(np.isfinite(s)):
        raise ValueError("reference_point needs finite scores; pass ref= explicitly")
    worst, best = s.max(axis=0), s.min(axis=0)
    span = worst - best
    span = np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))
    return worst + margin * span


def _resolve(scores: object, ref: object | None, name: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    s = _matrix(scores, name)
    r = reference_point(s) if ref is None else _reference(ref, s.shape[1])
    return s, r


# -- hypervolume -----------------------------------------------------------------------------------
def hypervolume(scores: object, ref: object | None = None) -> float:
    """The volume dominated by ``scores`` (n, m) and bounded by ``ref`` (default
    ``reference_point(scores)``); points not strictly better than ``ref`` on every objective add
    nothing. Exact for any m (see the module docstring for the methods and their cost)."""
    s, r = _resolve(scores, ref)
    s = s[np.all(s < r, axis=1)]
    if len(s) == 0:
        return 0.0
    if s.shape[1] >= 3:
        s = s[pareto_mask(s)]
    return float(_hv(s, r))


def _hv(s: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of points all strictly below ``ref`` (dominated points allowed)."""
    m = s.shape[1]
    if len(s) == 0:
        return 0.0
    if m == 1:
        return float(ref[0] - s[:, 0].min())
    if m == 2:
        return _hv2(s, ref)
    if m == 3:
        return _hv3(s, ref)
    return _hv_recursive(s, ref)


def _hv2(s: np.ndarray, ref: np.ndarray) -> float:
    """2-D sweep: sorted by the first objective, the covered height at x is ref_2 minus the smallest
    second objective among the points up to x (dominated points change nothing)."""
    order = np.lexsort((s[:, 1], s[:, 0]))
    x = s[order, 0]
    y = np.minimum.accumulate(s[order, 1])
    x_next = np.append(x[1:], ref[0])
    return float(np.sum((x_next - x) * (ref[1] - y)))


def _hv3(s: np.ndarray, ref: np.ndarray) -> float:
    """3-D slicing: between consecutive values of the third objective the dominated region is a
    prism over the 2-D hypervolume of the points below the slice."""
    order = np.argsort(s[:, 2], kind="stable")
    z = s[order, 2]
    xy = s[order, :2]
    z_next = np.append(z[1:], ref[2])
    total = 0.0
    for k in range(len(z)):
        height = z_next[k] - z[k]
        if height > 0:
            total += _hv2(xy[: k + 1], ref[:2]) * height
    return total


def _hv_recursive(s: np.ndarray, ref: np.ndarray) -> float:
    """m >= 4: points sorted worst-first on the last objective; each point's exclusive contribution
    (over the points after it, which are no worse on that objective) is its height in the last
    objective times the (m-1)-D volume of its box minus that of its limit set (the later points
    clipped to its box, WFG's limitset). The contributions sum to the hypervolume."""
    order = np.argsort(-s[:, -1], kind="stable")
    s = s[order]
    head = ref[:-1]
    total = 0.0
    for k in range(len(s)):
        p = s[k]
        height = ref[-1] - p[-1]
        if height <= 0:
            continue
        inclusive = float(np.prod(head - p[:-1]))
        rest = s[k + 1:, :-1]
        if len(rest):
            limit = np.maximum(rest, p[:-1])
            if limit.shape[1] >= 3:
                limit = limit[pareto_mask(limit)]
            inclusive -= _hv(limit, head)
        total += height * inclusive
    return total
