"""A driver process for tests/test_cli_panda.py: runs ``optimize`` on a study whose objective reports
its learning rate at every step, so a tweak shows in the stored reports.

    python cli_panda_driver.py URL STUDY DIR [--enqueue JSON] [--n-trials N] [--wait-at STEP]
        [--checkpoints]

``--enqueue``: queue this configuration first. ``--wait-at STEP``: after reporting STEP, write
``DIR/waiting-<trial number>`` and wait for the file ``DIR/go`` (the test writes it once it has
tweaked the trial). ``--checkpoints``: save a checkpoint at every step in ``DIR/checkpoints``, and
resume from one when the trial is a fork.
What the objective hears is written to ``DIR/heard-<trial number>.json``: the step it started at
and, per step, what ``trial.changes()`` returned.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import shoal
from shoal.samplers import Random

SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "units": shoal.Int(8, 64),
    "opt": shoal.Choice(["adam", "sgd"]),
    "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
    "seed": shoal.Fixed(1),
}
STEPS = 5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("study")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--enqueue", type=json.loads)
    parser.add_argument("--n-trials", type=int, default=1)
    parser.add_argument("--wait-at", type=int)
    parser.add_argument("--checkpoints", action="store_true")
    args = parser.parse_args()

    def objective(config: dict, trial: shoal.TrialHandle) -> float:
        state = trial.load() if args.checkpoints else None
        start = 0 if state is None else state["step"] + 1
        heard: dict = {"start": start, "changes": []}
        for step in range(start, STEPS):
            if args.checkpoints:
                trial.save({"step": step}, step)
            trial.report(trial.config["lr"], step)
            changed = trial.changes()
            if changed:
                heard["changes"].append([step, {k: list(v) for k, v in changed.items()}])
            if step == args.wait_at:
                (args.directory / f"waiting-{trial.number}").write_text(str(step))
                go, deadline = args.directory / "go", time.monotonic() + 120
                while not go.exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
        (args.directory / f"heard-{trial.number}.json").write_text(json.dumps(heard))
        return trial.config["lr"]

    study = shoal.Study(
        args.study, SPACE, storage=args.url, sampler=Random(seed=0),
        checkpoints=str(args.directory / "checkpoints") if args.checkpoints else None,
    )
    if args.enqueue is not None:
        study.enqueue(args.enqueue)
    study.optimize(objective, n_trials=args.n_trials, show_progress=False)


if __name__ == "__main__":
    main()
