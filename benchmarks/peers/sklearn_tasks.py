"""scikit-learn model-tuning tasks in the style of Bayesmark, on the datasets scikit-learn ships.

The loss is the cross-validated error with a fixed split: 1 - accuracy for classifiers, mean squared
error over the variance of y for regressors, 3 folds (shuffled with seed 0), on a fixed subsample so a
run stays affordable on a small machine. Models are seeded, so the loss is a deterministic function
of the config: every optimizer sees the same landscape. A config the model rejects scores the worst
loss (1.0 error, 2.0 relative MSE) rather than crashing the run.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np

import shoal

#: Rows kept per dataset (a fixed random subsample), so that each fit takes milliseconds.
MAX_ROWS = 500
FOLDS = 3
MAX_ITER_MLP = 30


@cache
def load(dataset: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """(X, y, is_classification) for one of scikit-learn's bundled datasets, subsampled."""
    from sklearn import datasets

    loaders = {"digits": datasets.load_digits, "breast": datasets.load_breast_cancer,
               "wine": datasets.load_wine, "diabetes": datasets.load_diabetes}
    if dataset not in loaders:
        raise ValueError(f"dataset must be one of {sorted(loaders)}, got {dataset!r}")
    x, y = loaders[dataset](return_X_y=True)
    keep = np.random.default_rng(0).permutation(len(x))[:MAX_ROWS]
    return x[keep], y[keep], dataset != "diabetes"


def _mlp(config: Mapping[str, Any], solver: str) -> Any:
    from sklearn.neural_network import MLPClassifier

    extra = {"beta_1": config["beta_1"], "beta_2": config["beta_2"]} if solver == "adam" else {
        "power_t": config["power_t"], "momentum": config["momentum"],
        "nesterovs_momentum": config["nesterovs_momentum"], "learning_rate": config["learning_rate"]}
    return MLPClassifier(
        hidden_layer_sizes=(config["hidden"],), alpha=config["alpha"], batch_size=config["batch_size"],
        learning_rate_init=config["learning_rate_init"], solver=solver, max_iter=MAX_ITER_MLP,
        random_state=0, **extra)


def _scaled(model: Any) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), model)


def _build(model: str, config: Mapping[str, Any]) -> Any:
    from sklearn import ensemble, linear_model, neighbors, svm, tree

    if model == "mlp-adam":
        return _scaled(_mlp(config, "adam"))
    if model == "mlp-sgd":
        return _scaled(_mlp(config, "sgd"))
    if model in ("rf", "dt"):
        cls = ensemble.RandomForestClassifier if model == "rf" else tree.DecisionTreeClassifier
        extra = {"n_estimators": 10} if model == "rf" else {}
        return cls(max_depth=config["max_depth"], max_features=config["max_features"],
                   min_samples_split=config["min_samples_split"], min_samples_leaf=config["min_samples_leaf"],
                   min_weight_fraction_leaf=config["min_weight_fraction_leaf"],
                   criterion=config["criterion"], random_state=0, **extra)
    if model == "hgb":
        return ensemble.HistGradientBoostingClassifier(
            learning_rate=config["learning_rate"], max_iter=config["max_iter"],
            max_leaf_nodes=config["max_leaf_nodes"], min_samples_leaf=config["min_samples_leaf"],
            l2_regularization=config["l2_regularization"], early_stopping=False, random_state=0)
    if model == "svc":
        return _scaled(svm.SVC(C=config["C"], gamma=config["gamma"], kernel=config["kernel"],
                               tol=config["tol"], random_state=0))
    if model == "knn":
        return _scaled(neighbors.KNeighborsClassifier(n_neighbors=config["n_neighbors"], p=config["p"],
                                                      weights=config["weights"]))
    if model == "lasso":
        return linear_model.Lasso(alpha=config["alpha"], fit_intercept=config["fit_intercept"],
                                  max_iter=config["max_iter"], tol=config["tol"],
                                  selection=config["selection"], random_state=0)
    if model == "ridge":
        return linear_model.Ridge(alpha=config["alpha"], fit_intercept=config["fit_intercept"],
                                  solver=config["solver"], tol=config["tol"], random_state=0)
    raise ValueError(f"unknown model {model!r}")


_TREE_SPACE = {
    "max_depth": shoal.Int(1, 15),
    "max_features": shoal.Float(0.01, 0.9),
    "min_samples_split": shoal.Float(0.01, 0.99),
    "min_samples_leaf": shoal.Float(0.01, 0.49),
    "min_weight_fraction_leaf": shoal.Float(0.01, 0.49),
    "criterion": shoal.Choice(["gini", "entropy"]),
}
_MLP_COMMON = {
    "hidden": shoal.Int(16, 128, scale="log"),
    "alpha": shoal.Float(1e-5, 10.0, scale="log"),
    "batch_size": shoal.Int(16, 128, scale="log"),
    "learning_rate_init": shoal.Float(1e-5, 1e-1, scale="log"),
}
SPACES: dict[str, dict[str, Any]] = {
    "mlp-adam": {**_MLP_COMMON, "beta_1": shoal.Float(0.5, 0.99), "beta_2": shoal.Float(0.9, 0.9999)},
    "mlp-sgd": {**_MLP_COMMON, "power_t": shoal.Float(0.1, 0.9), "momentum": shoal.Float(0.001, 0.999),
                "nesterovs_momentum": shoal.Choice([True, False]),
                "learning_rate": shoal.Choice(["constant", "invscaling", "adaptive"])},
    "rf": _TREE_SPACE,
    "dt": _TREE_SPACE,
    "hgb": {"learning_rate": shoal.Float(1e-3, 1.0, scale="log"), "max_iter": shoal.Int(5, 60, scale="log"),
            "max_leaf_nodes": shoal.Int(4, 64, scale="log"),
            "min_samples_leaf": shoal.Int(2, 64, scale="log"),
            "l2_regularization": shoal.Float(1e-6, 10.0, scale="log")},
    "svc": {"C": shoal.Float(1e-2, 1e3, scale="log"), "gamma": shoal.Float(1e-5, 1.0, scale="log"),
            "kernel": shoal.Choice(["rbf", "sigmoid"]), "tol": shoal.Float(1e-5, 1e-1, scale="log")},
    "knn": {"n_neighbors": shoal.Int(1, 25), "p": shoal.Int(1, 3),
            "weights": shoal.Choice(["uniform", "distance"])},
    "lasso": {"alpha": shoal.Float(1e-3, 10.0, scale="log"), "fit_intercept": shoal.Choice([True, False]),
              "max_iter": shoal.Int(10, 5000, scale="log"), "tol": shoal.Float(1e-5, 1e-1, scale="log"),
              "selection": shoal.Choice(["cyclic", "random"])},
    "ridge": {"alpha": shoal.Float(1e-4, 1e2, scale="log"), "fit_intercept": shoal.Choice([True, False]),
              "solver": shoal.Choice(["svd", "cholesky", "lsqr", "sag"]),
              "tol": shoal.Float(1e-5, 1e-1, scale="log")},
}
#: The (model, dataset) pairs run by default.
PAIRS = [("mlp-adam", "digits"), ("mlp-sgd", "breast"), ("rf", "wine"), ("hgb", "breast"), ("svc", "digits"),
         ("knn", "digits"), ("lasso", "diabetes"), ("ridge", "diabetes"), ("dt", "breast")]


class CVLoss:
    """The objective: cross-validated error of ``model`` on ``dataset`` for a config."""

    def __init__(self, model: str, dataset: str) -> None:
        self.model, self.dataset = model, dataset

    def __call__(self, config: Mapping[str, Any]) -> float:
        from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

        x, y, classify = load(self.dataset)
        split = (StratifiedKFold if classify else KFold)(FOLDS, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if classify:
                    return 1.0 - float(np.mean(cross_val_score(_build(self.model, config), x, y, cv=split)))
                mse = -cross_val_score(_build(self.model, config), x, y, cv=split,
                                       scoring="neg_mean_squared_error")
                loss = float(np.mean(mse) / np.var(y))
                return loss if np.isfinite(loss) and loss < 2.0 else 2.0
            except (ValueError, ArithmeticError):
                return 1.0 if classify else 2.0


def tasks() -> dict[str, tuple[dict[str, Any], Callable[[Mapping[str, Any]], float]]]:
    """Task name -> (space, objective)."""
    return {f"{model}_{data}": (SPACES[model], CVLoss(model, data)) for model, data in PAIRS}
