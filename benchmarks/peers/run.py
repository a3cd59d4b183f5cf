"""Run shoal's samplers and the peers on the same tasks and seeds; one JSON per (task, optimizer, seed).

    .venv/bin/python benchmarks/peers/run.py --jobs 2 --out .tmp/bench-peers      # the full comparison
    .venv/bin/python benchmarks/peers/run.py --quick --out /tmp/q                   # a tiny smoke run
    .venv/bin/python benchmarks/peers/report.py --out .tmp/bench-peers              # tables and plots

Jobs already in ``--out`` are skipped, so an interrupted run resumes; delete a file to rerun that job.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread per job
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peers.cli import run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main())
