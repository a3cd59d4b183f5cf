"""MLflow: one run per trial, nested under one run per study (``shoal.mlflow.MLflowCallback``).

``study.optimize(objective, callbacks=[MLflowCallback(tracking_uri="sqlite:///mlflow.db")])``. The
driver logs each trial when it finishes, so workers (local or Dask) need no MLflow credentials.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shoal.trial import TrialState

from ._tracking import TrackingCallback, TrialLog, require, short_json

if TYPE_CHECKING:  # pragma: no cover
    from shoal.study import Study

_mlflow = require("mlflow", "mlflow", "shoal.mlflow")
from mlflow.entities import Metric, Param, ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

__all__ = ["MLflowCallback", "STUDY_TAG", "ROLE_TAG", "PARENT_TAG"]

#: The tag that names the study on the study's run and on each trial's run.
STUDY_TAG = "shoal.study"
#: ``"study"`` on the parent run, ``"trial"`` on a trial's run.
ROLE_TAG = "shoal.role"
#: MLflow's own tag for nesting a run under another.
PARENT_TAG = "mlflow.parentRunId"
#: MLflow's per-request limits of ``log_batch``.
_BATCH = {"metrics": 1000, "params": 100}
_TAG_CHARS = 5000  # under MLflow's tag value limit (8000 in 2.x, 5000 in older servers)
_STATUS = {TrialState.COMPLETE: "FINISHED", TrialState.FAILED: "FAILED", TrialState.PRUNED: "KILLED",
           TrialState.STALE: "KILLED"}


class MLflowCallback(TrackingCallback):
    """Log each finished trial as an MLflow run nested under the study's run.

    A trial's run has the config as params, the final value as metric ``metric_name`` (and, for a
    study with several objectives or constraints, each named value under its name), each report as
    metric ``report_name`` at its step, and tags ``shoal.state``, ``shoal.trial``,
    ``shoal.proposed_by`` (the sampler's reason), ``shoal.duration`` and, where they apply,
    ``shoal.failure``, ``shoal.error``, ``shoal.schedule`` (JSON, for a tweaked or forked trial).
    Its status is FINISHED (COMPLETE), KILLED (PRUNED) or FAILED. The study's run is created on first
    use and found again (by its ``shoal.study`` tag) when the study resumes.

    ``tracking_uri``: where to log (None: MLflow's default, ``MLFLOW_TRACKING_URI``);
    ``experiment_name``: the MLflow experiment (default: the study's name; created when missing).
    """

    tool = "MLflow"

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str | None = None,
        metric_name: str = "value",
        *,
        report_name: str = "report",
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(metric_name, report_name)
        if tracking_uri is not None and (not isinstance(tracking_uri, str) or not tracking_uri.strip()):
            raise ValueError(
                f"tracking_uri must be an MLflow tracking URI such as 'sqlite:///mlflow.db' or "
                f"'http://host:5000', or None for MLflow's default; got {tracking_uri!r}"
            )
        if experiment_name is not None and (
            not isinstance(experiment_name, str) or not experiment_name.strip()
        ):
            raise ValueError(
                "experiment_name must be a non-empty string, or None for the study's name; got "
                f"{experiment_name!r}"
            )
        if tags is not None and not isinstance(tags, Mapping):
            raise ValueError(f"tags must be a mapping of tag names to values, got {tags!r}")
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.client = MlflowClient(tracking_uri=tracking_uri)
        #: study name -> (experiment id, the study's run id)
        self.runs: dict[str, tuple[str, str]] = {}

    # -- the study's run -----------------------------------------------------------------------
    def _setup(self, study: Study) -> None:
        experiment = self._experiment(self.experiment_name or study.name)
        self.runs[study.name] = (experiment, self._study_run(experiment, study))

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is None:
            try:
                return self.client.create_experiment(name)
            except MlflowException:  # another driver created it meanwhile
                found = self.client.get_experiment_by_name(name)
                if found is None:
                    raise
        if found.lifecycle_stage != "active":
            raise ValueError(
                f"MLflow experiment {name!r} is deleted; restore it (mlflow experiments restore) or pass "
                "another experiment_name"
            )
        return found.experiment_id

    def _study_runs(self, experiment: str, study: str) -> list[Any]:
        runs = self.client.search_runs(
            [experiment], filter_string=f"tags.`{ROLE_TAG}` = 'study'", run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1000, order_by=["attributes.start_time ASC"],
        )
        mine = [r for r in runs if r.data.tags.get(STUDY_TAG) == study]
        return sorted(mine, key=lambda r: (r.info.start_time, r.info.run_id))

    def _study_run(self, experiment: str, study: Study) -> str:
        runs = self._study_runs(experiment, study.name)
        if runs:
            return runs[0].info.run_id
        tags = {**self.tags, STUDY_TAG: study.name, ROLE_TAG: "study",
                "shoal.objectives": study.objectives.describe(), "shoal.sampler": study.sampler.describe()}
        if study.scheduler is not None:
            tags["shoal.scheduler"] = _describe(study.scheduler)
        created = self.client.create_run(experiment, run_name=study.name, tags=tags)
        runs = self._study_runs(experiment, study.name)  # two drivers may have raced: the oldest wins
        first = runs[0].info.run_id if runs else created.info.run_id
        if first != created.info.run_id:
            self.client.delete_run(created.info.run_id)
        return first

    # -- a trial's run -------------------------------------------------------------------------
    def _log(self, study: Study, record: TrialLog) -> None:
        experiment, parent = self.runs[study.name]
        tags = {**self.tags, PARENT_TAG: parent, STUDY_TAG: record.study, ROLE_TAG: "trial"}
        for key, value in record.meta.items():
            tags[f"shoal.{key}"] = str(value)
        if record.schedule is not None:
            tags["shoal.schedule"] = short_json(record.schedule, _TAG_CHARS)
        start = _ms(record.started)
        run = self.client.create_run(experiment, start_time=start, tags=tags, run_name=record.run_name)
        run_id = run.info.run_id
        end = _ms(record.finished) or int(time.time() * 1000)
        metrics = [Metric(self.report_name, value, end, step) for step, value in record.reports]
        metrics += [Metric(name, value, end, 0) for name, value in record.finals.items()]
        params = [Param(name, _param(value)) for name, value in record.config.items()]
        try:
            for i in range(0, len(params), _BATCH["params"]):
                self.client.log_batch(run_id, params=params[i: i + _BATCH["params"]])
            for i in range(0, len(metrics), _BATCH["metrics"]):
                self.client.log_batch(run_id, metrics=metrics[i: i + _BATCH["metrics"]])
        except Exception:
            self.client.set_terminated(run_id, "FAILED", end_time=end)  # half logged: not left RUNNING
            raise
        self.client.set_terminated(run_id, _STATUS.get(record.state, "FINISHED"), end_time=end)
        self.client.set_terminated(parent, "FINISHED")  # the study's run ends with its latest trial


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def _param(value: Any) -> str:
    return str(value)[:6000]


def _describe(thing: Any) -> str:
    describe = getattr(thing, "describe", None)
    return str(describe()) if callable(describe) else type(thing).__name__
