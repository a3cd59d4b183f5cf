"""Score a run's JSON records: markdown tables (normalized score, ranks, parallel ratio, overhead) and plots.

    .venv/bin/python benchmarks/peers/report.py --out .tmp/bench-peers [--results benchmarks/RESULTS.md]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peers.cli import report_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(report_main())
