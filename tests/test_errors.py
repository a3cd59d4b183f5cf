"""Every exception shoal raises on purpose is a ``ShoalError``, and stays importable where it was."""

from __future__ import annotations

import importlib
import inspect

import pytest

import shoal
from shoal import errors

OLD_HOMES = {
    "SpaceMismatch": "shoal.space",
    "StudyExists": "shoal.storage",
    "StudyNotFound": "shoal.storage",
    "ClaimTaken": "shoal.storage",
    "StateConflict": "shoal.storage",
    "SearchExhausted": "shoal.samplers",
    "TrialPruned": "shoal.trial",
    "TrialAbandoned": "shoal.execution.dask",
    "CheckpointError": "shoal.checkpoints",
    "ConfigError": "shoal.config",
    "CLIError": "shoal.cli",
    "ApiError": "shoal.dashboard.data",
}


def test_every_exception_in_errors_is_a_shoal_error_and_listed() -> None:
    members = inspect.getmembers(errors, inspect.isclass)
    classes = {n: c for n, c in members if c.__module__ == errors.__name__}
    assert set(classes) == set(errors.__all__)
    for name, cls in classes.items():
        assert issubclass(cls, errors.ShoalError), name


@pytest.mark.parametrize("name, module", sorted(OLD_HOMES.items()))
def test_an_exception_is_still_importable_where_users_met_it(name: str, module: str) -> None:
    assert getattr(importlib.import_module(module), name) is getattr(errors, name)


def test_a_shoal_error_is_caught_by_the_builtin_base_it_always_had() -> None:
    with pytest.raises(KeyError):  # StudyNotFound was a KeyError before ShoalError existed
        shoal.Study.load("nowhere", shoal.storage.InMemoryStorage())
    with pytest.raises(errors.ShoalError):
        shoal.Study.load("nowhere", shoal.storage.InMemoryStorage())
