"""Classic synthetic test functions (Branin, Hartmann6, Ackley, Levy) and their mixed-type variants.

Each task is a space in shoal terms and a function of a config. The mixed variants reach the same
function through integer, log-scaled and categorical parameters, so an optimizer that mistranslates a
parameter kind (a log prior read as linear, an integer as a float) shows it. Ackley's optimum sits at
the centre of its box, which rewards any optimizer that starts at the centre (CMA-ES does); here it is
moved to a fixed point drawn from a seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import shoal

ACKLEY_BOUND = 32.768
LEVY_BOUND = 10.0

_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def branin(x: np.ndarray) -> float:
    """Branin on [-5, 10] x [0, 15]; minimum 0.397887 at three points."""
    x1, x2 = x
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return float((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10)


def hartmann6(x: np.ndarray) -> float:
    """Hartmann6 on [0, 1]^6; minimum -3.32237."""
    inner = np.sum(_H6_A * (np.asarray(x) - _H6_P) ** 2, axis=1)
    return float(-np.sum(_H6_ALPHA * np.exp(-inner)))


def ackley_shift(dim: int) -> np.ndarray:
    """Where the moved Ackley optimum lies: a fixed draw in [-16, 16]^dim."""
    return np.random.default_rng([7, dim]).uniform(-16.0, 16.0, dim)


def ackley(x: np.ndarray) -> float:
    """Ackley with its optimum (0) moved to ``ackley_shift(d)``."""
    z = np.asarray(x, dtype=float) - ackley_shift(len(x))
    d = len(z)
    return float(-20 * np.exp(-0.2 * np.sqrt(np.sum(z**2) / d)) - np.exp(np.sum(np.cos(2 * np.pi * z)) / d)
                 + 20 + math.e)


def levy(x: np.ndarray) -> float:
    """Levy on [-10, 10]^d; minimum 0 at (1, ..., 1)."""
    w = 1 + (np.asarray(x, dtype=float) - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


def _log_to_box(value: float, low: float, high: float, lo: float, hi: float) -> float:
    """Map a log-scaled value in [low, high] linearly in log space onto [lo, hi]."""
    share = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
    return lo + share * (hi - lo)


class Coordinates:
    """The objective of a continuous task: reads x0..x{d-1} from a config and calls ``fn``."""

    def __init__(self, fn: Callable[[np.ndarray], float], dim: int) -> None:
        self.fn, self.dim = fn, dim

    def __call__(self, config: Mapping[str, Any]) -> float:
        return self.fn(np.array([config[f"x{i}"] for i in range(self.dim)], dtype=float))


def _box(dim: int, low: float | list[float], high: float | list[float]) -> dict[str, Any]:
    lows = low if isinstance(low, list) else [low] * dim
    highs = high if isinstance(high, list) else [high] * dim
    return {f"x{i}": shoal.Float(lows[i], highs[i]) for i in range(dim)}


def _ackley_mixed(config: Mapping[str, Any]) -> float:
    x = [config["x0"], config["x1"], config["n2"], config["n3"],
         _log_to_box(config["v4"], 1e-3, 1e3, -ACKLEY_BOUND, ACKLEY_BOUND), config["c5"]]
    return ackley(np.array(x, dtype=float))


def _levy_mixed(config: Mapping[str, Any]) -> float:
    x = [config["x0"], config["x1"], config["n2"],
         _log_to_box(config["n3"], 1, 1000, -LEVY_BOUND, LEVY_BOUND),
         _log_to_box(config["v4"], 1e-4, 1.0, -LEVY_BOUND, LEVY_BOUND), config["c5"]]
    return levy(np.array(x, dtype=float))


def _hartmann6_mixed(config: Mapping[str, Any]) -> float:
    x = [config["x0"], config["x1"], config["x2"], config["n3"] / 20,
         _log_to_box(config["v4"], 1e-3, 1.0, 0.0, 1.0), config["c5"]]
    return hartmann6(np.array(x, dtype=float))


def tasks() -> dict[str, tuple[dict[str, Any], Callable[[Mapping[str, Any]], float]]]:
    """Task name -> (space, objective)."""
    a, lv = ACKLEY_BOUND, LEVY_BOUND
    return {
        "branin": (_box(2, [-5.0, 0.0], [10.0, 15.0]), Coordinates(branin, 2)),
        "hartmann6": (_box(6, 0.0, 1.0), Coordinates(hartmann6, 6)),
        "ackley5": (_box(5, -a, a), Coordinates(ackley, 5)),
        "levy5": (_box(5, -lv, lv), Coordinates(levy, 5)),
        "ackley6-mixed": (
            {"x0": shoal.Float(-a, a), "x1": shoal.Float(-a, a), "n2": shoal.Int(-32, 32),
             "n3": shoal.Int(-32, 32), "v4": shoal.Float(1e-3, 1e3, scale="log"),
             "c5": shoal.Choice([-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0])},
            _ackley_mixed,
        ),
        "levy6-mixed": (
            {"x0": shoal.Float(-lv, lv), "x1": shoal.Float(-lv, lv), "n2": shoal.Int(-10, 10),
             "n3": shoal.Int(1, 1000, scale="log"), "v4": shoal.Float(1e-4, 1.0, scale="log"),
             "c5": shoal.Choice([-9.0, -5.0, -1.0, 1.0, 3.0, 7.0])},
            _levy_mixed,
        ),
        "hartmann6-mixed": (
            {"x0": shoal.Float(0.0, 1.0), "x1": shoal.Float(0.0, 1.0), "x2": shoal.Float(0.0, 1.0),
             "n3": shoal.Int(0, 20), "v4": shoal.Float(1e-3, 1.0, scale="log"),
             "c5": shoal.Choice([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])},
            _hartmann6_mixed,
        ),
    }
