"""Objectives for the experiment-tracking tests (module level, so worker processes can import them).

``mode`` picks what a trial does: ``ok`` reports ``lr * (step + 1)`` for 4 steps and returns the last;
``prune`` reports twice and stops itself (PRUNED); ``fail`` reports once and raises (FAILED); ``flat``
reports 0.5 for 5 steps, so a ``ReduceOnPlateau("lr", patience=2)`` rule tweaks its lr while it runs.
"""

from __future__ import annotations

from typing import Any

import shoal

SPACE = {
    "lr": shoal.Float(1e-3, 1.0, scale="log"),
    "mode": shoal.Choice(["ok", "prune", "fail", "flat"]),
    "units": shoal.Int(8, 64),
}


def objective(config: dict[str, Any], trial: Any) -> float:
    mode = config["mode"]
    if mode == "flat":
        for step in range(5):
            trial.report(0.5, step)
        return 0.5
    value = 0.0
    for step in range(2 if mode == "prune" else 1 if mode == "fail" else 4):
        value = config["lr"] * (step + 1)
        trial.report(value, step)
    if mode == "prune":
        raise shoal.TrialPruned()
    if mode == "fail":
        raise RuntimeError("this trial fails on purpose")
    return value


def two_objectives(config: dict[str, Any], trial: Any) -> dict[str, float]:
    trial.report(config["lr"], 0)
    units = float(config["units"])
    return {"accuracy": 1.0 - config["lr"], "latency": units, "memory": 2.0 * units}
