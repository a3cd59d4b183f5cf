"""Panda mode: babysit a running model — lower its learning rate when the curve flattens, then fork it.

The course notes' *panda* watches one model train and nudges it. Here two copies of one PyTorch MLP
(same config, same seed) train side by side on the bundled digits (no download), each in its own
worker process. A person — a thread in this script, watching the study's storage — lowers the
learning rate of one of them whenever its validation curve flattens (``study.tweak``); the other runs
untouched. The change arrives at the running model's next ``trial.report``: the objective reads
``trial.config`` each epoch, so the new value is in force from the next epoch on, and
``trial.changes()`` says what changed. Then the person forks the babysat run from a checkpoint at an
earlier epoch with another momentum (``study.fork``), and the fork trains from there. At the end the
script prints each run's schedule (``trial.schedule``) and final accuracy::

    python examples/babysit.py                           # 24 epochs, half a second apart
    python examples/babysit.py --epochs 12 --db /tmp/b.db  # shorter (the tests)

An epoch of this small model takes 50 ms; ``--pace`` (default 0.5 s) waits after each one, as a real
epoch's minutes would, so that the person polling the storage sees the curve before training ends.

The same from a shell, while a study runs: ``shoal tweak STUDY 1 lr=0.01``, ``shoal fork STUDY 1
--step 6 momentum=0.5``, ``shoal schedule STUDY 1``; or the trial's page in ``shoal dashboard``.
Needs ``pip install 'shoal[torch]'`` (CPU wheels are enough).
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import threading
import time
from typing import Any

import shoal
from shoal.checkpoints import CheckpointStore

SPACE = {
    "lr": shoal.Float(1e-3, 1.0, scale="log"),
    "momentum": shoal.Float(0.5, 0.99, scale="reverse_log"),
    "hidden": shoal.Int(16, 128, scale="log"),
}
#: a learning rate too high to settle: the curve flattens early, which is when a person steps in
START = {"lr": 0.3, "momentum": 0.9, "hidden": 64}
UNTOUCHED, BABYSAT = 0, 1


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


def objective(config: dict[str, Any], trial: Any, epochs: int, pace: float = 0.0) -> float:
    """Train an MLP epoch by epoch with the hyperparameters in force (``trial.config``, which a tweak
    updates); save a checkpoint and report the validation accuracy after every epoch, then wait
    ``pace`` seconds (an epoch here takes 50 ms, a real one minutes: the pause gives the person time
    to look at the curve)."""
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(0)  # both copies start identical: only the person's tweaks tell them apart
    x_train, y_train, x_val, y_val = load_data()
    model = nn.Sequential(nn.Linear(64, config["hidden"]), nn.ReLU(), nn.Linear(config["hidden"], 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])
    done, accuracy = 0, 0.0
    state = trial.load()  # a fork starts from its parent's checkpoint
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        done, accuracy = state["epoch"], state["accuracy"]
    for epoch in range(done + 1, epochs + 1):
        for group in optimizer.param_groups:  # the hyperparameters in force now
            group["lr"], group["momentum"] = trial.config["lr"], trial.config["momentum"]
        model.train()
        for batch in torch.randperm(len(x_train)).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(x_val).argmax(1) == y_val).float().mean())
        trial.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                    "accuracy": accuracy, "rng": torch.get_rng_state()}, step=epoch)
        trial.report(accuracy, epoch)
        time.sleep(pace)
        for name, (old, new) in trial.changes().items():
            print(f"  trial {trial.number} at epoch {epoch}: {name} {old:g} -> {new:g} from the next epoch",
                  flush=True)
    return accuracy


class Babysitter(threading.Thread):
    """A person watching one trial's curve: when its last ``patience`` epochs gained less than
    ``min_gain``, lower the learning rate by ``factor`` (at most ``max_tweaks`` times)."""

    def __init__(self, study: shoal.Study, number: int, *, patience: int = 2, min_gain: float = 0.005,
                 factor: float = 0.2, max_tweaks: int = 2) -> None:
        super().__init__(daemon=True)
        self.study, self.number = study, number
        self.patience, self.min_gain, self.factor, self.max_tweaks = patience, min_gain, factor, max_tweaks
        self.done = threading.Event()

    def run(self) -> None:
        watched = shoal.Study.load(self.study.name, storage=self.study.storage.url)  # the person's own view
        seen, tweaks, lr = 0, 0, START["lr"]
        while not self.done.wait(0.2) and tweaks < self.max_tweaks:
            trial = next((t for t in watched.trials if t.number == self.number), None)
            if trial is None or trial.state != shoal.TrialState.RUNNING or len(trial.reports) <= seen:
                continue
            seen = len(trial.reports)
            values = [v for _, v in trial.reports]
            if len(values) > self.patience and max(values[-self.patience:]) - max(values[:-self.patience]) \
                    < self.min_gain:
                lr *= self.factor
                watched.tweak(self.number, {"lr": lr})
                tweaks += 1
                print(f"person: trial {self.number}'s curve is flat at {values[-1]:.3f}; lr -> {lr:g}",
                      flush=True)
                seen += self.patience  # give the new value time before judging again


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=24, help="epochs per run (default 24)")
    parser.add_argument("--pace", type=float, default=0.5,
                        help="seconds to wait after each epoch, time for the person to look (default 0.5)")
    parser.add_argument("--db", default=None, help="SQLite file (default: a temporary one)")
    args = parser.parse_args(argv)
    run = functools.partial(objective, epochs=args.epochs, pace=args.pace)
    where = tempfile.mkdtemp(prefix="shoal-babysit-")
    db = args.db or os.path.join(where, "babysit.db")
    study = shoal.Study("babysit", SPACE, storage=f"sqlite:///{db}",
                        checkpoints=CheckpointStore(os.path.join(where, "checkpoints"), keep=args.epochs))
    study.enqueue(START)  # trial 0: untouched
    study.enqueue(START)  # trial 1: babysat
    person = Babysitter(study, BABYSAT)
    person.start()
    study.optimize(run, n_trials=2, n_workers=2, show_progress=False)
    person.done.set()
    person.join()

    babysat = study.trials[BABYSAT]
    step = max(1, args.epochs // 3)
    fork = study.fork(BABYSAT, step=step, changes={"momentum": 0.5})
    print(f"person: fork trial {BABYSAT} at epoch {step} with momentum 0.5 -> trial {fork.number}",
          flush=True)
    study.optimize(run, n_trials=1, show_progress=False)

    print("\nschedules (first epoch in force: hyperparameters)")
    for trial in study.trials:
        label = {UNTOUCHED: "untouched", BABYSAT: "babysat"}.get(trial.number, f"fork of {BABYSAT}")
        steps = "; ".join(f"{first}: " + ", ".join(f"{k}={v:g}" for k, v in config.items())
                          for first, config in trial.schedule)
        print(f"  trial {trial.number} ({label}): {steps}")
    print("\nfinal validation accuracy")
    for trial in study.trials:
        label = {UNTOUCHED: "untouched", BABYSAT: "babysat"}.get(trial.number, f"fork of {BABYSAT}")
        print(f"  trial {trial.number} ({label}): {trial.value:.3f}")
    kept_out = [t.number for t in study.trials if t.excluded_from_models]
    print(f"\nkept out of samplers' models (their hyperparameters changed mid-run): trials {kept_out}")
    if not babysat.changes:
        print("(the curve never flattened before training ended: the person did not step in)")


if __name__ == "__main__":
    main()
