"""Run one objective call in this process and classify what came back."""

from __future__ import annotations

import inspect
import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..trial import RunningTrial, TrialPruned, TrialState


@dataclass(frozen=True)
class Outcome:
    """How a trial ended: its state, its value (COMPLETE, maybe PRUNED) and the error text."""

    state: TrialState
    value: float | None = None
    error: str | None = None


def wants_trial(objective: Callable[..., Any]) -> bool:
    """True when the objective takes ``(config, trial)``, False for ``(config)``."""
    if not callable(objective):
        raise ValueError(f"objective must be callable as objective(config), got {objective!r}")
    try:
        parameters = inspect.signature(objective).parameters.values()
    except (TypeError, ValueError):  # some builtins and C functions have no signature
        return False
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return True
    if not positional:
        raise ValueError(
            "objective must accept the config: def objective(config) or def objective(config, trial)"
        )
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    return len(required) >= 2 or (len(positional) >= 2 and positional[1].name == "trial")


def as_value(result: Any) -> tuple[float | None, str | None]:
    """Turn an objective's return value into a float, or say why it cannot be one."""
    if isinstance(result, (bool, str, bytes)) or result is None:
        return None, f"objective returned {result!r} ({type(result).__name__}); return a number"
    try:
        value = float(result.item() if hasattr(result, "item") else result)
    except (TypeError, ValueError):
        return None, (
            f"objective returned {result!r} ({type(result).__name__}); return a number"
        )
    if not math.isfinite(value):
        return None, f"objective returned {value}; a trial's value must be finite"
    return value, None


def run_objective(
    objective: Callable[..., Any],
    handle: RunningTrial,
    *,
    pass_trial: bool,
    catch: tuple[type[BaseException], ...],
) -> tuple[Outcome, BaseException | None]:
    """Call the objective; return the outcome and the exception to re-raise (if not caught)."""
    try:
        result = objective(handle.config, handle) if pass_trial else objective(handle.config)
    except TrialPruned:
        last = handle.record.reports[-1][1] if handle.record.reports else None
        return Outcome(TrialState.PRUNED, last), None
    except Exception as exc:  # noqa: BLE001 - recorded, then re-raised unless caught
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
        outcome = Outcome(TrialState.FAILED, None, text)
        return outcome, None if isinstance(exc, catch) else exc
    value, problem = as_value(result)
    if problem is not None:
        return Outcome(TrialState.FAILED, None, problem), None
    return Outcome(TrialState.COMPLETE, value), None
