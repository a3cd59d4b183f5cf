"""How close shoal's GP gets to the maximum of its own acquisition.

Runs the GP on a peers-benchmark task and, at every model proposal, maximizes the same log EI again
with a far heavier search (``--extra`` more Sobol candidates and ``--starts`` refined starts instead of
the default 5). Prints the share of proposals where the heavy search finds a point better by more than
``--margin`` in log EI, the mean gain, and the share where it lands more than 0.1 away (unit cube)::

    PYTHONPATH=src .venv/bin/python benchmarks/gp_acquisition_gap.py --task bbob-f15-d10 --seed 0

The run itself follows the default search; the heavy one is only measured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import qmc

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers.optimizers import ShoalAdapter  # noqa: E402
from peers.tasks import registry  # noqa: E402

import shoal.samplers._gp_acquisition as acquisition  # noqa: E402
from shoal.samplers import GP  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="bbob-f15-d10")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--extra", type=int, default=16384, help="more Sobol candidates for the heavy search")
    parser.add_argument("--starts", type=int, default=40, help="refined starts of the heavy search")
    parser.add_argument("--margin", type=float, default=0.1)
    args = parser.parse_args(argv)
    if args.task not in registry():
        print(f"gp_acquisition_gap: --task {args.task}: no such task (benchmarks/peers/run.py --list)",
              file=sys.stderr)
        return 2
    default_maximize, default_starts = acquisition.Acquisition.maximize, acquisition._N_REFINE
    gaps: list[tuple[float, float]] = []

    def measured(self: acquisition.Acquisition, candidates: np.ndarray, tried: np.ndarray) -> np.ndarray:
        unit = default_maximize(self, candidates, tried)
        extra = qmc.Sobol(candidates.shape[1], seed=np.random.default_rng(1)).random(args.extra)
        acquisition._N_REFINE = args.starts
        try:
            heavy = default_maximize(self, np.vstack([candidates, extra]), tried)
        finally:
            acquisition._N_REFINE = default_starts
        value, heavy_value = (self.score(*self.enc.canonical(u[None]))[0] for u in (unit, heavy))
        gaps.append((heavy_value - value, float(np.abs(unit - heavy).max())))
        return unit

    acquisition.Acquisition.maximize = measured
    try:
        task = registry()[args.task]
        adapter = ShoalAdapter(task.space, args.seed, GP())
        for _ in range(args.budget):
            handle, config = adapter.ask()
            adapter.tell(handle, task.objective(config))
    finally:
        acquisition.Acquisition.maximize = default_maximize
    gain, moved = np.array(gaps).T
    print(f"{args.task} seed {args.seed}: {len(gaps)} model proposals; heavy search better by > "
          f"{args.margin} in log EI on {np.mean(gain > args.margin):.0%}, mean gain {gain.mean():.3f}; "
          f"lands > 0.1 away on {np.mean(moved > 0.1):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
