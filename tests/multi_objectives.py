"""Objectives returning named values, for the multi-objective tests (worker processes and Dask workers
import them by reference, so they live in a module, not inside test functions)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import shoal

SPACE = {"x": shoal.Float(0.0, 1.0), "y": shoal.Float(0.0, 1.0)}
OBJECTIVES = {"accuracy": "maximize", "latency_ms": "minimize"}
CONSTRAINTS = ["memory_mb <= 512", "latency_ms <= 20"]


def accuracy(config: dict[str, Any]) -> float:
    return round(config["x"], 3)


def latency(config: dict[str, Any]) -> float:
    return round(5 + 20 * config["x"] * config["y"], 3)


def memory(config: dict[str, Any]) -> float:
    return round(1000 * config["y"], 3)


def tradeoff(config: dict[str, Any]) -> dict[str, Any]:
    """Accuracy against latency; numpy and int values, an extra metric; x in [0.1, 0.15) returns a NaN
    accuracy and x in [0.15, 0.2) forgets latency (both fail their trial)."""
    x = config["x"]
    values: dict[str, Any] = {
        "accuracy": np.float32(accuracy(config)) if x < 0.5 else accuracy(config),
        "latency_ms": latency(config),
        "memory_mb": memory(config),
        "epochs": 3,
    }
    if 0.1 <= x < 0.15:
        values["accuracy"] = math.nan
    elif 0.15 <= x < 0.2:
        del values["latency_ms"]
    return values


def expected(config: dict[str, Any]) -> tuple[str, dict[str, float] | None, bool | None]:
    """What ``tradeoff`` should leave in storage: (state, values, feasible)."""
    x = config["x"]
    if 0.1 <= x < 0.2:
        return "FAILED", None, None
    values = {"accuracy": float(np.float32(accuracy(config))) if x < 0.5 else accuracy(config),
              "latency_ms": latency(config), "memory_mb": memory(config), "epochs": 3.0}
    return "COMPLETE", values, values["memory_mb"] <= 512 and values["latency_ms"] <= 20


def brute_front(trials: list[shoal.Trial], objectives: dict[str, str]) -> list[int]:
    """The numbers of the non-dominated feasible completed trials, written independently of shoal's
    helper: a trial is on the front when no other is no worse on every objective and differs."""
    done = [t for t in trials if t.state == shoal.TrialState.COMPLETE and t.feasible]

    def no_worse(a: float, b: float, way: str) -> bool:
        return a >= b if way == "maximize" else a <= b

    def beats(u: shoal.Trial, t: shoal.Trial) -> bool:
        pairs = [(u.values[k], t.values[k], way) for k, way in objectives.items()]
        return all(no_worse(a, b, w) for a, b, w in pairs) and any(a != b for a, b, _ in pairs)

    return [t.number for t in done if not any(beats(u, t) for u in done)]


def constrained(config: dict[str, Any]) -> dict[str, float]:
    """One objective under "value", with a constrained metric."""
    return {"value": accuracy(config), "memory_mb": memory(config)}
