"""Test helpers for code built on shoal; they need pytest (a test dependency, not a runtime one).

``shoal.testing.storage``: the storage conformance suite, for a ``Storage`` backend of your own.
"""

try:  # failing asserts in the suite show their values, as in a test module
    import pytest
except ImportError:  # pragma: no cover - the submodules say they need pytest when imported
    pass
else:
    pytest.register_assert_rewrite("shoal.testing.storage.trials", "shoal.testing.storage.records",
                                  "shoal.testing.storage.processes", "shoal.testing.storage.support")
