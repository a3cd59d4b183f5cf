"""Run scikit-learn's estimator checks on ShoalSearchCV with whatever scikit-learn is installed.

Used by tests/test_sklearn.py in a throwaway venv holding the oldest scikit-learn shoal declares
(the installed one is checked in process with ``parametrize_with_checks``). Prints one JSON line:
the checks run and those that failed; the expected failures are the ones scikit-learn itself
expects of RandomizedSearchCV.
"""

import json
import warnings

import sklearn
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import check_estimator

from shoal.sklearn import ShoalSearchCV

#: scikit-learn's own expected failures for RandomizedSearchCV (see its instance_generator.py).
EXPECTED = {"check_supervised_y_2d", "check_requires_y_none"}

instances = [
    ShoalSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, n_iter=2, cv=2, error_score="raise", random_state=0),
    ShoalSearchCV(
        LogisticRegression(), {"C": [0.1, 1.0]}, n_iter=2, cv=2, error_score="raise", random_state=0
    ),
]
ran, skipped, failed = 0, [], []
warnings.simplefilter("ignore")
for instance in instances:
    for estimator, check in check_estimator(instance, generate_only=True):
        name = getattr(check, "func", check).__name__
        ran += 1
        try:
            check(estimator)
        except Exception as exc:  # noqa: BLE001 - reported below
            if type(exc).__name__ == "SkipTest":  # the check does not apply (as for RandomizedSearchCV)
                skipped.append(f"{name}: {exc}")
            elif name not in EXPECTED:
                failed.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
print(json.dumps({"version": sklearn.__version__, "ran": ran, "skipped": skipped, "failed": failed}))
