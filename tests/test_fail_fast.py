"""An optimize call whose first trials all fail importing the same module stops with one clear error."""

from __future__ import annotations

import pytest

import shoal
from shoal.errors import ObjectiveUnavailable
from shoal.study.fail_fast import missing_module

SPACE = {"x": shoal.Float(0.0, 1.0)}


def imports_a_missing_package(config: dict) -> float:
    import shoal_no_such_package  # noqa: F401 - missing where the trials run

    return config["x"]


def test_the_first_trials_failing_one_import_stop_the_call(sqlite_url):
    study = shoal.Study("missing", SPACE, storage=sqlite_url, seed=0)
    with pytest.raises(ObjectiveUnavailable) as raised:
        study.optimize(imports_a_missing_package, n_trials=10, retries=3, show_progress=False)
    message = str(raised.value)
    assert message.startswith("stopped: trials 0 and 1 all failed with ModuleNotFoundError: No module "
                              "named 'shoal_no_such_package'; install 'shoal_no_such_package' for the "
                              "Python that runs the trials (")
    assert message.endswith("), then run again") and "\n" not in message
    # the first trial was retried once (retries=3): the retry failed the same way; nothing else ran
    trials = study.trials
    assert [t.state.value for t in trials] == ["FAILED", "FAILED"] and trials[1].requeued_from == 0
    assert all("No module named 'shoal_no_such_package'" in t.error for t in trials)


def test_local_workers_stop_the_same_way(sqlite_url):
    study = shoal.Study("missing-workers", SPACE, storage=sqlite_url, seed=0)
    with pytest.raises(ObjectiveUnavailable, match="No module named 'shoal_no_such_package'"):
        study.optimize(imports_a_missing_package, n_trials=10, n_workers=2, show_progress=False)
    assert len(study.trials) == 2 and all(t.state.value == "FAILED" for t in study.trials)


def imports_when_x_is_large(config: dict) -> float:
    if config["x"] > 0.5:
        import shoal_no_such_package  # noqa: F401
    return config["x"]


def raises_then_imports(config: dict) -> float:
    if config["x"] < 0.3:
        raise ValueError("a bug of its own")
    import shoal_no_such_package  # noqa: F401

    return config["x"]


def imports_a_different_one(config: dict) -> float:
    __import__("shoal_no_such_package_" + ("a" if config["x"] < 0.5 else "b"))
    return config["x"]


@pytest.mark.parametrize(
    ("objective", "first"),
    [(imports_when_x_is_large, [0.9, 0.1, 0.8, 0.7]),  # a trial ran in between: the objective imports
     (raises_then_imports, [0.1, 0.9, 0.8, 0.7]),  # the first failure was not an import
     (imports_a_different_one, [0.1, 0.9, 0.2, 0.8])],  # two different modules
    ids=["one-ran", "another-failure-first", "different-modules"],
)
def test_other_failures_go_on_as_before(objective, first):
    study = shoal.Study("goes-on", SPACE, seed=0)
    for x in first:
        study.enqueue({"x": x})
    study.optimize(objective, n_trials=4, show_progress=False)
    assert len(study.trials) == 4


def test_missing_module_reads_the_last_import_error():
    assert missing_module("Traceback ...\nModuleNotFoundError: No module named 'torch.cuda'") == (
        "ModuleNotFoundError: No module named 'torch.cuda'", "torch")
    dask = ("the objective could not be loaded on dask worker tcp://1.2.3.4:5 (ModuleNotFoundError: "
            "No module named 'objs'); install the modules it needs on every worker")
    assert missing_module(dask) == ("ModuleNotFoundError: No module named 'objs'", "objs")
    assert missing_module("ImportError: cannot import name 'f' from 'pkg.mod' (/x/pkg/mod.py)") == (
        "ImportError: cannot import name 'f' from 'pkg.mod'", "pkg")
    assert missing_module("ValueError: bad") is None and missing_module(None) is None
