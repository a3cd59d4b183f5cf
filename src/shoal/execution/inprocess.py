"""Run one objective call in this process and classify what came back."""

from __future__ import annotations

import inspect
import math
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import CheckpointError
from ..records import Steering
from ..trial import FailureKind, TrialHandle, TrialPruned, TrialState
from .base import Event, Executor, Finished, Job, Outcome, ReportHandler


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


def as_values(result: Mapping[Any, Any]) -> dict[Any, Any]:
    """A returned mapping in a form that travels from any worker: numbers (numpy, torch scalars) as
    floats (NaN kept: the study says why it is unusable), strings, bools and None as they are, and
    anything else as its text; keys that are not strings, ints or floats as their text."""
    out: dict[Any, Any] = {}
    for key, raw in result.items():
        if not isinstance(key, (str, int, float)):
            key = repr(key)
        if raw is None or isinstance(raw, (bool, str)):
            out[key] = raw
            continue
        try:
            out[key] = float(raw.item() if hasattr(raw, "item") else raw)
        except (TypeError, ValueError):
            out[key] = repr(raw)
    return out


def run_objective(
    objective: Callable[..., Any],
    handle: TrialHandle,
    *,
    pass_trial: bool,
    catch: tuple[type[BaseException], ...],
) -> tuple[Outcome, BaseException | None]:
    """Call the objective; return the outcome and the exception to re-raise (if not caught)."""
    try:
        result = objective(handle.config, handle) if pass_trial else objective(handle.config)
    except TrialPruned:
        return Outcome(TrialState.PRUNED, handle.last_value), None
    except Exception as exc:  # noqa: BLE001 - recorded, then re-raised unless caught
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
        lost_checkpoint = isinstance(exc, CheckpointError)  # fails its trial only, never the study
        kind = FailureKind.CHECKPOINT if lost_checkpoint else FailureKind.OBJECTIVE
        outcome = Outcome(TrialState.FAILED, None, text, kind)
        return outcome, None if isinstance(exc, catch) or lost_checkpoint else exc
    return returned(result), None


def returned(result: Any) -> Outcome:
    """What a call returned, in a form that travels from any worker, for the study to judge: a number
    as ``value``, a mapping as ``values``, anything else as ``error`` (its text)."""
    if isinstance(result, Mapping):
        return Outcome(TrialState.COMPLETE, values=as_values(result))
    if not isinstance(result, (bool, str, bytes)) and result is not None:
        try:
            return Outcome(TrialState.COMPLETE, float(result.item() if hasattr(result, "item") else result))
        except (TypeError, ValueError):
            pass
    return Outcome(TrialState.COMPLETE, error=f"objective returned {result!r} ({type(result).__name__})")


class _LocalTrial(TrialHandle):
    def __init__(
        self, key: int, number: int, config: dict[str, Any], on_report: ReportHandler,
        checkpoint: Any = None, on_checkpoint: Any = None,
    ) -> None:
        super().__init__(number, config, checkpoint)
        self._key = key
        self._on_report = on_report
        self._on_checkpoint = on_checkpoint

    def _deliver(self, step: int, value: float) -> Steering:
        return self._on_report(self._key, step, value)

    def _poll(self, from_step: int) -> Steering:
        return self._on_report(self._key, from_step, None)

    def _announce(self, step: int, uri: str) -> None:
        if self._on_checkpoint is not None:
            self._on_checkpoint(self._key, step, uri)


class InProcess(Executor):
    """Runs each call in this process, one at a time (the default for ``n_workers=1``)."""

    def __init__(self) -> None:
        self._job: Job | None = None
        self._pending: tuple[int, dict[str, Any], int, Any] | None = None
        self._on_checkpoint: Any = None

    @property
    def slots(self) -> int:
        return 1

    def start(self, job: Job, on_report: ReportHandler, on_checkpoint: Any = None) -> None:
        self._job = job
        self._on_report = on_report
        self._on_checkpoint = on_checkpoint

    def submit(self, key: int, config: dict[str, Any], number: int, checkpoint: Any = None) -> None:
        if self._pending is not None:
            raise RuntimeError("submit called while a call is pending")
        self._pending = (key, config, number, checkpoint)

    def wait(self, timeout: float | None) -> list[Event]:
        if self._pending is None or self._job is None:
            return []
        key, config, number, checkpoint = self._pending
        try:
            outcome, to_raise = run_objective(
                self._job.objective,
                _LocalTrial(key, number, config, self._on_report, checkpoint, self._on_checkpoint),
                pass_trial=self._job.pass_trial,
                catch=self._job.catch,
            )
        finally:
            self._pending = None
        return [Finished(key, outcome, to_raise)]

    def cancel(self, key: int) -> None:
        self._pending = None

    def close(self) -> None:
        self._pending = None
