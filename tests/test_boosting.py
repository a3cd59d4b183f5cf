"""Pruning callbacks for XGBoost and LightGBM: every round reported, poor trials stopped mid-training."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import shoal
from shoal.schedulers import MedianStopping

X, Y = load_breast_cancer(return_X_y=True)
X_TRAIN, Y_TRAIN, X_VALID, Y_VALID = X[::2], Y[::2], X[1::2], Y[1::2]
ROUNDS = 20
GOOD, BAD = 0.3, 1e-4  # a learning rate that learns, and one whose logloss barely moves


def _study(library: str) -> shoal.Study:
    # median stopping from the first finished trial: a round whose logloss is worse than the median
    # of the other trials at that round stops the trial
    study = shoal.Study(
        f"{library}-pruning",
        {"lr": shoal.Float(1e-5, 1.0, scale="log")},
        scheduler=MedianStopping(n_startup=1),
    )
    study.enqueue({"lr": GOOD})
    study.enqueue({"lr": BAD})
    return study


def _check(study: shoal.Study, logged: dict[int, list[float]]) -> None:
    good, bad = study.trials
    assert good.state == shoal.TrialState.COMPLETE
    # every boosting round reported, as the library itself logged it
    assert [s for s, _ in good.reports] == list(range(ROUNDS))
    assert [v for _, v in good.reports] == pytest.approx(logged[good.number])
    assert bad.state == shoal.TrialState.PRUNED
    assert 1 <= len(bad.reports) < ROUNDS  # stopped mid-training, not at the end
    assert len(logged[bad.number]) == len(bad.reports)  # training stopped the round it was told to


def test_xgboost_callback_reports_each_round_and_stops_poor_trials():
    xgb = pytest.importorskip("xgboost")
    from shoal.xgboost import PruningCallback

    logged: dict[int, list[float]] = {}
    dtrain, dvalid = xgb.DMatrix(X_TRAIN, Y_TRAIN), xgb.DMatrix(X_VALID, Y_VALID)

    class Record(xgb.callback.TrainingCallback):  # what XGBoost itself evaluated, round by round
        def __init__(self, out):
            self.out = out

        def after_iteration(self, model, epoch, evals_log):
            self.out.append(evals_log["valid"]["logloss"][-1])
            return False

    def objective(config, trial):
        logged[trial.number] = []
        params = {"objective": "binary:logistic", "eta": config["lr"], "max_depth": 2, "nthread": 1}
        booster = xgb.train(params, dtrain, ROUNDS, evals=[(dvalid, "valid")], verbose_eval=False,
                            callbacks=[Record(logged[trial.number]), PruningCallback(trial, "valid-logloss")])
        return float(booster.eval(dvalid).split(":")[1])

    study = _study("xgboost")
    study.optimize(objective, n_trials=2, show_progress=False)
    _check(study, logged)


def test_xgboost_sklearn_api_and_default_metric():
    xgb = pytest.importorskip("xgboost")
    from shoal.xgboost import PruningCallback

    study = shoal.Study("xgb-sklearn", {"lr": shoal.Float(0.05, 0.5)})
    trial = study.ask()
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1, eval_metric=["error", "logloss"],
                              callbacks=[PruningCallback(trial)])
    model.fit(X_TRAIN, Y_TRAIN, eval_set=[(X_VALID, Y_VALID)], verbose=False)
    # the last metric of the last evaluation set: the one XGBoost's early stopping watches
    logloss = model.evals_result()["validation_0"]["logloss"]
    assert [v for _, v in study.trials[0].reports] == pytest.approx(logloss)


def test_lightgbm_callback_reports_each_round_and_stops_poor_trials():
    lgb = pytest.importorskip("lightgbm")
    from shoal.lightgbm import PruningCallback

    logged: dict[int, list[float]] = {}

    def objective(config, trial):
        logged[trial.number] = []

        def record(env):  # what LightGBM itself evaluated, round by round
            logged[trial.number].append(env.evaluation_result_list[0][2])

        record.order = 20
        dtrain = lgb.Dataset(X_TRAIN, Y_TRAIN)
        dvalid = lgb.Dataset(X_VALID, Y_VALID, reference=dtrain)
        params = {"objective": "binary", "learning_rate": config["lr"], "num_leaves": 4, "verbose": -1,
                  "num_threads": 1}
        lgb.train(params, dtrain, ROUNDS, valid_sets=[dvalid], valid_names=["valid"],
                  callbacks=[record, PruningCallback(trial, "valid-binary_logloss")])
        return logged[trial.number][-1]

    study = _study("lightgbm")
    study.optimize(objective, n_trials=2, show_progress=False)
    _check(study, logged)


def test_a_person_can_stop_a_trial_through_storage(sqlite_url: str):
    lgb = pytest.importorskip("lightgbm")
    from shoal.lightgbm import PruningCallback

    study = shoal.Study("stop-by-hand", {"lr": shoal.Float(0.05, 0.5)}, storage=sqlite_url)
    trial = study.ask()
    stop_at = 3

    def stop_request(env):  # another process (the CLI, the dashboard) asks the trial to stop
        if env.iteration == stop_at:
            assert study.storage.request_stop(trial.record.trial_id)

    stop_request.order = 20
    with pytest.raises(shoal.TrialPruned, match="step 3"):
        lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(X_TRAIN, Y_TRAIN),
                  ROUNDS, valid_sets=[lgb.Dataset(X_VALID, Y_VALID)],
                  callbacks=[stop_request, PruningCallback(trial)])
    assert [s for s, _ in study.trials[0].reports] == [0, 1, 2, 3]


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_bad_arguments_name_the_fix(library):
    pytest.importorskip(library)
    module = __import__(f"shoal.{library}", fromlist=["PruningCallback"])
    with pytest.raises(ValueError, match="trial must be the trial handle"):
        module.PruningCallback({"lr": 0.1})
    study = shoal.Study(f"bad-{library}", {"lr": shoal.Float(0.05, 0.5)})
    trial = study.ask()
    callback = module.PruningCallback(trial, metric="valid-nope")
    with pytest.raises(ValueError, match="'valid-nope' is not evaluated; the metrics are"):
        if library == "xgboost":
            import xgboost as xgb

            xgb.train({"nthread": 1}, xgb.DMatrix(X_TRAIN, Y_TRAIN), 2,
                      evals=[(xgb.DMatrix(X_VALID, Y_VALID), "valid")], callbacks=[callback],
                      verbose_eval=False)
        else:
            import lightgbm as lgb

            lgb.train({"verbose": -1, "num_threads": 1}, lgb.Dataset(X_TRAIN, Y_TRAIN), 2,
                      valid_sets=[lgb.Dataset(X_VALID, Y_VALID)], callbacks=[callback])


def test_diverged_value_prunes_without_reporting():
    from shoal.integrations._pruning import report_or_stop

    study = shoal.Study("nan", {"lr": shoal.Float(0.05, 0.5)})
    trial = study.ask()
    with pytest.raises(shoal.TrialPruned, match="nan"):
        report_or_stop(trial, float(np.nan), 0, "valid-l2")
    assert study.trials[0].reports == []
