"""XGBoost: report the evaluation metric each boosting round, stop the round the study says so.

``xgb.train(params, dtrain, evals=[(dvalid, "valid")], callbacks=[PruningCallback(trial)])`` or
``XGBClassifier(callbacks=[PruningCallback(trial)]).fit(X, y, eval_set=[(Xv, yv)])``. The reported
metric is ``"<data>-<metric>"`` (e.g. ``"valid-logloss"``, ``"validation_0-auc"``), by default the
last one evaluated (what XGBoost's early stopping watches). A stopped trial raises
``shoal.TrialPruned`` out of training, which ends the trial as PRUNED.
"""

from __future__ import annotations

from typing import Any

import xgboost

from ._pruning import check_trial, flatten, pick_metric, report_or_stop

__all__ = ["PruningCallback"]


class PruningCallback(xgboost.callback.TrainingCallback):
    """Reports ``metric`` to ``trial`` after every boosting round (step = round number)."""

    def __init__(self, trial: Any, metric: str | None = None) -> None:
        super().__init__()
        self.trial = check_trial(trial, "PruningCallback")
        self.metric = metric

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        values = flatten(evals_log)
        name = pick_metric(list(values), self.metric, "PruningCallback")
        last = values[name][-1]
        score = float(last[0] if isinstance(last, tuple) else last)  # (mean, std) under xgb.cv
        report_or_stop(self.trial, score, int(epoch), name)
        return False
