"""A plain PyTorch training loop tuned by shoal: reports, early stopping, checkpoints, parallel workers.

An MLP on the bundled digits data (no download). Each trial trains epoch by epoch; after every epoch
it saves a checkpoint (``trial.save``), reports the validation accuracy (``trial.report``) and stops
when ASHA says so (``trial.should_stop()``). A trial that starts from a checkpoint (``trial.load()``:
its own after a restart, or the one it was paused at) picks up at the next epoch. Trials run in
``--workers`` local processes at once; the study is kept in SQLite, so running the script again
resumes it::

    python examples/pytorch_digits.py                      # 16 trials, 9 epochs, 2 workers
    python examples/pytorch_digits.py --small --db /tmp/t.db   # 6 trials, 3 epochs (the tests)

Needs ``pip install 'shoal[torch]'`` (CPU wheels are enough).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import shoal
from shoal.schedulers import ASHA

SPACE = {
    "lr": shoal.Float(1e-4, 0.3, scale="log"),
    "hidden": shoal.Int(16, 128, scale="log"),
    "momentum": shoal.Float(0.5, 0.99, scale="reverse_log"),
    "batch_size": shoal.Choice([32, 64, 128]),
}


def load_data():
    """The digits scaled to [0, 1] as tensors: 1,347 rows to train on, 450 to validate."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    as_x = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    as_y = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
    return as_x(x_train), as_y(y_train), as_x(x_val), as_y(y_val)


def objective(config: dict[str, Any], trial: Any, epochs: int) -> float:
    """Train up to ``epochs`` epochs; the validation accuracy of the last one is the trial's value."""
    import torch
    from torch import nn

    torch.set_num_threads(1)  # several workers share the machine
    torch.manual_seed(trial.number)
    x_train, y_train, x_val, y_val = load_data()
    model = nn.Sequential(nn.Linear(64, config["hidden"]), nn.ReLU(), nn.Linear(config["hidden"], 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])
    done, accuracy = 0, 0.0  # epochs trained so far: the step of every report and checkpoint
    state = trial.load()  # None on a fresh start
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        done, accuracy = state["epoch"], state["accuracy"]
    for epoch in range(done + 1, epochs + 1):
        model.train()
        for batch in torch.randperm(len(x_train)).split(config["batch_size"]):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(x_val).argmax(1) == y_val).float().mean())
        trial.save(
            {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
             "accuracy": accuracy},
            step=epoch,
        )
        trial.report(accuracy, epoch)
        if trial.should_stop():
            raise shoal.TrialPruned()
    return accuracy


def run(
    db: str, n_trials: int, epochs: int, workers: int, seed: int = 0, objective: Any = None
) -> shoal.Study:
    """Open (or resume) the study in ``db`` and run trials until it holds ``n_trials`` finished ones."""
    study = shoal.Study(
        "pytorch-digits",
        SPACE,
        "maximize",
        storage=f"sqlite:///{db}",
        seed=seed,
        scheduler=ASHA(min_resource=1, reduction_factor=3, max_resource=epochs),
        checkpoints=os.path.join(os.path.dirname(os.path.abspath(db)), "checkpoints"),
    )
    done = sum(1 for t in study.trials if t.state.finished)
    study.optimize(
        objective or _Objective(epochs), n_trials=max(n_trials - done, 1), n_workers=workers,
        show_progress=False,
    )
    return study


class _Objective:
    """``objective`` with the epoch budget bound (a class, so worker processes can import it)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def __call__(self, config: dict[str, Any], trial: Any) -> float:
        return objective(config, trial, self.epochs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", default="pytorch_digits.db", help="the SQLite file that keeps the study")
    parser.add_argument("--small", action="store_true", help="6 trials of at most 3 epochs")
    args = parser.parse_args(argv)
    if args.small:
        args.trials, args.epochs = 6, 3
    study = run(args.db, args.trials, args.epochs, args.workers)
    states = [t.state.value for t in study.trials]
    print(f"trials: {len(states)}  complete: {states.count('COMPLETE')}  pruned: {states.count('PRUNED')}")
    best = study.best
    print(f"best validation accuracy {best.value:.4f} with {best.config}")


if __name__ == "__main__":
    main()
