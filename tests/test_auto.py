"""Auto: the default sampler, picking GP, TPE or CMA-ES by space and budget, and saying why."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pytest

import shoal
from shoal.samplers import Auto, Random, SamplingContext
from shoal.samplers import auto as auto_module
from shoal.samplers.cmaes import parse_claim

CONT = {f"x{i}": shoal.Float(-1.0, 1.0) for i in range(3)}
WIDE = {f"x{i}": shoal.Float(-1.0, 1.0) for i in range(25)}
MIXED = {
    "lr": shoal.Float(1e-5, 1.0, scale="log"), "units": shoal.Int(1, 512), "opt": shoal.Choice(["a", "b"])
}
CATS = {"lr": shoal.Float(1e-5, 1.0, scale="log"), "a": shoal.Choice([1, 2]), "b": shoal.Choice(["x", "y"])}
COND = {"opt": shoal.Choice(["adam", "sgd"]), "beta": shoal.Float(0.8, 0.99, when={"opt": ["adam"]})}
SMALL_INTS = {"a": shoal.Int(1, 4), "b": shoal.Int(1, 3), "x": shoal.Float(0, 1)}
FIXED = {"k": shoal.Fixed(1), "o": shoal.Choice(["only"])}


def quad(config: dict[str, Any]) -> float:
    return sum((v - 0.3) ** 2 for v in config.values())


@pytest.mark.parametrize(
    ("space", "budget", "n_trials", "name", "reason"),
    [
        (CONT, None, 0, "gp", "no budget given"),
        (CONT, 100, 0, "gp", "budget 100"),
        (CONT, 299, 0, "gp", "budget 299 (< 300 trials)"),
        (CONT, None, 150, "gp", "budget 150"),
        (CONT, 300, 0, "cmaes", "300 trials"),
        (CONT, None, 300, "cmaes", "300 trials"),  # an open-ended study switches as it grows
        (CONT, 50, 420, "cmaes", "420 trials"),  # a resumed study: what it holds counts
        (WIDE, 100, 0, "tpe", "25 dimensions"),
        (WIDE, 1000, 0, "cmaes", "1000 trials"),
        (MIXED, 100, 0, "gp", "3 dimensions"),
        (MIXED, 500, 0, "tpe", "1 choice dimension(s), which CMA-ES cannot search"),
        (SMALL_INTS, 100, 0, "gp", "3 dimensions"),
        ({"a": shoal.Int(1, 100), "x": shoal.Float(0, 1)}, 500, 0, "cmaes", "mostly continuous"),
        (CATS, 50, 0, "gp", "3 dimensions"),  # choices one-hot: GP beat TPE (benchmarks/auto_spaces.py)
        (CATS, 400, 0, "tpe", "2 choice dimension(s), which CMA-ES cannot search"),
        (COND, 50, 0, "gp", "2 dimensions"),  # activity columns: GP beat TPE (benchmarks/auto_spaces.py)
        (COND, 400, 0, "tpe", "conditional dimensions, which CMA-ES cannot search"),
        (SMALL_INTS, 400, 0, "tpe", "2 of 3 dimensions have few values"),
        (FIXED, 10, 0, "random", "nothing to model"),
    ],
)
def test_choice_follows_the_rule_table(
    space: dict[str, Any], budget: int | None, n_trials: int, name: str, reason: str
) -> None:
    chosen, why = Auto.choice(space, budget, n_trials)
    assert chosen == name and reason in why, why


def test_without_cmaes_large_budgets_go_to_tpe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auto_module, "_cmaes_installed", lambda: False)
    name, why = Auto.choice(CONT, 1000)
    assert name == "tpe" and "pip install 'shoal[cmaes]'" in why


def test_choice_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="budget"):
        Auto.choice(CONT, -1)
    with pytest.raises(ValueError, match="n_trials"):
        Auto.choice(CONT, None, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        Auto(seed=-2)


def test_auto_is_the_default_and_a_study_seed_repeats_it_exactly() -> None:
    def run(seed: int) -> shoal.Study:
        study = shoal.Study("auto", MIXED, storage=None, seed=seed)
        study.optimize(quad_mixed, n_trials=9, show_progress=False)  # 5 Sobol points, then GP
        return study

    first = run(0)
    assert isinstance(first.sampler, Auto) and first.sampler.describe() == "Auto(seed=0)"
    configs = [t.config for t in first.trials]
    assert configs == [t.config for t in run(0).trials]
    assert configs != [t.config for t in run(1).trials]


def quad_mixed(config: dict[str, Any]) -> float:
    return (math.log10(config["lr"]) + 2) ** 2 + ((config["units"] - 100) / 100) ** 2 + (config["opt"] == "b")


def test_tiny_studies_start_with_a_sobol_design_then_use_the_gp() -> None:
    design, model = [], []
    for seed in range(5):
        study = shoal.Study("tiny", CONT, storage=None, seed=seed)
        study.optimize(quad, n_trials=10, show_progress=False)
        claims = [t.claim for t in study.trials]
        # GP's initial design: the centre, then Sobol points, max(5, d + 1) in all
        assert claims[:5] == ["centre"] + [f"qmc:{k}" for k in range(4)]
        assert claims[5:] == [None] * 5
        design.append(min(t.value for t in study.trials[:5]))
        model.append(min(t.value for t in study.trials[5:]))
    # five model-based trials find better points than the five space-filling ones, by far on average
    assert sum(model) < 0.5 * sum(design)


def test_each_proposal_says_which_sampler_made_it_and_why() -> None:
    sampler = Auto(seed=0)
    for space, name in ((CONT, "gp"), (WIDE, "tpe")):
        ctx = SamplingContext(space=shoal.Space(space), study_name="s", direction="minimize",
                              trial_number=0, budget=20)
        proposal = sampler.propose(ctx)
        assert proposal.extra["sampler"] == name
        assert proposal.extra["why"].startswith(Auto.choice(space, 20)[1])


def test_the_study_stores_which_sampler_auto_used_for_each_trial(sqlite_url: str) -> None:
    study = shoal.Study("stored", CONT, storage=sqlite_url, seed=0)
    study.optimize(quad, 8, show_progress=False)
    again = shoal.Study.load("stored", storage=sqlite_url)
    why = Auto.choice(CONT, 8)[1]
    design = [f"gp: {why}; initial design: the centre of the space (0 of 5 trials with values)"]
    design += [f"gp: {why}; initial Sobol design ({k} of 5 trials with values)" for k in range(1, 5)]
    assert [t.proposed_by for t in again.trials[:5]] == design
    for t in again.trials[5:]:  # the model says what it fitted on; all-equal values fall back to random
        assert t.proposed_by.startswith((f"gp: {why}; log EI of a GP on {t.number} trials",
                                         f"gp: {why}; random: ValueError: all observed values are equal"))


def test_switching_mid_study_from_gp_to_cmaes_starts_at_the_best_point(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(auto_module, "LARGE_BUDGET", 30)  # the rule, at a size a test can afford
    study = shoal.Study("switch", CONT, storage=None, seed=0)
    with caplog.at_level(logging.INFO, logger="shoal"):
        for _ in range(6):  # an open-ended study: no budget, the count of trials decides
            study.optimize(quad, n_trials=10, show_progress=False)
    assert "uses gp from trial 0" in caplog.text and "uses cmaes from trial 30" in caplog.text
    trials = study.trials
    assert all(parse_claim(t.claim) is None for t in trials[:30])
    assert [parse_claim(t.claim)[:2] for t in trials[30:37]] == [(0, 0)] * 7  # 4 + 3 ln 3 = 7 members
    space = shoal.Space(CONT)
    best_gp = min(trials[:30], key=lambda t: t.value)
    start = space.encode(best_gp.config, best_gp.unit)
    first_gen = np.array([space.encode(t.config, t.unit) for t in trials[30:37]])
    spread = np.abs(first_gen - start).max(axis=1).mean()
    assert spread < 0.2  # centred on GP's best, not on the middle of the cube with sigma 0.2
    assert study.best.value <= best_gp.value


def test_a_conditional_space_gets_legal_configs_from_tpe() -> None:
    study = shoal.Study("cond", COND, storage=None, seed=0)
    study.optimize(lambda c: c.get("beta", 1.0), n_trials=15, show_progress=False)
    for trial in study.trials:
        assert shoal.Space(COND).validate(trial.config) == trial.config


def test_a_given_sampler_still_wins_over_the_default() -> None:
    study = shoal.Study("given", CONT, storage=None, sampler=Random(), seed=3)
    assert study.sampler.describe() == "Random(seed=3)"


def test_a_failing_model_falls_back_to_a_random_point_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from shoal.samplers.gp import GP

    def broken(self: GP, context: SamplingContext) -> Any:
        raise RuntimeError("kernel matrix is not positive definite")

    monkeypatch.setattr(GP, "propose", broken)
    study = shoal.Study("fallback", CONT, storage=None, seed=0)
    with caplog.at_level(logging.WARNING, logger="shoal"):
        study.optimize(quad, n_trials=4, show_progress=False)
    assert [t.state.value for t in study.trials] == ["COMPLETE"] * 4
    assert "Auto: gp failed for trial 0 (RuntimeError: kernel matrix" in caplog.text
    ctx = SamplingContext(space=shoal.Space(CONT), study_name="f", direction="minimize", trial_number=0)
    proposal = Auto(seed=0).propose(ctx)
    assert proposal.extra == {"sampler": "random", "why": "gp failed: RuntimeError"}
