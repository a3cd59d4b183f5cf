"""A stand-in for a training run: a noisy score of lr, beta, units and the optimizer (milliseconds).

Run it with ``shoal run examples/quickstart.yaml``; the YAML points here as ``quickstart:objective``.
"""

from __future__ import annotations

import math
import random
from typing import Any


def objective(config: dict[str, Any]) -> float:
    """Validation accuracy of an imaginary network: best near lr=3e-3, beta=0.99, 128 units, adam."""
    noise = random.Random(repr(sorted(config.items()))).gauss(0.0, 0.005)  # same config, same noise
    score = 0.95
    score -= 0.04 * (math.log10(config["lr"]) - math.log10(3e-3)) ** 2
    score -= 0.02 * (math.log10(1 - config["beta"]) + 2) ** 2
    score -= 0.03 * (math.log2(config["units"]) - 7) ** 2 / 4
    if config["optimizer"] == "adam":
        score -= 0.5 * (config["beta1"] - 0.9) ** 2
    else:
        score -= 0.02
    return score + noise
