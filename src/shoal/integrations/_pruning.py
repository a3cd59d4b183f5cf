"""What every pruning callback does: report a value for a step, stop when the study says so."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..trial import TrialHandle, TrialPruned

__all__ = ["check_trial", "report_or_stop", "pick_metric"]


def check_trial(trial: Any, where: str) -> TrialHandle:
    if not isinstance(trial, TrialHandle):
        raise ValueError(
            f"{where}: trial must be the trial handle shoal passes to objective(config, trial), "
            f"got {trial!r}"
        )
    return trial


def report_or_stop(trial: TrialHandle, value: float, step: int, what: str) -> None:
    """Report ``value`` at ``step``; raise ``TrialPruned`` when the study asks the trial to stop.

    A NaN or infinite value is not reported (training diverged): the trial ends as PRUNED at once.
    """
    if not math.isfinite(value):
        raise TrialPruned(f"{what} is {value} at step {step}")
    trial.report(value, step)
    if trial.should_stop():
        raise TrialPruned(f"stopped by the study at step {step} ({what} = {value:g})")


def pick_metric(available: Sequence[str], metric: str | None, where: str) -> str:
    """The metric to report: the one asked for, else the last one (what early stopping watches)."""
    if not available:
        raise ValueError(f"{where}: training has no evaluation set; pass one (evals / eval_set / valid_sets)")
    if metric is None:
        return available[-1]
    if metric not in available:
        raise ValueError(f"{where}: metric {metric!r} is not evaluated; the metrics are {list(available)}")
    return metric


def flatten(log: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``{"validation_0": {"logloss": [...]}}`` -> ``{"validation_0-logloss": [...]}``."""
    return {f"{data}-{name}": values for data, metrics in log.items() for name, values in metrics.items()}
