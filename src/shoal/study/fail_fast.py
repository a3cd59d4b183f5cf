"""Stop an ``optimize`` call whose first trials all fail to import the same module.

When the objective's module (or a package it imports) is missing where trials run, typically on
Dask workers started elsewhere, every trial would fail with the same import error. The call stops
after the first ``IMPORT_FAILURES`` finished trials failed that way (and none ran), with one
``ObjectiveUnavailable`` naming the module and where to install it.
"""

from __future__ import annotations

import re

from ..errors import ObjectiveUnavailable
from ..execution.base import Executor
from ..trial import FailureKind, Trial, TrialState

__all__ = ["IMPORT_FAILURES", "ImportWatch", "missing_module"]

#: how many trials of a call must fail importing the same module, with none run, before it stops
IMPORT_FAILURES = 2
_MISSING = re.compile(
    r"ModuleNotFoundError: No module named '(?P<module>[^']+)'"
    r"|ImportError: cannot import name '[^']+' from '(?P<source>[^']+)'"
)


def missing_module(error: str | None) -> tuple[str, str] | None:
    """``(the import error's text, the module to install)`` from a failed trial's error text: the
    last import error it names; None when it names none."""
    matches = list(_MISSING.finditer(error or ""))
    if not matches:
        return None
    last = matches[-1]
    module = last.group("module") or last.group("source")
    return last.group(0), module.split(".")[0]


class ImportWatch:
    """Watches the first trials an ``optimize`` call finishes for one repeated import error."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.failures: list[tuple[int, str, str]] = []  # (trial number, error text, module)
        self.settled = False  # a trial ran (or failed otherwise): the objective imports where it runs

    @property
    def doubtful(self) -> bool:
        """The trials finished so far all failed importing one module: start no new trial while
        others run (their outcome decides), so the call stops after the first wave."""
        return bool(self.failures) and not self.settled

    def see(self, trial: Trial) -> ObjectiveUnavailable | None:
        """The error to stop with once ``IMPORT_FAILURES`` trials failed importing the same module."""
        if self.settled:
            return None
        if trial.state == TrialState.FAILED and trial.failure != FailureKind.OBJECTIVE:
            return None  # a worker died, a timeout, a lost checkpoint: says nothing of imports
        found = missing_module(trial.error) if trial.state == TrialState.FAILED else None
        if found is None or any(found[0] != text for _, text, _ in self.failures):
            self.settled = True
            return None
        self.failures.append((trial.number, *found))
        if len(self.failures) < IMPORT_FAILURES:
            return None
        self.settled = True
        failed = sorted(n for n, _, _ in self.failures)  # by number, whichever finished first
        numbers = ", ".join(str(n) for n in failed[:-1]) + f" and {failed[-1]}"
        text, module = found
        where = re.search(r"on dask worker (\S+)", trial.error or "")
        on = f" on dask worker {where.group(1)}" if where else ""
        return ObjectiveUnavailable(
            f"stopped: trials {numbers} all failed with {text}{on}; "
            f"{self.executor.install_hint(module)}, then run again"
        )
