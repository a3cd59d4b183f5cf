"""Every exception shoal raises on purpose, under one base class ``ShoalError``.

A leaf module (it imports nothing of shoal), so every layer can raise these. Each class stays
importable from the module where users met it first (``shoal.storage.StudyNotFound``, ...).
``except shoal.errors.ShoalError`` catches anything shoal raises deliberately, and each class keeps
its built-in base (``ValueError``, ``KeyError``, ...) so existing ``except`` clauses still work.
"""

from __future__ import annotations

__all__ = [
    "ShoalError",
    "SpaceMismatch",
    "StudyExists",
    "StudyNotFound",
    "ClaimTaken",
    "StateConflict",
    "SearchExhausted",
    "TrialPruned",
    "TrialAbandoned",
    "CheckpointError",
    "ObjectiveUnavailable",
    "ConfigError",
    "CLIError",
    "ApiError",
]


class ShoalError(Exception):
    """Base of every exception shoal raises on purpose."""


class SpaceMismatch(ShoalError, ValueError):
    """Stored trials do not fit a space (raised when a study is reopened with a changed space)."""


class StudyExists(ShoalError, ValueError):
    """A study of that name is already in the storage."""


class StudyNotFound(ShoalError, KeyError):
    """No study of that name in the storage."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "study not found"


class ClaimTaken(ShoalError):
    """Another trial of the study already holds this claim key (e.g. a grid point)."""


class StateConflict(ShoalError, RuntimeError):
    """A compare-and-set on a trial's state failed: someone else changed it first."""


class SearchExhausted(ShoalError):
    """The sampler (or a scheduler that plans trials) has nothing left to propose."""


class TrialPruned(ShoalError):
    """Raise inside an objective to end the trial as PRUNED (stopped early on purpose)."""


class TrialAbandoned(ShoalError, RuntimeError):
    """Raised inside a trial's ``report`` when the driver no longer wants the trial (cancelled)."""


class CheckpointError(ShoalError, RuntimeError):
    """A checkpoint is missing, truncated, corrupt or cannot be read: the trial fails, the study goes on."""


class ObjectiveUnavailable(ShoalError, RuntimeError):
    """The first trials of an ``optimize`` call all failed to import the same module where they run
    (e.g. the objective's module is missing on the Dask workers): the call stops instead of failing
    every trial the same way. The message names the module and where to install it."""


class ConfigError(ShoalError, ValueError):
    """A run config is malformed; the message names the key and the fix."""


class CLIError(ShoalError):
    """Bad input on the command line: printed as one ``shoal: error: ...`` line, exit code 2."""


class ApiError(ShoalError):
    """A dashboard answer other than 200: ``status`` and a message a person can act on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
