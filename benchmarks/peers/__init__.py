"""shoal's samplers against the peers on shared tasks and seeds.

Peers: Optuna, Hyperopt and scikit-optimize run in shoal's own env; Ax, HEBO and SMAC3 each in a
virtual environment of their own (``envs.py``; HEBO pins numpy 1.24), as subprocesses
(``peer_runner.py``) that write the same JSON records.

Entry points (each a thin script beside this file):

- ``envs.py``: create the Ax, HEBO and SMAC3 envs under ``.tmp/peer-envs`` (``make peer-envs``);
- ``run.py``: run (task, optimizer, seed) jobs, one JSON file each, so a run resumes and re-scores;
  peer jobs with records committed under ``results/`` are reused, not rerun (``peer_results.py``);
- ``overhead.py``: time spent in ask + tell per trial at 100, 300 and 1,000 trials, and shoal's default
  against Ax, HEBO and SMAC3 at 60 trials (``timing_peers.py``);
- ``report.py``: normalized scores, ranks, the parallel ratio and plots into a markdown report.
"""
