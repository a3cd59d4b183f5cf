"""The executor contract: run objective calls somewhere and stream back what happens.

Executors know nothing of tuning. The driver starts an executor with a job (the objective) and a report
handler, then submits calls (a key, a config and a trial number). An executor passes each intermediate
report to the handler and sends its answer (stop or not) back to the call; it answers ``wait`` with
events: a ``Finished`` outcome, or ``Died`` when the call's worker vanished.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..records import Steering
from ..trial import FailureKind, TrialState

__all__ = [
    "Executor", "Outcome", "Job", "Finished", "Died", "Event", "ReportHandler", "CheckpointHandler"
]

#: ``handler(key, step, value) -> Steering`` stores a report and answers whether the call should stop
#: and which hyperparameters changed; ``value`` None is a poll (``should_stop`` between reports), whose
#: changes take effect at ``step``.
ReportHandler = Callable[[int, int, "float | None"], Steering]
#: ``handler(key, step, uri)`` records a checkpoint a call saved (the worker wrote it to the store).
CheckpointHandler = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Outcome:
    """How a call ended: its state, its value (COMPLETE, maybe PRUNED), the error text and, for a
    FAILED call, why it failed.

    A COMPLETE outcome carries what the objective returned, not yet judged (the study judges it
    against its objectives): a number as ``value`` (maybe NaN or infinite), a mapping as ``values``
    (numbers as floats, anything else as it was or as text), or anything else as ``error``, its text.
    """

    state: TrialState
    value: float | None = None
    error: str | None = None
    failure: FailureKind | None = None
    values: dict[Any, Any] | None = None


@dataclass(frozen=True)
class Job:
    """What an executor needs to run: the objective, how to call it, and which exceptions it catches."""

    objective: Callable[..., Any]
    pass_trial: bool
    catch: tuple[type[BaseException], ...]

    def to_bytes(self, where: str, advice: str) -> bytes:
        """The job cloudpickled for ``where`` (worker processes, Dask workers), or a clear error."""
        import cloudpickle

        try:
            return cloudpickle.dumps(self)
        except Exception as exc:  # noqa: BLE001 - say what cannot travel to a worker
            raise ValueError(
                f"the objective cannot be sent to {where} ({type(exc).__name__}: {exc}); {advice}"
            ) from None


@dataclass(frozen=True)
class Finished:
    key: int
    outcome: Outcome
    #: an exception the objective raised that ``catch`` does not cover (the driver re-raises it)
    exception: BaseException | None = None


@dataclass(frozen=True)
class Died:
    key: int
    cause: str


Event = Finished | Died


class Executor(ABC):
    """Runs calls of one job on ``slots`` workers at a time."""

    @property
    @abstractmethod
    def slots(self) -> int:
        """How many calls may run at once."""

    @abstractmethod
    def start(
        self, job: Job, on_report: ReportHandler, on_checkpoint: CheckpointHandler | None = None
    ) -> None:
        """Get workers ready to run ``job``; reports go to ``on_report``, saved checkpoints to
        ``on_checkpoint``."""

    @abstractmethod
    def submit(self, key: int, config: dict[str, Any], number: int, checkpoint: Any = None) -> None:
        """Start one call; the caller never submits more than ``slots`` at once. ``checkpoint`` (a
        ``shoal.checkpoints.CheckpointSlot``) travels to the call's ``trial`` handle as is."""

    @abstractmethod
    def wait(self, timeout: float | None) -> list[Event]:
        """Events since the last call, waiting up to ``timeout`` seconds for the first."""

    def running_since(self, key: int) -> float | None:
        """``time.monotonic()`` when the call began running in its worker (``timeout_per_trial``
        counts from there, not from a worker's start-up); None where the executor cannot tell, and
        the loop then counts from ``submit``."""
        return None

    def device_of(self, key: int) -> str | None:
        """The device the call ``key`` runs on (``optimize(devices=...)``), once the executor knows
        it; None where it has none."""
        return None

    def install_hint(self, module: str) -> str:
        """What to do when trials cannot import ``module`` where this executor runs them."""
        return f"install {module!r} for the Python that runs the trials ({sys.executable})"

    @abstractmethod
    def cancel(self, key: int) -> None:
        """Stop a running call at once (its worker is replaced); no event follows for it."""

    @abstractmethod
    def close(self) -> None:
        """Stop all workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
