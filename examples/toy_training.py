"""Stand-ins for training runs that report every epoch, for ``examples/asha.yaml`` and ``examples/pbt.yaml``.

Pure Python and deterministic, milliseconds per trial:

- ``learning_curve``: a validation loss that falls epoch by epoch toward a floor; both how fast it
  falls and how low it gets depend on the learning rate and the width. It reports every epoch and
  returns as soon as the scheduler says stop (ASHA stops most trials at an early rung).
- ``train``: a model whose best learning rate shrinks during training (from 1e-1 at the start to
  1e-3 at the end), so no single learning rate is best and PBT's schedules win. It resumes from
  ``trial.load()``, saves its state every step and returns when its segment ends.
"""

from __future__ import annotations

import math
from typing import Any

import shoal

#: Steps a ``train`` run lasts; ``examples/pbt.yaml`` sets PBT's ``max_steps`` to the same.
TRAIN_STEPS = 12


def learning_curve(config: dict[str, Any], trial: shoal.RunningTrial) -> float:
    """Validation loss after ``config["epochs"]`` epochs: best near lr=3e-3 with 128 units."""
    off = math.log10(config["lr"]) + 2.5  # decades away from the best learning rate
    speed = 0.5 * math.exp(-off * off / 2)  # the share of the remaining gap closed per epoch
    floor = 0.05 + 0.02 * off * off + 0.05 * (math.log2(config["units"]) - 7) ** 2 / 9
    loss = 1.0
    for epoch in range(1, config["epochs"] + 1):
        loss = floor + (loss - floor) * (1 - speed)
        trial.report(loss, epoch)
        if trial.should_stop():  # stopped at a rung: the trial ends PRUNED with this loss
            break
    return loss


def best_log_lr(step: int) -> float:
    """log10 of the learning rate that helps most at ``step``: -1 at the start, -3 at the end."""
    return -1.0 - 2.0 * step / TRAIN_STEPS


def train(config: dict[str, Any], trial: shoal.RunningTrial) -> float:
    """Training loss after ``TRAIN_STEPS`` steps; each step shrinks it most when lr is near the best."""
    state = trial.load() or {"step": 0, "loss": 1.0}  # None when the member starts from scratch
    step, loss = state["step"], state["loss"]
    while step < TRAIN_STEPS:
        step += 1
        gap = (math.log10(config["lr"]) - best_log_lr(step)) ** 2
        loss *= 1.0 - 0.2 * math.exp(-2.0 * gap)
        trial.save({"step": step, "loss": loss}, step)  # save first: the segment may end at this report
        trial.report(loss, step)
        if trial.should_stop():  # the segment ended: PBT continues (or replaces) this member
            break
    return loss
