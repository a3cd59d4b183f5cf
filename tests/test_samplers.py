"""Samplers: random, grid, quasi-random and coarse-to-fine, driven directly and through a Study."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import qmc

import shoal
from shoal.samplers import (
    Box,
    CoarseToFine,
    Grid,
    Proposal,
    QuasiRandom,
    Random,
    Sampler,
    SamplingContext,
    SearchExhausted,
)
from shoal.trial import Trial, TrialState

SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "units": shoal.Int(32, 256, step=32),
    "opt": shoal.Choice(["adam", "sgd", "rmsprop"]),
    "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
}

FLAT = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "units": shoal.Int(1, 4),
    "opt": shoal.Choice(["adam", "sgd"]),
}


@pytest.fixture(params=["memory", "sqlite"])
def storage(request: pytest.FixtureRequest, sqlite_url: str) -> str | None:
    return None if request.param == "memory" else sqlite_url


def zero(config: dict[str, Any]) -> float:
    return 0.0


def key(config: dict[str, Any]) -> tuple:
    return tuple(sorted((k, type(v).__name__, v) for k, v in config.items()))


def context(space: Any, number: int = 0, trials: Sequence[Trial] = (), **kw: Any) -> SamplingContext:
    return SamplingContext(
        space=shoal.Space(space) if not isinstance(space, shoal.Space) else space,
        study_name=kw.pop("study_name", "s"),
        direction=kw.pop("direction", "minimize"),
        trial_number=number,
        history=[t for t in trials if t.state.finished],
        running=[t for t in trials if not t.state.finished],
        **kw,
    )


def as_trial(space: shoal.Space, number: int, proposal: Proposal, state=TrialState.RUNNING) -> Trial:
    config, unit = space.decode(proposal.unit)
    return Trial(number, state, config, unit, claim=proposal.claim, round=proposal.round)


def run_direct(sampler: Sampler, space: shoal.Space, n: int, **kw: Any) -> list[Trial]:
    """Propose n points one after another, each held as a running trial (no storage)."""
    trials: list[Trial] = []
    for number in range(n):
        trials.append(as_trial(space, number, sampler.propose(context(space, number, trials, **kw))))
    return trials


def units(trials: list[Trial], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[t.unit[n] for n in names] for t in trials])


# -- Random ------------------------------------------------------------------------------------
def test_random_is_reproducible_under_a_seed_and_differs_across_trials() -> None:
    space = shoal.Space(FLAT)
    a = [Random(seed=3).propose(context(space, n)).unit for n in range(5)]
    b = [Random(seed=3).propose(context(space, n)).unit for n in range(5)]
    c = [Random(seed=4).propose(context(space, n)).unit for n in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not any(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert len({tuple(u) for u in a}) == 5  # every trial number draws a fresh point
    other_study = Random(seed=3).propose(context(space, 0, study_name="other")).unit
    assert not np.array_equal(other_study, a[0])


def test_random_covers_the_cube() -> None:
    space = shoal.Space({f"x{i}": shoal.Float(0.0, 1.0) for i in range(3)})
    sampler = Random(seed=0)
    points = np.array([sampler.propose(context(space, n)).unit for n in range(400)])
    assert points.shape == (400, 3)
    assert ((points >= 0) & (points <= 1)).all()
    for column in points.T:  # every tenth of every axis is visited
        assert set(np.floor(column * 10).astype(int)) == set(range(10))


# -- Grid --------------------------------------------------------------------------------------
def test_grid_visits_every_point_exactly_once_then_the_study_stops(storage: str | None) -> None:
    grid = Grid(3, seed=0)
    size = grid.size(FLAT)
    assert size == 3 * 3 * 2 == shoal.Space(FLAT).grid_size(3)
    study = shoal.Study("g", FLAT, storage=storage, sampler=grid)
    study.optimize(zero, n_trials=size + 5, show_progress=False)
    trials = study.trials
    assert len(trials) == size
    expected = {
        key({"lr": lr, "units": u, "opt": o})
        for lr, u, o in itertools.product([1e-4, 1e-2, 1.0], [1, 3, 4], ["adam", "sgd"])
    }
    seen = {key({**t.config, "lr": float(f"{t.config['lr']:.6g}")}) for t in trials}
    assert seen == expected
    assert sorted(int(t.claim.split(":")[1]) for t in trials) == list(range(size))
    with pytest.raises(SearchExhausted, match=f"grid of {size} points is exhausted"):
        study.ask()


def test_grid_puts_log_dimensions_on_a_log_grid() -> None:
    study = shoal.Study("g", {"lr": shoal.Float(1e-5, 1e-1, scale="log")}, sampler=Grid(5, seed=1))
    study.optimize(zero, show_progress=False)
    values = sorted(t.config["lr"] for t in study.trials)
    assert values == pytest.approx([1e-5, 1e-4, 1e-3, 1e-2, 1e-1], rel=1e-9)
    assert np.diff(np.log10(values)) == pytest.approx([1.0] * 4)


def test_grid_takes_all_choices_and_spreads_discrete_values() -> None:
    space = {"n": shoal.Int(0, 100, step=10), "c": shoal.Choice(list("abcdefg")), "k": shoal.Int(1, 2)}
    grid = Grid(3, shuffle=False)
    assert grid.size(space) == 3 * 7 * 2
    study = shoal.Study("g", space, sampler=grid)
    study.optimize(zero, show_progress=False)
    assert {t.config["n"] for t in study.trials} == {0, 50, 100}
    assert {t.config["c"] for t in study.trials} == set("abcdefg")
    assert {t.config["k"] for t in study.trials} == {1, 2}
    # discrete values sit at the middle of their bin in the unit cube
    assert {round(t.unit["k"], 9) for t in study.trials} == {0.25, 0.75}


def enumerate_grid(space: shoal.Space, resolution: int) -> set[tuple]:
    """Brute force: every combination of grid values, kept where the config is consistent."""
    names = list(space.names)
    found = set()
    axes = [space[n].grid(resolution) + [None] for n in names]  # None: the dimension is absent
    for combo in itertools.product(*axes):
        config = {n: v for n, v in zip(names, combo, strict=True) if v is not None}
        consistent = all((n in config) == space.is_active(n, config) for n in names)
        if consistent:
            found.add(key(config))
    return found


def test_conditional_grid_size_matches_enumeration_and_is_visited_exactly() -> None:
    space = shoal.Space(
        {
            "opt": shoal.Choice(["adam", "sgd", "rmsprop"]),
            "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
            "momentum": shoal.Choice([0.0, 0.9], when={"opt": ["sgd", "rmsprop"]}),
            "nesterov": shoal.Choice([True, False], when={"momentum": [0.9]}),
            "units": shoal.Int(16, 64, step=16),
            "fixed": shoal.Fixed("x"),
        }
    )
    brute = enumerate_grid(space, 3)
    grid = Grid(3, seed=5)
    assert grid.size(space) == space.grid_size(3) == len(brute)
    study = shoal.Study("g", space, sampler=grid)
    study.optimize(zero, n_trials=len(brute) + 3, show_progress=False)
    assert len(study.trials) == len(brute)
    assert {key(t.config) for t in study.trials} == brute
    # row-major numbering reaches the same points lazily
    assert {key(grid.point(space, i)) for i in range(len(brute))} == brute


def test_grid_refuses_to_start_when_larger_than_max_points() -> None:
    space = {f"x{i}": shoal.Float(0.0, 1.0) for i in range(3)}
    study = shoal.Study("g", space, sampler=Grid(10, max_points=1000))
    study.optimize(zero, n_trials=2, show_progress=False)  # exactly 1000 points: allowed
    with pytest.raises(ValueError) as info:
        shoal.Study("h", {**space, "y": shoal.Float(0, 1)}, sampler=Grid(10, max_points=1000)).ask()
    message = str(info.value)
    assert "10000 points" in message and "max_points=1000" in message
    assert "resolution" in message and "max_points=None" in message
    unlimited = shoal.Study("u", {**space, "y": shoal.Float(0, 1)}, sampler=Grid(10, max_points=None))
    unlimited.optimize(zero, n_trials=3, show_progress=False)
    assert len(unlimited.trials) == 3


@pytest.mark.parametrize("resolution", [8_000, 1_000_000])
def test_an_oversized_grid_is_refused_at_once(resolution: int, tmp_path: Path) -> None:
    """The size is arithmetic (issue 12): refusing resolution 8,000 took 10 s (every dimension's
    grid listed with a pairwise check), 1,000,000 never finished. The study is refused before its
    record is stored."""
    import time

    space = {"x": shoal.Float(0, 1), "y": shoal.Float(1e-4, 1, scale="log"), "n": shoal.Int(0, 10**9)}
    url = f"sqlite:///{tmp_path / 'grid.db'}"
    start = time.perf_counter()
    with pytest.raises(ValueError, match=rf"Grid: the grid has {resolution**3} points, more than "
                                         r"max_points=1000000; lower resolution"):
        shoal.Study("big", space, storage=url, sampler=Grid(resolution))
    with pytest.raises(ValueError, match=r"more than max_points"):
        Grid(resolution).propose(context(space))
    assert time.perf_counter() - start < 2
    assert shoal.storage.get_storage(url).list_studies() == []
    assert Grid(resolution, max_points=None).size(space) == resolution**3


def test_two_drivers_on_one_sqlite_file_never_get_the_same_grid_point(sqlite_url: str) -> None:
    first = shoal.Study("g", FLAT, storage=sqlite_url, sampler=Grid(3, seed=0))
    second = shoal.Study("g", FLAT, storage=sqlite_url, sampler=Grid(3, seed=0))  # same order: worst case
    size = Grid(3).size(FLAT)
    handles = []
    for i in range(size):
        handles.append((first if i % 2 == 0 else second).ask())
    for handle in handles[::2]:
        first.tell(handle, 1.0)
    for handle in handles[1::2]:
        second.tell(handle, 1.0)
    assert len({key(h.config) for h in handles}) == size
    for study in (first, second):
        with pytest.raises(SearchExhausted):
            study.ask()
    assert len(first.trials) == size


def test_shuffled_grid_varies_every_dimension_in_its_first_points() -> None:
    space = {
        "x": shoal.Float(0.0, 1.0),
        "y": shoal.Int(0, 9),
        "z": shoal.Choice(list("abcd")),
        "w": shoal.Float(1.0, 100.0, scale="log"),
    }
    for seed in range(5):
        study = shoal.Study("g", space, sampler=Grid(5, seed=seed))
        study.optimize(zero, n_trials=5, show_progress=False)
        configs = [t.config for t in study.trials]
        for before, after in itertools.pairwise(configs):  # each step moves every dimension
            assert all(before[name] != after[name] for name in space), (seed, configs)
    row_major = shoal.Study("r", space, sampler=Grid(5, shuffle=False))
    row_major.optimize(zero, n_trials=5, show_progress=False)
    configs = [t.config for t in row_major.trials]
    assert [c["w"] for c in configs] == pytest.approx([1.0, 10**0.5, 10.0, 10**1.5, 100.0])
    assert all(c["x"] == 0.0 and c["y"] == 0 and c["z"] == "a" for c in configs)


def test_grid_order_is_reproducible_under_a_seed() -> None:
    def order(seed: int, name: str = "g") -> list[tuple]:
        study = shoal.Study(name, FLAT, sampler=Grid(3), seed=seed)
        study.optimize(zero, show_progress=False)
        return [key(t.config) for t in study.trials]

    assert order(1) == order(1)
    assert order(1) != order(2)
    assert sorted(order(1)) == sorted(order(2))


def test_grid_handles_custom_maps_without_inverse() -> None:
    space = {"d": shoal.Custom(lambda u: round(10 ** (-3 * u), 6)), "b": shoal.Choice([1, 2])}
    study = shoal.Study("g", space, sampler=Grid(4, seed=0))
    study.optimize(zero, n_trials=20, show_progress=False)
    assert len(study.trials) == 8
    assert {t.config["d"] for t in study.trials} == {1.0, 0.1, 0.01, 0.001}


def test_grid_skips_points_held_by_any_trial_and_says_when_it_is_exhausted() -> None:
    space = shoal.Space({"x": shoal.Float(0.0, 1.0)})
    grid = Grid(4, seed=2)
    held = [Trial(0, TrialState.FAILED, {}, claim="grid:1"), Trial(1, TrialState.RUNNING, {}, claim="grid:3")]
    seen = set()
    trials = list(held)
    for number in range(2, 4):
        proposal = grid.propose(context(space, number, trials))
        seen.add(proposal.claim)
        trials.append(as_trial(space, number, proposal))
    assert seen == {"grid:0", "grid:2"}
    with pytest.raises(SearchExhausted, match="grid of 4 points is exhausted"):
        grid.propose(context(space, 4, trials))
    # a fresh sampler (no cached cursor) reaches the same conclusion
    with pytest.raises(SearchExhausted):
        Grid(4, seed=9).propose(context(space, 4, trials))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"resolution": 0}, "resolution"),
        ({"resolution": 2.5}, "resolution"),
        ({"resolution": True}, "resolution"),
        ({"max_points": 0}, "max_points"),
        ({"shuffle": "yes"}, "shuffle"),
        ({"seed": -1}, "seed"),
    ],
)
def test_grid_rejects_bad_arguments(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Grid(**kwargs)


def test_describe_names_the_parameters() -> None:
    assert Grid(4, shuffle=False, seed=1).describe() == (
        "Grid(resolution=4, max_points=1000000, shuffle=False, seed=1)"
    )
    assert QuasiRandom("halton", seed=2).describe() == "QuasiRandom(method='halton', seed=2)"
    text = CoarseToFine(rounds=4, top=0.25, margin=0.05, round_size=10, seed=3).describe()
    for part in ("rounds=4", "top=0.25", "margin=0.05", "round_size=10", "QuasiRandom(", "seed=3"):
        assert part in text


# -- QuasiRandom -------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["sobol", "halton", "lhs"])
def test_quasirandom_is_reproducible_and_seeds_and_studies_differ(method: str) -> None:
    def configs(seed: int, name: str = "q") -> list[tuple]:
        study = shoal.Study(name, SPACE, sampler=QuasiRandom(method, seed=seed))
        study.optimize(zero, n_trials=8, show_progress=False)
        return [key(t.config) for t in study.trials]

    first = configs(0)
    assert first == configs(0)
    assert first != configs(1)
    assert first != configs(0, name="other")
    assert len(set(first)) == 8


def discrepancy_of(sampler: Sampler, space: shoal.Space, n: int) -> float:
    trials = run_direct(sampler, space, n)
    return qmc.discrepancy(units(trials, space.names))


@pytest.mark.parametrize("method", ["sobol", "halton", "lhs"])
def test_quasirandom_points_are_more_even_than_random_ones(method: str) -> None:
    space = shoal.Space({f"x{i}": shoal.Float(0.0, 1.0) for i in range(3)})
    random = np.mean([discrepancy_of(Random(seed=s), space, 64) for s in range(8)])
    quasi = np.mean([discrepancy_of(QuasiRandom(method, seed=s), space, 64) for s in range(4)])
    assert quasi < random


def test_parallel_asks_claim_distinct_sequence_positions(sqlite_url: str) -> None:
    one = shoal.Study("q", FLAT, storage=sqlite_url, sampler=QuasiRandom(seed=0))
    two = shoal.Study("q", FLAT, storage=sqlite_url, sampler=QuasiRandom(seed=0))
    handles = [(one if i % 3 else two).ask() for i in range(9)]  # nobody tells yet
    claims = [h.record.claim for h in handles]
    assert sorted(claims, key=lambda c: int(c.split(":")[1])) == [f"qmc:{i}" for i in range(9)]
    assert len({tuple(sorted(h.unit.items())) for h in handles}) == 9


def test_quasirandom_position_does_not_depend_on_the_cached_engine() -> None:
    space = shoal.Space({"a": shoal.Float(0.0, 1.0), "b": shoal.Float(0.0, 1.0)})
    for method in ("sobol", "halton"):
        in_order = run_direct(QuasiRandom(method, seed=4), space, 6)
        # a sampler that first answers position 5, then position 0, gives the same points
        sampler = QuasiRandom(method, seed=4)
        late = sampler.propose(context(space, 5, in_order[:5]))
        early = sampler.propose(context(space, 0, []))
        assert late.claim == "qmc:5" and early.claim == "qmc:0"
        assert np.allclose(late.unit, units(in_order[5:6], space.names)[0])
        assert np.allclose(early.unit, units(in_order[:1], space.names)[0])


def test_quasirandom_fills_gaps_in_claimed_positions() -> None:
    space = shoal.Space({"a": shoal.Float(0.0, 1.0)})
    trials = [Trial(n, TrialState.COMPLETE, {}, claim=f"qmc:{p}", value=0.0) for n, p in enumerate([0, 1, 3])]
    assert QuasiRandom(seed=0).propose(context(space, 3, trials)).claim == "qmc:2"


def test_latin_hypercube_hits_every_stratum_once_per_block() -> None:
    space = {f"x{i}": shoal.Float(0.0, 1.0) for i in range(3)}
    study = shoal.Study("l", space, sampler=QuasiRandom("lhs", seed=0))
    study.optimize(zero, n_trials=16, show_progress=False)  # block size = the budget
    points = units(study.trials, tuple(space))
    for column in points.T:
        assert sorted(np.floor(column * 16).astype(int)) == list(range(16))
    # without a budget (ask/tell) blocks are 64 points
    space_obj = shoal.Space(space)
    points = units(run_direct(QuasiRandom("lhs", seed=1), space_obj, 64), space_obj.names)
    for column in points.T:
        assert sorted(np.floor(column * 64).astype(int)) == list(range(64))


def test_quasirandom_rejects_an_unknown_method() -> None:
    with pytest.raises(ValueError, match="'sobol', 'halton', 'lhs'"):
        QuasiRandom("latin")


# -- CoarseToFine ------------------------------------------------------------------------------
def bowl(config: dict[str, Any]) -> float:
    """Minimum at lr = 10**-2.5 with units small and opt = 'sgd'."""
    penalty = {"adam": 0.5, "sgd": 0.0, "rmsprop": 1.0}[config["opt"]]
    return (math.log10(config["lr"]) + 2.5) ** 2 + config["units"] / 1000 + penalty


def final_context(study: shoal.Study, budget: int | None) -> SamplingContext:
    trials = study.trials
    return context(study.space, len(trials), trials, budget=budget, direction=study.direction)


def test_coarse_to_fine_records_rounds_and_searches_inside_the_shrinking_box(storage: str | None) -> None:
    sampler = CoarseToFine(rounds=3, top=0.2, seed=0)
    study = shoal.Study("c", SPACE, storage=storage, sampler=sampler)
    study.optimize(bowl, n_trials=45, show_progress=False)
    trials = study.trials
    assert [t.round for t in trials] == [0] * 15 + [1] * 15 + [2] * 15
    ctx = final_context(study, 45)
    boxes = [sampler.box_for_round(ctx, r) for r in range(3)]
    assert np.array_equal(boxes[0].lo, np.zeros(4)) and np.array_equal(boxes[0].hi, np.ones(4))
    lr = 0
    widths = [box.hi[lr] - box.lo[lr] for box in boxes]
    assert widths[0] > widths[1] > widths[2]
    for r in (1, 2):
        inside = [t for t in trials if t.round == r]
        assert all(boxes[r].contains(study.space, t.unit, t.config) for t in inside)
        earlier = sorted((t for t in trials if t.round < r), key=lambda t: t.value)
        best = earlier[: max(2, math.ceil(0.2 * len(earlier)))]
        assert all(boxes[r].contains(study.space, t.unit, t.config) for t in best)
    assert min(t.value for t in trials if t.round == 2) < min(t.value for t in trials if t.round == 0)
    # claims are namespaced per round and the base's sequence restarts in each round
    assert {t.claim for t in trials if t.round == 1} == {f"c2f:1:qmc:{i}" for i in range(15)}


def test_coarse_to_fine_narrows_choices_to_those_of_the_best_trials() -> None:
    def prefers_sgd(config: dict[str, Any]) -> float:
        return (0.0 if config["opt"] == "sgd" else 10.0) + config["lr"]

    sampler = CoarseToFine(rounds=2, top=0.2, seed=1)
    study = shoal.Study("c", SPACE, sampler=sampler)
    study.optimize(prefers_sgd, n_trials=40, show_progress=False)
    box = sampler.box_for_round(final_context(study, 40), 1)
    assert box.choices["opt"] == ("sgd",)
    assert {t.config["opt"] for t in study.trials if t.round == 1} == {"sgd"}
    assert {t.config["opt"] for t in study.trials if t.round == 0} == {"adam", "sgd", "rmsprop"}
    # the narrowed choice still gets a spread of the other dimensions (the base's u is remapped)
    assert len({t.config["units"] for t in study.trials if t.round == 1}) > 3


def test_coarse_to_fine_beats_its_first_round_on_a_simple_objective() -> None:
    def objective(config: dict[str, Any]) -> float:
        return (math.log10(config["lr"]) + 2.5) ** 2 + 0.01 * (config["units"] - 64) ** 2 / 64**2

    for seed in range(3):
        study = shoal.Study("c", SPACE, sampler=CoarseToFine(rounds=3, seed=seed))
        study.optimize(objective, n_trials=60, show_progress=False)
        best = {r: min(t.value for t in study.trials if t.round == r) for r in range(3)}
        assert best[2] < best[0], (seed, best)


def test_coarse_to_fine_maximizes_toward_the_largest_values() -> None:
    sampler = CoarseToFine(rounds=2, top=0.1, margin=0.0, seed=2)
    space = {"x": shoal.Float(0.0, 1.0), "y": shoal.Float(0.0, 1.0)}
    study = shoal.Study("c", space, "maximize", sampler=sampler)
    study.optimize(lambda c: -((c["x"] - 0.9) ** 2) - (c["y"] - 0.1) ** 2, n_trials=40, show_progress=False)
    box = sampler.box_for_round(final_context(study, 40), 1)
    assert box.lo[0] > 0.5 and box.hi[1] < 0.5


def test_box_for_round_is_the_widened_bounding_box_of_the_best() -> None:
    space = shoal.Space({"x": shoal.Float(0.0, 1.0), "c": shoal.Choice(["a", "b", "c"])})

    def done(number: int, x: float, c: str, value: float, round: int = 0) -> Trial:
        return Trial(number, TrialState.COMPLETE, {"x": x, "c": c}, {"x": x, "c": 0.5},
                     value=value, round=round)

    history = [
        done(0, 0.30, "a", 1.0),
        done(1, 0.50, "b", 2.0),
        done(2, 0.90, "c", 9.0),
        done(3, 0.10, "c", 8.0),
        done(4, 0.40, "a", 1.5),
        Trial(5, TrialState.FAILED, {"x": 0.99, "c": "c"}, {"x": 0.99}, round=0),
        done(6, 0.80, "a", 0.1, round=None),  # not part of any round: ignored
    ]
    sampler = CoarseToFine(rounds=3, top=0.5, margin=0.1)
    ctx = context(space, 7, history, budget=30)
    box = sampler.box_for_round(ctx, 1)  # best 3 of 5: x in {0.3, 0.4, 0.5}, c in {a, b}
    assert box.lo[0] == pytest.approx(0.2) and box.hi[0] == pytest.approx(0.6)
    assert box.choices == {"c": ("a", "b")}
    history.append(done(7, 0.35, "a", 0.5, round=1))
    history.append(done(8, 0.45, "a", 0.7, round=1))
    box2 = sampler.box_for_round(context(space, 9, history, budget=30), 2)
    # best 4 of 7: 0.35, 0.45, 0.30, 0.40 -> [0.30, 0.45] widened by 0.1 * 0.4
    assert box2.lo[0] == pytest.approx(0.26) and box2.hi[0] == pytest.approx(0.49)
    assert box2.choices == {"c": ("a",)}
    assert isinstance(box2, Box)


def test_coarse_to_fine_is_reproducible_under_a_seed(sqlite_url: str) -> None:
    def configs(**where: Any) -> list[tuple]:
        study = shoal.Study("c", SPACE, **where)
        study.optimize(bowl, n_trials=24, show_progress=False)
        return [key(t.config) for t in study.trials]

    first = configs(sampler=CoarseToFine(rounds=3, seed=5))
    assert first == configs(sampler=CoarseToFine(rounds=3, seed=5))
    assert first == configs(sampler=CoarseToFine(rounds=3), seed=5)
    assert first == configs(sampler=CoarseToFine(rounds=3, seed=5), storage=sqlite_url)
    assert first != configs(sampler=CoarseToFine(rounds=3, seed=6))


def test_coarse_to_fine_needs_a_budget_or_a_round_size() -> None:
    study = shoal.Study("c", SPACE, sampler=CoarseToFine(rounds=2))
    with pytest.raises(ValueError, match="n_trials=.*round_size"):
        study.ask()
    with pytest.raises(ValueError, match="fewer than rounds=3"):
        shoal.Study("d", SPACE, sampler=CoarseToFine(rounds=3)).optimize(bowl, n_trials=2,
                                                                          show_progress=False)
    loop = shoal.Study("e", SPACE, sampler=CoarseToFine(rounds=2, round_size=4, seed=0))
    for _ in range(11):
        handle = loop.ask()
        loop.tell(handle, bowl(handle.config))
    assert [t.round for t in loop.trials] == [0] * 4 + [1] * 7  # after the last share: last round


def test_coarse_to_fine_keeps_rounds_across_parallel_asks() -> None:
    study = shoal.Study("c", FLAT, sampler=CoarseToFine(rounds=2, round_size=3, seed=0))
    handles = [study.ask() for _ in range(5)]
    assert [h.record.round for h in handles] == [0, 0, 0, 1, 1]
    assert len({h.record.claim for h in handles}) == 5


def test_coarse_to_fine_with_a_grid_base_stops_when_the_round_grid_is_used() -> None:
    space = {"x": shoal.Float(0.0, 1.0), "y": shoal.Float(0.0, 1.0)}
    study = shoal.Study("c", space, sampler=CoarseToFine(rounds=2, base=Grid(2), round_size=10, seed=0))
    study.optimize(lambda c: c["x"] + c["y"], n_trials=20, show_progress=False)
    assert [t.round for t in study.trials] == [0] * 4 + [1] * 4  # each round's grid has 4 points
    assert study.sampler.base.seed == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rounds": 0}, "rounds"),
        ({"top": 0.0}, "top"),
        ({"top": 1.5}, "top"),
        ({"margin": -0.1}, "margin"),
        ({"margin": float("nan")}, "margin"),
        ({"round_size": 0}, "round_size"),
        ({"base": "sobol"}, "base"),
    ],
)
def test_coarse_to_fine_rejects_bad_arguments(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        CoarseToFine(**kwargs)
