"""Time in ask + tell per trial at 100, 300 and 1,000 trials: shoal TPE vs Optuna TPE, shoal GP vs Optuna GP.

    .venv/bin/python benchmarks/peers/overhead.py --out .tmp/bench-peers [--gp-1000] [--repeats 5]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peers.cli import overhead_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(overhead_main())
