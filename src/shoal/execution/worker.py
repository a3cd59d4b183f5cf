"""A local worker process: ``python -m shoal.execution.worker FD``.

It receives the job once (cloudpickled), then runs one call at a time and sends back reports and
outcomes over the socket ``FD``. It dies with its driver (PR_SET_PDEATHSIG on Linux, and a watcher
thread elsewhere) so a killed driver leaves no orphan training runs behind.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from ..records import Steering
from ..trial import TrialHandle
from .inprocess import run_objective


class WorkerTrial(TrialHandle):
    """The ``trial`` an objective gets in a worker: reports travel to the driver and back."""

    def __init__(
        self, conn: Connection, key: int, number: int, config: dict[str, Any], checkpoint: Any = None
    ) -> None:
        super().__init__(number, config, checkpoint)
        self._conn = conn
        self._key = key

    def _announce(self, step: int, uri: str) -> None:
        # wait until the driver has recorded it: a worker that dies right after save() loses nothing
        self._conn.send(("checkpoint", self._key, step, uri))
        kind, key = self._conn.recv()
        if kind != "recorded" or key != self._key:
            raise RuntimeError(f"worker protocol error: expected 'recorded', got {kind!r}")

    def _deliver(self, step: int, value: float) -> Steering:
        return self._ask(step, value)

    def _poll(self, from_step: int) -> Steering:
        return self._ask(from_step, None)

    def _ask(self, step: int, value: float | None) -> Steering:
        self._conn.send(("report", self._key, step, value))
        kind, key, answer = self._conn.recv()
        if kind != "decision" or key != self._key:
            raise RuntimeError(f"worker protocol error: expected a decision, got {kind!r}")
        return answer


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
        return
    except (AttributeError, OSError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it pickles, else a RuntimeError carrying its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - anything unpicklable travels as text
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def serve(conn: Connection) -> None:
    """Run calls until told to exit or the trial budget of this worker is spent."""
    import cloudpickle

    job = cloudpickle.loads(conn.recv_bytes())
    max_calls = conn.recv()
    conn.send(("ready", os.getpid()))
    calls = 0
    while True:
        message = conn.recv()
        if message[0] == "exit":
            return
        _, key, number, config, checkpoint = message
        handle = WorkerTrial(conn, key, number, config, checkpoint)
        outcome, to_raise = run_objective(
            job.objective, handle, pass_trial=job.pass_trial, catch=job.catch
        )
        conn.send(("done", key, outcome, None if to_raise is None else _portable(to_raise)))
        calls += 1
        if max_calls is not None and calls >= max_calls:
            return  # retire: the driver starts a fresh process in this slot


def main() -> None:
    # Ctrl-C reaches the whole foreground process group: the driver handles it (marks the trial STALE
    # and stops this worker); a handler, unlike SIG_IGN, is not inherited by the objective's children.
    signal.signal(signal.SIGINT, lambda *_: None)
    parent = os.getppid()
    _die_with_parent(parent)
    conn = Connection(int(sys.argv[1]))
    try:
        serve(conn)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass  # the driver went away
    finally:
        conn.close()


if __name__ == "__main__":
    main()
