"""``ShoalSearchCV``: scikit-learn's randomized search, with a shoal sampler choosing the candidates.

It subclasses scikit-learn's ``BaseSearchCV`` and implements only ``_run_search``, so ``cv_results_``,
``best_*``, ``refit``, multi-metric scoring, ``error_score``, ``n_jobs`` and pipelines are
scikit-learn's own. Each candidate is a trial of a shoal study (in memory, or in ``storage=`` so a
later ``fit`` resumes the search); candidates are proposed in batches of ``n_jobs`` so the parallel
fits stay busy.
"""

from __future__ import annotations

import copy
import traceback
import warnings
from collections.abc import Callable
from numbers import Integral
from typing import Any

import numpy as np
from joblib import effective_n_jobs
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from ..samplers.base import Sampler, SearchExhausted
from ..study.core import Study
from ..study.handle import RunningTrial
from ..trial import TrialState
from ._distributions import as_param_space

__all__ = ["ShoalSearchCV"]

DEFAULT_STUDY_NAME = "search-cv"


class ShoalSearchCV(BaseSearchCV):
    """Search over ``param_distributions`` with a shoal sampler; a drop-in for ``RandomizedSearchCV``.

    ``param_distributions`` is what ``RandomizedSearchCV`` takes (a dict or list of dicts of lists and
    frozen ``scipy.stats`` distributions), or shoal dimensions / a ``shoal.Space``. ``n_iter`` is the
    number of candidates of the study: with ``storage=`` (e.g. ``"sqlite:///search.db"``) every
    candidate is kept, and a later ``fit`` with the same ``study_name`` evaluates only the ones still
    missing (plus the best earlier one again, so ``best_*`` and ``refit`` cover the whole search).
    ``sampler`` is any ``shoal.samplers`` sampler (the Study's default, ``Auto``, when None);
    ``random_state`` seeds it. ``cv_results_`` gains a ``trial_number`` column naming each row's trial.
    """

    #: what scikit-learn < 1.6's checks read to know it cannot build one without arguments
    _required_parameters = ["estimator", "param_distributions"]

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_distributions": "no_validation",
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "sampler": "no_validation",
        "random_state": ["random_state"],
        "storage": "no_validation",
        "study_name": [str, None],
    }

    def __init__(
        self,
        estimator: Any,
        param_distributions: Any,
        *,
        n_iter: int = 10,
        sampler: Sampler | None = None,
        scoring: Any = None,
        n_jobs: int | None = None,
        refit: bool | str | Callable = True,
        cv: Any = None,
        verbose: int = 0,
        pre_dispatch: int | str = "2*n_jobs",
        random_state: Any = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        storage: Any = None,
        study_name: str | None = None,
    ) -> None:
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.sampler = sampler
        self.random_state = random_state
        self.storage = storage
        self.study_name = study_name

    # -- the one method BaseSearchCV asks for --------------------------------------------------
    def _run_search(self, evaluate_candidates: Callable[..., dict]) -> None:
        params = as_param_space(self.param_distributions)
        study = self._open_study(params.space)
        done = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.FAILED)]
        remaining = self.n_iter - len(done)
        batch_size = max(1, effective_n_jobs(self.n_jobs))
        carried = _best_of(study)  # re-scored so best_* covers the earlier fits too
        evaluated, last_failure = False, None
        while remaining > 0 or carried is not None:
            trials: list[RunningTrial] = []
            try:
                for _ in range(min(batch_size, max(remaining, 0))):
                    trials.append(study.ask(budget=self.n_iter))
            except SearchExhausted:
                remaining = 0
            rows = [(t.number, params.to_params(t.config)) for t in trials]
            if carried is not None:
                rows.insert(0, (carried.number, params.to_params(carried.config)))
                carried = None
            if not rows:
                break
            try:
                results = evaluate_candidates(
                    [p for _, p in rows], more_results={"trial_number": [n for n, _ in rows]}
                )
            except Exception as exc:
                for trial in trials:
                    study.tell(trial, state="FAILED", error=traceback.format_exc(limit=5))
                if not _all_fits_failed(exc, self.error_score):
                    raise
                # scikit-learn raises when every fit of one evaluate_candidates call fails; in one
                # RandomizedSearchCV call that means every candidate failed, here only this batch
                last_failure = exc
                remaining -= len(trials)
                warnings.warn(f"every fit of a batch failed; its trials are FAILED:{exc}", FitFailedWarning,
                              stacklevel=2)
                continue
            evaluated = True
            scores = np.asarray(results[self._score_key(results)], dtype=float)[-len(rows):]
            for trial, score in zip(trials, scores[len(rows) - len(trials):], strict=True):
                study.tell(trial, float(score))
            remaining -= len(trials)
        if not evaluated and last_failure is not None:
            raise last_failure

    # -- helpers -------------------------------------------------------------------------------
    def _open_study(self, space: Any) -> Study:
        sampler = self.sampler
        if sampler is not None and not isinstance(sampler, Sampler):
            raise ValueError(
                f"sampler must be a shoal sampler such as shoal.samplers.TPE(), got {sampler!r}"
            )
        # a copy: Study seeds the sampler it is given, and fit must leave its parameters alone
        sampler = copy.deepcopy(sampler)  # None: the Study's default (Auto)
        name = self.study_name if self.study_name is not None else DEFAULT_STUDY_NAME
        return Study(
            name, space, "maximize", self.storage, sampler, seed=_seed(self.random_state)
        )

    def _score_key(self, results: dict) -> str:
        if "mean_test_score" in results:
            return "mean_test_score"
        if isinstance(self.refit, str) and f"mean_test_{self.refit}" in results:
            return f"mean_test_{self.refit}"
        # multi-metric with refit=False or a callable: the study ranks by the first metric
        return next(k for k in results if k.startswith("mean_test_"))


def _seed(random_state: Any) -> int | None:
    if random_state is None:
        return None
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


def _all_fits_failed(exc: Exception, error_score: Any) -> bool:
    return isinstance(exc, ValueError) and error_score != "raise" and "fits failed" in str(exc)


def _best_of(study: Study):
    try:
        return study.best
    except ValueError:  # no completed trial yet
        return None
