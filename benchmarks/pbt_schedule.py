"""PBT against random search at equal epochs, over several seeds, on two tasks where the best
learning rate changes during training.

- ``schedule``: a synthetic model whose loss shrinks each step by a share that is largest when
  log10(lr) is near a target that moves from -1 to -3 over the run (no fixed rate is right for long);
- ``mlp``: the digits MLP of ``examples/pbt_mlp.py`` (SGD with momentum, numpy), learning rate and
  momentum searched.

PBT runs ``population`` members for the full length; random search gets the same number of epochs
(trained steps, counted from the reports) as whole runs of that length. Both use the same space,
seed and objective; the figure is the best final value each found.

    .venv/bin/python benchmarks/pbt_schedule.py                 # both tasks, 5 seeds
    .venv/bin/python benchmarks/pbt_schedule.py --task schedule --seeds 10 --markdown
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import cpu_model  # noqa: E402

import shoal  # noqa: E402
from shoal.samplers import Random  # noqa: E402
from shoal.schedulers import PBT  # noqa: E402

STEPS = 40


def schedule_objective(config: dict[str, Any], trial: Any, *, steps: int = STEPS) -> float:
    """Loss of the synthetic schedule task (minimize); resumes from its checkpoint."""
    state = trial.load() or {"step": 0, "loss": 1.0}
    step, loss = state["step"], state["loss"]
    while step < steps:
        step += 1
        target = -1.0 - 2.0 * step / steps
        loss *= 1.0 - 0.2 * math.exp(-2.0 * (math.log10(config["lr"]) - target) ** 2)
        trial.save({"step": step, "loss": loss}, step)
        trial.report(loss, step)
        if trial.should_stop():
            break
    return loss


def _example():
    spec = importlib.util.spec_from_file_location("pbt_mlp", HERE.parent / "examples" / "pbt_mlp.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["pbt_mlp"] = module
    spec.loader.exec_module(module)
    return module


TASKS = {
    "schedule": {"space": {"lr": shoal.Float(1e-4, 1.0, scale="log")}, "direction": "minimize",
                 "steps": STEPS, "interval": 4},
    "mlp": {"space": None, "direction": "maximize", "steps": 20, "interval": 2},
}


def _epochs(study: shoal.Study) -> int:
    return sum(len(t.reports) for t in study.trials)


def run_pair(task: str, seed: int, population: int, synch: bool = False) -> dict[str, Any]:
    spec = TASKS[task]
    if task == "mlp":
        example = _example()
        space, objective = example.SPACE, partial(example.objective, epochs=spec["steps"])
    else:
        space, objective = spec["space"], partial(schedule_objective, steps=spec["steps"])
    out: dict[str, Any] = {"task": task, "seed": seed}
    with tempfile.TemporaryDirectory(prefix="shoal-bench-pbt-") as store:
        pbt = PBT(population=population, interval=spec["interval"], max_steps=spec["steps"], synch=synch,
                  seed=seed)
        study = shoal.Study(f"pbt-{task}-{seed}", space, direction=spec["direction"], scheduler=pbt,
                            checkpoints=Path(store) / "pbt", seed=seed)
        start = time.perf_counter()
        study.optimize(objective, show_progress=False)
        out["pbt_seconds"] = time.perf_counter() - start
        out["pbt"], out["pbt_epochs"] = study.best.value, _epochs(study)
        n_random = max(1, round(out["pbt_epochs"] / spec["steps"]))
        rs = shoal.Study(f"rs-{task}-{seed}", space, direction=spec["direction"], sampler=Random(seed=seed),
                         checkpoints=Path(store) / "rs", seed=seed)
        start = time.perf_counter()
        rs.optimize(objective, n_trials=n_random, show_progress=False)
        out["rs_seconds"] = time.perf_counter() - start
        out["rs"], out["rs_epochs"], out["rs_trials"] = rs.best.value, _epochs(rs), n_random
    better = out["pbt"] < out["rs"] if spec["direction"] == "minimize" else out["pbt"] > out["rs"]
    out["pbt_wins"] = better
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="PBT vs random search at equal epochs")
    parser.add_argument("--task", choices=[*TASKS, "all"], default="all")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--synch", action="store_true", help="synchronous PBT (default asynchronous)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    logging.getLogger("shoal").setLevel(logging.ERROR)
    tasks = list(TASKS) if args.task == "all" else [args.task]
    load = os.getloadavg()[0]
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores, "
          f"{cpu_model()}; Python {platform.python_version()}, shoal {shoal.__version__}; "
          f"load {load:.2f}")
    print(f"population {args.population}; {'synchronous' if args.synch else 'asynchronous'} PBT; "
          f"seeds 0..{args.seeds - 1}")
    for task in tasks:
        spec = TASKS[task]
        rows = [run_pair(task, seed, args.population, args.synch) for seed in range(args.seeds)]
        goal = "lower" if spec["direction"] == "minimize" else "higher"
        print(f"\n{task} ({spec['steps']} epochs per run, PBT interval {spec['interval']}; {goal} is better)")
        if args.markdown:
            print("| seed | PBT best | random best | PBT epochs | random epochs (trials) | PBT better |")
            print("|--:|--:|--:|--:|--:|---|")
        for r in rows:
            cells = [r["seed"], f"{r['pbt']:.4g}", f"{r['rs']:.4g}", r["pbt_epochs"],
                     f"{r['rs_epochs']} ({r['rs_trials']})", "yes" if r["pbt_wins"] else "no"]
            print("| " + " | ".join(map(str, cells)) + " |" if args.markdown else
                  "  seed {}: PBT {} vs random {}  (epochs {} vs {}; PBT better: {})".format(*cells))
        wins = sum(r["pbt_wins"] for r in rows)
        pbt_mid = statistics.median(r["pbt"] for r in rows)
        rs_mid = statistics.median(r["rs"] for r in rows)
        seconds = sum(r["pbt_seconds"] + r["rs_seconds"] for r in rows)
        print(f"  {task}: PBT better on {wins}/{len(rows)} seeds; median best PBT {pbt_mid:.4g} vs random "
              f"{rs_mid:.4g}; {seconds:.1f}s in all")


if __name__ == "__main__":
    main()
