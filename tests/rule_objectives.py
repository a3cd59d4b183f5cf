"""Objectives for the rule tests (module level, so worker processes can import them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The loss an objective reports: it improves for two steps, then stays flat (a plateau).
PLATEAU = [3.0, 2.0, 1.0]


def plateau_loss(step: int) -> float:
    return PLATEAU[step] if step < len(PLATEAU) else PLATEAU[-1]


def plateauing(config: dict[str, Any], trial: Any, *, steps: int, log_dir: str) -> float:
    """Report a loss that plateaus; write, per step, the lr the objective trained that step with and
    what ``trial.changes()`` said after the step's report (to ``log_dir/<trial number>.json``)."""
    seen: list[dict[str, Any]] = []
    loss = plateau_loss(0)
    for step in range(steps):
        lr = trial.config["lr"]
        loss = plateau_loss(step)
        trial.report(loss, step)
        heard = {name: list(pair) for name, pair in trial.changes().items()}
        seen.append({"step": step, "lr": lr, "heard": heard})
    Path(log_dir, f"{trial.number}.json").write_text(json.dumps(seen))
    return loss
