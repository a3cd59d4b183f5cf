"""Objectives for the checkpoint and PBT tests (module level, so worker processes can import them).

The schedule task: a model's loss shrinks each step by a share that is largest when log10(lr) is near
a best value that moves from -1 to -3 over ``MAX_STEPS`` steps; the loss after a run depends only on
the learning rate used at each step, so a schedule can be replayed exactly. The state remembers
which trials trained it (``trail``), so a test can tell whose checkpoint a segment loaded.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import shoal

MAX_STEPS = 24


def best_log_lr(step: int, max_steps: int = MAX_STEPS) -> float:
    return -1.0 - 2.0 * step / max_steps


def next_loss(loss: float, lr: float, step: int, max_steps: int = MAX_STEPS) -> float:
    gap = (math.log10(lr) - best_log_lr(step, max_steps)) ** 2
    return loss * (1.0 - 0.2 * math.exp(-2.0 * gap))


def schedule_task(
    config: dict[str, Any],
    trial: shoal.RunningTrial,
    *,
    max_steps: int = MAX_STEPS,
    die_in: int | None = None,
    die_at: int | None = None,
    marker: str | None = None,
) -> float:
    """Train on the schedule task; ``die_in``/``die_at``: trial ``die_in`` (-1: the first resumed
    one) kills its worker after it saved step ``die_at`` (once, remembered by ``marker``)."""
    state = trial.load() or {"step": 0, "loss": 1.0, "trail": []}
    step, loss = state["step"], state["loss"]
    trail = [*state["trail"], trial.number]
    if trial.start_step is not None:
        assert trial.start_step == step, (trial.start_step, step)
    while step < max_steps:
        step += 1
        loss = next_loss(loss, config["lr"], step, max_steps)
        trial.save({"step": step, "loss": loss, "trail": trail}, step)
        dies = trial.number == die_in or (die_in == -1 and trial.start_step is not None)
        if dies and step == die_at and marker and not os.path.exists(marker):
            Path(marker).write_text("died")
            os._exit(7)
        trial.report(loss, step)
        if trial.should_stop():
            break
    return loss


def replay(lrs_by_step: dict[int, float], max_steps: int = MAX_STEPS) -> float:
    """The loss of a run from scratch with the learning rate ``lrs_by_step[step]`` at each step."""
    loss = 1.0
    for step in range(1, max_steps + 1):
        loss = next_loss(loss, lrs_by_step[step], step, max_steps)
    return loss


def counting(config: dict[str, Any], trial: shoal.RunningTrial, *, steps: int = 6) -> float:
    """Saves every step and resumes from what it loads; returns how many steps it trained itself."""
    state = trial.load() or {"step": 0}
    start = state["step"]
    for step in range(start + 1, steps + 1):
        trial.save({"step": step}, step)
        trial.report(float(step), step)
    return float(steps - start)


def die_once_after(config: dict[str, Any], trial: shoal.RunningTrial, *, marker: str, at: int = 3,
                   steps: int = 6) -> float:
    """Saves every step; the first call to reach step ``at`` kills its worker (os._exit)."""
    state = trial.load() or {"step": 0, "trail": []}
    trail = [*state["trail"], trial.number]
    for step in range(state["step"] + 1, steps + 1):
        trial.save({"step": step, "trail": trail}, step)
        trial.report(float(len(trail)), step)
        if step == at and not os.path.exists(marker):
            Path(marker).write_text("died")
            os._exit(9)
    return float(trail[0])


def big_model_in_files(config: dict[str, Any], trial: shoal.RunningTrial, *, steps: int = 4) -> float:
    """The path variant: weights written as files into ``trial.checkpoint_dir``."""
    folder = trial.load_dir()
    start = int((folder / "step.txt").read_text()) if folder is not None else 0
    for step in range(start + 1, steps + 1):
        with trial.checkpoint_dir(step) as path:
            (path / "step.txt").write_text(str(step))
            (path / "weights.bin").write_bytes(bytes(range(256)) * 4)
        trial.report(float(step), step)
    return float(start)
