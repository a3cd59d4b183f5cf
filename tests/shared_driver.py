"""One of several drivers on one study, for tests/test_shared_study.py.

    python shared_driver.py URL STUDY OUT_DIR INDEX N_DRIVERS --sampler random|grid|quasi|default
        --n-workers N [--total-trials T]

Enqueues two configurations of its own, runs ``optimize`` and checks, after every trial it
finishes, that its view of the study has no gap (trial numbers are dense, so a missing number is a
trial of another driver it never read). When done it waits until every driver is done, reads the
study once more and writes ``OUT_DIR/view-INDEX.json``: its view of every trial and the gaps seen.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import shoal
from shoal.samplers import Grid, QuasiRandom, Random

SPACE = {"x": shoal.Float(0.0, 1.0), "kind": shoal.Choice(["a", "b", "c"]), "depth": shoal.Int(0, 3)}
GRID_POINTS = 4 * 3 * 4  # Grid(resolution=4) over SPACE


def objective(config: dict) -> float:
    time.sleep(0.02 + 0.03 * config["x"])  # long enough for the drivers' trials to interleave
    return config["x"] + 0.1 * config["depth"] + {"a": 0.0, "b": 0.2, "c": 0.4}[config["kind"]]


def sampler_named(name: str, index: int):
    return {
        "random": lambda: Random(seed=index),
        "grid": lambda: Grid(resolution=4, seed=0),
        "quasi": lambda: QuasiRandom(seed=0),
        "default": lambda: None,
    }[name]()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("study")
    parser.add_argument("out", type=Path)
    parser.add_argument("index", type=int)
    parser.add_argument("n_drivers", type=int)
    parser.add_argument("--sampler", required=True)
    parser.add_argument("--n-workers", type=int, default=1)
    parser.add_argument("--total-trials", type=int)
    args = parser.parse_args()

    study = shoal.Study(args.study, SPACE, "minimize", storage=args.url,
                        sampler=sampler_named(args.sampler, args.index))
    for k in range(2):  # queued trials mixed in with sampled ones
        study.enqueue({"x": round(0.05 + 0.1 * (args.index * 2 + k), 2), "kind": "a", "depth": 0})
    gaps: list[list[int]] = []

    def no_gap(study: shoal.Study, trial: shoal.Trial) -> None:
        numbers = [t.number for t in study.trials]
        if numbers != list(range(len(numbers))):
            gaps.append(sorted(set(range(max(numbers) + 1)) - set(numbers)))

    study.optimize(objective, total_trials=args.total_trials, n_workers=args.n_workers,
                   callbacks=[no_gap], show_progress=False)
    (args.out / f"done-{args.index}").write_text("done")
    deadline = time.monotonic() + 120
    while len(list(args.out.glob("done-*"))) < args.n_drivers and time.monotonic() < deadline:
        time.sleep(0.05)
    view = [[t.number, t.state.value, t.claim, t.requeued_from] for t in study.trials]
    (args.out / f"view-{args.index}.json").write_text(json.dumps({"view": view, "gaps": gaps}))


if __name__ == "__main__":
    main()
