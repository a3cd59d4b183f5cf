"""shoal's samplers against the peers (Optuna, Hyperopt, scikit-optimize) on shared tasks and seeds.

Entry points (each a thin script beside this file):

- ``run.py``: run (task, optimizer, seed) jobs, one JSON file each, so a run resumes and re-scores;
- ``overhead.py``: time spent in ask + tell per trial at 100, 300 and 1,000 trials;
- ``report.py``: normalized scores, ranks, the parallel ratio and plots into a markdown report.
"""
