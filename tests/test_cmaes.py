"""CMAES: CMA-ES on the unit cube, replayed from the history (claims ``cma:run:gen:idx``)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import sqlite_url_for

import shoal
from shoal.samplers import CMAES, Random, SamplingContext
from shoal.samplers.cmaes import parse_claim, warm_start
from shoal.trial import Trial, TrialState

pytest.importorskip("cmaes")  # the optional extra: shoal[cmaes]

D10 = {f"x{i}": shoal.Float(-1.0, 1.0) for i in range(10)}


def ellipsoid(config: dict[str, Any]) -> float:
    return sum((i + 1) * (config[f"x{i}"] - 0.3) ** 2 for i in range(10))


QUAD3 = {f"x{i}": shoal.Float(-1.0, 1.0) for i in range(3)}


def quad3(config: dict[str, Any]) -> float:
    return sum((config[f"x{i}"] - 0.3) ** 2 for i in range(3))


def context(space: shoal.Space, number: int, trials: Sequence[Trial] = (),
            direction: str = "minimize", name: str = "c") -> SamplingContext:
    return SamplingContext(space=space, study_name=name, direction=direction, trial_number=number,
                           history=[t for t in trials if t.state.finished],
                           running=[t for t in trials if not t.state.finished])


def run_study(sampler: shoal.samplers.Sampler, space: dict[str, Any], f: Callable[..., float], n: int,
              storage: str | None = None, name: str = "cma", **kw: Any) -> shoal.Study:
    study = shoal.Study(name, space, storage=storage, sampler=sampler, **kw)
    study.optimize(f, n_trials=n, show_progress=False)
    return study


def claims(study: shoal.Study) -> list[tuple[int, int, int] | None]:
    return [parse_claim(t.claim) for t in study.trials]


# -- the contract: legal points, seeded repeats, distinct parallel asks ----------------------------
def test_proposals_are_unit_points_with_member_claims() -> None:
    space = shoal.Space(QUAD3)
    proposal = CMAES(seed=0).propose(context(space, 0))
    assert proposal.unit.shape == (3,) and np.all((proposal.unit >= 0) & (proposal.unit <= 1))
    assert proposal.claim == "cma:0:0:0"
    assert proposal.extra == {"sampler": "cmaes", "run": 0, "generation": 0, "member": 0}


def test_reproducible_under_a_seed_and_seeds_differ() -> None:
    def configs(seed: int) -> list[dict[str, Any]]:
        return [t.config for t in run_study(CMAES(seed=seed), QUAD3, quad3, 40).trials]

    assert configs(3) == configs(3)
    assert configs(3) != configs(4)


def test_study_seed_seeds_it() -> None:
    def configs() -> list[dict[str, Any]]:
        return [t.config for t in run_study(CMAES(), QUAD3, quad3, 30, seed=7).trials]

    assert configs() == configs()


def test_beats_random_on_a_10d_ellipsoid_at_300_trials() -> None:
    cma = [run_study(CMAES(seed=s), D10, ellipsoid, 300).best.value for s in range(3)]
    rnd = [run_study(Random(seed=s), D10, ellipsoid, 300).best.value for s in range(3)]
    assert np.mean(cma) < 0.1 * np.mean(rnd), (cma, rnd)  # measured: about 0.09 against 4.5


def test_generations_follow_one_another_and_are_told_when_all_members_finish() -> None:
    study = run_study(CMAES(popsize=5, seed=0), QUAD3, quad3, 23)
    assert claims(study) == [(0, g, i) for g in range(5) for i in range(5)][:23]
    assert study.best.value < 0.3


def test_a_fresh_sampler_on_the_same_study_continues_the_same_run(tmp_path: Path) -> None:
    whole = run_study(CMAES(seed=1), QUAD3, quad3, 60, storage=sqlite_url_for(tmp_path / "a.db"))
    url = sqlite_url_for(tmp_path / "b.db")
    run_study(CMAES(seed=1), QUAD3, quad3, 27, storage=url)  # stops inside a generation
    resumed = run_study(CMAES(seed=1), QUAD3, quad3, 33, storage=url)
    assert [t.config for t in resumed.trials] == [t.config for t in whole.trials]
    assert claims(resumed) == claims(whole)


def test_parallel_asks_with_running_members_are_distinct_then_the_run_goes_on() -> None:
    study = run_study(CMAES(popsize=4, seed=0), QUAD3, quad3, 8)
    asked = [study.ask() for _ in range(10)]
    assert len({tuple(t.config.values()) for t in asked}) == 10
    # generation 2 has 4 members; while they run, further asks are extra members of that generation
    assert [parse_claim(t.record.claim) for t in asked] == [(0, 2, i) for i in range(10)]
    for trial in asked:
        study.tell(trial, quad3(trial.config))
    study.optimize(quad3, n_trials=12, show_progress=False)
    assert [c[1] for c in claims(study)[18:]] == [3] * 4 + [4] * 4 + [5] * 4  # extras were never told


def test_failed_members_count_as_worst_and_the_run_goes_on() -> None:
    calls = {"n": 0}

    def flaky(config: dict[str, Any]) -> float:
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            raise RuntimeError("diverged")
        return quad3(config)

    study = run_study(CMAES(popsize=6, seed=2), QUAD3, flaky, 120)
    assert sum(t.state == TrialState.FAILED for t in study.trials) == 40
    assert max(c[1] for c in claims(study)) == 19  # every generation was told, failures included
    assert study.best.value < 0.02  # measured 0.002; random search: 0.02-0.16


def test_pruned_members_are_judged_by_their_last_report() -> None:
    space = shoal.Space(QUAD3)
    sampler = CMAES(popsize=4, seed=0)
    trials: list[Trial] = []
    for k in range(4):
        proposal = sampler.propose(context(space, k, trials))
        config, unit = space.decode(proposal.unit)
        pruned = k == 0
        trials.append(Trial(k, TrialState.PRUNED if pruned else TrialState.COMPLETE, config, unit,
                            value=None if pruned else 1.0 + k, reports=[(1, 0.5)] if pruned else [],
                            claim=proposal.claim))
    sampler.propose(context(space, 4, trials))
    told = sampler._runs[("c", 0)].told
    assert told == [((0, 0.5), (1, 2.0), (2, 3.0), (3, 4.0))]


def test_integers_are_snapped_exactly_and_improve() -> None:
    space = {"a": shoal.Int(-50, 50), "b": shoal.Int(1, 1000, scale="log"), "c": shoal.Float(0, 1, step=0.1)}

    def f(config: dict[str, Any]) -> float:
        return (config["a"] - 17) ** 2 + (math.log(config["b"]) - math.log(40)) ** 2 + config["c"]

    study = run_study(CMAES(seed=0), space, f, 150)
    for trial in study.trials:
        assert shoal.Space(space).validate(trial.config) == trial.config
    assert study.best.config["a"] in (16, 17, 18) and study.best.value < 3


def test_maximizes_when_asked() -> None:
    study = run_study(CMAES(seed=0), QUAD3, lambda c: -quad3(c), 120, direction="maximize")
    assert study.best.value > -0.01


def test_a_stopped_run_restarts_and_ipop_doubles_the_population() -> None:
    flat = {"x": shoal.Float(0.0, 1.0)}
    study = run_study(CMAES(restart="ipop", seed=0), flat, lambda c: 1.0, 120)
    runs = [c for c in claims(study) if c is not None and c[0] == 1]
    assert runs, "a run on a flat function should stop (no progress) and restart"
    assert max(i for _, _, i in runs) == 7  # run 0 has 4 members (d = 1), run 1 has 8


def test_starts_from_the_best_trial_of_another_sampler() -> None:
    study = run_study(Random(seed=0), QUAD3, quad3, 40, name="switch")
    best = study.best
    space = shoal.Space(QUAD3)
    ctx = context(space, 40, study.trials, name="switch")
    mean, sigma = warm_start(ctx, [0, 1, 2], None)
    assert np.allclose(mean, space.encode(best.config, best.unit))
    assert 0.02 <= sigma < 0.3
    study.sampler = CMAES(seed=0)
    study.optimize(quad3, n_trials=40, show_progress=False)
    first_gen = np.array([space.encode(t.config, t.unit) for t in study.trials[40:47]])
    assert np.mean(np.abs(first_gen - mean).max(axis=1)) < 3 * sigma
    assert study.best.value < best.value


def test_a_numerical_failure_falls_back_to_a_random_point_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import cmaes

    def broken(self: Any, solutions: Any) -> None:
        raise np.linalg.LinAlgError("eigh did not converge")

    monkeypatch.setattr(cmaes.CMA, "tell", broken)
    with caplog.at_level(logging.WARNING, logger="shoal"):
        study = run_study(CMAES(popsize=4, seed=0), QUAD3, quad3, 10)
    assert len(study.trials) == 10 and all(t.state == TrialState.COMPLETE for t in study.trials)
    assert [t.claim for t in study.trials[4:]] == [None] * 6
    assert "CMAES: proposal failed (LinAlgError" in caplog.text


def test_constant_dimensions_are_left_alone() -> None:
    space = shoal.Space({"k": shoal.Fixed(3), "o": shoal.Choice(["only"]), "x": shoal.Float(0, 1)})
    proposal = CMAES(seed=0).propose(context(space, 0))
    assert proposal.unit[0] == 0.5 and proposal.unit[1] == 0.5
    nothing = shoal.Space({"k": shoal.Fixed(3)})
    assert CMAES(seed=0).propose(context(nothing, 0)).unit.tolist() == [0.5]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"x": shoal.Float(0, 1), "opt": shoal.Choice(["a", "b"])}, "dimension 'opt' is a Choice.*TPE"),
        ({"x": shoal.Float(0, 1), "on": shoal.Int(0, 1), "y": shoal.Float(0, 1, when={"on": [1]})},
         "dimension 'y' is conditional.*TPE"),
    ],
)
def test_refuses_spaces_it_cannot_search_before_any_trial(
    space: dict[str, Any], message: str, tmp_path
) -> None:
    """The study refuses the space when it is created, before its record is stored (issue 12)."""
    url = f"sqlite:///{tmp_path / 'cma.db'}"
    with pytest.raises(ValueError, match=message):
        shoal.Study("bad", space, storage=url, sampler=CMAES(seed=0))
    assert shoal.storage.get_storage(url).list_studies() == []
    with pytest.raises(ValueError, match=message):  # and the sampler alone, at its first proposal
        CMAES(seed=0).propose(context(shoal.Space(space), 0))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"sigma": 0}, "sigma"), ({"sigma": 2.0}, "sigma"), ({"sigma": True}, "sigma"),
     ({"popsize": 1}, "popsize"), ({"popsize": 4.5}, "popsize"), ({"restart": "bipop"}, "restart"),
     ({"seed": -1}, "seed")],
)
def test_rejects_bad_arguments(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        CMAES(**kwargs)


def test_describe_names_the_parameters() -> None:
    assert CMAES(sigma=0.3, popsize=8, restart="ipop", seed=2).describe() == (
        "CMAES(sigma=0.3, popsize=8, restart='ipop', seed=2)"
    )


def test_two_drivers_on_one_sqlite_file_share_one_run(sqlite_url: str) -> None:
    a = shoal.Study("shared", QUAD3, storage=sqlite_url, sampler=CMAES(popsize=4, seed=0))
    b = shoal.Study("shared", QUAD3, storage=sqlite_url, sampler=CMAES(popsize=4, seed=0))
    for _ in range(12):  # the drivers alternate, each holding one running trial at a time
        for study in (a, b):
            trial = study.ask()
            study.tell(trial, quad3(trial.config))
    held = claims(a)
    assert len(set(held)) == 24 and all(c is not None for c in held)
    assert [c[:2] for c in held] == [(0, g) for g in range(6) for _ in range(4)]
