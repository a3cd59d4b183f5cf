"""Weights & Biases: one run per trial, grouped by the study's name (``shoal.wandb.WandbCallback``).

``study.optimize(objective, callbacks=[WandbCallback(project="digits")])``. The driver logs each trial
when it finishes, so workers (local or Dask) need no W&B login.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shoal.trial import TrialState

from ._tracking import TrackingCallback, TrialLog, require

if TYPE_CHECKING:  # pragma: no cover
    from shoal.study import Study

wandb = require("wandb", "wandb", "shoal.wandb")

__all__ = ["WandbCallback"]

#: ``wandb.init`` arguments the callback sets itself for each trial's run.
_OWN = frozenset({"group", "name", "config", "reinit", "id", "resume", "job_type"})


class WandbCallback(TrackingCallback):
    """Log each finished trial as a W&B run in group ``<study name>`` (job type ``trial``).

    A trial's run has the config as its config, each report as ``report_name`` in its history at the
    report's step, and in its summary the final value as ``metric_name`` (plus each named value of a
    study with several objectives or constraints), ``state``, ``trial``, ``proposed_by`` (the
    sampler's reason), ``duration`` and, where they apply, ``failure``, ``error`` and ``schedule``
    (a tweaked or forked trial's hyperparameters over its steps). Its tags hold the state; a FAILED
    trial's run exits with code 1.

    ``project``: the W&B project (None: the study's name); ``entity``: the team or user (None: your
    default); ``wandb_kwargs``: more ``wandb.init`` arguments (``mode``, ``dir``, ``tags``, ``settings``...).
    """

    tool = "Weights & Biases"

    def __init__(
        self,
        project: str | None = None,
        entity: str | None = None,
        metric_name: str = "value",
        *,
        report_name: str = "report",
        wandb_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(metric_name, report_name)
        for parameter, value in (("project", project), ("entity", entity)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{parameter} must be a non-empty string or None, got {value!r}")
        if wandb_kwargs is not None and not isinstance(wandb_kwargs, Mapping):
            raise ValueError(f"wandb_kwargs must be a mapping of wandb.init arguments, got {wandb_kwargs!r}")
        kwargs = dict(wandb_kwargs or {})
        taken = sorted(_OWN & set(kwargs))
        if taken:
            raise ValueError(
                f"wandb_kwargs sets {taken}, which WandbCallback sets for each trial's run (group: the "
                "study, name: trial-<n>, config: its config); leave them out"
            )
        self.project = project
        self.entity = entity
        self.wandb_kwargs = kwargs

    def _log(self, study: Study, record: TrialLog) -> None:
        kwargs = dict(self.wandb_kwargs)
        tags = [*(kwargs.pop("tags", None) or ()), record.state.value]
        run = wandb.init(
            **kwargs,
            project=self.project or study.name,
            entity=self.entity,
            group=study.name,
            job_type="trial",
            name=record.run_name,
            config=dict(record.config),
            tags=tags,
            reinit="create_new",
        )
        failed = record.state == TrialState.FAILED
        try:
            for step, value in record.reports:
                run.log({self.report_name: value}, step=step)
            summary: dict[str, Any] = {**record.finals, **record.meta}
            if record.schedule is not None:
                summary["schedule"] = record.schedule
            run.summary.update(summary)
        except BaseException:
            run.finish(exit_code=1)
            raise
        run.finish(exit_code=1 if failed else 0)
