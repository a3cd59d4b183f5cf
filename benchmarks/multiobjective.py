"""Several objectives (issue 13): shoal's default sampler against Optuna's NSGA-II, TPE and GP.

    .venv/bin/python benchmarks/multiobjective.py --jobs 2 --out .tmp/bench-mo     # 5 seeds, 100 trials
    .venv/bin/python benchmarks/multiobjective.py --report --out .tmp/bench-mo     # the tables (in
                                                                  # multiobjective_report.py)

One 100-trial run per (task, optimizer, seed), written as one JSON file under ``--out`` (skipped when
present, so a stopped run resumes). A run keeps every trial's objective and constraint values in
the order they were asked (one at a time, so also the order they were told); the report reads the
hypervolume at 50 trials from the first 50. A trial counts only when it meets every constraint
(``c <= 0``); the others add nothing to the hypervolume, whatever their objectives.

Tasks and their fixed reference points (all objectives minimized):

- ``synthetic``: ZDT1, ZDT2, ZDT3 (2 objectives, 6 dimensions in [0, 1]), reference (1.1, 11): the
  largest value each objective takes over the box (f1 <= 1, f2 <= g <= 10) plus 10%; DTLZ2 (3
  objectives, 6 dimensions), reference (2.2, 2.2, 2.2): each f <= 1 + g <= 2 over the box, plus 10%.
- ``constrained``: Binh-Korn (x1 in [0, 5], x2 in [0, 3], 2 constraints), reference (140, 55): the
  known front runs from (0, 50) to (136, 4), so its nadir (136, 50) plus a margin; ZDT1-C, ZDT1 with
  ``f1 + f2 >= 0.85`` (cutting its front's middle), reference (1.1, 11) as ZDT1's.
- ``real``: a random forest on scikit-learn's bundled breast-cancer data (no download): 3-fold
  cross-validated error against the forest's total number of tree nodes (a deterministic size,
  unlike a timing; the mean over the 3 folds' forests), reference (0.2, 1500): 20% error (a constant
  guess errs 37%) and more nodes than the space's largest forest grows (50 trees, depth 12, leaves of
  1 sample, every feature: about 1,100 nodes); a decision tree on the bundled digits (8x8 images, 10
  classes), its 3-fold error against its node count (the mean over the folds), reference (0.9, 500):
  a constant guess's error and more nodes than the largest tree of the space (depth 20, leaves of 1
  sample, a tenth of the features per split: 485 nodes). Added on 2026-12-06 as a second real task
  with integer dimensions, before any run on it, so that a change helping the forest is checked on a
  task it was not found on.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread per job
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Mapping, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from functools import lru_cache  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import shoal  # noqa: E402
from shoal.stats.pareto import hypervolume  # noqa: E402

DEFAULT_OUT = Path(".tmp/bench-mo")
BUDGETS = (50, 100)
GROUPS = ("synthetic", "constrained", "real")


# -- problems ---------------------------------------------------------------------------------------
def zdt(kind: int, x: np.ndarray) -> tuple[float, float]:
    """ZDT1, ZDT2 or ZDT3 (Zitzler, Deb and Thiele 2000) at ``x`` in [0, 1]^n; front: g = 1."""
    f1 = float(x[0])
    g = 1.0 + 9.0 * float(np.sum(x[1:])) / (len(x) - 1)
    r = f1 / g
    if kind == 1:
        h = 1.0 - math.sqrt(r)
    elif kind == 2:
        h = 1.0 - r**2
    else:
        h = 1.0 - math.sqrt(r) - r * math.sin(10.0 * math.pi * f1)
    return f1, g * h


def dtlz2(x: np.ndarray, m: int = 3) -> tuple[float, ...]:
    """DTLZ2 (Deb et al. 2002) with ``m`` objectives; the front is the unit sphere's positive part."""
    g = float(np.sum((x[m - 1:] - 0.5) ** 2))
    f = []
    for i in range(m):
        value = 1.0 + g
        for j in range(m - 1 - i):
            value *= math.cos(x[j] * math.pi / 2)
        if i > 0:
            value *= math.sin(x[m - 1 - i] * math.pi / 2)
        f.append(value)
    return tuple(f)


def binh_korn(x1: float, x2: float) -> dict[str, float]:
    """Binh and Korn (1997): two objectives, two constraints written as ``c <= 0``."""
    return {"f1": 4 * x1**2 + 4 * x2**2, "f2": (x1 - 5) ** 2 + (x2 - 5) ** 2,
            "c1": (x1 - 5) ** 2 + x2**2 - 25, "c2": 7.7 - (x1 - 8) ** 2 - (x2 + 3) ** 2}


@lru_cache(maxsize=1)
def _breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def _error_and_nodes(data: tuple[np.ndarray, np.ndarray], make: Callable[[], Any],
                     count: Callable[[Any], int]) -> dict[str, float]:
    """3-fold CV error of the models ``make()`` builds and their node count (``count``), both averaged
    over the folds."""
    from sklearn.model_selection import StratifiedKFold

    X, y = data
    errors, nodes = [], 0
    for train, test in StratifiedKFold(3, shuffle=True, random_state=0).split(X, y):
        model = make().fit(X[train], y[train])
        errors.append(1.0 - model.score(X[test], y[test]))
        nodes += count(model)
    return {"error": float(np.mean(errors)), "nodes": nodes / 3}


def forest(config: Mapping[str, Any]) -> dict[str, float]:
    """3-fold CV error of a random forest (fixed random_state) and its total node count, both minimized."""
    from sklearn.ensemble import RandomForestClassifier

    return _error_and_nodes(
        _breast_cancer(),
        lambda: RandomForestClassifier(
            n_estimators=config["n_estimators"], max_depth=config["max_depth"],
            min_samples_leaf=config["min_samples_leaf"], max_features=config["max_features"],
            random_state=0, n_jobs=1),
        lambda model: sum(tree.tree_.node_count for tree in model.estimators_))


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


def tree(config: Mapping[str, Any]) -> dict[str, float]:
    """3-fold CV error of a decision tree (fixed random_state) on the digits and its node count, both
    minimized."""
    from sklearn.tree import DecisionTreeClassifier

    return _error_and_nodes(
        _digits(),
        lambda: DecisionTreeClassifier(
            max_depth=config["max_depth"], min_samples_leaf=config["min_samples_leaf"],
            min_samples_split=config["min_samples_split"], max_features=config["max_features"],
            random_state=0),
        lambda model: model.tree_.node_count)


@dataclass(frozen=True)
class Problem:
    """A task: ``evaluate(config)`` returns every objective and constraint (``c <= 0``) by name."""

    name: str
    group: str
    space: Mapping[str, Any]
    objectives: tuple[str, ...]
    constraints: tuple[str, ...]
    evaluate: Callable[[Mapping[str, Any]], dict[str, float]]
    ref: tuple[float, ...]


def _unit(d: int) -> dict[str, Any]:
    return {f"x{i}": shoal.Float(0.0, 1.0) for i in range(d)}


def _vector(config: Mapping[str, Any]) -> np.ndarray:
    return np.array([config[f"x{i}"] for i in range(len(config))], dtype=float)


def _zdt(kind: int) -> Callable[[Mapping[str, Any]], dict[str, float]]:
    def evaluate(config: Mapping[str, Any]) -> dict[str, float]:
        f1, f2 = zdt(kind, _vector(config))
        return {"f1": f1, "f2": f2}

    return evaluate


#: ZDT1-C: ZDT1 with ``c1 = ZDT1C_BOUND - f1 - f2 <= 0``; on ZDT1's front f1 + f2 dips to 0.75 (at
#: f1 = 0.25), so the constraint cuts the front's middle, where the line f1 + f2 = 0.85 (reached with g
#: a little above 1) takes its place.
ZDT1C_BOUND = 0.85


def _zdt1c(config: Mapping[str, Any]) -> dict[str, float]:
    f1, f2 = zdt(1, _vector(config))
    return {"f1": f1, "f2": f2, "c1": ZDT1C_BOUND - f1 - f2}


def _dtlz2(config: Mapping[str, Any]) -> dict[str, float]:
    return dict(zip(("f1", "f2", "f3"), dtlz2(_vector(config)), strict=True))


def _bnh(config: Mapping[str, Any]) -> dict[str, float]:
    return binh_korn(config["x1"], config["x2"])


@lru_cache(maxsize=1)
def problems() -> dict[str, Problem]:
    """Every task by name, in report order."""
    out = [Problem(f"zdt{k}", "synthetic", _unit(6), ("f1", "f2"), (), _zdt(k), (1.1, 11.0))
           for k in (1, 2, 3)]
    out.append(Problem("dtlz2", "synthetic", _unit(6), ("f1", "f2", "f3"), (), _dtlz2, (2.2, 2.2, 2.2)))
    out.append(Problem("binh-korn", "constrained", {"x1": shoal.Float(0.0, 5.0), "x2": shoal.Float(0.0, 3.0)},
                       ("f1", "f2"), ("c1", "c2"), _bnh, (140.0, 55.0)))
    out.append(Problem("zdt1-c", "constrained", _unit(6), ("f1", "f2"), ("c1",), _zdt1c, (1.1, 11.0)))
    forest_space = {"n_estimators": shoal.Int(1, 50), "max_depth": shoal.Int(1, 12),
                    "min_samples_leaf": shoal.Int(1, 20), "max_features": shoal.Float(0.05, 1.0)}
    out.append(Problem("forest-cancer", "real", forest_space, ("error", "nodes"), (), forest, (0.2, 1500.0)))
    tree_space = {"max_depth": shoal.Int(1, 20), "min_samples_leaf": shoal.Int(1, 40),
                  "min_samples_split": shoal.Int(2, 40), "max_features": shoal.Float(0.1, 1.0)}
    out.append(Problem("tree-digits", "real", tree_space, ("error", "nodes"), (), tree, (0.9, 500.0)))
    return {p.name: p for p in out}


def front_hypervolume(name: str) -> float | None:
    """The hypervolume of the task's known front (a dense sample of it) against its reference point; the
    most a run can reach (None for the real tasks, whose fronts are unknown)."""
    problem = problems()[name]
    if name in ("zdt1", "zdt2", "zdt3"):
        rows = [mo for f1 in np.linspace(0, 1, 4001) for mo in [zdt(int(name[3]), np.r_[f1, np.zeros(5)])]]
    elif name == "zdt1-c":  # f1 on a grid, g from 1 up: the feasible part of ZDT1's front and the line
        f1, g = np.meshgrid(np.linspace(0, 1, 2001), np.linspace(1, 1.2, 401))
        f2 = g * (1 - np.sqrt(f1 / g))
        keep = f1 + f2 >= ZDT1C_BOUND
        rows = np.column_stack([f1[keep], f2[keep]])
    elif name == "dtlz2":
        grid = np.linspace(0, 1, 61)
        rows = [dtlz2(np.r_[a, b, np.full(4, 0.5)]) for a in grid for b in grid]
    elif name == "binh-korn":
        rows = []
        for x1 in np.linspace(0, 5, 501):
            for x2 in np.linspace(0, 3, 301):
                v = binh_korn(x1, x2)
                if v["c1"] <= 0 and v["c2"] <= 0:
                    rows.append((v["f1"], v["f2"]))
    else:
        return None
    return hypervolume(np.array(rows, dtype=float), np.array(problem.ref))


# -- optimizers -------------------------------------------------------------------------------------
class ShoalRun:
    """A shoal Study in memory, ask/tell with dicts; ``sampler=None`` is the default (Auto)."""

    def __init__(self, problem: Problem, seed: int, sampler: str | None) -> None:
        logging.getLogger("shoal").setLevel(logging.WARNING)
        kwargs: dict[str, Any] = {"seed": seed,
                                  "objectives": {name: "minimize" for name in problem.objectives}}
        if problem.constraints:
            kwargs["constraints"] = [f"{c} <= 0" for c in problem.constraints]
        if sampler is not None:
            kwargs["sampler"] = getattr(shoal.samplers, sampler)()
        self.study = shoal.Study("bench-mo", dict(problem.space), **kwargs)

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask()
        return trial, dict(trial.config)

    def tell(self, handle: Any, values: dict[str, float]) -> None:
        self.study.tell(handle, values)


class OptunaRun:
    """An Optuna study with fixed distributions; constraints go through ``constraints_func``."""

    def __init__(self, problem: Problem, seed: int, kind: str) -> None:
        import optuna
        from optuna.distributions import FloatDistribution, IntDistribution

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", module="optuna")
        self.problem = problem
        self.distributions = {
            name: (IntDistribution(dim.low, dim.high) if isinstance(dim, shoal.Int)
                   else FloatDistribution(dim.low, dim.high))
            for name, dim in shoal.Space(dict(problem.space))}
        constraints = (lambda t: t.user_attrs["constraints"]) if problem.constraints else None
        if kind == "nsga2":
            sampler = optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints)
        elif kind == "tpe":
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constraints_func=constraints)
        elif kind == "gp":
            import torch

            torch.set_num_threads(1)
            sampler = optuna.samplers.GPSampler(seed=seed, constraints_func=constraints)
        else:
            raise ValueError(f"unknown Optuna sampler {kind!r}")
        self.study = optuna.create_study(directions=["minimize"] * len(problem.objectives), sampler=sampler)

    def ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask(self.distributions)
        return trial, dict(trial.params)

    def tell(self, handle: Any, values: dict[str, float]) -> None:
        if self.problem.constraints:
            handle.set_user_attr("constraints", [values[c] for c in self.problem.constraints])
        self.study.tell(handle, [values[o] for o in self.problem.objectives])


class AxRun:
    """Ax's ``Client`` with its default generation strategy (Sobol, then BoTorch's qLogNEHVI for several
    objectives), constraints as outcome constraints ``c <= 0``. Ax lives in its own env
    (``benchmarks/peers/envs.py ax``), so run this module with that env's python and shoal's ``src`` on
    ``PYTHONPATH``."""

    def __init__(self, problem: Problem, seed: int) -> None:
        import torch
        from ax import Client, RangeParameterConfig

        warnings.filterwarnings("ignore")
        for name in list(logging.root.manager.loggerDict):  # Ax sets INFO on each of its loggers
            if name.split(".")[0] in ("ax", "botorch"):
                logging.getLogger(name).setLevel(logging.ERROR)
        torch.set_num_threads(1)
        self.problem = problem
        self.ints = {name for name, dim in shoal.Space(dict(problem.space)) if isinstance(dim, shoal.Int)}
        parameters = [RangeParameterConfig(name=name, parameter_type="int" if name in self.ints else "float",
                                           bounds=(dim.low, dim.high))
                      for name, dim in shoal.Space(dict(problem.space))]
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=parameters, name="bench-mo")
        self.client.configure_optimization(
            objective=", ".join(f"-{name}" for name in problem.objectives),
            outcome_constraints=[f"{c} <= 0" for c in problem.constraints] or None)

    def ask(self) -> tuple[Any, dict[str, Any]]:
        [(index, params)] = self.client.get_next_trials(max_trials=1).items()
        return index, {k: int(v) if k in self.ints else float(v) for k, v in params.items()}

    def tell(self, handle: Any, values: dict[str, float]) -> None:
        names = (*self.problem.objectives, *self.problem.constraints)
        self.client.complete_trial(trial_index=handle, raw_data={n: float(values[n]) for n in names})


OPTIMIZERS: dict[str, Callable[[Problem, int], Any]] = {
    "shoal-auto": lambda p, s: ShoalRun(p, s, None),
    "shoal-motpe": lambda p, s: ShoalRun(p, s, "MOTPE"),
    "shoal-nsga2": lambda p, s: ShoalRun(p, s, "NSGAII"),
    "optuna-nsga2": lambda p, s: OptunaRun(p, s, "nsga2"),
    "optuna-tpe": lambda p, s: OptunaRun(p, s, "tpe"),
    "optuna-gp": lambda p, s: OptunaRun(p, s, "gp"),
    "ax": AxRun,
}
DEFAULT_OPTIMIZERS = ("shoal-auto", "optuna-nsga2", "optuna-tpe", "optuna-gp")


# -- running ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    task: str
    optimizer: str
    seed: int
    budget: int

    def path(self, out: Path) -> Path:
        return out / self.task / self.optimizer / f"seed{self.seed}.json"


def done(job: Job, out: Path) -> bool:
    try:
        return json.loads(job.path(out).read_text()).get("budget") == job.budget
    except (OSError, ValueError):
        return False


def execute(job: Job) -> dict[str, Any]:
    """Run one job: every trial's values (in order) and its ask and tell seconds."""
    problem = problems()[job.task]
    space = shoal.Space(dict(problem.space))
    run = OPTIMIZERS[job.optimizer](problem, job.seed)
    values, ask_s, tell_s = [], [], []
    start = time.perf_counter()
    for _ in range(job.budget):
        t0 = time.perf_counter()
        handle, config = run.ask()
        t1 = time.perf_counter()
        space.validate(config)
        result = {k: float(v) for k, v in problem.evaluate(config).items()}
        t2 = time.perf_counter()
        run.tell(handle, result)
        tell_s.append(time.perf_counter() - t2)
        ask_s.append(t1 - t0)
        values.append(result)
    library = job.optimizer.split("-")[0]
    versions = {"shoal": shoal.__version__, "python": platform.python_version()}
    if library == "optuna":
        versions["optuna"] = __import__("optuna").__version__
    return {"task": job.task, "group": problem.group, "optimizer": job.optimizer, "seed": job.seed,
            "budget": job.budget, "values": values, "ask_s": ask_s, "tell_s": tell_s,
            "wall_s": time.perf_counter() - start, "versions": versions,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def run_one(job: Job, out: str) -> dict[str, Any]:
    """Run a job and write its JSON atomically; a job that raises is written with its error."""
    warnings.filterwarnings("ignore")
    try:
        record = execute(job)
    except Exception as exc:  # noqa: BLE001 - one failing optimizer must not end the whole run
        record = {"task": job.task, "optimizer": job.optimizer, "seed": job.seed, "budget": job.budget,
                  "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=5)}
    path = job.path(Path(out))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)
    return record


def run_all(jobs: list[Job], out: Path, n_jobs: int, say: Callable[[str], None] = print) -> None:
    todo = [j for j in jobs if not done(j, out)]
    say(f"{len(jobs) - len(todo)} of {len(jobs)} jobs already in {out}; running {len(todo)} on {n_jobs} "
        "process(es)")
    start, count = time.perf_counter(), 0

    def note(record: dict) -> None:
        nonlocal count
        count += 1
        head = f"[{count}/{len(todo)} {time.perf_counter() - start:6.0f}s] {record['task']} " \
               f"{record['optimizer']} seed {record['seed']}"
        if "error" in record:
            say(f"{head}: FAILED {record['error']}")
        else:
            hv = score(record, problems()[record["task"]], record["budget"])
            say(f"{head}: hypervolume {hv:.6g} in {record['wall_s']:.1f}s")

    if n_jobs <= 1:
        for job in todo:
            note(run_one(job, str(out)))
        return
    with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as pool:
        for future in as_completed([pool.submit(run_one, job, str(out)) for job in todo]):
            note(future.result())


# -- scoring -----------------------------------------------------------------------------------------
def score(record: Mapping[str, Any], problem: Problem, n: int) -> float:
    """Hypervolume of the feasible trials among the first ``n`` against the task's reference point."""
    rows = [[v[o] for o in problem.objectives] for v in record["values"][:n]
            if all(v[c] <= 0 for c in problem.constraints)]
    return hypervolume(np.array(rows), np.array(problem.ref)) if rows else 0.0


# -- command line -----------------------------------------------------------------------------------
def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text}")
    return value


def _select(spec: str, known: Sequence[str], what: str, groups: Mapping[str, str] | None = None) -> list[str]:
    chosen: list[str] = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        if item == "all":
            chosen += list(known)
        elif groups and item in GROUPS:
            chosen += [k for k in known if groups[k] == item]
        elif item in known:
            chosen.append(item)
        else:
            raise ValueError(f"--{what}: unknown {item!r}; choose from {', '.join(known)}"
                             + (f" or a group ({', '.join(GROUPS)})" if groups else ""))
    return list(dict.fromkeys(chosen))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="several objectives: shoal's default against Optuna")
    parser.add_argument("--seeds", type=_positive, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--budget", type=_positive, default=max(BUDGETS),
                        help=f"trials per run (default {max(BUDGETS)}; the report also reads the first 50)")
    parser.add_argument("--tasks", default="all", help=f"comma-separated groups ({', '.join(GROUPS)}) or "
                        f"tasks ({', '.join(problems())}); default all")
    parser.add_argument("--optimizers", default=",".join(DEFAULT_OPTIMIZERS),
                        help=f"comma-separated, from {', '.join(OPTIMIZERS)} or all "
                        f"(default {','.join(DEFAULT_OPTIMIZERS)})")
    parser.add_argument("--jobs", type=_positive, default=1, help="worker processes (default 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"results folder (default {DEFAULT_OUT})")
    parser.add_argument("--report", action="store_true", help="print the report of --out, run nothing")
    parser.add_argument("--results", type=Path, help="with --report: also splice it into this Markdown file")
    parser.add_argument("--command", default="", help="with --report: the run command to print")
    parser.add_argument("--note", action="append", default=[], help="with --report: a line for the notes")
    args = parser.parse_args(argv)
    if args.report:
        from multiobjective_report import report, splice  # the report's half, beside this file

        try:
            body = report(args.out, args.command, args.note)
        except ValueError as exc:
            parser.error(str(exc))
        print(body)
        if args.results:
            splice(args.results, body)
            print(f"updated {args.results}")
        return 0
    try:
        tasks = _select(args.tasks, list(problems()), "tasks", {k: p.group for k, p in problems().items()})
        names = _select(args.optimizers, list(OPTIMIZERS), "optimizers")
    except ValueError as exc:
        parser.error(str(exc))
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    jobs = [Job(t, n, s, args.budget) for t in tasks for s in range(args.seeds) for n in names]
    start = time.perf_counter()
    run_all(jobs, args.out, args.jobs)
    print(f"done in {time.perf_counter() - start:.0f}s; results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
