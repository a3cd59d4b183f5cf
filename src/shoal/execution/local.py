"""Local worker processes: one fresh Python process per slot, talking over a socket pair.

Workers are started with ``subprocess`` (not ``multiprocessing``), so scripts need no
``if __name__ == "__main__"`` guard and a worker never inherits the driver's threads or database
connections. A worker that dies (SIGKILL, ``os._exit``, a segfault, the OOM killer) is noticed at once
from its closed socket, reported as ``Died`` with its exit signal or code, and replaced.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from .base import Died, Event, Executor, Finished, Job, ReportHandler
from .devices import Device

__all__ = ["LocalPool"]


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "worker died"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker died: signal {-code} ({name})"
    return f"worker died: exit code {code}"


@dataclass
class _Worker:
    process: subprocess.Popen
    conn: Connection
    key: int | None = None
    ready: bool = False
    calls: int = 0
    since: float | None = None
    pidfd: int | None = None
    pending: list[Any] = field(default_factory=list)
    device: Device | None = None


class LocalPool(Executor):
    """``n_workers`` local processes; ``max_trials_per_worker`` recycles each after that many calls.

    ``devices`` (one per worker, e.g. from ``devices.plan_devices``): worker k is started with
    ``CUDA_VISIBLE_DEVICES`` set to ``devices[k].visible``, and so is any process that replaces it.
    """

    def __init__(
        self, n_workers: int, *, max_trials_per_worker: int | None = None,
        devices: Sequence[Device] | None = None,
    ) -> None:
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive int, got {n_workers!r}")
        if max_trials_per_worker is not None and (
            isinstance(max_trials_per_worker, bool)
            or not isinstance(max_trials_per_worker, int)
            or max_trials_per_worker < 1
        ):
            raise ValueError(
                f"max_trials_per_worker must be a positive int or None, got {max_trials_per_worker!r}"
            )
        if devices is not None and len(devices) != n_workers:
            raise ValueError(f"devices: give one per worker ({n_workers}), got {len(devices)}")
        self._n = n_workers
        self._devices = list(devices) if devices is not None else [None] * n_workers
        self._max_calls = max_trials_per_worker
        self._payload: bytes | None = None
        self._workers: list[_Worker] = []
        self._events: list[Event] = []

    @property
    def slots(self) -> int:
        return self._n

    # -- processes -----------------------------------------------------------------------------
    def start(self, job: Job, on_report: ReportHandler, on_checkpoint: Any = None) -> None:
        self._on_report = on_report
        self._on_checkpoint = on_checkpoint
        self._payload = job.to_bytes("worker processes", "define it at module level or use n_workers=1")
        self._workers = [self._spawn(self._devices[k]) for k in range(self._n)]

    def _spawn(self, device: Device | None) -> _Worker:
        assert self._payload is not None
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        if device is not None:  # its own GPU, set before the objective (or CUDA) starts
            env["CUDA_VISIBLE_DEVICES"] = device.visible
        process = subprocess.Popen(
            [sys.executable, "-m", "shoal.execution.worker", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        conn = Connection(ours.detach())
        conn.send_bytes(self._payload)
        conn.send(self._max_calls)
        try:  # readable when the process exits, even while a child it forked holds the socket open
            pidfd = os.pidfd_open(process.pid)
        except (AttributeError, OSError):
            pidfd = None
        return _Worker(process, conn, pidfd=pidfd, device=device)

    def _replace(self, worker: _Worker, *, kill: bool) -> None:
        if kill and worker.process.poll() is None:
            worker.process.kill()
        worker.conn.close()
        worker.process.wait()
        if worker.pidfd is not None:
            os.close(worker.pidfd)
        index = self._workers.index(worker)
        self._workers[index] = self._spawn(worker.device)  # the slot keeps its device

    # -- calls ---------------------------------------------------------------------------------
    def submit(self, key: int, config: dict[str, Any], number: int, checkpoint: Any = None) -> None:
        for worker in self._workers:
            if worker.key is None:
                try:
                    worker.conn.send(("run", key, number, config, checkpoint))
                except OSError:  # it died while idle: a fresh process takes the call
                    self._replace(worker, kill=True)
                    return self.submit(key, config, number, checkpoint)
                worker.key = key
                worker.since = time.monotonic() if worker.ready else None
                return
        raise RuntimeError("submit called with every worker busy")

    def device_of(self, key: int) -> str | None:
        for worker in self._workers:
            if worker.key == key:
                return None if worker.device is None else worker.device.label
        return None

    def running_since(self, key: int) -> float | None:
        """When the call began in its worker; a call still waiting for its worker to start reads now."""
        for worker in self._workers:
            if worker.key == key:  # not started yet: its clock has not begun
                return time.monotonic() if worker.since is None else worker.since
        return None

    def wait(self, timeout: float | None) -> list[Event]:
        if not self._events:
            pidfds = [w.pidfd for w in self._workers if w.pidfd is not None]
            ready = wait([w.conn for w in self._workers] + pidfds, timeout)
            for worker in [w for w in self._workers if w.conn in ready or w.pidfd in ready]:
                self._drain(worker)
        events, self._events = self._events, []
        return events

    def _drain(self, worker: _Worker) -> None:
        """Read what one worker sent; notice if it retired or died."""
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                kind = message[0]
                if kind == "ready":
                    worker.ready = True
                    if worker.key is not None:
                        worker.since = time.monotonic()
                elif kind == "report":
                    _, key, step, value = message
                    worker.conn.send(("decision", key, self._on_report(key, step, value)))
                elif kind == "checkpoint":  # saved by the worker into the store; record it
                    _, key, step, uri = message
                    if self._on_checkpoint is not None and key == worker.key:
                        self._on_checkpoint(key, step, uri)
                    worker.conn.send(("recorded", key))
                elif kind == "done":
                    _, key, outcome, exception = message
                    worker.key = None
                    worker.calls += 1
                    self._events.append(Finished(key, outcome, exception))
                    if self._max_calls is not None and worker.calls >= self._max_calls:
                        # it exits after this answer: never hand it another call
                        self._replace(worker, kill=False)
                        return
        except (EOFError, OSError):
            pass  # its socket closed: it died
        else:
            if worker.process.poll() is None:
                return  # alive; everything it sent is read
            # its process exited while a child it forked still holds the socket open
        key = worker.key
        code = worker.process.wait()
        if key is not None:
            self._events.append(Died(key, _describe_exit(code)))
        self._replace(worker, kill=False)  # a fresh process takes the slot

    def cancel(self, key: int) -> None:
        for worker in self._workers:
            if worker.key == key:
                self._replace(worker, kill=True)
                return

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (for tests and monitoring)."""
        return [w.process.pid for w in self._workers]

    def close(self) -> None:
        for worker in self._workers:
            try:
                if worker.key is None:
                    worker.conn.send(("exit",))
            except OSError:
                pass
        for worker in self._workers:
            try:
                worker.process.wait(timeout=2 if worker.key is None else 0)
            except subprocess.TimeoutExpired:
                pass
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
            worker.conn.close()
            if worker.pidfd is not None:
                os.close(worker.pidfd)
        self._workers = []
