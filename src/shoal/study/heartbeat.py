"""Driver liveness: a heartbeat thread per driver, and whether a driver's process still exists."""

from __future__ import annotations

import logging
import os
import threading

from ..storage import Storage

__all__ = ["Heartbeat", "pid_alive"]

logger = logging.getLogger("shoal")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Heartbeat:
    """A daemon thread that tells storage this driver is alive."""

    def __init__(self, storage: Storage, driver_id: int, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(storage, driver_id, interval), daemon=True, name="shoal-heartbeat"
        )
        self._thread.start()

    def _run(self, storage: Storage, driver_id: int, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                storage.heartbeat(driver_id)
            except Exception as exc:  # noqa: BLE001 - a missed beat must not kill the driver
                logger.warning("heartbeat failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
