"""Crash recovery: running trials whose driver vanished become STALE and are re-queued.

A driver is gone when its process is dead on this host, or when it has sent no heartbeat for the
study's ``stale_after`` seconds; a slow but live driver is never judged gone (its heartbeat thread
beats whatever its trial does).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..trial import Trial, TrialState
from .heartbeat import pid_alive

if TYPE_CHECKING:  # pragma: no cover
    from .core import Study

__all__ = ["recover_stale", "mark_stale", "MAX_REQUEUES"]

#: A configuration whose runs keep vanishing (it kills its driver) is re-queued at most this often.
MAX_REQUEUES = 2


def recover_stale(study: Study) -> list[Trial]:
    """Mark the running trials of vanished drivers STALE (re-queued if the study says so)."""
    host, now, stale = socket.gethostname(), datetime.now(timezone.utc), []
    for trial, driver in study.storage.running_with_drivers(study.id):
        if driver is None or driver.driver_id == study._driver_id:
            continue
        silent = (now - driver.heartbeat_at).total_seconds()
        dead = driver.host == host and driver.pid != os.getpid() and not pid_alive(driver.pid)
        if not dead and silent < study.stale_after:
            continue
        why = (
            f"driver {driver.host}:{driver.pid} vanished"
            + (" (process gone)" if dead else f" (no heartbeat for {silent:.0f}s)")
        )
        stale.append(mark_stale(study, trial, why))
    study.refresh()
    return [t for t in stale if t is not None]


def mark_stale(study: Study, trial: Trial, why: str) -> Trial | None:
    """Mark one running trial STALE and re-queue its configuration (None: it finished meanwhile)."""
    assert trial.trial_id is not None
    try:
        marked = study.storage.set_state(trial.trial_id, TrialState.RUNNING, TrialState.STALE, error=why)
    except Exception:  # noqa: BLE001 - it finished or was claimed meanwhile
        return None
    study._log.put(marked)
    if study.requeue_stale and _requeue_depth(study, marked) < MAX_REQUEUES:
        study._repeat(marked, TrialState.QUEUED)
    return marked


def _requeue_depth(study: Study, trial: Trial) -> int:
    depth, by_number = 0, study._log.by_number
    while trial.requeued_from is not None and trial.requeued_from in by_number:
        depth += 1
        trial = by_number[trial.requeued_from]
    return depth
