"""Population-based training of a small MLP on the digits bundled with scikit-learn.

Eight members train a one-hidden-layer network with SGD and momentum, epoch by epoch. Every two
epochs the worst quarter copies the weights (the checkpoint) and hyperparameters of the best quarter
and perturbs the learning rate (x0.8 or x1.2, on its log scale) and the momentum (on the scale of
1 - momentum). What comes out is not one learning rate but a schedule; the script prints the one
that trained the best model, as ``shoal lineage`` does for a stored study.

    .venv/bin/python examples/pbt_mlp.py                      # 8 members, 20 epochs, ~10 s
    .venv/bin/python examples/pbt_mlp.py --workers 2 --storage sqlite:///pbt.db
    shoal lineage pbt-mlp --storage sqlite:///pbt.db          # who copied whom, and the schedule

The network is plain numpy so the learning rate and momentum can change between any two epochs
and the whole training state (weights and velocities) is a small picklable dict.
"""

from __future__ import annotations

import argparse
import logging
from functools import lru_cache
from typing import Any

import numpy as np

import shoal
from shoal.schedulers import PBT, best_schedule

SPACE = {
    "lr": shoal.Float(1e-3, 1.0, scale="log"),
    "momentum": shoal.Float(0.5, 0.99, scale="reverse_log"),
}
HIDDEN = 32
BATCH = 64


@lru_cache(maxsize=1)
def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_val, y_val): pixels scaled to [0, 1], a fixed stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)
    return X_train, y_train, X_val, y_val


def fresh_state(seed: int = 0) -> dict[str, Any]:
    """Epoch 0: small random weights (the same for every member), zero velocities."""
    rng = np.random.default_rng(seed)
    weights = {
        "W1": rng.normal(0.0, 0.1, (64, HIDDEN)), "b1": np.zeros(HIDDEN),
        "W2": rng.normal(0.0, 0.1, (HIDDEN, 10)), "b2": np.zeros(10),
    }
    return {"epoch": 0, "weights": weights, "velocity": {k: np.zeros_like(v) for k, v in weights.items()}}


def _forward(w: dict[str, np.ndarray], X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hidden = np.maximum(X @ w["W1"] + w["b1"], 0.0)
    logits = hidden @ w["W2"] + w["b2"]
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return hidden, p / p.sum(axis=1, keepdims=True)


def train_epoch(state: dict[str, Any], lr: float, momentum: float) -> None:
    """One pass of mini-batch SGD with (heavy-ball) momentum, in place; batches shuffled by epoch."""
    X, y, _, _ = load_data()
    w, v = state["weights"], state["velocity"]
    order = np.random.default_rng(state["epoch"]).permutation(len(X))
    for start in range(0, len(X), BATCH):
        idx = order[start:start + BATCH]
        xb, yb = X[idx], y[idx]
        hidden, p = _forward(w, xb)
        p[np.arange(len(yb)), yb] -= 1.0
        p /= len(yb)
        dh = (p @ w["W2"].T) * (hidden > 0)
        grads = {"W2": hidden.T @ p, "b2": p.sum(0), "W1": xb.T @ dh, "b1": dh.sum(0)}
        for name, g in grads.items():
            v[name] = momentum * v[name] - lr * g
            w[name] += v[name]
    state["epoch"] += 1


def accuracy(state: dict[str, Any]) -> float:
    _, _, X_val, y_val = load_data()
    return float((_forward(state["weights"], X_val)[1].argmax(1) == y_val).mean())


def objective(config: dict[str, Any], trial: shoal.RunningTrial, *, epochs: int = 20) -> float:
    """Validation accuracy; resumes from ``trial.load()`` and saves a checkpoint every epoch."""
    state = trial.load() or fresh_state()
    acc = accuracy(state)
    while state["epoch"] < epochs:
        train_epoch(state, config["lr"], config["momentum"])
        acc = accuracy(state)
        if not np.isfinite(state["weights"]["W1"]).all():  # a learning rate that diverged
            acc = 0.0
        trial.save(state, state["epoch"])  # save first: the segment may end at this report
        trial.report(acc, state["epoch"])
        if trial.should_stop() or acc == 0.0:
            break
    return acc


def run(population: int = 8, epochs: int = 20, interval: int = 2, workers: int = 1,
        storage: str | None = None, seed: int = 0) -> shoal.Study:
    from functools import partial

    pbt = PBT(population=population, interval=interval, max_steps=epochs, seed=seed)
    study = shoal.Study("pbt-mlp", SPACE, direction="maximize", storage=storage, scheduler=pbt, seed=seed)
    study.optimize(partial(objective, epochs=epochs), n_workers=workers, show_progress=False)
    return study


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--interval", type=int, default=2, help="epochs per segment")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--storage", default=None, help="e.g. sqlite:///pbt.db (default: in memory)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.getLogger("shoal").setLevel(logging.WARNING)
    study = run(args.population, args.epochs, args.interval, args.workers, args.storage, args.seed)
    segments = study.storage.read_lineage(study._record.study_id)
    exploits = sum(1 for r in segments if r.donor is not None)
    best = study.best
    print(f"{args.population} members, {len(segments)} segments, {exploits} exploits; "
          f"best validation accuracy {best.value:.4f} (trial {best.number})")
    print("learned schedule of the best member:")
    print(f"  {'epochs':>9}  {'lr':>9}  {'momentum':>9}")
    changes = best_schedule(study).changes()
    for i, (first, config) in enumerate(changes):
        last = changes[i + 1][0] - 1 if i + 1 < len(changes) else args.epochs
        epochs = f"{max(first, 1)}-{last}"  # a schedule starts at step 0; epochs count from 1
        print(f"  {epochs:>9}  {config['lr']:>9.4g}  {config['momentum']:>9.4g}")


if __name__ == "__main__":
    main()
