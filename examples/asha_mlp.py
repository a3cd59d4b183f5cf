"""ASHA on a scikit-learn MLP trained one epoch at a time on the digits data.

Two studies test the same configurations (same sampler seed): plain random search trains every one
for ``--epochs`` epochs; ASHA stops the ones that fall out of the top third at a rung (1, 3, 9, ...
epochs). The script prints the epochs each trained and the best validation accuracy each found::

    python examples/asha_mlp.py              # 30 configurations, 27 epochs: well under a minute
    python examples/asha_mlp.py --small      # 8 configurations, 9 epochs (what the tests run)
    python examples/asha_mlp.py --mode promote   # pause at rungs, resume the best from checkpoints

The objective is a plain ``objective(config, trial)``: it reports the validation accuracy after each
epoch and stops when the scheduler says so (``trial.should_stop()``).
"""

from __future__ import annotations

import argparse
import pickle
import warnings
from functools import lru_cache
from typing import Any

import numpy as np

import shoal
from shoal.samplers import Random
from shoal.schedulers import ASHA

__all__ = ["SPACE", "load_data", "train", "epochs_trained", "run"]

SPACE: dict[str, shoal.Dimension] = {
    "learning_rate": shoal.Float(1e-4, 1.0, scale="log"),
    "momentum": shoal.Float(0.5, 0.99, scale="reverse_log"),
    "hidden_units": shoal.Int(8, 128, scale="log"),
    "batch_size": shoal.Choice([16, 32, 64, 128, 256]),
    "l2": shoal.Float(1e-6, 1e-1, scale="log"),
}

#: Model checkpoints of paused trials, for ``--mode promote`` (trials run in this process).
_CHECKPOINTS: dict[int, bytes] = {}


@lru_cache(maxsize=1)
def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 1,797 digits scaled to [0, 1], split 75/25 (stratified, always the same rows)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x / 16.0, y, test_size=0.25, random_state=0, stratify=y
    )
    return x_train, x_val, y_train, y_val


def _model(config: dict[str, Any]):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(int(config["hidden_units"]),),
        solver="sgd",
        learning_rate_init=float(config["learning_rate"]),
        momentum=float(config["momentum"]),
        batch_size=int(config["batch_size"]),
        alpha=float(config["l2"]),
        random_state=0,
    )


def train(config: dict[str, Any], trial, epochs: int, checkpoints: dict | None = None) -> float:
    """Train up to ``epochs`` epochs, reporting validation accuracy after each; return the last.

    With ``checkpoints`` (a dict), the model is saved there after every epoch and a trial that was
    paused resumes from it.
    """
    from threadpoolctl import threadpool_limits

    x_train, x_val, y_train, y_val = load_data()
    classes = np.arange(10)
    key = trial.number
    start, model = 0, None
    if checkpoints is not None and key in checkpoints:
        start, model = pickle.loads(checkpoints[key])
    model = model or _model(config)
    accuracy = 0.0
    with warnings.catch_warnings(), threadpool_limits(1):  # small matrices: one BLAS thread is fastest
        warnings.simplefilter("ignore")  # divergent learning rates overflow; they score as chance
        for epoch in range(start + 1, epochs + 1):
            model.partial_fit(x_train, y_train, classes=classes)
            accuracy = float(model.score(x_val, y_val))
            if checkpoints is not None:
                checkpoints[key] = pickle.dumps((epoch, model))
            trial.report(accuracy, epoch)
            if trial.should_stop():
                raise shoal.TrialPruned()
    return accuracy


def epochs_trained(study: shoal.Study) -> int:
    """Epochs the study's trials trained: each trial's last reported step (resumed trials go on)."""
    return sum(t.reports[-1][0] for t in study.trials if t.reports)


def run(n_trials: int, epochs: int, *, seed: int = 0, mode: str = "stop") -> dict[str, tuple[int, float]]:
    """Random search and ASHA on the same configurations: ``{name: (epochs trained, best accuracy)}``."""
    _CHECKPOINTS.clear()
    out = {}
    for name, scheduler, checkpoints in (
        ("random search", None, None),
        (f"ASHA ({mode})", ASHA(min_resource=1, reduction_factor=3, max_resource=epochs, mode=mode),
         _CHECKPOINTS if mode == "promote" else None),
    ):
        study = shoal.Study(
            "asha-mlp", SPACE, "maximize", sampler=Random(), scheduler=scheduler, seed=seed
        )
        study.optimize(
            lambda c, t, saved=checkpoints: train(c, t, epochs, saved), n_trials, show_progress=False
        )
        out[name] = (epochs_trained(study), study.best.value)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="configurations each search tests")
    parser.add_argument("--epochs", type=int, default=27, help="epochs of a fully trained trial")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=("stop", "promote"), default="stop")
    parser.add_argument("--small", action="store_true", help="8 configurations of 9 epochs")
    args = parser.parse_args(argv)
    if args.small:
        args.trials, args.epochs = 8, 9
    results = run(args.trials, args.epochs, seed=args.seed, mode=args.mode)
    base_epochs, base_best = results["random search"]
    name, (asha_epochs, asha_best) = list(results.items())[1]
    print(f"{'search':<16} {'epochs':>7} {'best accuracy':>14}")
    print(f"{'random search':<16} {base_epochs:>7} {base_best:>14.4f}")
    print(f"{name:<16} {asha_epochs:>7} {asha_best:>14.4f}")
    print(f"ASHA trained {asha_epochs / base_epochs:.0%} of the epochs "
          f"(saved {1 - asha_epochs / base_epochs:.0%}); best accuracy {asha_best - base_best:+.4f}")


if __name__ == "__main__":
    main()
