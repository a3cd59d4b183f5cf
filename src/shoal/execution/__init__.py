"""Where objective calls run: this process, local worker processes, or a Dask cluster."""

from typing import Any

from .base import Died, Event, Executor, Finished, Job, Outcome
from .inprocess import InProcess, run_objective, wants_trial
from .local import LocalPool

__all__ = [
    "choose_executor",
    "Executor",
    "Job",
    "Outcome",
    "Finished",
    "Died",
    "Event",
    "InProcess",
    "LocalPool",
    "run_objective",
    "wants_trial",
]


def choose_executor(
    n_workers: int = 1,
    executor: Any = None,
    *,
    timeout_per_trial: float | None = None,
    max_trials_per_worker: int | None = None,
) -> Executor:
    """Pick where calls run: an executor given, a Dask cluster, local processes, or this process.

    A trial can only be stopped from outside (``timeout_per_trial``) or its process recycled
    (``max_trials_per_worker``) in a worker process, so those options imply local workers.
    """
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive int, got {n_workers!r}")
    if isinstance(executor, Executor):
        return executor
    if executor is not None:
        from .dask import DaskExecutor, is_dask_target

        if is_dask_target(executor):
            return DaskExecutor(executor)
        raise ValueError(
            f"executor must be a dask.distributed Client, a scheduler address like "
            f"'tcp://host:8786', or a shoal.execution.Executor; got {executor!r}"
        )
    if n_workers > 1 or timeout_per_trial is not None or max_trials_per_worker is not None:
        return LocalPool(n_workers, max_trials_per_worker=max_trials_per_worker)
    return InProcess()
