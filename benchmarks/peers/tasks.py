"""The task registry: every task is a name, a group, a space in shoal terms and an objective to minimize.

Groups: ``sklearn`` (model tuning, see ``sklearn_tasks``), ``bbob`` (COCO BBOB functions in 2, 5 and
10 dimensions, see ``bbob``) and ``synthetic`` (Branin, Hartmann6, Ackley, Levy and mixed variants).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

import shoal

from . import bbob, sklearn_tasks, synthetic

GROUPS = ("sklearn", "bbob", "synthetic")
#: BBOB functions a group run includes (all six are registered and can be named one by one).
BBOB_DEFAULT = (8, 10, 15, 17)
BBOB_DIMS = (2, 5, 10)
#: What ``--quick`` runs: two cheap tasks.
QUICK = ("branin", "bbob-f15-d2")


@dataclass(frozen=True)
class Task:
    """One benchmark task: minimize ``objective(config)`` over ``space``."""

    name: str
    group: str
    space: Mapping[str, Any]
    objective: Callable[[Mapping[str, Any]], float]
    default: bool = True


class BBOBObjective:
    """Reads x0..x{d-1} from a config and evaluates the BBOB instance."""

    def __init__(self, fid: int, dim: int) -> None:
        self.fid, self.dim = fid, dim
        self._f: bbob.Instance | None = None

    def __call__(self, config: Mapping[str, Any]) -> float:
        if self._f is None:
            self._f = bbob.make_instance(self.fid, self.dim)
        return self._f(np.array([config[f"x{i}"] for i in range(self.dim)], dtype=float))


@lru_cache(maxsize=1)
def registry() -> dict[str, Task]:
    """Every task by name."""
    out: dict[str, Task] = {}
    for name, (space, objective) in sklearn_tasks.tasks().items():
        out[name] = Task(name, "sklearn", space, objective)
    for fid in bbob.FUNCTIONS:
        for dim in BBOB_DIMS:
            name = f"bbob-f{fid}-d{dim}"
            space = {f"x{i}": shoal.Float(-5.0, 5.0) for i in range(dim)}
            out[name] = Task(name, "bbob", space, BBOBObjective(fid, dim), fid in BBOB_DEFAULT)
    for name, (space, objective) in synthetic.tasks().items():
        out[name] = Task(name, "synthetic", space, objective)
    return out


def select(spec: str) -> list[str]:
    """Task names from ``"GROUP|NAME,..."`` (``all`` = every group's default tasks), in registry order."""
    tasks = registry()
    wanted: list[str] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if item == "all":
            wanted += [t.name for t in tasks.values() if t.default]
        elif item in GROUPS:
            wanted += [t.name for t in tasks.values() if t.group == item and t.default]
        elif item in tasks:
            wanted.append(item)
        else:
            raise ValueError(
                f"--tasks: {item!r} is neither a group ({', '.join(GROUPS)}, all) nor a task; tasks are "
                f"{', '.join(tasks)}"
            )
    if not wanted:
        raise ValueError("--tasks selects no task; give a group such as 'synthetic' or a task name")
    return list(dict.fromkeys(wanted))
