"""LightGBM: report the evaluation metric each boosting round, stop the round the study says so.

``lgb.train(params, dtrain, valid_sets=[dvalid], callbacks=[PruningCallback(trial)])`` or
``LGBMClassifier().fit(X, y, eval_set=[(Xv, yv)], callbacks=[PruningCallback(trial)])``. The
reported metric is ``"<data>-<metric>"`` (e.g. ``"valid_0-binary_logloss"``), by default the last
one evaluated. A stopped trial raises ``shoal.TrialPruned`` out of training (trial PRUNED).
"""

from __future__ import annotations

from typing import Any

from ._pruning import check_trial, pick_metric, report_or_stop

__all__ = ["PruningCallback"]


class PruningCallback:
    """Reports ``metric`` to ``trial`` after every boosting round (step = round number)."""

    def __init__(self, trial: Any, metric: str | None = None) -> None:
        import lightgbm  # noqa: F401 - fail here, not mid-training, when it is missing

        self.trial = check_trial(trial, "PruningCallback")
        self.metric = metric
        # instance attributes: lightgbm gives callbacks without an ``order`` in __dict__ a negative one
        self.order = 30  # after LightGBM's own logging and evaluation recording (order 10, 20)
        self.before_iteration = False

    def __call__(self, env: Any) -> None:
        values = {f"{entry[0]}-{entry[1]}": entry[2] for entry in env.evaluation_result_list or []}
        name = pick_metric(list(values), self.metric, "PruningCallback")
        report_or_stop(self.trial, float(values[name]), int(env.iteration), name)
