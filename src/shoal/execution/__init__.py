"""Where objective calls run: this process, local worker processes, or a Dask cluster."""

from typing import Any

from .base import Died, Event, Executor, Finished, Job, Outcome
from .devices import AUTO, check_per_device, plan_devices
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
    n_workers: int | None = 1,
    executor: Any = None,
    *,
    timeout_per_trial: float | None = None,
    max_trials_per_worker: int | None = None,
    devices: Any = None,
    workers_per_device: int | None = None,
) -> Executor:
    """Pick where calls run: an executor given, a Dask cluster, local processes, or this process.

    A trial can only be stopped from outside (``timeout_per_trial``) or its process recycled
    (``max_trials_per_worker``) in a worker process, so those options imply local workers, and so
    do ``devices`` (each worker process gets its own ``CUDA_VISIBLE_DEVICES``; ``n_workers`` None:
    one per place, ``len(devices) * workers_per_device``). On Dask, ``devices="auto"`` asks for a
    ``GPU`` worker resource per trial. Every value is checked before anything starts.
    """
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int)
                                  or n_workers < 1):
        raise ValueError(f"n_workers must be a positive int, got {n_workers!r}")
    if isinstance(executor, Executor):
        if devices is not None or workers_per_device is not None:
            raise ValueError("devices: give them to the executor you built, or leave executor= out")
        return executor
    if executor is not None:
        from .dask import DaskExecutor, is_dask_target

        if is_dask_target(executor):
            return DaskExecutor(executor, gpus_per_trial=dask_gpus(devices, workers_per_device))
        raise ValueError(
            f"executor must be a dask.distributed Client, a scheduler address like "
            f"'tcp://host:8786', or a shoal.execution.Executor; got {executor!r}"
        )
    planned = plan_devices(devices, n_workers, workers_per_device)
    if planned is not None:
        count, assigned = planned
        return LocalPool(count, max_trials_per_worker=max_trials_per_worker, devices=assigned)
    n_workers = 1 if n_workers is None else n_workers
    if n_workers > 1 or timeout_per_trial is not None or max_trials_per_worker is not None:
        return LocalPool(n_workers, max_trials_per_worker=max_trials_per_worker)
    return InProcess()


def dask_gpus(devices: Any, workers_per_device: int | None) -> float | None:
    """The ``GPU`` resource each trial asks of a Dask worker (None without ``devices``)."""
    if devices is None:
        if workers_per_device is not None:
            raise ValueError("workers_per_device: goes with devices='auto'")
        return None
    if not (isinstance(devices, str) and devices.strip().lower() == AUTO):
        raise ValueError(
            f"devices: on Dask the workers own their GPUs (start them with 'dask worker ADDRESS "
            f"--resources GPU=1', one per GPU); give devices='auto', not {devices!r}"
        )
    return 1.0 / check_per_device(1 if workers_per_device is None else workers_per_device)
