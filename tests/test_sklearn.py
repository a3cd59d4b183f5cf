"""ShoalSearchCV: a drop-in for RandomizedSearchCV whose candidates come from a shoal study."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from scipy.stats import loguniform, norm, randint, uniform  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.exceptions import FitFailedWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.model_selection import RandomizedSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import shoal  # noqa: E402
from shoal.integrations._distributions import as_param_space  # noqa: E402
from shoal.sklearn import ShoalSearchCV  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
X, Y = load_iris(return_X_y=True)
#: the oldest scikit-learn the `sklearn` extra allows, and a numpy/scipy of its time
OLDEST = ["scikit-learn==1.3.0", "numpy==1.26.4", "scipy==1.11.4", "pandas==2.0.3"]


def _search(**kwargs) -> ShoalSearchCV:
    kwargs.setdefault("n_iter", 4)
    kwargs.setdefault("cv", 3)
    kwargs.setdefault("random_state", 0)
    return ShoalSearchCV(LogisticRegression(max_iter=300), {"C": loguniform(1e-3, 1e2)}, **kwargs)


# -- scikit-learn's own estimator checks -------------------------------------------------------
def _expected_failures(estimator):
    # the failures scikit-learn itself expects of RandomizedSearchCV (instance_generator.py)
    if isinstance(estimator.estimator, Ridge):
        return {"check_supervised_y_2d": "DataConversionWarning not caught (as RandomizedSearchCV)"}
    return {}


@parametrize_with_checks(
    [
        ShoalSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, n_iter=2, cv=2, error_score="raise", random_state=0),
        ShoalSearchCV(
            LogisticRegression(), {"C": [0.1, 1.0]}, n_iter=2, cv=2, error_score="raise", random_state=0
        ),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


# -- param_distributions -----------------------------------------------------------------------
def test_scipy_distributions_become_dimensions_on_their_scale():
    params = as_param_space(
        {"C": loguniform(1e-3, 1e2), "l1": uniform(0.2, 0.5), "k": randint(2, 9), "z": norm(1.0, 2.0)}
    )
    space = params.space
    assert space["C"] == shoal.Float(1e-3, 1e2, scale="log")
    assert space["l1"] == shoal.Float(0.2, 0.7)
    assert space["k"] == shoal.Int(2, 8)
    # any other law goes through its quantile function: u=0.5 is the median, u=0.975 ~ mean + 1.96 sd
    assert space["z"].from_unit(0.5) == pytest.approx(1.0)
    assert space["z"].from_unit(0.975) == pytest.approx(1.0 + 1.96 * 2.0, abs=1e-2)
    assert np.isfinite(space["z"].from_unit(0.0)) and np.isfinite(space["z"].from_unit(1.0))
    assert space["z"].to_unit(1.0) == pytest.approx(0.5)


def test_lists_of_objects_and_lists_of_dicts():
    scaler = StandardScaler()
    params = as_param_space(
        [
            {"kernel": ["linear"], "C": [0.5, 1.0], "sizes": [(10,), (10, 10)]},
            {"kernel": ["rbf"], "gamma": loguniform(1e-3, 1.0), "prep": [scaler, None]},
        ]
    )
    space = params.space
    assert space.is_conditional and space["branch"] == shoal.Choice([0, 1])
    seen = set()
    for u in np.linspace(0.01, 0.99, 9):
        config, _ = space.decode([u] * len(space))
        p = params.to_params(config)
        seen.add(p["kernel"])
        if p["kernel"] == "linear":
            assert set(p) == {"kernel", "C", "sizes"} and p["sizes"] in [(10,), (10, 10)]
        else:
            assert set(p) == {"kernel", "gamma", "prep"} and (p["prep"] is scaler or p["prep"] is None)
    assert seen == {"linear", "rbf"}


def test_shoal_space_given_directly():
    space = {"C": shoal.Float(0.01, 10.0, scale="log"), "fit_intercept": shoal.Choice([True, False])}
    search = ShoalSearchCV(LogisticRegression(max_iter=300), space, n_iter=3, cv=3, random_state=0).fit(X, Y)
    assert set(search.best_params_) == {"C", "fit_intercept"}
    assert all(0.01 <= p["C"] <= 10.0 for p in search.cv_results_["params"])


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"C": "abc"}, "param_distributions['C']"),
        ({"C": []}, "empty"),
        ({}, "empty"),
        (42, "param_distributions must be"),
        ({"C": 3.0}, "param_distributions['C']"),
    ],
)
def test_bad_param_distributions_name_the_parameter(bad, words):
    search = ShoalSearchCV(LogisticRegression(), bad, n_iter=2, cv=2)
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        search.fit(X, Y)


def test_bad_sampler_and_n_iter():
    with pytest.raises(ValueError, match="sampler must be a shoal sampler"):
        _search(sampler="tpe").fit(X, Y)
    with pytest.raises(ValueError, match="n_iter"):
        _search(n_iter=0).fit(X, Y)


# -- behaves as RandomizedSearchCV -------------------------------------------------------------
def test_cv_results_match_randomized_search_columns():
    theirs = RandomizedSearchCV(
        LogisticRegression(max_iter=300), {"C": loguniform(1e-3, 1e2)}, n_iter=4, cv=3, random_state=0,
        return_train_score=True,
    ).fit(X, Y)
    ours = _search(return_train_score=True).fit(X, Y)
    assert set(ours.cv_results_) == set(theirs.cv_results_) | {"trial_number"}
    assert list(ours.cv_results_["trial_number"]) == [0, 1, 2, 3]
    assert ours.best_params_ == ours.cv_results_["params"][ours.best_index_]
    assert ours.best_estimator_.C == ours.best_params_["C"]
    assert ours.cv_results_["rank_test_score"][ours.best_index_] == 1


def test_multimetric_refit_on_named_metric_and_study_ranks_by_it(sqlite_url: str):
    search = _search(
        scoring={"acc": "accuracy", "f1": "f1_macro"}, refit="f1", storage=sqlite_url, study_name="mm"
    )
    search.fit(X, Y)
    assert {"mean_test_acc", "mean_test_f1", "rank_test_f1"} <= set(search.cv_results_)
    study = shoal.Study.load("mm", sqlite_url)
    by_number = {t.number: t.value for t in study.trials}
    results = search.cv_results_
    for number, f1 in zip(results["trial_number"], results["mean_test_f1"], strict=True):
        assert by_number[int(number)] == pytest.approx(f1)
    assert study.best.number == search.cv_results_["trial_number"][search.best_index_]


@pytest.mark.parametrize("n_jobs", [1, 4])
def test_pipeline_parameters_and_error_score_nan_marks_trials_failed(n_jobs, sqlite_url: str):
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    # l1_ratio=1 is an l1 penalty, which the lbfgs solver refuses: those fits fail
    search = ShoalSearchCV(
        pipe,
        {"logisticregression__C": [0.1, 1.0], "logisticregression__l1_ratio": [0.0, 1.0]},
        n_iter=4, cv=3, storage=sqlite_url, study_name="pipe", sampler=shoal.samplers.Grid(), n_jobs=n_jobs,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, Y)
    assert any(issubclass(w.category, FitFailedWarning) for w in caught)
    study = shoal.Study.load("pipe", sqlite_url)
    failed = {t.number for t in study.trials if t.state == shoal.TrialState.FAILED}
    assert len(failed) == 2 and len(study.trials) == 4
    results = search.cv_results_
    assert all(p["logisticregression__l1_ratio"] == 0.0 for p in search.cv_results_["params"]
               if not np.isnan(results["mean_test_score"][list(results["params"]).index(p)]))
    if n_jobs == 4:  # one batch, as RandomizedSearchCV: failed candidates are rows scored nan
        assert len(results["params"]) == 4
        nan_rows = {int(n) for n, s in zip(results["trial_number"], results["mean_test_score"], strict=True)
                    if np.isnan(s)}
        assert nan_rows == failed
    else:  # a batch whose fits all fail is not a row (scikit-learn raises on it); its trial is FAILED
        assert len(results["params"]) == 2 and not set(results["trial_number"]) & failed
        assert all("fits failed" in t.error for t in study.trials if t.number in failed)
    assert search.best_params_["logisticregression__l1_ratio"] == 0.0


def test_every_candidate_failing_raises_as_randomized_search():
    search = ShoalSearchCV(SVC(), {"C": [-1.0, -2.0]}, n_iter=2, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="fits failed"):
            search.fit(X, Y)


def test_error_score_raise_raises_and_records_the_failure(sqlite_url: str):
    search = ShoalSearchCV(
        SVC(), {"C": [-1.0]}, n_iter=1, cv=2, error_score="raise", storage=sqlite_url, study_name="boom"
    )
    with pytest.raises(ValueError):
        search.fit(X, Y)
    (trial,) = shoal.Study.load("boom", sqlite_url).trials
    assert trial.state == shoal.TrialState.FAILED and "C" in trial.error


def test_grid_sampler_stops_when_the_grid_is_done():
    search = ShoalSearchCV(
        Ridge(), {"alpha": [0.1, 1.0, 10.0]}, n_iter=10, cv=2, sampler=shoal.samplers.Grid()
    ).fit(X, Y)
    assert sorted(p["alpha"] for p in search.cv_results_["params"]) == [0.1, 1.0, 10.0]


def test_seeded_search_repeats_and_sampler_argument_is_not_changed():
    sampler = shoal.samplers.TPE(n_startup=2)
    first = _search(sampler=sampler, n_iter=3, cv=2).fit(X, Y).cv_results_["params"]
    second = _search(sampler=sampler, n_iter=3, cv=2).fit(X, Y).cv_results_["params"]
    assert first == second
    assert sampler.seed is None  # fit seeds a copy, never the estimator's parameter


def test_batches_sized_to_n_jobs(sqlite_url: str):
    _search(n_iter=2, n_jobs=2, storage=sqlite_url, study_name="par").fit(X, Y)
    _search(n_iter=2, n_jobs=1, storage=sqlite_url, study_name="seq").fit(X, Y)
    par = shoal.Study.load("par", sqlite_url).trials
    seq = shoal.Study.load("seq", sqlite_url).trials
    # with n_jobs=2 trials 0 and 1 are proposed together (1 starts before 0 ends); with 1 they are not
    assert par[1].started_at < par[0].finished_at
    assert seq[1].started_at >= seq[0].finished_at


def test_storage_resumes_the_search(sqlite_url: str):
    first = _search(n_iter=3, storage=sqlite_url, study_name="resume").fit(X, Y)
    second = _search(n_iter=5, storage=sqlite_url, study_name="resume").fit(X, Y)
    study = shoal.Study.load("resume", sqlite_url)
    assert len(study.trials) == 5  # two new candidates, not five
    numbers = list(second.cv_results_["trial_number"])
    # the best earlier candidate is scored again so best_* covers the whole search
    assert numbers[0] == first.cv_results_["trial_number"][first.best_index_] and numbers[1:] == [3, 4]
    assert second.best_score_ >= first.best_score_
    assert second.best_score_ == pytest.approx(study.best.value)
    # a third fit with nothing left only re-scores the best and refits it
    third = _search(n_iter=5, storage=sqlite_url, study_name="resume").fit(X, Y)
    assert list(third.cv_results_["trial_number"]) == [study.best.number]
    assert third.best_params_ == second.best_params_ or third.best_score_ == second.best_score_


# -- one import and one class name -------------------------------------------------------------
def _run_script(python: str, source: str, tmp_path: Path, name: str) -> dict:
    path = tmp_path / name
    path.write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [python, str(path)], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _swap(source: str) -> str:
    return source.replace(
        "from sklearn.model_selection import RandomizedSearchCV", "from shoal.sklearn import ShoalSearchCV"
    ).replace("search = RandomizedSearchCV(", "search = ShoalSearchCV(")


def _check_dropin(python: str, tmp_path: Path) -> None:
    original = (ROOT / "tests" / "sklearn_script.py").read_text()
    ported = _swap(original)
    changed = [
        line for line in difflib.unified_diff(original.splitlines(), ported.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert len(changed) == 4, changed  # two lines out, two lines in
    theirs = _run_script(python, original, tmp_path, "theirs.py")
    ours = _run_script(python, ported, tmp_path, "ours.py")
    assert set(ours.pop("keys")) == set(theirs.pop("keys")) | {"trial_number"}
    for key in ("best_params", "best_index_is_rank_1", "best_score_matches", "best_estimator", "predicts",
                "multimetric", "n_splits", "n_candidates"):
        assert ours[key] == theirs[key], key
    assert ours["refit_C"] == ours["best_C"]
    assert ours["score"] > 0.8


def test_replacing_randomized_search_changes_one_import_and_one_name(tmp_path):
    _check_dropin(sys.executable, tmp_path)


# -- the oldest declared scikit-learn ----------------------------------------------------------
@pytest.mark.timeout(600)
def test_oldest_declared_scikit_learn(tmp_path):
    """A throwaway venv (kept in .tmp/ between runs) with scikit-learn 1.3.0: checks and drop-in."""
    venv = ROOT / ".tmp" / "sklearn-oldest"
    python = venv / "bin" / "python"
    stamp = venv / "installed.txt"
    if not stamp.exists() or stamp.read_text() != " ".join(OLDEST):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
        deps = ["SQLAlchemy>=2.0", "rich>=13", "PyYAML>=6", "cloudpickle>=2.2", "joblib"]
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *OLDEST, *deps],
            capture_output=True, text=True, timeout=480,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        stamp.write_text(" ".join(OLDEST))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [str(python), str(ROOT / "tests" / "sklearn_checks.py")],
        capture_output=True, text=True, env=env, timeout=480,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["version"] == "1.3.0"
    assert report["ran"] > 50 and report["failed"] == [], report
    # only the checks that do not apply to a search without its arguments, as for RandomizedSearchCV
    allowed = ("check_parameters_default_constructible", "check_supervised_y_2d")  # sklearn's own xfail
    assert all(s.startswith(allowed) for s in report["skipped"]), report
    _check_dropin(str(python), tmp_path)
