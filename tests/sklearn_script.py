"""An existing scikit-learn script: a randomized search over a pipeline with two metrics.

tests/test_sklearn.py runs it as it is and with one import and one class name changed to shoal's,
and compares what the two searches expose. It prints one JSON line.
"""

import json

from scipy.stats import loguniform
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_digits(return_X_y=True)
X, y = X[:300], y[:300]
pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
search = RandomizedSearchCV(
    pipe,
    {
        "logisticregression__C": loguniform(1e-3, 1e2),
        "logisticregression__fit_intercept": [True, False],
    },
    n_iter=4,
    scoring=["accuracy", "f1_macro"],
    refit="accuracy",
    cv=3,
    n_jobs=2,
    random_state=0,
    return_train_score=True,
)
search.fit(X, y)
results = search.cv_results_
print(
    json.dumps(
        {
            "keys": sorted(results),
            "n_candidates": len(results["params"]),
            "best_params": sorted(search.best_params_),
            "best_index_is_rank_1": int(results["rank_test_accuracy"][search.best_index_]) == 1,
            "best_score_matches": float(results["mean_test_accuracy"][search.best_index_])
            == float(search.best_score_),
            "best_estimator": type(search.best_estimator_).__name__,
            "refit_C": float(search.best_estimator_[-1].C),
            "best_C": float(search.best_params_["logisticregression__C"]),
            "predicts": len(search.predict(X[:5])),
            "score": float(search.score(X, y)),
            "multimetric": bool(search.multimetric_),
            "n_splits": int(search.n_splits_),
        }
    )
)
