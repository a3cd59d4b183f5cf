"""Storage conformance tests for any ``Storage`` backend. Needs pytest (a test dependency, not a runtime one).

Subclass ``StorageConformance`` and give it a fresh, empty ``storage`` for each test. A backend with
``shared = True`` also gives ``storage_opener``, a picklable callable that opens another connection to
the same storage; the multi-process tests call it in new processes (and are skipped when not shared)::

    class TestMyBackend(StorageConformance):
        @pytest.fixture
        def storage(self, tmp_path):
            backend = MyStorage(tmp_path / "db")
            yield backend
            backend.close()

        @pytest.fixture
        def storage_opener(self, tmp_path):
            return functools.partial(MyStorage, tmp_path / "db")

``SQLUpgradeContract`` holds what ``shoal.storage.SQLStorage`` owes beyond that (older databases open
and migrate; values are plain rows); it needs a ``storage_url`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ...storage import Storage
from .changes import ChangeContract
from .imports import ImportContract
from .metrics import MetricContract
from .notes import NoteContract
from .processes import ProcessContract
from .records import RecordContract
from .support import (
    COMPLETE,
    FAILED,
    PAUSED,
    PRUNED,
    QUEUED,
    RUNNING,
    SPACE,
    STALE,
    add,
    finish,
    new_study,
    numbers,
    run_processes,
    run_threads,
)
from .trials import TrialContract
from .upgrades import SQLUpgradeContract

# the helpers are for a backend's own tests, beside the shared ones
__all__ = [
    "StorageConformance", "SQLUpgradeContract",
    "QUEUED", "RUNNING", "PAUSED", "COMPLETE", "FAILED", "PRUNED", "STALE", "SPACE",
    "add", "finish", "new_study", "numbers", "run_processes", "run_threads",
]


class StorageConformance(
    TrialContract, RecordContract, ChangeContract, MetricContract, ImportContract, ProcessContract,
    NoteContract,
):
    """The storage contract as pytest tests; subclass it as ``Test...`` and override ``storage`` (and,
    for a shared backend, ``storage_opener``)."""

    @pytest.fixture
    def storage(self) -> Storage:
        """A fresh, empty storage of the backend under test, for one test: override it."""
        pytest.fail(
            f"{type(self).__name__}: override the storage fixture to give a fresh, empty storage",
            pytrace=False,
        )

    @pytest.fixture
    def storage_opener(self) -> Callable[[], Storage] | None:
        """A picklable callable opening another connection to the ``storage`` fixture's storage (None:
        not given). Shared backends override it; the multi-process tests send it to new processes."""
        return None
