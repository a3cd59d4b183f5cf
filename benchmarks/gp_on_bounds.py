"""How often shoal's GP proposes a point on a face of the box.

Runs the GP on peers-benchmark tasks and counts, among its model proposals (not the initial design),
those with at least one coordinate on a bound of the unit cube, over the whole run and before trial
20; prints the median best value too::

    PYTHONPATH=src .venv/bin/python benchmarks/gp_on_bounds.py --tasks bbob-f15-d5,bbob-f17-d10 --seeds 5

The BBOB and synthetic functions have their optima inside the box, so there a high share is search
spent where the optimum is not (RESULTS.md, "The prior mean at the design's median").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers.optimizers import ShoalAdapter  # noqa: E402
from peers.tasks import registry  # noqa: E402

from shoal.samplers import GP  # noqa: E402


def count(task_name: str, seeds: int, budget: int) -> tuple[int, int, int, int, float]:
    """(model proposals on a bound, model proposals, the same two before trial 20, median best)."""
    task = registry()[task_name]
    on = total = early_on = early_total = 0
    bests = []
    for seed in range(seeds):
        adapter = ShoalAdapter(task.space, seed, GP())
        best = np.inf
        for i in range(budget):
            handle, config = adapter.ask()
            value = task.objective(config)
            adapter.tell(handle, value)
            best = min(best, value)
            trial = adapter.study.trials[-1]
            if "log EI" not in (trial.proposed_by or ""):
                continue
            unit = np.fromiter(trial.unit.values(), dtype=float)
            on_bound = bool(np.any((unit <= 1e-9) | (unit >= 1 - 1e-9)))
            on, total = on + on_bound, total + 1
            if i < 20:
                early_on, early_total = early_on + on_bound, early_total + 1
        bests.append(best)
    return on, total, early_on, early_total, float(np.median(bests))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="bbob-f15-d5,bbob-f17-d10,hartmann6", help="comma-separated")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=60)
    args = parser.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in tasks if t not in registry()]
    if unknown or not tasks:
        print(f"gp_on_bounds: --tasks {args.tasks}: no such task {unknown} (benchmarks/peers/run.py --list)",
              file=sys.stderr)
        return 2
    if args.seeds < 1 or args.budget < 1:
        print("gp_on_bounds: --seeds and --budget must be at least 1", file=sys.stderr)
        return 2
    for name in tasks:
        on, total, early_on, early_total, best = count(name, args.seeds, args.budget)
        share = on / total if total else 0.0
        early = early_on / early_total if early_total else 0.0
        print(f"{name}: {on} of {total} model proposals on a bound ({share:.0%}); before trial 20 "
              f"{early_on} of {early_total} ({early:.0%}); median best {best:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
