"""Search spaces: each scale's distribution, round trips, types, JSON/YAML form and every validation error."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from shoal import Choice, Custom, Fixed, Float, Int, Space, SpaceMismatch

# A fine, evenly spaced grid of unit numbers: the share of it mapped to a set of values is that set's
# probability mass to within 1 / N.
N = 200_000
U_GRID = (np.arange(N) + 0.5) / N

PROPERTY = settings(max_examples=60, deadline=None)


def mass(dim, predicate) -> float:
    """Share of the unit interval that ``dim`` maps to values satisfying ``predicate``."""
    return sum(1 for u in U_GRID if predicate(dim.from_unit(float(u)))) / N


def value_masses(dim) -> dict:
    counts = Counter((type(v), v) for v in (dim.from_unit(float(u)) for u in U_GRID))
    return {key: n / N for key, n in counts.items()}


def module_level_decay(u: float) -> float:
    """An importable custom map (a module-level function survives the JSON form)."""
    return 10 ** (-3 * u) / 10


def module_level_decay_inverse(value: float) -> float:
    return -(math.log10(value) + 1) / 3


# -- distributions -----------------------------------------------------------------------------


def test_log_float_puts_a_quarter_of_the_mass_in_each_decade() -> None:
    lr = Float(1e-4, 1.0, scale="log")
    for low in (1e-4, 1e-3, 1e-2, 1e-1):
        share = mass(lr, lambda v, lo=low: lo <= v < lo * 10)
        assert share == pytest.approx(0.25, abs=2e-5), low


def test_reverse_log_float_gives_equal_mass_to_0_9_to_0_99_and_0_99_to_0_999() -> None:
    beta = Float(0.9, 0.999, scale="reverse_log")
    assert mass(beta, lambda v: v < 0.99) == pytest.approx(0.5, abs=2e-5)
    assert mass(beta, lambda v: v >= 0.99) == pytest.approx(0.5, abs=2e-5)
    # and the same per decade of 1 - beta further out
    assert mass(beta, lambda v: 0.99 <= v < 0.995) == pytest.approx(
        math.log10(0.01 / 0.005) / 2, abs=2e-5
    )


def test_continuous_scales_follow_their_distribution_under_a_ks_test() -> None:
    rng = np.random.default_rng(12345)
    u = rng.random(4000)

    linear = Float(-3.0, 5.0)
    values = np.array([linear.from_unit(x) for x in u])
    assert stats.kstest(values, stats.uniform(loc=-3.0, scale=8.0).cdf).pvalue > 0.01

    log = Float(1e-4, 1.0, scale="log")
    values = np.array([log.from_unit(x) for x in u])
    assert stats.kstest(values, stats.loguniform(1e-4, 1.0).cdf).pvalue > 0.01
    # the test has power: log-uniform draws are nothing like uniform ones
    assert stats.kstest(values, stats.uniform(loc=1e-4, scale=1.0).cdf).pvalue < 1e-6

    reverse = Float(0.9, 0.999, scale="reverse_log")
    values = np.array([reverse.from_unit(x) for x in u])
    assert stats.kstest(1.0 - values, stats.loguniform(0.001, 0.1).cdf).pvalue > 0.01
    assert stats.kstest(values, stats.uniform(loc=0.9, scale=0.099).cdf).pvalue < 1e-6


def test_linear_int_gives_every_value_equal_mass() -> None:
    cases = ((Int(3, 12), list(range(3, 13))), (Int(32, 256, step=32), list(range(32, 257, 32))))
    for dim, expected in cases:
        masses = value_masses(dim)
        assert sorted(v for _, v in masses) == expected
        assert all(t is int for t, _ in masses)
        for share in masses.values():
            assert share == pytest.approx(1 / len(expected), abs=1e-5)


def test_log_int_gives_more_mass_to_small_values_and_equal_mass_per_decade() -> None:
    dim = Int(1, 999, scale="log")
    masses = {v: share for (_, v), share in value_masses(dim).items()}
    assert set(masses) <= set(range(1, 1000))
    for decade in ((1, 9), (10, 99), (100, 999)):
        share = sum(s for v, s in masses.items() if decade[0] <= v <= decade[1])
        assert share == pytest.approx(1 / 3, abs=2e-4), decade
    # each value v gets log((v + 1) / v) / log(1000): decreasing in v
    for v in (1, 2, 5, 10, 50):
        assert masses[v] == pytest.approx(math.log((v + 1) / v) / math.log(1000), abs=2e-5)
    assert masses[1] > masses[2] > masses[5] > masses[10] > masses[50]
    # linear over the same range would give value 1 a thousandth of the mass
    assert masses[1] > 50 * value_masses(Int(1, 999))[(int, 1)]


def test_choice_gives_every_value_equal_mass_and_keeps_its_type() -> None:
    dim = Choice(["adam", "sgd", 1, 1.0, True, None])
    masses = value_masses(dim)
    assert set(masses) == {
        (str, "adam"), (str, "sgd"), (int, 1), (float, 1.0), (bool, True), (type(None), None)
    }
    for share in masses.values():
        assert share == pytest.approx(1 / 6, abs=1e-5)


def test_stepped_float_yields_only_step_values_each_with_equal_mass() -> None:
    dim = Float(0.0, 1.0, step=0.25)
    masses = value_masses(dim)
    assert sorted(v for _, v in masses) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert all(t is float for t, _ in masses)
    for share in masses.values():
        assert share == pytest.approx(1 / 5, abs=1e-5)


def test_stepped_float_values_are_the_decimal_ones() -> None:
    dim = Float(0.1, 1.0, step=0.1)
    expected = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert dim.grid(10) == expected
    assert sorted({dim.from_unit(float(u)) for u in U_GRID[::97]}) == expected
    assert all(dim.contains(v) for v in expected)


# -- round trips (hypothesis) ------------------------------------------------------------------

units = st.floats(0.0, 1.0, allow_nan=False)
EPS = np.finfo(float).eps


@st.composite
def linear_floats(draw):
    low = draw(st.floats(-1e6, 1e6, allow_nan=False))
    width = draw(st.floats(1e-3, 1e6, allow_nan=False)) * max(1.0, abs(low))
    return Float(low, low + width)


@st.composite
def log_floats(draw):
    low = 10 ** draw(st.floats(-8, 4))
    return Float(low, low * 10 ** draw(st.floats(0.01, 8)), scale="log")


@st.composite
def reverse_log_floats(draw):
    gap = 10 ** draw(st.floats(-5, 0.5))  # 1 - high
    return Float(1 - gap * 10 ** draw(st.floats(0.01, 5)), 1 - gap, scale="reverse_log")


def _tolerance(dim: Float) -> float:
    """What floating point allows for u -> value -> u on this dimension's scale."""
    if dim.scale == "linear":
        return 1e-12 + 8 * EPS * (abs(dim.low) + abs(dim.high)) / (dim.high - dim.low)
    if dim.scale == "log":
        return 1e-12 + 8 * EPS * (1 + abs(math.log(dim.high)) + abs(math.log(dim.low)))
    span = math.log((1 - dim.low) / (1 - dim.high))
    return 1e-12 + 8 * EPS / (1 - dim.high) / span + 8 * EPS * abs(math.log(1 - dim.high)) / span


@PROPERTY
@given(st.one_of(linear_floats(), log_floats(), reverse_log_floats()), units)
def test_continuous_to_unit_inverts_from_unit_and_stays_in_bounds(dim: Float, u: float) -> None:
    value = dim.from_unit(u)
    assert type(value) is float
    assert dim.low <= value <= dim.high
    assert dim.contains(value)
    assert dim.to_unit(value) == pytest.approx(u, abs=_tolerance(dim))


@PROPERTY
@given(st.one_of(linear_floats(), log_floats(), reverse_log_floats()))
def test_continuous_ends_of_the_unit_interval_are_the_bounds(dim: Float) -> None:
    assert dim.from_unit(0.0) == pytest.approx(dim.low, rel=1e-9, abs=1e-12)
    assert dim.from_unit(1.0) == pytest.approx(dim.high, rel=1e-9, abs=1e-12)
    # out-of-range unit numbers are clipped, never extrapolated
    assert dim.from_unit(-0.5) == dim.from_unit(0.0)
    assert dim.from_unit(1.5) == dim.from_unit(1.0)


@st.composite
def ints(draw):
    if draw(st.booleans()):
        low = draw(st.integers(1, 5000))
        return Int(low, low + draw(st.integers(1, 300)), scale="log")
    low, step = draw(st.integers(-1000, 1000)), draw(st.integers(1, 7))
    return Int(low, low + step * draw(st.integers(1, 60)), step=step)


@st.composite
def stepped_floats(draw):
    low = draw(st.sampled_from([-2.0, -0.5, 0.0, 0.1, 1.0, 3.7, 1e3]))
    step = draw(st.sampled_from([0.001, 0.01, 0.05, 0.1, 0.25, 0.3, 2.5, 32.0]))
    n = draw(st.integers(1, 40))
    return Float(low, low + n * step, step=step)


@st.composite
def choices(draw):
    scalars = st.one_of(
        st.text(max_size=8),
        st.integers(-(10**12), 10**12),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
    )
    values = draw(st.lists(scalars, min_size=1, max_size=8, unique_by=lambda v: (type(v), v)))
    return Choice(values)


def _all_values(dim) -> list:
    if isinstance(dim, Int):
        return list(range(dim.low, dim.high + 1, dim.step))
    if isinstance(dim, Choice):
        return list(dim.values)
    return dim.grid(dim.n_values())


@PROPERTY
@given(st.one_of(ints(), stepped_floats(), choices()))
def test_discrete_from_unit_inverts_to_unit_for_every_value(dim) -> None:
    values = _all_values(dim)
    assert len(values) == dim.n_values()
    for value in values:
        back = dim.from_unit(dim.to_unit(value))
        assert type(back) is type(value) and back == value, (value, back)
        assert 0.0 <= dim.to_unit(value) <= 1.0


@PROPERTY
@given(st.one_of(ints(), stepped_floats(), choices()), units)
def test_discrete_to_unit_of_a_drawn_value_lands_in_the_same_bin(dim, u: float) -> None:
    value = dim.from_unit(u)
    assert dim.contains(value)
    again = dim.from_unit(dim.to_unit(value))
    assert type(again) is type(value) and again == value
    if not isinstance(dim, Choice):
        assert dim.low <= value <= dim.high


@PROPERTY
@given(st.one_of(ints(), stepped_floats()), st.integers(0, 3))
def test_discrete_grid_lists_every_value_when_the_resolution_allows(dim, extra: int) -> None:
    n = dim.n_values()
    assert dim.grid(n + extra) == sorted(_all_values(dim))
    smaller = dim.grid(max(1, n // 2))
    assert len(smaller) <= max(1, n // 2)
    assert all(dim.contains(v) for v in smaller)


@PROPERTY
@given(units)
def test_custom_with_inverse_round_trips(u: float) -> None:
    dim = Custom(module_level_decay, inverse=module_level_decay_inverse)
    value = dim.from_unit(u)
    assert 0.0001 <= value <= 0.1 + 1e-15
    assert dim.to_unit(value) == pytest.approx(u, abs=1e-12)


def test_custom_without_inverse_cannot_place_a_value_but_a_space_still_encodes() -> None:
    space = Space({"decay": Custom(lambda u: u * 2)})
    with pytest.raises(ValueError, match=r"'decay'.*inverse="):
        space["decay"].to_unit(0.5)
    assert math.isnan(space.encode({"decay": 0.5})[0])
    assert space.encode({"decay": 0.5}, unit={"decay": 0.25})[0] == 0.25


# -- JSON / YAML form --------------------------------------------------------------------------


def rich_space() -> Space:
    return Space(
        {
            "lr": Float(1e-4, 1.0, scale="log"),
            "beta": Float(0.9, 0.999, scale="reverse_log", default=0.99),
            "dropout": Float(0.0, 0.5, step=0.1),
            "units": Int(32, 256, step=32),
            "layers": Int(1, 100, scale="log"),
            "opt": Choice(["adam", "sgd", "1", 1, 1.0, True, None]),
            "beta1": Float(0.8, 0.99, when={"opt": ["adam"]}),
            "nesterov": Choice([True, False], when={"opt": ["sgd"]}),
            "seed": Fixed(7),
            "decay": Custom(module_level_decay, inverse=module_level_decay_inverse),
        }
    )


def test_space_round_trips_through_its_dict_json_and_yaml() -> None:
    # YAML must keep the order (sort_keys=False): a parent comes before the dimensions that depend on it
    space = rich_space()
    assert Space.from_dict(space.to_dict()) == space
    assert Space.from_dict(json.loads(json.dumps(space.to_dict()))) == space
    assert Space.from_dict(yaml.safe_load(yaml.safe_dump(space.to_dict(), sort_keys=False))) == space
    rebuilt = Space.from_dict(yaml.safe_load(yaml.safe_dump(space.to_dict(), sort_keys=False)))
    assert [(type(v), v) for v in rebuilt["opt"].values] == [(type(v), v) for v in space["opt"].values]
    assert rebuilt["decay"].fn is module_level_decay
    assert rebuilt["decay"].inverse is module_level_decay_inverse
    assert rebuilt["beta"].default == 0.99
    # and the rebuilt space maps the unit cube to the same configs
    rng = np.random.default_rng(0)
    for _ in range(50):
        point = rng.random(len(space))
        assert rebuilt.decode(point) == space.decode(point)


def test_a_space_differs_from_one_with_another_bound_or_scale() -> None:
    space = rich_space()
    changed = dict(space.dimensions)
    changed["lr"] = Float(1e-5, 1.0, scale="log")
    assert Space(changed) != space
    changed["lr"] = Float(1e-4, 1.0)
    assert Space(changed) != space


@PROPERTY
@given(choices())
def test_choice_values_survive_json_and_yaml_with_their_types(dim: Choice) -> None:
    space = Space({"c": dim})
    as_json = json.loads(json.dumps(space.to_dict()))
    as_yaml = yaml.safe_load(yaml.safe_dump(space.to_dict(), sort_keys=False))
    for dumped in (as_json, as_yaml):
        rebuilt = Space.from_dict(dumped)
        assert rebuilt == space
        assert [(type(v), v) for v in rebuilt["c"].values] == [(type(v), v) for v in dim.values]


def test_yaml_written_by_hand_reads_exponent_bounds_as_numbers() -> None:
    text = """
    lr: {type: float, low: 1e-4, high: 1, scale: log, default: 1e-3}
    units: {type: int, low: 32, high: 256, step: 32, default: 64.0}
    opt: {type: choice, values: [adam, sgd]}
    seed: 3
    """
    space = Space.from_dict(yaml.safe_load(text))
    assert space["lr"] == Float(1e-4, 1.0, scale="log", default=1e-3)
    assert space["units"] == Int(32, 256, step=32, default=64)
    assert type(space["units"].default) is int
    assert space["seed"] == Fixed(3)


def test_a_lambda_custom_is_written_but_cannot_be_rebuilt() -> None:
    space = Space({"decay": Custom(lambda u: u)})
    data = json.loads(json.dumps(space.to_dict()))
    with pytest.raises(ValueError, match=r"dimension 'decay'.*importable 'module:function'"):
        Space.from_dict(data)


def test_a_custom_that_names_a_missing_function_is_refused() -> None:
    with pytest.raises(ValueError, match=r"dimension 'decay'.*no_such_function.*importable"):
        Space.from_dict({"decay": {"type": "custom", "fn": "math:no_such_function"}})


# -- types -------------------------------------------------------------------------------------


def test_int_yields_python_ints() -> None:
    for dim in (Int(0, 10), Int(1, 1000, scale="log"), Int(-64, 64, step=8)):
        for u in np.linspace(0, 1, 41):  # numpy floats in, plain ints out
            value = dim.from_unit(u)
            assert type(value) is int
        assert all(type(v) is int for v in dim.grid(7))
    config, _ = Space({"n": Int(0, 10)}).decode(np.array([0.33]))
    assert type(config["n"]) is int


def test_float_yields_python_floats() -> None:
    for dim in (Float(0, 1), Float(1e-3, 1, scale="log"), Float(0, 1, step=0.5)):
        assert all(type(dim.from_unit(u)) is float for u in np.linspace(0, 1, 11))


def test_choice_keeps_1_and_1_0_and_true_and_the_string_1_apart() -> None:
    dim = Choice([1, "1", 1.0, True])
    drawn = [dim.from_unit(u) for u in (0.1, 0.35, 0.6, 0.9)]
    assert [(type(v), v) for v in drawn] == [(int, 1), (str, "1"), (float, 1.0), (bool, True)]
    assert [dim.to_unit(v) for v in (1, "1", 1.0, True)] == [0.125, 0.375, 0.625, 0.875]
    assert not Choice(["1"]).contains(1)
    assert not Choice([1]).contains(True)
    assert not Choice([1]).contains(1.0)
    assert Choice([np.int64(3), np.float32(0.5)]).values == (3, 0.5)
    assert type(Choice([np.int64(3)]).values[0]) is int


def test_fixed_is_one_value_recorded_in_every_config() -> None:
    space = Space({"x": Float(0, 1), "seed": Fixed(7), "name": Fixed("run")})
    config, unit = space.decode([0.5, 0.2, 0.9])
    assert config == {"x": 0.5, "seed": 7, "name": "run"}
    assert type(config["seed"]) is int
    assert space["seed"].grid(5) == [7]
    assert space.validate({"x": 0.1}) == {"x": 0.1, "seed": 7, "name": "run"}
    with pytest.raises(ValueError, match=r"dimension 'seed': 8 is not a legal value"):
        space.validate({"x": 0.1, "seed": 8})
    assert not space["seed"].contains(7.0)


# -- validation errors: each names the dimension (or, outside a space, the kind) and the fix -----


@pytest.mark.parametrize(
    ("build", "spec", "fix"),
    [
        (lambda: Float(1.0, 1.0), {"type": "float", "low": 1.0, "high": 1.0}, r"must be < high.*use Fixed"),
        (lambda: Float(2.0, 1.0), {"type": "float", "low": 2, "high": 1}, r"must be < high.*use Fixed"),
        (lambda: Int(5, 5), {"type": "int", "low": 5, "high": 5}, r"must be < high.*use Fixed"),
        (
            lambda: Float(0.0, 1.0, scale="log"),
            {"type": "float", "low": 0, "high": 1, "scale": "log"},
            r"low must be > 0 for scale='log'",
        ),
        (
            lambda: Float(-1.0, 1.0, scale="log"),
            {"type": "float", "low": -1, "high": 1, "scale": "log"},
            r"low must be > 0 for scale='log'",
        ),
        (
            lambda: Int(0, 10, scale="log"),
            {"type": "int", "low": 0, "high": 10, "scale": "log"},
            r"low must be >= 1 for scale='log'",
        ),
        (
            lambda: Float(0.9, 1.0, scale="reverse_log"),
            {"type": "float", "low": 0.9, "high": 1.0, "scale": "reverse_log"},
            r"high must be < 1 for scale='reverse_log'",
        ),
        (lambda: Choice([]), {"type": "choice", "values": []}, r"values is empty; give at least one value"),
        (
            lambda: Float(0.0, 1.0, step=0.3),
            {"type": "float", "low": 0, "high": 1, "step": 0.3},
            r"step 0.3 does not divide the range \[0, 1\]; pick a step that does or move high to 0.9",
        ),
        (
            lambda: Int(0, 10, step=3),
            {"type": "int", "low": 0, "high": 10, "step": 3},
            r"step 3 does not divide the range \[0, 10\]; pick a step that does or move high to 9",
        ),
        (
            lambda: Choice(["a", "b", "a"]),
            {"type": "choice", "values": ["a", "b", "a"]},
            r"'a' is listed twice; list each value once",
        ),
        (
            lambda: Choice([[1, 2], 3]),
            {"type": "choice", "values": [[1, 2], 3]},
            r"choices must be str, int, float, bool or None.*map an index to objects yourself",
        ),
        (
            lambda: Choice([{"a": 1}]),
            {"type": "choice", "values": [{"a": 1}]},
            r"map an index to objects yourself",
        ),
        (
            lambda: Choice([1.0, float("nan")]),
            {"type": "choice", "values": [1.0, float("nan")]},
            r"not finite",
        ),
        (
            lambda: Float(0, 1, scale="cubic"),
            {"type": "float", "low": 0, "high": 1, "scale": "cubic"},
            r"scale must be 'linear', 'log' or 'reverse_log'",
        ),
        (lambda: Int(0.5, 3), {"type": "int", "low": 0.5, "high": 3}, r"low must be an integer"),
        (
            lambda: Float(0.1, 1, scale="log", step=0.1),
            {"type": "float", "low": 0.1, "high": 1, "scale": "log", "step": 0.1},
            r"step is only allowed with scale='linear'",
        ),
        (
            lambda: Float(0, math.inf),
            {"type": "float", "low": 0, "high": math.inf},
            r"high must be a finite number, got inf",
        ),
        # issue 12: every constructor error is a ValueError naming the field (and, in a space, the
        # dimension); these were a TypeError, an OverflowError and a range whose samples all overflow
        (
            lambda: Float(None, 1),
            {"type": "float", "low": None, "high": 1},
            r"low must be a number, got None",
        ),
        (lambda: Float(0, [1]), {"type": "float", "low": 0, "high": [1]}, r"high must be a number, got \[1"),
        (lambda: Int(None, 3), {"type": "int", "low": None, "high": 3}, r"low must be an integer, got None"),
        (
            lambda: Int(0, 10**400),
            {"type": "int", "low": 0, "high": 10**400},
            r"high must be an integer between -2\*\*63 and 2\*\*63 .*got a 401-digit integer",
        ),
        (
            lambda: Float(0, 10**400),
            {"type": "float", "low": 0, "high": 10**400},
            r"high must be a finite number .*got a 401-digit integer",
        ),
        (
            lambda: Float(-1e308, 1e308),
            {"type": "float", "low": -1e308, "high": 1e308},
            r"high - low must be a finite number.*wider than the largest float.*narrow the range",
        ),
        (
            lambda: Float(0, 1, step=5e-324),
            {"type": "float", "low": 0, "high": 1, "step": 5e-324},
            r"step 4.94066e-324 is too small for the range.*pick a larger step",
        ),
        (
            lambda: Float(0, 1, step="x"),
            {"type": "float", "low": 0, "high": 1, "step": "x"},
            r"step must be a number",
        ),
        (
            lambda: Int(0, 10, step=None),
            {"type": "int", "low": 0, "high": 10, "step": None},
            r"step must be an integer",
        ),
    ],
)
def test_bad_dimensions_are_refused_naming_the_dimension_and_the_fix(build, spec, fix) -> None:
    kind = {"float": "Float", "int": "Int", "choice": "Choice"}[spec["type"]]
    with pytest.raises(ValueError, match=rf"^{kind}: .*{fix}"):
        build()
    with pytest.raises(ValueError, match=rf"^dimension 'width': .*{fix}"):
        Space.from_dict({"ok": {"type": "int", "low": 0, "high": 3}, "width": spec})


def test_a_default_outside_the_dimension_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"dimension 'lr': default 2.0 is not a value of this dimension"):
        Space({"lr": Float(0.0, 1.0, default=2.0)})
    with pytest.raises(ValueError, match=r"dimension 'opt': default 'rmsprop'"):
        Space({"opt": Choice(["adam", "sgd"], default="rmsprop")})


def test_from_dict_errors_name_the_dimension_and_the_fields() -> None:
    with pytest.raises(ValueError, match=r"dimension 'lr': unknown field\(s\) \['hi'\].*'high'"):
        Space.from_dict({"lr": {"type": "float", "low": 0, "hi": 1}})
    with pytest.raises(ValueError, match=r"dimension 'lr': .*missing.*'high'"):
        Space.from_dict({"lr": {"type": "float", "low": 0}})
    with pytest.raises(ValueError, match=r"dimension 'lr': type must be one of \['choice'"):
        Space.from_dict({"lr": {"type": "flaot", "low": 0, "high": 1}})
    with pytest.raises(ValueError, match=r"dimension 'lr': low must be a number, got 'tiny'"):
        Space.from_dict({"lr": {"type": "float", "low": "tiny", "high": 1}})
    with pytest.raises(ValueError, match=r"dimension 'units': low must be an integer"):
        Space.from_dict({"units": {"type": "int", "low": 1.5, "high": 4}})
    with pytest.raises(ValueError, match=r"non-empty mapping"):
        Space.from_dict({})


def test_when_naming_an_unknown_parent_is_refused() -> None:
    with pytest.raises(ValueError, match=r"dimension 'beta1': when names parent 'optim', which is unknown; "
                       r"define the parent before"):
        Space({"opt": Choice(["adam", "sgd"]), "beta1": Float(0.8, 0.99, when={"optim": ["adam"]})})


def test_when_naming_a_later_parent_is_refused() -> None:
    with pytest.raises(ValueError, match=r"dimension 'beta1': when names parent 'opt', which is defined "
                       r"later; define the parent before the dimensions that depend on it"):
        Space({"beta1": Float(0.8, 0.99, when={"opt": ["adam"]}), "opt": Choice(["adam", "sgd"])})


def test_when_naming_itself_is_refused() -> None:
    with pytest.raises(ValueError, match=r"dimension 'opt': when names itself \(a cycle\); name a parent"):
        Space({"opt": Choice(["adam", "sgd"], when={"opt": ["adam"]})})


def test_when_listing_a_value_the_parent_never_takes_is_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"dimension 'beta1': when\['opt'\] lists 'adamw', which 'opt' can never take; "
        r"list one of \['adam', 'sgd'\]",
    ):
        Space({"opt": Choice(["adam", "sgd"]), "beta1": Float(0.8, 0.99, when={"opt": ["adamw"]})})
    with pytest.raises(ValueError, match=r"dimension 'wide': when\['layers'\] lists 0, .*list a value of"):
        Space({"layers": Int(1, 4), "wide": Float(0, 1, when={"layers": [0]})})
    with pytest.raises(ValueError, match=r"dimension 'x': when\['flag'\] lists 1, which 'flag' can never"):
        Space({"flag": Choice([True, False]), "x": Float(0, 1, when={"flag": [1]})})


def test_when_must_list_values() -> None:
    with pytest.raises(ValueError, match=r"dimension 'beta1': when\['opt'\] lists no values; give the"):
        Space({"opt": Choice(["adam"]), "beta1": Float(0.8, 0.99, when={"opt": []})})
    with pytest.raises(ValueError, match=r"dimension 'beta1': when must be a non-empty mapping"):
        Space({"opt": Choice(["adam"]), "beta1": Float(0.8, 0.99, when={})})


def test_a_space_refuses_what_is_not_a_dimension() -> None:
    with pytest.raises(ValueError, match=r"dimension 'lr': expected a shoal dimension.*shoal.Fixed\(0.1\)"):
        Space({"lr": 0.1})
    with pytest.raises(ValueError, match=r"non-empty mapping of names to dimensions"):
        Space({})


# -- conditional spaces ------------------------------------------------------------------------

CONDITIONAL = {
    "opt": Choice(["adam", "sgd", "rmsprop"]),
    "beta1": Float(0.8, 0.99, when={"opt": ["adam", "rmsprop"]}),
    "momentum": Float(0.0, 0.9, step=0.3, when={"opt": "sgd"}),
    "nesterov": Choice([True, False], when={"opt": ["sgd"]}),
    "lr": Float(1e-4, 1.0, scale="log"),
}


def test_decode_leaves_out_inactive_dimensions() -> None:
    space = Space(CONDITIONAL)
    assert space.is_conditional and space.parents == {"opt"}
    config, unit = space.decode([0.1, 0.5, 0.5, 0.5, 0.5])  # opt = adam
    assert config == {"opt": "adam", "beta1": pytest.approx(0.895), "lr": pytest.approx(0.01)}
    assert set(unit) == {"opt", "beta1", "lr"}
    config, unit = space.decode([0.5, 0.5, 0.5, 0.1, 0.5])  # opt = sgd
    assert set(config) == set(unit) == {"opt", "momentum", "nesterov", "lr"}
    assert config["nesterov"] is True and config["momentum"] == 0.6
    encoded = space.encode(config, unit)
    assert np.isnan(encoded[1]) and not np.isnan(encoded[2])


def test_validate_refuses_a_value_for_an_inactive_dimension_and_a_missing_active_one() -> None:
    space = Space(CONDITIONAL)
    checked = space.validate({"lr": 0.1, "opt": "adam", "beta1": 0.9})
    assert list(checked.items()) == [("opt", "adam"), ("beta1", 0.9), ("lr", 0.1)]  # in space order
    with pytest.raises(ValueError, match=r"dimension 'momentum' is inactive for this config.*leave it out"):
        space.validate({"opt": "adam", "beta1": 0.9, "momentum": 0.3, "lr": 0.1})
    with pytest.raises(ValueError, match=r"config is missing dimension 'beta1'"):
        space.validate({"opt": "adam", "lr": 0.1})
    with pytest.raises(ValueError, match=r"unknown dimension\(s\) \['lrr'\]"):
        space.validate({"opt": "adam", "beta1": 0.9, "lrr": 0.1})
    with pytest.raises(ValueError, match=r"dimension 'momentum': 0.2 is not a legal value"):
        space.validate({"opt": "sgd", "momentum": 0.2, "nesterov": False, "lr": 0.1})
    # an int is accepted for a float and stored as a float
    assert type(space.validate({"opt": "sgd", "momentum": 0, "nesterov": False, "lr": 1})["lr"]) is float


def _brute_force_grid_size(space: Space, resolution: int) -> int:
    """Every combination of every dimension's grid, reduced to the configs that differ."""
    dims = list(space.dimensions.values())
    seen = set()
    for values in itertools.product(*(d.grid(resolution) for d in dims)):
        config: dict = {}
        for dim, value in zip(dims, values, strict=True):
            if space.is_active(dim.name, config):
                config[dim.name] = value
        seen.add(tuple(sorted((k, type(v).__name__, v) for k, v in config.items())))
    return len(seen)


@pytest.mark.parametrize("resolution", [1, 2, 3, 4])
@pytest.mark.parametrize(
    "dims",
    [
        CONDITIONAL,
        {"a": Float(0, 1), "b": Int(0, 9), "c": Choice(["x", "y"])},
        {  # a chain: c depends on b, which depends on a
            "a": Choice([1, 2, 3]),
            "b": Int(0, 4, when={"a": [1, 2]}),
            "c": Float(0, 1, when={"b": [0, 4]}),
            "d": Choice(["u", "v"], when={"a": 3}),
            "e": Float(1, 10, scale="log"),
        },
        {  # two parents for one child
            "p": Choice([True, False]),
            "q": Choice(["x", "y", "z"]),
            "r": Int(1, 3, when={"p": [True], "q": ["x", "z"]}),
        },
    ],
)
def test_grid_size_counts_conditionals_exactly(dims, resolution: int) -> None:
    space = Space(dims)
    assert space.grid_size(resolution) == _brute_force_grid_size(space, resolution)


def test_grid_size_of_a_known_conditional_space() -> None:
    space = Space(CONDITIONAL)
    # adam, rmsprop: beta1 x lr = 3 x 3 each; sgd: momentum (4 values, 3 at resolution 3) x nesterov x lr
    assert space.grid_size(3) == 2 * 3 * 3 + 3 * 2 * 3
    assert space.grid_size(4) == 2 * 4 * 4 + 4 * 2 * 4


# -- resuming with a changed space -------------------------------------------------------------

OLD_CONFIGS = [
    {"lr": 0.01, "units": 64, "opt": "adam", "beta1": 0.9},
    {"lr": 0.5, "units": 256, "opt": "sgd"},
]
OLD = {
    "lr": Float(1e-3, 1.0, scale="log"),
    "units": Int(32, 256, step=32),
    "opt": Choice(["adam", "sgd"]),
    "beta1": Float(0.8, 0.99, when={"opt": ["adam"]}),
}


def test_check_fits_accepts_the_old_space_and_a_widened_one() -> None:
    Space(OLD).check_fits(OLD_CONFIGS)
    wider = {**OLD, "lr": Float(1e-5, 10.0, scale="log"), "units": Int(32, 512, step=32),
             "opt": Choice(["adam", "sgd", "rmsprop"])}
    Space(wider).check_fits(OLD_CONFIGS)


def test_check_fits_refuses_a_narrowed_range_naming_the_dimension() -> None:
    narrow = {**OLD, "units": Int(32, 128, step=32)}
    with pytest.raises(SpaceMismatch, match=r"dimension 'units': stored trial value 256 is outside.*widen"):
        Space(narrow).check_fits(OLD_CONFIGS)
    fewer = {**OLD, "opt": Choice(["adam"])}
    with pytest.raises(SpaceMismatch, match=r"dimension 'opt': stored trial value 'sgd'"):
        Space(fewer).check_fits(OLD_CONFIGS)
    assert issubclass(SpaceMismatch, ValueError)


def test_check_fits_refuses_a_new_dimension_without_a_default_and_accepts_one_with() -> None:
    with pytest.raises(SpaceMismatch, match=r"dimension 'dropout' is new.*give it a default"):
        Space({**OLD, "dropout": Float(0.0, 0.5)}).check_fits(OLD_CONFIGS)
    space = Space({**OLD, "dropout": Float(0.0, 0.5, default=0.1), "seed": Fixed(3)})
    space.check_fits(OLD_CONFIGS)
    assert space.complete(OLD_CONFIGS[0]) == {**OLD_CONFIGS[0], "dropout": 0.1, "seed": 3}
    assert space.complete(OLD_CONFIGS[1]) == {**OLD_CONFIGS[1], "dropout": 0.1, "seed": 3}
    # a whole-number default of a float dimension fills in a float
    filled = Space({**OLD, "scale": Float(0.0, 4.0, default=2)}).complete(OLD_CONFIGS[0])["scale"]
    assert type(filled) is float and filled == 2.0


def test_check_fits_refuses_a_removed_dimension_naming_it() -> None:
    without = {k: v for k, v in OLD.items() if k != "units"}
    with pytest.raises(SpaceMismatch, match=r"dimension 'units' is used by stored trials but missing"):
        Space(without).check_fits(OLD_CONFIGS)


def test_check_fits_refuses_a_value_the_new_when_makes_inactive() -> None:
    moved = {**OLD, "beta1": Float(0.8, 0.99, when={"opt": ["sgd"]})}
    with pytest.raises(SpaceMismatch, match=r"dimension 'beta1': stored trials set it where the new space"):
        Space(moved).check_fits(OLD_CONFIGS)


def test_a_new_conditional_dimension_only_needs_a_default_where_it_is_active() -> None:
    space = Space({**OLD, "momentum": Float(0.0, 0.9, when={"opt": ["sgd"]}, default=0.5)})
    space.check_fits(OLD_CONFIGS)
    assert space.complete(OLD_CONFIGS[0]) == OLD_CONFIGS[0]
    assert space.complete(OLD_CONFIGS[1]) == {**OLD_CONFIGS[1], "momentum": 0.5}
    with pytest.raises(SpaceMismatch, match=r"dimension 'momentum' is new"):
        Space({**OLD, "momentum": Float(0.0, 0.9, when={"opt": ["sgd"]})}).check_fits(OLD_CONFIGS)


# -- grid sizing by arithmetic (issue 12) ------------------------------------------------------


@st.composite
def grid_dimensions(draw):
    """Dimensions of every kind, with ranges from ordinary to a few floats wide (where k grid points
    collapse onto fewer values and the count must come from the values themselves)."""
    kind = draw(st.sampled_from(["linear", "log", "reverse_log", "narrow", "step", "int", "int_log",
                                 "choice", "custom"]))
    if kind == "linear":
        low = draw(st.floats(-1e6, 1e6))
        return Float(low, low + draw(st.floats(1e-9, 1e6)))
    if kind == "log":
        low = draw(st.floats(1e-300, 1e3))
        return Float(low, low * draw(st.floats(1.0 + 1e-12, 1e6)), scale="log")
    if kind == "reverse_log":
        high = draw(st.floats(-10.0, 1.0 - 1e-9))
        return Float(high - draw(st.floats(1e-12, 10.0)), high, scale="reverse_log")
    if kind == "narrow":  # n floats wide: at most n + 1 distinct values
        low = draw(st.floats(-1e3, 1e3))
        high = low
        for _ in range(draw(st.integers(1, 40))):
            high = math.nextafter(high, math.inf)
        return Float(low, high)
    if kind == "step":
        n = draw(st.integers(1, 400))
        return Float(0.0, n * 0.25, step=0.25)
    if kind == "int":
        low = draw(st.integers(-10**6, 10**6))
        step = draw(st.integers(1, 7))
        return Int(low, low + step * draw(st.integers(1, 500)), step=step)
    if kind == "int_log":
        low = draw(st.integers(1, 100))
        return Int(low, low + draw(st.integers(1, 10**5)), scale="log")
    if kind == "choice":
        return Choice(list(range(draw(st.integers(1, 9)))))
    levels = draw(st.integers(1, 6))  # a step function: many unit numbers, few values
    return Custom(lambda u, n=levels: round(u * n) / n)


@PROPERTY
@given(dim=grid_dimensions(), k=st.integers(1, 300))
def test_grid_count_is_the_number_of_grid_values(dim, k: int) -> None:
    assert dim.grid_count(k) == len(dim.grid(k))


def test_a_grid_of_a_million_values_per_dimension_is_sized_at_once() -> None:
    """Space.grid_size counts by arithmetic: resolution 1,000,000 over three dimensions (10**18
    points) takes no time; listing each dimension's grid once cost O(k^2) (8,000 took 10 s)."""
    import time

    space = Space({"a": Float(0, 1), "b": Float(1e-5, 1, scale="log"), "c": Int(0, 10**12)})
    start = time.perf_counter()
    assert space.grid_size(1_000_000) == 10**18
    assert time.perf_counter() - start < 0.5
    with pytest.raises(ValueError, match=r"grid resolution must be an int >= 1, got 0"):
        space.grid_size(0)


def test_grid_lists_values_once_in_linear_time() -> None:
    """A grid of 200,000 values keeps each once (1, 1.0 and True apart) without pairwise checks."""
    import time

    start = time.perf_counter()
    assert len(Float(0, 1).grid(200_000)) == 200_000
    assert time.perf_counter() - start < 5
    assert Custom(lambda u: [round(u)]).grid(5) == [[0], [1]]  # unhashable values still deduplicated
    assert Custom(lambda u: (1, 1.0, True)[min(2, int(u * 3))]).grid(3) == [1, 1.0, True]
