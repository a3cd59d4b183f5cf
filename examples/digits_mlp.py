"""The demo's objective: a scikit-learn MLP on the digits data bundled with scikit-learn.

The space covers the hyperparameters the course notes rank, each on the scale it deserves:

1. the learning rate, log scale (as much search in [1e-4, 1e-3] as in [1e-2, 1e-1]);
2. the momentum beta, hidden units, mini-batch size;
3. the number of layers, the learning-rate decay;
4. Adam's beta1, beta2 and epsilon (only when the solver is Adam);

plus the L2 penalty (log scale) and the solver itself. The objective is the accuracy on a fixed
stratified validation split, after a short training run (a few epochs) so one trial takes well under
a second. ``objective`` trains and scores once; ``objective_by_epoch`` runs the same training one epoch
at a time, reports the accuracy after each and stops when the study's scheduler says so (the demo's
second act, with ASHA). A configuration trained to the end scores the same either way.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import shoal

__all__ = ["SPACE", "EPOCHS", "load_data", "build_model", "train", "objective", "objective_by_epoch"]

#: Passes over the training data per trial: short on purpose (the demo runs 120+ trials on 2 cores).
EPOCHS = 10
#: Fraction of the 1,797 digits held out for validation (stratified, always the same rows).
VALIDATION_FRACTION = 0.25

SPACE: dict[str, shoal.Dimension] = {
    # Parents come before the dimensions that depend on them.
    "solver": shoal.Choice(["adam", "sgd"]),
    # 10**r with r uniform in [-4, -1]: equal search effort per decade.
    "learning_rate": shoal.Float(1e-4, 1e-1, scale="log"),
    # Momentum beta of SGD: 1 - beta is log-uniform in [0.001, 0.1], so [0.99, 0.999] (averaging over
    # ~100 to ~1000 steps) gets as many trials as [0.9, 0.99]. Adam's counterpart is beta1 below.
    "momentum": shoal.Float(0.9, 0.999, scale="reverse_log", when={"solver": ["sgd"]}),
    # Width of every hidden layer; log scale, as 16 -> 32 matters as much as 128 -> 256.
    "hidden_units": shoal.Int(16, 256, scale="log"),
    "batch_size": shoal.Choice([32, 64, 128, 256]),
    "n_layers": shoal.Int(1, 3),
    # Learning-rate decay for SGD. scikit-learn's learning_rate="invscaling" sets, after every
    # epoch, rate = learning_rate / (t + 1) ** power_t where t counts the samples seen so far, so
    # power_t is the decay: 0 keeps the rate constant, 0.25 divides it by ~6 after the first
    # epoch and by ~11 after ten. Adam ignores this schedule (it scales its own steps); and
    # learning_rate="adaptive" would be no decay at all here: scikit-learn only cuts the rate after
    # n_iter_no_change (10) epochs without progress, which a 10-epoch run never reaches.
    "lr_decay": shoal.Float(0.0, 0.5, when={"solver": ["sgd"]}),
    "beta1": shoal.Float(0.8, 0.99, scale="reverse_log", when={"solver": ["adam"]}),
    "beta2": shoal.Float(0.99, 0.9999, scale="reverse_log", when={"solver": ["adam"]}),
    "epsilon": shoal.Float(1e-10, 1e-6, scale="log", when={"solver": ["adam"]}),
    # L2 penalty (scikit-learn's alpha).
    "l2": shoal.Float(1e-6, 1e-1, scale="log"),
}


@lru_cache(maxsize=1)
def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, X_val, y_train, y_val): the digits, pixels scaled to [0, 1], a fixed stratified split."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=VALIDATION_FRACTION, stratify=y, random_state=0
    )
    return X_train, X_val, y_train, y_val


def build_model(config: Mapping[str, Any], *, epochs: int = EPOCHS) -> MLPClassifier:
    """The classifier a configuration describes (weights initialised, and the data shuffled before each
    epoch, the same way every time: the random state is a fresh ``RandomState(0)``)."""
    common: dict[str, Any] = {
        "hidden_layer_sizes": (int(config["hidden_units"]),) * int(config["n_layers"]),
        "alpha": config["l2"],
        "batch_size": int(config["batch_size"]),
        "learning_rate_init": config["learning_rate"],
        "max_iter": epochs,
        "early_stopping": False,
        # An instance, not the int 0: partial_fit re-reads random_state on every call, and an int
        # would shuffle every epoch in the same order.
        "random_state": np.random.RandomState(0),
    }
    if config["solver"] == "sgd":
        return MLPClassifier(
            solver="sgd",
            momentum=config["momentum"],
            nesterovs_momentum=True,
            learning_rate="invscaling",
            power_t=config["lr_decay"],
            **common,
        )
    return MLPClassifier(
        solver="adam",
        beta_1=config["beta1"],
        beta_2=config["beta2"],
        epsilon=config["epsilon"],
        **common,
    )


def train(config: Mapping[str, Any], trial: Any = None, *, epochs: int = EPOCHS) -> float:
    """Train ``epochs`` epochs and return the validation accuracy. With a ``trial``, report the accuracy
    after every epoch (step = epochs so far) and stop early (``shoal.TrialPruned``) when it says so."""
    X_train, X_val, y_train, y_val = load_data()
    model = build_model(config, epochs=epochs)
    classes = np.arange(10)
    # One BLAS thread: the matrices are small, and on a 2-core machine a second thread costs more in
    # synchronisation than it gains (measured ~1.4x slower per trial); worker processes too.
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # A divergent learning rate overflows; such a run scores as chance, which is the point.
        warnings.simplefilter("ignore", RuntimeWarning)
        for epoch in range(1, epochs + 1):
            model.partial_fit(X_train, y_train, classes=classes)  # one epoch
            if trial is not None:
                trial.report(float(model.score(X_val, y_val)), step=epoch)
                if trial.should_stop():
                    raise shoal.TrialPruned()
        return float(model.score(X_val, y_val))


def objective(config: Mapping[str, Any]) -> float:
    """Validation accuracy of the configuration after ``EPOCHS`` epochs (to maximize)."""
    return train(config)


def objective_by_epoch(config: Mapping[str, Any], trial: Any) -> float:
    """``objective``, reporting the validation accuracy after every epoch: a scheduler (ASHA) may stop
    the trial at a rung, keeping its last reported accuracy."""
    return train(config, trial)
