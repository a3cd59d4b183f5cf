"""Panda: ReduceOnPlateau against fixed hyperparameters and PBT, at equal epochs, over several seeds.

Three ways to spend the same number of training epochs on a task where the best learning rate falls
during training:

- ``fixed``: random search, each trial trains with the learning rate it was given;
- ``rule``: the same random search (same seed, so the same starting points) with
  ``shoal.rules.ReduceOnPlateau("lr")`` attached (factor 0.5, patience 3): a trial whose reports
  stop improving gets its learning rate halved while it trains;
- ``pbt``: synchronous population-based training, ``population`` members for the full length
  (population x steps epochs, the budget the other two get as that many whole trials).

Tasks (all scored lower is better):

- ``schedule``: the synthetic task of ``pbt_schedule.py``: the loss shrinks each step by a share that
  is largest when log10(lr) is near a target that moves from -1 to -3 over the run;
- ``floor``: SGD's noise floor: each step closes a share r(lr) = 0.5 lr / (lr + 0.05) of the gap to a
  floor of 0.5 lr (a high rate is fast but stalls high); reports carry 2% noise, the returned value
  is the noise-free loss;
- ``mlp``: the digits MLP of ``examples/pbt_mlp.py`` (numpy SGD with momentum; lr and momentum
  searched, the rule changes lr); the score is the validation error, 1 - accuracy.

The figure per method is the best value its study found (mean +- std over seeds) and its ratio to
``fixed`` (below 1: better).

    .venv/bin/python benchmarks/panda.py                  # 3 tasks, 5 seeds (a few minutes on 2 cores)
    .venv/bin/python benchmarks/panda.py --quick          # 2 synthetic tasks, 2 seeds, short runs
    .venv/bin/python benchmarks/panda.py --seeds 10 --markdown
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import random
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
from pbt_schedule import _example as _mlp  # noqa: E402 - examples/pbt_mlp.py, loaded once
from pbt_schedule import schedule_objective  # noqa: E402

import shoal  # noqa: E402
from shoal.rules import ReduceOnPlateau  # noqa: E402
from shoal.samplers import Random  # noqa: E402
from shoal.schedulers import PBT  # noqa: E402

METHODS = ("fixed", "rule", "pbt")
LR = {"lr": shoal.Float(1e-4, 1.0, scale="log")}
FLOOR_NOISE = 0.02


def floor_objective(config: dict[str, Any], trial: Any, *, steps: int, noise_seed: int = 0) -> float:
    """The noise-floor task (minimize): reports a noisy loss each step, returns the true one. Reads
    ``config["lr"]`` every step, so a tweak takes effect at once; resumes from its checkpoint."""
    state = trial.load() or {"step": 0, "loss": 1.0}
    step, loss = state["step"], state["loss"]
    while step < steps:
        step += 1
        lr = config["lr"]
        rate, floor = 0.5 * lr / (lr + 0.05), 0.5 * lr
        loss = floor + (loss - floor) * (1.0 - rate)
        trial.save({"step": step, "loss": loss}, step)
        noise = random.Random(f"{noise_seed}-{trial.number}-{step}").gauss(0.0, FLOOR_NOISE)
        trial.report(loss * (1.0 + noise), step)
        if trial.should_stop():
            break
    return loss


def task(name: str, steps: int | None, seed: int) -> dict[str, Any]:
    """Space, objective, direction, run length and PBT interval of task ``name``."""
    if name == "mlp":
        example = _mlp()
        steps = steps or 20
        return {"space": example.SPACE, "objective": partial(example.objective, epochs=steps),
                "direction": "maximize", "steps": steps, "interval": 2, "score": lambda v: 1.0 - v}
    steps = steps or 40
    objective = (partial(schedule_objective, steps=steps) if name == "schedule"
                 else partial(floor_objective, steps=steps, noise_seed=seed))
    return {"space": LR, "objective": objective, "direction": "minimize", "steps": steps,
            "interval": max(2, steps // 10), "score": lambda v: v}


TASKS = ("schedule", "floor", "mlp")


def _epochs(study: shoal.Study) -> int:
    return sum(len(t.reports) for t in study.trials)


def run_seed(name: str, seed: int, population: int, steps: int | None, synch: bool) -> dict[str, Any]:
    """One seed of one task: the three methods at equal epochs."""
    spec = task(name, steps, seed)
    out: dict[str, Any] = {"task": name, "seed": seed, "steps": spec["steps"]}
    with tempfile.TemporaryDirectory(prefix="shoal-bench-panda-") as store:
        def run(method: str, n_trials: int | None) -> shoal.Study:
            options: dict[str, Any] = {}
            if method == "pbt":
                options["scheduler"] = PBT(population=population, interval=spec["interval"],
                                           max_steps=spec["steps"], synch=synch, seed=seed)
            else:
                options["sampler"] = Random(seed=seed)
            if method == "rule":
                options["rules"] = [ReduceOnPlateau("lr", factor=0.5, patience=3)]
            # fixed and rule share the study name, so their seeded samplers draw the same points
            label = "pbt" if method == "pbt" else "random"
            study = shoal.Study(f"{label}-{name}-{seed}", spec["space"], direction=spec["direction"],
                                checkpoints=Path(store) / method, seed=seed, **options)
            start = time.perf_counter()
            study.optimize(spec["objective"], n_trials=n_trials, show_progress=False)
            out[f"{method}_seconds"] = time.perf_counter() - start
            out[method] = spec["score"](study.best.value)
            out[f"{method}_epochs"] = _epochs(study)
            return study

        run("pbt", None)
        n_trials = population if synch else max(1, round(out["pbt_epochs"] / spec["steps"]))
        run("fixed", n_trials)
        ruled = run("rule", n_trials)
        out["trials"] = n_trials
        out["rule_tweaks"] = sum(1 for t in ruled.trials for c in t.changes if c.source == "rule")
    return out


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per method: mean and std of the score, ratio of means to ``fixed``, and on how many seeds it
    beat, tied or lost to ``fixed``."""
    fixed_mean = statistics.fmean(r["fixed"] for r in rows)
    out = {}
    for method in METHODS:
        scores = [r[method] for r in rows]
        mean = statistics.fmean(scores)
        out[method] = {
            "mean": mean,
            "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            "ratio": mean / fixed_mean if fixed_mean > 0 else math.nan,
            "better": sum(r[method] < r["fixed"] for r in rows),
            "same": sum(r[method] == r["fixed"] for r in rows),
            "worse": sum(r[method] > r["fixed"] for r in rows),
            "epochs": statistics.fmean(r[f"{method}_epochs"] for r in rows),
            "seconds": sum(r[f"{method}_seconds"] for r in rows),
        }
    return out


def report(name: str, rows: list[dict[str, Any]], markdown: bool) -> dict[str, dict[str, float]]:
    summary = summarize(rows)
    what = "validation error (1 - accuracy)" if name == "mlp" else "loss"
    tweaks = statistics.fmean(r["rule_tweaks"] for r in rows)
    print(f"\n{name}: best {what}, lower is better; {rows[0]['steps']} epochs per run; {len(rows)} seeds; "
          f"{rows[0]['trials']} trials for fixed and rule; rule tweaks per seed {tweaks:.1f}")
    if markdown:
        print("\n| method | mean ± std | vs fixed | seeds better / same / worse | epochs | seconds |")
        print("|---|--:|--:|--:|--:|--:|")
    for method, s in summary.items():
        versus = "-" if method == "fixed" else f"{s['better']} / {s['same']} / {s['worse']}"
        cells = [method, f"{s['mean']:.4g} ± {s['std']:.2g}", f"{s['ratio']:.2f}x", versus,
                 f"{s['epochs']:.0f}", f"{s['seconds']:.1f}"]
        print("| " + " | ".join(cells) + " |" if markdown else
              "  {:<6} {:>20}  {:>6} of fixed; better/same/worse on {} seeds; {} epochs; {}s".format(*cells))
    if markdown:
        print("\n| seed | fixed | rule | pbt | rule tweaks |")
        print("|--:|--:|--:|--:|--:|")
    for r in rows:
        cells = [str(r["seed"]), *(f"{r[m]:.4g}" for m in METHODS), str(r["rule_tweaks"])]
        print("| " + " | ".join(cells) + " |" if markdown else
              "  seed {}: fixed {}, rule {}, pbt {}; {} rule tweaks".format(*cells))
    return summary


def main(argv: list[str] | None = None) -> dict[str, dict[str, dict[str, float]]]:
    parser = argparse.ArgumentParser(description="ReduceOnPlateau vs fixed hyperparameters vs PBT")
    parser.add_argument("--task", choices=[*TASKS, "all"], default="all")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--population", type=int, default=8, help="PBT members; trials of the others")
    parser.add_argument("--steps", type=int, default=None, help="epochs per run (default per task)")
    parser.add_argument("--asynchronous", action="store_true",
                        help="asynchronous PBT (the others then get its epochs rounded to whole runs)")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 4 members, 16 steps, no mlp")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.population, args.steps = min(args.seeds, 2), 4, args.steps or 16
    logging.getLogger("shoal").setLevel(logging.ERROR)
    if args.task != "all":
        tasks = [args.task]
    else:
        tasks = [t for t in TASKS if not (args.quick and t == "mlp")]
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores, "
          f"{cpu_model()}; Python {platform.python_version()}, shoal {shoal.__version__}; "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"population {args.population}; {'asynchronous' if args.asynchronous else 'synchronous'} PBT; "
          f"seeds 0..{args.seeds - 1}; rule ReduceOnPlateau('lr', factor=0.5, patience=3)")
    results = {}
    for name in tasks:
        rows = [run_seed(name, seed, args.population, args.steps, not args.asynchronous)
                for seed in range(args.seeds)]
        results[name] = report(name, rows, args.markdown)
    return results


if __name__ == "__main__":
    main()
