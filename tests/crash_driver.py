"""A driver process the crash tests kill with SIGKILL while a trial is running."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import shoal

SPACE = {"x": shoal.Float(0.0, 1.0), "n": shoal.Int(1, 9), "opt": shoal.Choice(["adam", "sgd"])}


def main(url: str, marker: str, hang_at: int) -> None:
    def objective(config: dict, trial: shoal.RunningTrial) -> float:
        if trial.number == hang_at:
            trial.report(0.25, 1)
            Path(marker).write_text(str(trial.number))
            time.sleep(120)  # killed here
        return config["x"] * config["n"]

    study = shoal.Study("crash", SPACE, "minimize", url, seed=3)
    study.optimize(objective, n_trials=50, show_progress=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
