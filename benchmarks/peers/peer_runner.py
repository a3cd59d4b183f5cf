"""One peer job inside its env, writing its JSON: ``peer_runner.py OUT TASK OPTIMIZER SEED BUDGET``.

``harness.run_one`` starts this in the peer's env (``envs.py``) with shoal's ``src`` on ``PYTHONPATH``;
it imports only the task definitions, the harness and the peer's adapter, so the record has the same
format as an in-process job's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread per job
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peers import harness  # noqa: E402


def main(argv: list[str]) -> int:
    out, task, optimizer, seed, budget = argv
    harness._init_worker()
    record = harness.run_one(harness.Job(task, optimizer, int(seed), int(budget)), out)
    return 1 if "error" in record else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
