"""Objectives the CLI tests point their YAML configs at (imported as ``cli_objectives:<name>``)."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

NOT_CALLABLE = 42


def score(config: dict[str, Any]) -> float:
    """Deterministic: best near lr=1e-2 with many units and adam."""
    value = -((math.log10(config["lr"]) + 2) ** 2) + config["units"] / 1000
    if config.get("opt") == "sgd":
        value -= 0.1
    return value


def fail_on_sgd(config: dict[str, Any]) -> float:
    if config["opt"] == "sgd":
        raise ValueError("sgd is not supported here")
    return score(config)


def divide_by_zero_on_sgd(config: dict[str, Any]) -> float:
    if config["opt"] == "sgd":
        return 1 / 0
    return score(config)


def interrupt_third_call(config: dict[str, Any]) -> float:
    """Counts calls in the file named by $SHOAL_TEST_CALLS; the third call is a Ctrl-C (once)."""
    calls = Path(os.environ["SHOAL_TEST_CALLS"])
    seen = calls.read_text().count("\n") if calls.exists() else 0
    with calls.open("a") as f:
        f.write("call\n")
    if seen == 2:
        raise KeyboardInterrupt
    return score(config)


def wait_for_signal(config: dict[str, Any]) -> float:
    """Says it has started (creates $SHOAL_TEST_MARKER), then waits to be interrupted."""
    Path(os.environ["SHOAL_TEST_MARKER"]).touch()
    time.sleep(120)
    return score(config)
