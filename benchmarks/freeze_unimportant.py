"""Does ``CoarseToFine(freeze_unimportant=True)`` help at equal budget?

A synthetic task with 8 dimensions of which 2 matter: a bowl in ``x2`` and ``x5``; the six others
have weight 0 (they do not matter at all) or, as a sensitivity check, a small weight (0.005 against
1: negligible by importance, but not at the precision the last round reaches). Each seed runs
coarse-to-fine (3 rounds; Sobol, grid, TPE and GP bases) with and without freezing, and random
search, at the same budget, and compares the best value found (lower is better). The figures of
merit are the median best value over the seeds and how often freezing wins the paired comparison.

    .venv/bin/python benchmarks/freeze_unimportant.py [--seeds 20] [--n-trials 60] [--markdown]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import cpu_model  # noqa: E402

import shoal  # noqa: E402
from shoal.samplers import GP, TPE, CoarseToFine, Grid, Random  # noqa: E402

DIMS = 8
IMPORTANT = {"x2": 0.71, "x5": 0.23}
MINOR_WEIGHTS = (0.0, 0.005)
MINOR_CENTRE = 0.4
SPACE = {f"x{i}": shoal.Float(0.0, 1.0) for i in range(DIMS)}


def make_objective(minor_weight: float):
    """Minimum 0 at x2=0.71, x5=0.23 (and every other x = 0.4 when ``minor_weight`` > 0)."""

    def objective(config: dict[str, float]) -> float:
        value = 0.0
        for name, x in config.items():
            if name in IMPORTANT:
                value += (x - IMPORTANT[name]) ** 2
            else:
                value += minor_weight * (x - MINOR_CENTRE) ** 2
        return value

    return objective


STRATEGIES = {
    "random": lambda seed: Random(seed=seed),
    "coarse-to-fine": lambda seed: CoarseToFine(rounds=3, seed=seed),
    "coarse-to-fine, freeze_unimportant": lambda seed: CoarseToFine(rounds=3, freeze_unimportant=True,
                                                                     seed=seed),
    "coarse-to-fine, grid base": lambda seed: CoarseToFine(rounds=3, base=Grid(5), seed=seed),
    "coarse-to-fine, grid base, freeze_unimportant": lambda seed: CoarseToFine(
        rounds=3, base=Grid(5), freeze_unimportant=True, seed=seed
    ),
    "coarse-to-fine, TPE base": lambda seed: CoarseToFine(rounds=3, base=TPE(seed=seed), seed=seed),
    "coarse-to-fine, TPE base, freeze_unimportant": lambda seed: CoarseToFine(
        rounds=3, base=TPE(seed=seed), freeze_unimportant=True, seed=seed
    ),
    "coarse-to-fine, GP base": lambda seed: CoarseToFine(rounds=3, base=GP(seed=seed), seed=seed),
    "coarse-to-fine, GP base, freeze_unimportant": lambda seed: CoarseToFine(
        rounds=3, base=GP(seed=seed), freeze_unimportant=True, seed=seed
    ),
}
#: (plain, with freezing) pairs compared seed by seed.
PAIRS = (
    ("coarse-to-fine", "coarse-to-fine, freeze_unimportant"),
    ("coarse-to-fine, grid base", "coarse-to-fine, grid base, freeze_unimportant"),
    ("coarse-to-fine, TPE base", "coarse-to-fine, TPE base, freeze_unimportant"),
    ("coarse-to-fine, GP base", "coarse-to-fine, GP base, freeze_unimportant"),
)


def run(strategy: str, seed: int, n_trials: int, minor_weight: float) -> tuple[float, dict[str, object]]:
    sampler = STRATEGIES[strategy](seed)
    study = shoal.Study(f"{strategy}-{seed}", SPACE, sampler=sampler)
    study.optimize(make_objective(minor_weight), n_trials, show_progress=False)
    frozen: dict[str, object] = {}
    if isinstance(sampler, CoarseToFine):
        context = study._context(n_trials)
        for r in range(1, sampler.rounds):
            frozen[f"round {r}"] = sorted(sampler.frozen_for_round(context, r))
    return study.best.value, frozen  # type: ignore[return-value]


def compare(seeds: int, n_trials: int, minor_weight: float) -> dict[str, object]:
    """Every strategy on every seed: best values per strategy, paired wins, what seed 0 froze."""
    best: dict[str, list[float]] = {name: [] for name in STRATEGIES}
    frozen_example: dict[str, object] = {}
    for seed in range(seeds):
        for name in STRATEGIES:
            value, frozen = run(name, seed, n_trials, minor_weight)
            best[name].append(value)
            if seed == 0 and name == PAIRS[0][1]:
                frozen_example = frozen
    pairs = {}
    for plain_name, frozen_name in PAIRS:
        plain, frozen = best[plain_name], best[frozen_name]
        pairs[frozen_name] = (
            sum(f < p for f, p in zip(frozen, plain, strict=True)),
            statistics.median(plain) / statistics.median(frozen),
        )
    return {"best": best, "pairs": pairs, "frozen": frozen_example}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--n-trials", type=int, default=60)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown section")
    args = parser.parse_args()
    logging.getLogger("shoal").setLevel(logging.WARNING)
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    results = {w: compare(args.seeds, args.n_trials, w) for w in MINOR_WEIGHTS}
    wall = time.perf_counter() - started
    if args.markdown:
        print(f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
        print(f"- machine: {os.cpu_count()} cores, {cpu_model()}; 1-minute load {load_before:.2f} before, "
              f"{os.getloadavg()[0]:.2f} after")
        print(f"- software: Python {platform.python_version()}, shoal {shoal.__version__}")
        print(f"- {args.seeds} seeds x {args.n_trials} trials per strategy; wall time {wall:.0f} s\n")
        print("| the 6 other dimensions | strategy | median best | best seed | worst seed |")
        print("|---|---|--:|--:|--:|")
    for weight, result in results.items():
        label = "do not matter (weight 0)" if weight == 0 else f"matter a little (weight {weight:g})"
        for name, values in result["best"].items():  # type: ignore[attr-defined]
            med, lo, hi = statistics.median(values), min(values), max(values)
            if args.markdown:
                print(f"| {label} | {name} | {med:.2e} | {lo:.2e} | {hi:.2e} |")
            else:
                print(f"{label:<34} {name:<46} median best {med:.2e}  (range {lo:.2e} - {hi:.2e})")
    print()
    for weight, result in results.items():
        label = "do not matter" if weight == 0 else f"weight {weight:g}"
        for name, (wins, ratio) in result["pairs"].items():  # type: ignore[attr-defined]
            print(f"- other dimensions {label}: {name} beats the same without freezing on {wins} of "
                  f"{args.seeds} seeds; median best {ratio:.2f}x lower (above 1: freezing is better)")
        print(f"- other dimensions {label}: seed 0 froze {result['frozen']}")
    if not args.markdown:
        print(f"wall time {wall:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
