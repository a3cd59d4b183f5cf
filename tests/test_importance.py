"""Importance: the exact fANOVA decomposition of a tree, both estimators on synthetic objectives whose
true importances are known, conditional dimensions, and CoarseToFine(freeze_unimportant=True)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.tree import DecisionTreeRegressor  # noqa: E402

import shoal  # noqa: E402
from shoal.samplers import CoarseToFine, Random, SamplingContext  # noqa: E402
from shoal.stats.fanova import forest_decomposition, leaf_boxes  # noqa: E402


# -- the exact decomposition of one tree -------------------------------------------------------
def _grid(n: int = 16) -> np.ndarray:
    """Cell centres of an n x n x n grid of the unit cube: a tree fitted to them represents a step
    function exactly, and the uniform measure of its partition is known."""
    c = (np.arange(n) + 0.5) / n
    return np.array(np.meshgrid(c, c, c, indexing="ij")).reshape(3, -1).T


def _decompose(y_of, conditional=(False, False, False), p_inactive=(0.0, 0.0, 0.0)):
    x = _grid()
    tree = DecisionTreeRegressor(random_state=0).fit(x, y_of(x))
    return forest_decomposition([tree], np.array(conditional), np.array(p_inactive), pair_dims=[0, 1, 2])


def test_additive_steps_split_the_variance_by_their_weights() -> None:
    # f = 2 [x0 > 0.5] + 1 [x1 > 0.25]: Var = 4 * 1/4 + 1 * 3/16, no interaction, x2 does nothing.
    parts = _decompose(lambda x: 2.0 * (x[:, 0] > 0.5) + 1.0 * (x[:, 1] > 0.25))
    total = 1.0 + 3 / 16
    assert parts.main == pytest.approx([1.0 / total, (3 / 16) / total, 0.0], abs=1e-9)
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in parts.pairs.values())


def test_a_pure_interaction_has_no_main_effects() -> None:
    # f = xor(x0 > 0.5, x2 > 0.5): every marginal is flat, all the variance is the (0, 2) pair.
    parts = _decompose(lambda x: ((x[:, 0] > 0.5) ^ (x[:, 2] > 0.5)).astype(float))
    assert parts.main == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)
    assert parts.pairs[(0, 2)] == pytest.approx(1.0)
    assert parts.pairs[(0, 1)] == pytest.approx(0.0, abs=1e-9)
    assert parts.pairs[(1, 2)] == pytest.approx(0.0, abs=1e-9)


def test_leaf_boxes_tile_the_domain() -> None:
    x = _grid(8)
    tree = DecisionTreeRegressor(max_leaf_nodes=20, random_state=0).fit(x, np.sin(5 * x).sum(axis=1))
    lo, hi, values = leaf_boxes(tree.tree_, np.array([False, False, False]))
    assert len(values) == 20
    assert np.prod(hi - lo, axis=1).sum() == pytest.approx(1.0)  # disjoint boxes covering the cube
    assert (lo >= 0).all() and (hi <= 1).all()


def test_an_inactive_region_weighs_what_the_trials_say() -> None:
    # x0 is conditional: inactive (-0.5) in a quarter of the trials, where f = 1; active: f = 0.
    rng = np.random.default_rng(0)
    x = rng.random((400, 2))
    x[:100, 0] = -0.5
    y = (x[:, 0] < 0).astype(float)
    tree = DecisionTreeRegressor(random_state=0).fit(x, y)
    lo, hi, _ = leaf_boxes(tree.tree_, np.array([True, False]))
    assert set(np.round(lo[:, 0], 9)) <= {-1.0, 0.0}  # the split moved to the border at 0
    parts = forest_decomposition([tree], np.array([True, False]), np.array([0.25, 0.0]))
    assert parts.main == pytest.approx([1.0, 0.0], abs=1e-9)  # Var = 0.25 * 0.75, all of it x0's


# -- estimators on synthetic objectives ------------------------------------------------------
SPACE = {
    "learning_rate": shoal.Float(1e-5, 1e-1, scale="log"),
    "units": shoal.Int(16, 512, scale="log"),
    "dropout": shoal.Float(0.0, 0.5),
    "momentum": shoal.Float(0.8, 0.999, scale="reverse_log"),
    "batch": shoal.Choice([16, 32, 64, 128]),
    "wd": shoal.Float(1e-6, 1e-2, scale="log"),
    "warmup": shoal.Int(0, 10),
    "seed_tag": shoal.Choice(["a", "b", "c"]),
    "arch": shoal.Fixed("mlp"),
}


def _known(config: dict) -> float:
    """Moved by the learning rate (a bowl in decades) and by a dropout x momentum interaction only."""
    decades = math.log10(config["learning_rate"])  # -5 .. -1
    lr_term = (decades + 2.5) ** 2 / 4
    d = config["dropout"] / 0.5 - 0.5
    m = (math.log10(1 - config["momentum"]) - math.log10(0.2)) / (-3 - math.log10(0.2))  # 0 .. 1
    return lr_term + 3.0 * d * (m - 0.5)


@pytest.fixture(scope="module")
def known_study() -> shoal.Study:
    study = shoal.Study("known", SPACE, sampler=Random(seed=3))
    study.optimize(_known, 250, show_progress=False)
    return study


@pytest.mark.parametrize("method", ["permutation", "fanova"])
def test_the_ranking_puts_the_learning_rate_then_the_interacting_pair_first(known_study, method) -> None:
    result = shoal.importance(known_study, method=method)
    assert result.method == method and result.n_trials == 250
    assert result.ranking[0] == "learning_rate"
    assert set(result.ranking[1:3]) == {"dropout", "momentum"}
    assert sum(result.values()) == pytest.approx(1.0)
    assert "arch" not in result  # Fixed dimensions are not ranked
    noise = [result[n] for n in ("units", "batch", "wd", "warmup", "seed_tag")]
    assert max(noise) < min(result["dropout"], result["momentum"])


def test_fanova_finds_the_interacting_pair() -> None:
    space = {f"x{i}": shoal.Float(0, 1) for i in range(5)}
    study = shoal.Study("pair", space, sampler=Random(seed=4))
    study.optimize(lambda c: 4 * (c["x1"] - 0.5) * (c["x3"] - 0.5) + 0.3 * c["x0"], 300, show_progress=False)
    result = shoal.importance(study, method="fanova")
    assert next(iter(result.pairs)) == ("x1", "x3")  # the largest interaction
    assert result.pairs[("x1", "x3")] > 3 * max(v for k, v in result.pairs.items() if k != ("x1", "x3"))
    assert result.main["x1"] < result.pairs[("x1", "x3")]  # a saddle: little main effect
    assert set(result.ranking[:2]) == {"x1", "x3"} and result.ranking[2] == "x0"


def test_scales_are_respected_a_log_parameter_is_judged_in_decades() -> None:
    # Only lr's decade matters; on a raw linear axis almost all samples would sit near 0 and the
    # tree would see one flat lump. On the unit scale it is the one important dimension.
    space = {"lr": shoal.Float(1e-6, 1.0, scale="log"), "x": shoal.Float(0, 1), "y": shoal.Float(0, 1)}
    study = shoal.Study("scales", space, sampler=Random(seed=0))
    study.optimize(lambda c: math.log10(c["lr"]) ** 2, 60, show_progress=False)
    for method in ("permutation", "fanova"):
        assert shoal.importance(study, method=method)["lr"] > 0.9


def test_the_same_trials_and_seed_give_the_same_answer(known_study) -> None:
    a = shoal.importance(known_study, method="fanova", seed=1)
    b = shoal.importance(known_study, method="fanova", seed=1)
    assert dict(a) == dict(b) and a.pairs == b.pairs


def test_conditional_dimensions_are_ranked() -> None:
    space = {
        "opt": shoal.Choice(["adam", "sgd"]),
        "beta1": shoal.Float(0.5, 0.99, when={"opt": ["adam"]}),
        "momentum": shoal.Float(0.0, 0.99, when={"opt": ["sgd"]}),
        "noise": shoal.Float(0, 1),
    }

    def objective(c: dict) -> float:  # under adam, beta1 is all that matters; sgd is flat
        return 4 * (c["beta1"] - 0.9) ** 2 if c["opt"] == "adam" else 0.3

    study = shoal.Study("cond", space, sampler=Random(seed=1))
    study.optimize(objective, 150, show_progress=False)
    for method in ("permutation", "fanova"):
        result = shoal.importance(study, method=method)
        assert result.ranking[0] == "beta1", (method, result)
        assert result["beta1"] > result["momentum"] and result["beta1"] > result["noise"]


def test_a_flat_objective_has_no_important_dimension() -> None:
    study = shoal.Study("flat", {"a": shoal.Float(0, 1), "b": shoal.Int(0, 3)}, sampler=Random(seed=0))
    study.optimize(lambda c: 1.0, 10, show_progress=False)
    assert dict(shoal.importance(study)) == {"a": 0.0, "b": 0.0}


def test_bad_input_is_a_clear_value_error(known_study) -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        shoal.importance(known_study, method="shap")
    with pytest.raises(ValueError, match="n_trees must be an int"):
        shoal.importance(known_study, n_trees=0)
    few = shoal.Study("few", {"a": shoal.Float(0, 1)}, sampler=Random(seed=0))
    few.optimize(lambda c: c["a"], 3, show_progress=False)
    with pytest.raises(ValueError, match="at least 4 completed trials, got 3"):
        shoal.importance(few)
    with pytest.raises(ValueError, match="expected a shoal.Study"):
        shoal.importance([1, 2, 3])


def test_pruned_and_failed_trials_do_not_count() -> None:
    study = shoal.Study("mixed", {"a": shoal.Float(0, 1), "b": shoal.Float(0, 1)}, sampler=Random(seed=0))
    for i in range(12):
        trial = study.ask()
        if i % 3 == 2:
            study.tell(trial, state="PRUNED")
        else:
            study.tell(trial, trial.config["a"])
    assert shoal.importance(study).n_trials == 8


def test_str_and_to_dict(known_study) -> None:
    result = shoal.importance(known_study, method="fanova")
    text = str(result)
    assert text.splitlines()[1].split()[1] == "learning_rate"
    data = result.to_dict()
    assert list(data["shares"]) == result.ranking and data["method"] == "fanova"


# -- CoarseToFine(freeze_unimportant=True) ------------------------------------------------------
EIGHT = {f"x{i}": shoal.Float(0.0, 1.0) for i in range(7)} | {"opt": shoal.Choice(["a", "b", "c"])}


def _two_matter(c: dict) -> float:
    return (c["x2"] - 0.7) ** 2 + (c["x5"] - 0.2) ** 2


def test_freeze_fixes_the_negligible_dimensions_at_the_best_trials_values() -> None:
    sampler = CoarseToFine(rounds=3, round_size=20, freeze_unimportant=True, seed=0)
    study = shoal.Study("freeze", EIGHT, sampler=sampler)
    study.optimize(_two_matter, 60, show_progress=False)
    trials = study.trials
    context = SamplingContext(study.space, study.name, study.direction, 0, history=trials)
    round0 = [t for t in trials if t.round == 0]
    best0 = min(round0, key=lambda t: t.value)
    frozen = sampler.frozen_for_round(context, 1)
    assert {"x2", "x5"}.isdisjoint(frozen)
    assert len(frozen) >= 4  # most of the six that do not matter
    assert frozen == {name: best0.config[name] for name in frozen}
    round1 = [t for t in trials if t.round == 1]
    for name, value in frozen.items():
        assert all(t.config[name] == value for t in round1), name  # fixed in every trial of the round
    assert len({t.config["x2"] for t in round1}) == len(round1)  # the important ones still vary
    box = sampler.box_for_round(context, 1)
    for name in frozen:
        if name == "opt":
            assert box.choices["opt"] == (frozen["opt"],)
        else:
            i = study.space.names.index(name)
            assert box.lo[i] == box.hi[i] == best0.unit[name]
    assert "freeze_unimportant=True" in sampler.describe()


def test_freezing_is_reversible_and_off_by_default() -> None:
    frozen_run = CoarseToFine(rounds=2, round_size=20, freeze_unimportant=True, seed=0)
    study = shoal.Study("rev", EIGHT, sampler=frozen_run)
    study.optimize(_two_matter, 40, show_progress=False)
    context = SamplingContext(study.space, study.name, study.direction, 0, history=study.trials)
    assert frozen_run.frozen_for_round(context, 1)
    assert frozen_run.frozen_for_round(context, 0) == {}  # the first round searches everything
    plain = CoarseToFine(rounds=2, round_size=20, seed=0)
    assert plain.frozen_for_round(context, 1) == {}
    box = plain.box_for_round(context, 1)
    assert (box.hi - box.lo > 0).all()  # resumed without freezing: every dimension free again


class _Seeing(Random):
    """A random base sampler that keeps the contexts it was handed."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.seen: list[SamplingContext] = []

    def propose(self, context: SamplingContext):
        self.seen.append(context)
        return super().propose(context)


def test_the_base_sampler_searches_only_the_free_dimensions() -> None:
    base = _Seeing(seed=0)
    sampler = CoarseToFine(rounds=2, round_size=20, base=base, freeze_unimportant=True, seed=0)
    study = shoal.Study("free", EIGHT, sampler=sampler)
    study.optimize(_two_matter, 40, show_progress=False)
    context = SamplingContext(study.space, study.name, study.direction, 0, history=study.trials)
    frozen = sampler.frozen_for_round(context, 1)
    late = [c for c in base.seen if c.study_name.endswith("#round1")]
    assert len(late) == 20
    for inner in late:
        assert set(inner.space.names) == set(EIGHT) - set(frozen)
        for trial in inner.history:  # what the base learns from has no frozen keys either
            assert set(trial.config) <= set(inner.space.names) and set(trial.unit) <= set(inner.space.names)
    assert len(late[-1].history) == 19


def test_few_trials_freeze_nothing() -> None:
    sampler = CoarseToFine(rounds=2, round_size=5, freeze_unimportant=True, seed=0)
    study = shoal.Study("few", EIGHT, sampler=sampler)
    study.optimize(_two_matter, 10, show_progress=False)
    context = SamplingContext(study.space, study.name, study.direction, 0, history=study.trials)
    assert sampler.frozen_for_round(context, 1) == {}


def test_a_frozen_parent_keeps_its_conditional_children_consistent() -> None:
    space = {
        "opt": shoal.Choice(["adam", "sgd"]),
        "beta1": shoal.Float(0.5, 0.99, when={"opt": ["adam"]}),
        "lr": shoal.Float(1e-4, 1.0, scale="log"),
        **{f"n{i}": shoal.Float(0, 1) for i in range(4)},
    }
    sampler = CoarseToFine(rounds=3, round_size=16, freeze_unimportant=True, seed=2)
    study = shoal.Study("cond-freeze", space, sampler=sampler)
    study.optimize(lambda c: math.log10(c["lr"]) ** 2, 48, show_progress=False)
    for trial in study.trials:
        assert ("beta1" in trial.config) == (trial.config["opt"] == "adam")
        study.space.validate(trial.config)


@pytest.mark.parametrize(
    "kwargs, field",
    [({"freeze_unimportant": 1}, "freeze_unimportant"), ({"freeze_below": 0}, "freeze_below"),
     ({"freeze_below": 1.5}, "freeze_below")],
)
def test_freeze_arguments_are_checked(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        CoarseToFine(**kwargs)
