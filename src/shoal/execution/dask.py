"""Run trials on a Dask cluster: ``optimize(..., executor=client_or_"tcp://host:8786")``.

The driver keeps the study; each trial is one Dask task running ``run_objective`` on a worker.
Reports travel to the driver and its answers travel back through the scheduler with Dask's own
primitives: one ``distributed.Queue`` per run carries every message from the workers, and each
answer goes into a ``distributed.Variable`` named in the message (used once, then deleted). A
thread on the driver blocks on that queue and a Dask done-callback fires when a task ends; both
feed one local queue that ``wait`` blocks on, so the driver never polls.

Before it calls the objective, a task asks the driver for leave to run. The driver grants it once
per trial: when a worker dies mid-trial Dask reschedules the task elsewhere (up to the scheduler's
``allowed-failures``), and that second start is how the driver learns of the death. It then records
``Died`` and tells the rerun to stop, so a trial never runs twice behind the study's back; the
study's ``retries=`` decides whether to try again. With ``allowed-failures: 0`` the scheduler fails
the task at once (``KilledWorker``), which becomes ``Died`` too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import threading
import uuid
from typing import TYPE_CHECKING, Any

from ..errors import TrialAbandoned  # noqa: F401 - defined in shoal.errors
from ..records import Steering
from ..trial import FailureKind, TrialHandle, TrialState
from .base import Died, Event, Executor, Finished, Job, Outcome, ReportHandler
from .inprocess import run_objective
from .worker import _portable

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client, Future

__all__ = ["DaskExecutor", "DaskTrial", "TrialAbandoned", "is_dask_target"]

logger = logging.getLogger("shoal")

#: address schemes a Dask scheduler listens on
_SCHEMES = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")
#: how often a worker waiting for an answer checks whether its task was cancelled (seconds)
_POLL_SECONDS = 2.0
_CLOSE = "shoal-close"  # tells the driver's reader thread to stop

# answers from the driver
_RUN, _GO, _STOP, _ABORT = "run", "go", "stop", "abort"
_STEER = "steer:"  # then JSON {"stop": bool, "changes": {name: new value}}: a report answered with tweaks


def _encode(answer: Steering) -> str:
    if not answer.changes:
        return _STOP if answer.stop else _GO
    return _STEER + json.dumps({"stop": answer.stop, "changes": answer.changes})


def _decode(answer: str) -> Steering:
    if answer.startswith(_STEER):
        body = json.loads(answer[len(_STEER):])
        return Steering(stop=bool(body["stop"]), changes=body["changes"])
    return Steering(stop=answer == _STOP)


def is_dask_target(obj: Any) -> bool:
    """True for a ``distributed.Client`` or a scheduler address such as ``"tcp://host:8786"``.

    Checks the type by name, so it works (and says False) where Dask is not installed.
    """
    if isinstance(obj, str):
        return obj.startswith(_SCHEMES) and len(obj) > obj.index("://") + 3
    return any(
        cls.__name__ == "Client" and cls.__module__.split(".")[0] == "distributed"
        for cls in type(obj).__mro__
    ) and hasattr(obj, "submit")



# -- the worker side ---------------------------------------------------------------------------
class _Channel:
    """One task's line to the driver: send a message, block for the answer."""

    def __init__(self, reports_name: str, key: int) -> None:
        from distributed import Queue, get_client, get_worker

        self._client = get_client()
        self._worker = get_worker()
        self._task = self._worker.get_current_task()
        self._reports = Queue(reports_name, client=self._client)
        self._key = key
        self._token = uuid.uuid4().hex  # this execution of the task (a rerun has another)
        self._sent = 0
        self._gpu = os.environ.get("CUDA_VISIBLE_DEVICES")  # the worker's own, when it has one

    @property
    def address(self) -> str:
        return self._worker.address

    def ask(self, kind: str, step: int = -1, value: float = 0.0) -> str:
        from distributed import Variable

        self._sent += 1
        reply = f"{self._reports.name}-{self._key}-{self._token}-{self._sent}"
        self._reports.put([kind, self._key, self._token, step, value, reply, self.address, self._gpu])
        answer = Variable(reply, client=self._client)
        while True:
            try:
                result = answer.get(timeout=_POLL_SECONDS)
            except (TimeoutError, asyncio.TimeoutError):
                if self._cancelled():
                    raise TrialAbandoned("the driver cancelled this trial or went away") from None
                continue
            answer.delete()
            return str(result)

    def _cancelled(self) -> bool:
        task = self._worker.state.tasks.get(self._task)
        return task is None or task.state not in ("executing", "long-running")

    def close(self) -> None:
        self._reports.close()


class DaskTrial(TrialHandle):
    """The ``trial`` an objective gets on a Dask worker: reports go to the driver and back."""

    def __init__(
        self, channel: _Channel, number: int, config: dict[str, Any], checkpoint: Any = None
    ) -> None:
        super().__init__(number, config, checkpoint)
        self._channel = channel

    def _announce(self, step: int, uri: str) -> None:
        if self._channel.ask("checkpoint", step, uri) == _ABORT:  # type: ignore[arg-type]
            raise TrialAbandoned(f"trial {self.number} was cancelled by the driver (timeout or shutdown)")

    def _deliver(self, step: int, value: float) -> Steering:
        return self._ask("report", step, value)

    def _poll(self, from_step: int) -> Steering:
        return self._ask("poll", from_step)

    def _ask(self, kind: str, step: int, value: float = 0.0) -> Steering:
        answer = self._channel.ask(kind, step, value)
        if answer == _ABORT:
            raise TrialAbandoned(f"trial {self.number} was cancelled by the driver (timeout or shutdown)")
        return _decode(answer)


def _run_trial(
    payload: bytes, reports_name: str, key: int, number: int, config: dict[str, Any], checkpoint: Any = None
) -> tuple[Outcome, BaseException | None] | None:
    """The Dask task: get leave to run, then run one objective call (None when told not to run)."""
    import cloudpickle

    channel = _Channel(reports_name, key)
    try:
        if channel.ask("start") != _RUN:
            return None
        try:
            job: Job = cloudpickle.loads(payload)
        except Exception as exc:  # noqa: BLE001 - a worker without the objective's modules
            return Outcome(
                TrialState.FAILED,
                None,
                f"the objective could not be loaded on dask worker {channel.address} "
                f"({type(exc).__name__}: {exc}); install the modules it needs on every worker",
                FailureKind.OBJECTIVE,
            ), None
        handle = DaskTrial(channel, number, config, checkpoint)
        outcome, to_raise = run_objective(
            job.objective, handle, pass_trial=job.pass_trial, catch=job.catch
        )
        return outcome, None if to_raise is None else _portable(to_raise)
    finally:
        channel.close()


# -- the driver side ---------------------------------------------------------------------------
class _Call:
    """What the driver knows of one submitted call."""

    def __init__(self, future: Future) -> None:
        self.future = future
        self.token: str | None = None  # the execution that was given leave to run
        self.worker: str | None = None
        self.last_reply: str | None = None
        self.gpu: str | None = None  # the worker's CUDA_VISIBLE_DEVICES


def _worker_lost(exc: BaseException) -> bool:
    from distributed import KilledWorker
    from distributed.comm import CommClosedError

    return isinstance(exc, (KilledWorker, CommClosedError, ConnectionError))


class DaskExecutor(Executor):
    """Runs calls as tasks on a Dask cluster, ``slots`` at a time.

    ``client_or_address`` is a ``distributed.Client`` (left open on ``close``) or a scheduler address
    such as ``"tcp://host:8786"`` (the executor opens its own client and closes it). ``slots``
    defaults to the cluster's worker threads when a run starts. ``gpus_per_trial`` (e.g. 1, or 0.5
    for two trials per GPU) asks Dask for that much of a ``GPU`` worker resource per trial (workers
    started with ``dask worker ADDRESS --resources GPU=1``); slots then default to what the GPUs hold.
    """

    def __init__(
        self, client_or_address: Client | str, *, slots: int | None = None,
        gpus_per_trial: float | None = None,
    ) -> None:
        if not is_dask_target(client_or_address):
            raise ValueError(
                "client_or_address must be a dask.distributed Client or a scheduler address like "
                f"'tcp://host:8786'; got {client_or_address!r}"
            )
        if slots is not None and (isinstance(slots, bool) or not isinstance(slots, int) or slots < 1):
            raise ValueError(f"slots must be a positive int or None (the cluster's threads), got {slots!r}")
        self._address = client_or_address if isinstance(client_or_address, str) else None
        self._client: Any = None if self._address else client_or_address
        if gpus_per_trial is not None and (isinstance(gpus_per_trial, bool) or not isinstance(
                gpus_per_trial, (int, float)) or not 0 < gpus_per_trial <= 1):
            raise ValueError(f"gpus_per_trial must be a number in (0, 1] or None, got {gpus_per_trial!r}")
        self._gpus = gpus_per_trial
        self._slots_given = slots
        self._slots: int | None = slots
        self._devices: dict[int, str] = {}  # call key -> the GPU it ran on (gpus_per_trial)
        self._calls: dict[int, _Call] = {}
        self._inbox: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._reports: Any = None
        self._reader: threading.Thread | None = None
        self._closing = threading.Event()

    # -- connection ----------------------------------------------------------------------------
    @property
    def client(self) -> Client:
        """The Dask client (opened on first use for an address)."""
        if self._client is None:
            from distributed import Client

            try:
                self._client = Client(self._address, set_as_default=False)
            except OSError as exc:
                raise ConnectionError(
                    f"cannot reach the Dask scheduler at {self._address!r} ({exc}); start one with "
                    "`dask scheduler` and workers with `dask worker ADDRESS`"
                ) from exc
        return self._client

    @property
    def slots(self) -> int:
        if self._slots is None:
            threads = self.client.nthreads()
            if self._gpus is None:
                self._slots = max(1, sum(threads.values()))
            else:  # as many trials as the GPU resources hold, each worker up to its threads
                held = {w: int(gpus / self._gpus + 1e-9) for w, gpus in self._gpu_resources().items()}
                self._slots = max(1, sum(min(n, threads.get(w, n)) for w, n in held.items()))
        return self._slots

    def _gpu_resources(self) -> dict[str, float]:
        """The workers offering at least one trial's share of a ``GPU`` resource: address -> GPUs."""
        if self._gpus is None:
            return {}
        workers = self.client.scheduler_info().get("workers", {})
        offered = {address: float(info.get("resources", {}).get("GPU", 0))
                   for address, info in workers.items()}
        return {address: gpus for address, gpus in offered.items() if gpus >= self._gpus}

    def device_of(self, key: int) -> str | None:
        return self._devices.get(key)

    def install_hint(self, module: str) -> str:
        return (
            f"install {module!r} on every Dask worker (pip install it in the workers' environment, or "
            "start 'dask worker' where it imports: the same folder or PYTHONPATH; a single file can "
            "travel with client.upload_file)"
        )

    # -- running -------------------------------------------------------------------------------
    def start(self, job: Job, on_report: ReportHandler, on_checkpoint: Any = None) -> None:
        from distributed import Queue

        self._payload = job.to_bytes(
            "Dask workers", "define it at module level and keep what it closes over picklable"
        )
        if self._gpus is not None and not self._gpu_resources():  # its tasks would wait forever
            raise ValueError(
                f"devices='auto': no worker of the Dask cluster offers a GPU resource of at least "
                f"{self._gpus:g}; start workers with 'dask worker ADDRESS --resources GPU=1' (one per GPU)"
            )
        self._on_report = on_report
        self._on_checkpoint = on_checkpoint
        self._slots = self._slots_given  # a cluster may have grown since the last run
        self._closing.clear()
        self._inbox = queue.Queue()
        self._reports = Queue(f"shoal-{uuid.uuid4().hex}", client=self.client)
        self._reader = threading.Thread(
            target=self._read, args=(self._reports, self._inbox), name="shoal-dask-reports", daemon=True
        )
        self._reader.start()

    def _read(self, reports: Any, inbox: queue.Queue[tuple[Any, ...]]) -> None:
        """Move messages from the scheduler's queue to the local inbox (a thread, blocking)."""
        while not self._closing.is_set():
            try:
                message = reports.get()
            except Exception as exc:  # noqa: BLE001 - the connection dropped; the client reconnects
                if self._closing.wait(1.0):
                    return
                logger.debug("dask report queue: %s", exc)
                continue
            if message == _CLOSE:
                return
            inbox.put(("message", message))

    def submit(self, key: int, config: dict[str, Any], number: int, checkpoint: Any = None) -> None:
        if self._reports is None:
            raise RuntimeError("submit called before start")
        future = self.client.submit(
            _run_trial,
            self._payload,
            self._reports.name,
            key,
            number,
            config,
            checkpoint,
            key=f"shoal-trial-{number}-{uuid.uuid4().hex[:8]}",
            pure=False,
            retries=0,
            resources=None if self._gpus is None else {"GPU": self._gpus},
        )
        self._calls[key] = _Call(future)
        inbox = self._inbox
        future.add_done_callback(lambda f: inbox.put(("done", key, f, *_settle(f))))

    def wait(self, timeout: float | None) -> list[Event]:
        try:
            item = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return []
        events: list[Event] = []
        while True:
            self._handle(item, events)
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return events

    def _handle(self, item: tuple[Any, ...], events: list[Event]) -> None:
        if item[0] == "done":
            _, key, future, status, result = item
            call = self._calls.get(key)
            if call is None or call.future is not future:
                return  # cancelled, or already judged dead
            del self._calls[key]
            events.append(self._translate(key, call, status, result))
            return
        kind, key, token, step, value, reply, worker, gpu = item[1]
        call = self._calls.get(key)
        if kind == "start":
            if call is None:
                answer = _ABORT
            elif call.token is None:
                call.token, call.worker, answer = token, worker, _RUN
                if self._gpus is not None:
                    self._devices[key] = f"GPU {gpu} on {worker}" if gpu else f"GPU on {worker}"
            else:  # Dask re-ran a task whose worker was lost: the trial died with that worker
                del self._calls[key]
                self._forget(call)
                events.append(Died(key, f"dask worker died: {call.worker} was lost while running the trial"))
                answer = _ABORT
        elif call is None or token != call.token:
            answer = _ABORT
        elif kind == "checkpoint":  # the worker wrote it into the store; record it
            if self._on_checkpoint is not None:
                self._on_checkpoint(key, int(step), str(value))
            answer = _GO
        else:
            answer = _encode(self._on_report(key, int(step), None if kind == "poll" else float(value)))
        if call is not None and answer != _ABORT:
            call.last_reply = reply
        self._answer(reply, answer)

    def _answer(self, reply: str, answer: str) -> None:
        from distributed import Variable

        try:
            Variable(reply, client=self.client).set(answer)
        except Exception as exc:  # noqa: BLE001 - the task notices the scheduler is gone itself
            logger.warning("dask: could not answer a trial (%s)", exc)

    def _translate(self, key: int, call: _Call, status: str, result: Any) -> Event:
        if status == "finished":
            if result is None:  # only an execution we told to stop returns None
                return Died(key, "dask worker died: the task was re-run and stopped")
            outcome, exception = result
            return Finished(key, outcome, exception)
        if status == "error":
            if _worker_lost(result):
                return Died(key, f"dask worker died: {type(result).__name__}: {result}")
            where = f" on {call.worker}" if call.worker else ""
            error = f"dask task failed{where}: {type(result).__name__}: {result}"
            return Finished(key, Outcome(TrialState.FAILED, None, error, FailureKind.OBJECTIVE))
        return Died(key, f"dask worker died or the task was lost ({status}; the scheduler dropped it)")

    def _forget(self, call: _Call) -> None:
        """Stop a call's task and delete an answer a dead task will never read."""
        call.future.cancel()
        if call.last_reply is not None:
            from distributed import Variable

            try:
                Variable(call.last_reply, client=self.client).delete()
            except Exception:  # noqa: BLE001 - cleanup only
                pass

    def cancel(self, key: int) -> None:
        call = self._calls.pop(key, None)
        if call is not None:
            self._forget(call)

    def close(self) -> None:
        calls, self._calls = list(self._calls.values()), {}
        if self._client is not None:
            if calls:
                try:
                    self._client.cancel([c.future for c in calls])
                except Exception:  # noqa: BLE001 - the cluster may be gone already
                    pass
            self._closing.set()
            if self._reports is not None:
                try:
                    self._reports.put(_CLOSE, timeout=5)
                except Exception:  # noqa: BLE001
                    pass
                if self._reader is not None:
                    self._reader.join(timeout=10)
                try:
                    self._reports.close()
                except Exception:  # noqa: BLE001
                    pass
            if self._address is not None:
                self._client.close()
                self._client = None
        self._reports = None
        self._reader = None


def _settle(future: Future) -> tuple[str, Any]:
    """A finished future's status and result or exception (run in Dask's callback thread)."""
    status = future.status
    try:
        if status == "finished":
            return status, future.result()
        if status == "error":
            return status, future.exception()
    except Exception as exc:  # noqa: BLE001 - the result was lost in transit
        return "error", exc
    return status, None
