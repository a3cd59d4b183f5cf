"""shoal.stats.pareto: fronts, ranks, crowding, hypervolume (exact), the non-dominated boxes, and
the expected hypervolume improvement, each against a brute-force or Monte-Carlo reference."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import norm

from shoal.stats import ehvi as E
from shoal.stats import pareto as P


def brute_mask(s: np.ndarray) -> np.ndarray:
    """O(n^2): a row is kept unless some row is <= everywhere and < somewhere."""
    n = len(s)
    return np.array([
        not any(np.all(s[j] <= s[i]) and np.any(s[j] < s[i]) for j in range(n)) for i in range(n)
    ], dtype=bool)


def brute_hv(s: np.ndarray, ref: np.ndarray) -> float:
    """Inclusion-exclusion over every subset (small n only)."""
    total = 0.0
    for k in range(1, len(s) + 1):
        for subset in itertools.combinations(range(len(s)), k):
            corner = s[list(subset)].max(axis=0)
            total += (-1) ** (k + 1) * float(np.prod(np.clip(ref - corner, 0.0, None)))
    return total


def mc_dominated_share(s: np.ndarray, lo: np.ndarray, ref: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Uniform points in the box [lo, ref] and whether each is dominated by a row of s."""
    z = np.random.default_rng(seed).uniform(lo, ref, size=(n, len(ref)))
    covered = np.zeros(n, dtype=bool)
    for p in s:
        covered |= np.all(z >= p, axis=1)
    return covered


# Small integer grids make ties and duplicates common, the cases a front is most often wrong about.
score_matrices = st.integers(1, 4).flatmap(
    lambda m: arrays(np.float64, st.tuples(st.integers(0, 30), st.just(m)),
                     elements=st.integers(0, 5).map(float))
)


# -- fronts and ranks ------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(score_matrices)
def test_pareto_mask_is_exactly_the_non_dominated_set(s: np.ndarray) -> None:
    mask = P.pareto_mask(s)
    assert np.array_equal(mask, brute_mask(s))
    assert np.array_equal(P.pareto_front(s), np.flatnonzero(mask))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(2, 3)),
              elements=st.floats(-1e3, 1e3, allow_nan=False)))
def test_pareto_mask_on_continuous_values(s: np.ndarray) -> None:
    assert np.array_equal(P.pareto_mask(s), brute_mask(s))


@settings(max_examples=60, deadline=None)
@given(score_matrices)
def test_nondominated_ranks_peel_fronts(s: np.ndarray) -> None:
    ranks = P.nondominated_ranks(s)
    remaining = np.arange(len(s))
    rank = 0
    while remaining.size:
        front = brute_mask(s[remaining])
        assert np.all(ranks[remaining[front]] == rank)
        remaining = remaining[~front]
        rank += 1
    stopped = P.nondominated_ranks(s, n_stop=3)
    assert np.all(stopped <= ranks)
    if len(s):
        best = np.argsort(stopped, kind="stable")[: min(3, len(s))]
        assert np.all(stopped[best] == ranks[best])  # the best few keep their true ranks


def test_crowding_distance_by_hand() -> None:
    s = np.array([[0.0, 4.0], [1.0, 3.0], [3.0, 1.0], [4.0, 0.0]])
    d = P.crowding_distance(s)
    assert np.isinf(d[0]) and np.isinf(d[3])
    assert d[1] == pytest.approx(3 / 4 + 3 / 4) and d[2] == pytest.approx(3 / 4 + 3 / 4)
    assert np.all(np.isinf(P.crowding_distance(s[:2])))
    flat = P.crowding_distance(np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]))
    assert flat[1] == pytest.approx(1.0)  # a constant objective adds nothing


def test_reference_point_is_the_worst_plus_a_tenth_of_the_range() -> None:
    s = np.array([[0.0, 10.0], [2.0, 5.0], [1.0, 20.0]])
    assert np.allclose(P.reference_point(s), [2.2, 21.5])
    assert np.allclose(P.reference_point(np.array([[3.0, -5.0]])), [3.3, -4.5])
    with pytest.raises(ValueError, match="at least one point"):
        P.reference_point(np.empty((0, 2)))


def test_bad_input_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match=r"\(n, m\) array"):
        P.pareto_mask([1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        P.hypervolume([[1.0, math.nan]], [2.0, 2.0])
    with pytest.raises(ValueError, match="reference point must be 2 finite numbers"):
        P.hypervolume([[1.0, 1.0]], [2.0])
    assert P.dominates([1, 2], [1, 3]) and not P.dominates([1, 2], [1, 2])


# -- hypervolume -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "points, ref, expected",
    [
        ([[1, 2], [2, 1]], [3, 3], 3.0),
        ([[1, 1]], [3, 3], 4.0),
        ([[1, 2], [2, 1], [2, 2], [1, 2]], [3, 3], 3.0),  # a dominated point and a duplicate add nothing
        ([[0, 3], [1, 1], [3, 0]], [4, 4], 4 + 6 + 1 + 0.0),
        ([[1, 1], [5, 0]], [4, 4], 9.0),  # a point beyond the reference adds nothing
        ([[1, 1, 1]], [2, 3, 4], 6.0),
        ([[0, 0, 1], [0, 1, 0], [1, 0, 0]], [2, 2, 2], 7.0),  # the 2-cube minus the unit cube at 0
        ([[0, 0, 0, 0]], [1, 2, 3, 4], 24.0),
        ([[0.5], [0.2]], [1.0], 0.8),
    ],
)
def test_hypervolume_hand_values(points: list, ref: list, expected: float) -> None:
    s, r = np.array(points, dtype=float), np.array(ref, dtype=float)
    assert P.hypervolume(s, r) == pytest.approx(expected)
    assert P.hypervolume(s, r) == pytest.approx(brute_hv(s, r))


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 5), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_hypervolume_equals_inclusion_exclusion(m: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 4, size=(n, m)).astype(float) if seed % 2 else rng.random((n, m))
    ref = np.full(m, 4.5 if seed % 2 else 1.1)
    assert P.hypervolume(s, ref) == pytest.approx(brute_hv(s, ref), abs=1e-9)


@pytest.mark.parametrize("m, n", [(2, 60), (3, 60), (4, 25)])
def test_hypervolume_against_monte_carlo(m: int, n: int) -> None:
    rng = np.random.default_rng(m)
    x = rng.random((n, m))
    s = x / np.linalg.norm(x, axis=1, keepdims=True)  # a curved front with some dominated points
    s = np.vstack([s, s[:5] + 0.1])
    ref = np.full(m, 1.2)
    lo = s.min(axis=0)
    covered = mc_dominated_share(s, lo, ref, 200_000, seed=m)
    box = float(np.prod(ref - lo))
    share = covered.mean()
    sd = box * math.sqrt(share * (1 - share) / len(covered))
    assert abs(P.hypervolume(s, ref) - box * share) < 4 * sd
    assert P.hypervolume(s) == pytest.approx(P.hypervolume(s, P.reference_point(s)))


def test_hypervolume_of_nothing_is_zero() -> None:
    assert P.hypervolume(np.empty((0, 2)), [1.0, 1.0]) == 0.0
    assert P.hypervolume([[2.0, 0.0]], [1.0, 1.0]) == 0.0


# -- boxes, improvement, contributions, subset ------------------------------------------------------
@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_boxes_are_disjoint_and_cover_exactly_the_non_dominated_region(m: int) -> None:
    rng = np.random.default_rng(10 + m)
    s = rng.random((12 if m < 4 else 7, m))
    ref = np.full(m, 1.1)
    boxes = E.nondominated_boxes(s, ref)
    lo = np.full(m, -0.5)
    z = rng.uniform(lo, ref, size=(20_000, m))
    inside = np.zeros(len(z), dtype=int)
    for low, up in zip(boxes.lower, boxes.upper, strict=True):
        inside += np.all((z > low) & (z < up), axis=1)
    dominated = np.zeros(len(z), dtype=bool)
    for p in s:
        dominated |= np.all(z >= p, axis=1)
    assert inside.max() <= 1  # disjoint
    assert np.array_equal(inside == 1, ~dominated)  # covering exactly what no point dominates
    if m == 3:
        assert len(boxes) <= 2 * int(P.pareto_mask(s).sum()) + 1  # the sweep keeps boxes linear


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_hypervolume_improvement_is_the_gain_of_adding_the_point(m: int) -> None:
    rng = np.random.default_rng(m)
    s = rng.random((10, m))
    ref = np.full(m, 1.2)
    points = rng.uniform(-0.1, 1.3, size=(25, m))
    gain = E.hypervolume_improvement(points, s, ref)
    base = P.hypervolume(s, ref)
    direct = [P.hypervolume(np.vstack([s, p]), ref) - base for p in points]
    assert np.allclose(gain, direct, atol=1e-12)
    assert np.allclose(E.hypervolume_improvement(points, E.nondominated_boxes(s, ref)), gain)
    with pytest.raises(ValueError, match="ref differs"):
        E.hypervolume_improvement(points, E.nondominated_boxes(s, ref), ref + 1)


def test_contributions_and_greedy_subset() -> None:
    s = np.array([[0.0, 3.0], [1.0, 1.0], [3.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    ref = np.array([4.0, 4.0])
    c = E.hypervolume_contributions(s, ref)
    assert c[4] == 0.0 and c[1] == c[3] == 0.0  # dominated, and two duplicates share their volume
    assert c[0] == pytest.approx(1.0) and c[2] == pytest.approx(1.0)
    chosen = E.hypervolume_subset(s, 2, ref)
    assert chosen[0] == 1  # the middle point alone covers the most (9)
    assert P.hypervolume(s[chosen], ref) == pytest.approx(max(
        P.hypervolume(s[list(pair)], ref) for pair in itertools.combinations(range(5), 2)))


# -- expected hypervolume improvement --------------------------------------------------------------
@pytest.mark.parametrize("m", [1, 2, 3])
def test_ehvi_matches_monte_carlo_sampling_of_the_predictions(m: int) -> None:
    rng = np.random.default_rng(20 + m)
    s = rng.random((8, m))
    s = s / np.linalg.norm(s, axis=1, keepdims=True)
    ref = np.full(m, 1.1)
    mean = np.vstack([s[0] - 0.05, s[1] + 0.05, np.full(m, 0.3), np.full(m, 0.9)])
    std = np.vstack([np.full(m, 0.05), np.full(m, 0.1), np.full(m, 0.3), np.full(m, 0.02)])
    ehvi = E.expected_hypervolume_improvement(mean, std, s, ref)
    boxes = E.nondominated_boxes(s, ref)
    for i in range(len(mean)):
        y = mean[i] + std[i] * rng.standard_normal((100_000, m))
        gain = E.hypervolume_improvement(y, boxes)
        tolerance = 4 * gain.std() / math.sqrt(len(gain)) + 1e-12
        assert abs(ehvi[i] - gain.mean()) < tolerance, (i, ehvi[i], gain.mean())


def test_ehvi_of_a_sure_point_is_its_improvement_and_the_log_stays_finite() -> None:
    s = np.array([[0.0, 1.0], [1.0, 0.0]])
    ref = np.array([1.5, 1.5])
    mean = np.array([[0.5, 0.5], [0.2, 1.2]])
    sure = E.expected_hypervolume_improvement(mean, np.full((2, 2), 1e-9), s, ref)
    assert np.allclose(sure, E.hypervolume_improvement(mean, s, ref), rtol=1e-6)
    far = np.array([[5.0, 5.0], [50.0, 50.0], [1.4, 1.4]])
    log = E.log_expected_hypervolume_improvement(far, np.full((3, 2), 0.1), s, ref)
    assert np.all(np.isfinite(log)) and log[0] > log[1]  # ranked, not flat, far behind the front
    assert log[2] > log[0]
    near = E.log_expected_hypervolume_improvement(np.array([[0.5, 0.5]]), np.array([[1e-4, 1e-4]]), s, ref)
    assert near[0] == pytest.approx(math.log(0.25), rel=1e-3)  # [0.5, 1.5]^2 less what the front holds
    one = E.expected_hypervolume_improvement([[0.0]], [[1.0]], [[0.5]], [2.0])
    assert one[0] == pytest.approx(0.5 * norm.cdf(0.5) + norm.pdf(0.5))  # one objective: plain EI
