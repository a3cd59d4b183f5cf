"""Analysis of a study: hyperparameter importance, plots and a self-contained HTML report.

``importance`` needs scikit-learn (``pip install 'shoal[sklearn]'``); the plots and the report need
plotly (``pip install 'shoal[plot]'``). Both are imported only when used.
"""

from __future__ import annotations

from .importance import Importance, importance

__all__ = ["Importance", "importance"]
