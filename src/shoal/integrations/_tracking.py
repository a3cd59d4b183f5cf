"""What the experiment-tracking callbacks (MLflow, Weights & Biases, TensorBoard) log of a trial.

The callbacks run in the driver, after each trial finishes (``study.optimize(..., callbacks=[cb])``),
so workers, local or on Dask, need no tracking credentials. Each reads the finished ``Trial`` record
through ``describe`` and writes it in its tool's terms; a tool's setup error raises, a failure to log
one trial warns and lets the study go on.
"""

from __future__ import annotations

import importlib
import json
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from shoal.trial import Trial, TrialState

if TYPE_CHECKING:  # pragma: no cover
    from shoal.study import Study

__all__ = ["TrialLog", "describe", "require", "check_names", "TrackingCallback", "short_json"]

#: Longest error line kept (trackers limit tag sizes; the full traceback stays in the study).
ERROR_CHARS = 500


def require(module: str, extra: str, user: str) -> ModuleType:
    """Import ``module`` or raise an ImportError that names the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{user} needs the {module!r} package: pip install 'shoal[{extra}]' ({exc})"
        ) from exc


def check_names(metric_name: Any, report_name: Any) -> tuple[str, str]:
    """The metric names, checked: non-empty and different strings."""
    for parameter, value in (("metric_name", metric_name), ("report_name", report_name)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{parameter} must be a non-empty string such as 'accuracy', got {value!r}")
    if metric_name == report_name:
        raise ValueError(
            f"metric_name and report_name are both {metric_name!r}: the final value and the reports "
            "need different names, e.g. metric_name='accuracy', report_name='accuracy_by_step'"
        )
    return metric_name, report_name


@dataclass(frozen=True)
class TrialLog:
    """One finished trial as the trackers log it.

    ``finals``: the final value under the callback's ``metric_name`` and, for a study with several
    objectives or constraints, each named value; ``reports``: ``(step, value)`` by step;
    ``meta``: state, trial number and whatever else is known (proposed_by, duration, failure, error,
    requeued_from, feasible); ``schedule``: the hyperparameters over the steps, for a trial whose
    hyperparameters changed while it ran (tweaks, rules, PBT) or that was forked.
    """

    study: str
    number: int
    state: TrialState
    config: dict[str, Any]
    finals: dict[str, float]
    reports: list[tuple[int, float]]
    meta: dict[str, Any]
    schedule: list[list[Any]] | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def run_name(self) -> str:
        return f"trial-{self.number}"


def describe(study: Study, trial: Trial, metric_name: str) -> TrialLog:
    """What to log of ``trial`` (a finished trial of ``study``)."""
    finals: dict[str, float] = {}
    if trial.value is not None:
        finals[metric_name] = float(trial.value)
    for name, value in trial.values.items():
        finals.setdefault(name, float(value))
    meta: dict[str, Any] = {"state": trial.state.value, "trial": trial.number}
    if trial.proposed_by:
        meta["proposed_by"] = trial.proposed_by
    if trial.duration is not None:
        meta["duration"] = round(trial.duration, 6)
    if trial.failure is not None:
        meta["failure"] = trial.failure.value
    if trial.error:
        lines = trial.error.strip().splitlines()
        meta["error"] = (lines[-1] if lines else "")[:ERROR_CHARS]
    if trial.requeued_from is not None:
        meta["requeued_from"] = trial.requeued_from
    if trial.feasible is not None:
        meta["feasible"] = trial.feasible
    schedule = None
    if trial.changes:
        schedule = [[step, dict(config)] for step, config in trial.schedule]
    return TrialLog(
        study=study.name,
        number=trial.number,
        state=trial.state,
        config=dict(trial.config),
        finals=finals,
        reports=sorted(dict(trial.reports).items()),
        meta=meta,
        schedule=schedule,
        started=None if trial.started_at is None else trial.started_at.timestamp(),
        finished=None if trial.finished_at is None else trial.finished_at.timestamp(),
    )


def short_json(value: Any, limit: int) -> str:
    """``value`` as JSON, cut to ``limit`` characters (with a marker) when longer."""
    text = json.dumps(value, default=str, separators=(",", ":"))
    if len(text) <= limit:
        return text
    marker = "...(cut; the full value is in the study)"
    return text[: limit - len(marker)] + marker


class TrackingCallback(ABC):
    """A study callback that logs each finished trial; subclasses implement ``_setup`` and ``_log``.

    ``_setup`` runs once per study (errors raise: a wrong URI or project fails the first trial's
    logging loudly); ``_log`` once per trial (errors warn, and the study goes on).
    """

    tool = "tracking"

    def __init__(self, metric_name: str, report_name: str) -> None:
        self.metric_name, self.report_name = check_names(metric_name, report_name)
        self._ready: set[str] = set()

    def __call__(self, study: Study, trial: Trial) -> None:
        if not trial.state.finished:
            return
        if study.name not in self._ready:
            self._setup(study)
            self._ready.add(study.name)
        record = describe(study, trial, self.metric_name)
        try:
            self._log(study, record)
        except Exception as exc:  # a tracking hiccup must not end a long study
            warnings.warn(
                f"{type(self).__name__}: trial {trial.number} of study {study.name!r} was not logged to "
                f"{self.tool}: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )

    def _setup(self, study: Study) -> None:
        """Prepare logging for ``study`` (once per study and callback)."""

    @abstractmethod
    def _log(self, study: Study, record: TrialLog) -> None:
        """Write one finished trial to the tracking tool."""
