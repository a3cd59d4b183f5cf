"""Schedulers decide what happens to running trials: continue, stop early, pause and resume.

``Study(..., scheduler=ASHA(min_resource=1, max_resource=27))``; the objective reports with
``trial.report(value, step)`` and stops when ``trial.should_stop()`` (raise ``shoal.TrialPruned``).
"""

from .asha import ASHA
from .base import Decision, RungRecord, Scheduler, SchedulerContext
from .hyperband import Hyperband
from .median import MedianStopping
from .pbt import PBT, Schedule, best_schedule, schedule_of

__all__ = [
    "Scheduler",
    "SchedulerContext",
    "Decision",
    "RungRecord",
    "MedianStopping",
    "ASHA",
    "Hyperband",
    "PBT",
    "Schedule",
    "best_schedule",
    "schedule_of",
]
