"""BOHB: a TPE model on the largest budget with enough observations, composed with Hyperband."""

from __future__ import annotations

import numpy as np
import pytest

import shoal
from shoal.samplers import BOHB
from shoal.samplers.base import SamplingContext
from shoal.samplers.bohb import observations
from shoal.schedulers import Hyperband
from shoal.space import as_space
from shoal.trial import Trial, TrialState

SPACE = as_space({"x": shoal.Float(0.0, 1.0), "y": shoal.Float(0.0, 1.0)})


def done(number: int, x: float, reports, state=TrialState.PRUNED, value=None) -> Trial:
    return Trial(number, state, {"x": x, "y": 0.5}, {"x": x, "y": 0.5}, value=value, reports=list(reports))


def context(history, number: int = 100, running=()) -> SamplingContext:
    return SamplingContext(SPACE, "s", "minimize", number, list(history), list(running))


def misleading_history() -> list[Trial]:
    """At budget 1 the best points sit near x = 0.8; at budget 9 (the truth) near x = 0.2."""
    rng = np.random.default_rng(0)
    trials, n = [], 0
    for x in rng.random(40):
        trials.append(done(n, float(x), [(1, abs(x - 0.8))]))
        n += 1
    for x in rng.random(12):
        trials.append(done(n, float(x), [(1, abs(x - 0.8)), (9, abs(x - 0.2))], TrialState.COMPLETE,
                           abs(x - 0.2)))
        n += 1
    return trials


def test_observations_group_reports_by_budget() -> None:
    trials = [
        done(0, 0.1, [(1, 0.5), (3, 0.4)]),
        done(1, 0.2, [(1, 0.6)]),
        done(2, 0.3, [], TrialState.COMPLETE, 0.7),  # finished without reporting: budget inf
        done(3, 0.4, [(1, 0.1)], TrialState.FAILED),  # failed: not an observation
    ]
    seen = observations(trials)
    assert sorted(seen) == [1.0, 3.0, float("inf")]
    assert [(t.number, v) for t, v in seen[1.0]] == [(0, 0.5), (1, 0.6)]
    assert [(t.number, v) for t, v in seen[float("inf")]] == [(2, 0.7)]


def test_the_model_uses_the_largest_budget_with_more_than_d_plus_1_points() -> None:
    sampler = BOHB(seed=0)
    history = misleading_history()
    budget, scored = sampler.budget(context(history))
    assert budget == 9.0 and len(scored) == 12
    # with only d + 1 = 3 points at budget 9, the model falls back to budget 1
    budget, scored = sampler.budget(context(history[:43]))
    assert budget == 1.0 and len(scored) == 43
    assert BOHB(n_startup=13).budget(context(history))[0] == 1.0


def test_proposals_follow_the_high_budget_model() -> None:
    sampler = BOHB(random_fraction=0.0, seed=0)
    history = misleading_history()
    xs = []
    for number in range(100, 140):
        proposal = sampler.propose(context(history, number))
        assert proposal.extra["bohb"] == "model@9"
        xs.append(proposal.unit[0])
    assert abs(np.median(xs) - 0.2) < 0.15  # near the truth, not the low-budget optimum at 0.8


def test_random_fraction_and_startup() -> None:
    always = BOHB(random_fraction=1.0, seed=0)
    assert always.propose(context(misleading_history())).extra["bohb"] == "random"
    never = BOHB(random_fraction=0.0, seed=0)
    assert never.propose(context([])).extra["bohb"] == "startup"
    third = BOHB(seed=1)
    kinds = [third.propose(context(misleading_history(), n)).extra["bohb"] for n in range(300)]
    assert 0.25 < kinds.count("random") / 300 < 0.42


def test_a_seeded_bohb_repeats_its_proposals() -> None:
    history = misleading_history()
    a = [BOHB(seed=3).propose(context(history, n)).unit for n in range(5)]
    b = [BOHB(seed=3).propose(context(history, n)).unit for n in range(5)]
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_startup": 1}, "n_startup must be an int >= 2"),
        ({"random_fraction": 1.5}, r"random_fraction must be a number in \[0, 1\]"),
        ({"n_candidates": 0}, "n_candidates must be an int >= 1"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        BOHB(**kwargs)


def test_min_points_was_renamed_n_startup() -> None:
    with pytest.raises(TypeError, match=r"^BOHB: min_points was renamed; pass n_startup=\.\.\.$"):
        BOHB(min_points=13)
    assert BOHB(n_startup=13).describe().startswith("BOHB(n_startup=13,")


def test_the_bohb_preset_lives_above_samplers_and_schedulers() -> None:
    """``shoal.bohb`` pairs a sampler with a scheduler, so it is in shoal.presets, not shoal.samplers."""
    from shoal import presets

    assert shoal.bohb is presets.bohb and "bohb" in shoal.__all__
    assert not hasattr(shoal.samplers.bohb, "bohb")
    sampler, scheduler = shoal.bohb(max_resource=9, reduction_factor=2, n_startup=4, seed=1)
    assert (sampler.n_startup, sampler.seed) == (4, 1)
    assert (scheduler.max_resource, scheduler.reduction_factor) == (9, 2)


def test_bohb_with_hyperband_through_a_study() -> None:
    sampler, scheduler = shoal.bohb(1, 27, seed=0)
    assert isinstance(scheduler, Hyperband) and isinstance(sampler, BOHB)
    assert (scheduler.min_resource, scheduler.max_resource, scheduler.reduction_factor) == (1, 27, 3)

    def objective(config, trial):
        for epoch in range(1, 28):
            loss = (config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2 + 1.0 / epoch
            trial.report(loss, epoch)
            if trial.should_stop():
                raise shoal.TrialPruned()
        return loss

    study = shoal.Study("b", {"x": shoal.Float(0, 1), "y": shoal.Float(0, 1)}, sampler=sampler,
                        scheduler=scheduler, seed=0)
    study.optimize(objective, 80, show_progress=False)
    assert study.best.value - 1 / 27 < 0.01
    late = [t for t in study.trials[40:]]
    near = sum((t.config["x"] - 0.3) ** 2 + (t.config["y"] - 0.7) ** 2 < 0.05 for t in late)
    assert near >= 12  # the model concentrates them near the optimum (random search: about 6)
