"""Running (task, optimizer, seed) jobs: one JSON file each under ``out``, so a run resumes and re-scores.

A job asks the optimizer for a config, evaluates the task's objective and tells the value, ``budget``
times, timing ask and tell apart from the objective. A ``-par4`` optimizer keeps 4 trials outstanding:
it asks until 4 are pending, then one of them (drawn from a generator seeded by the job) finishes and
is told, and the next is asked, so the sampler always decides with 3 results still unknown.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

import shoal

from . import envs, optimizers, peer_results
from .tasks import registry

#: Distributions whose versions a peer's record notes (its env has its own numpy and scikit-learn).
_PEER_PACKAGES = {"smac": ("smac", "ConfigSpace"), "hebo": ("HEBO", "torch", "pymoo"),
                  "ax": ("ax-platform", "botorch", "torch")}

#: Rough relative cost of a job, to start the long ones first so the pool ends together.
_OPTIMIZER_COST = {"skopt-gp": 4.0, "optuna-gp": 6.0, "shoal-gp": 2.0, "shoal-auto": 2.0,
                   "shoal-gp-par4": 2.0, "ax": 20.0, "hebo": 20.0, "smac": 3.0}
_TASK_COST = {"mlp-adam": 8.0, "mlp-sgd": 4.0}


@dataclass(frozen=True)
class Job:
    """One run: ``optimizer`` on ``task`` with ``seed`` for ``budget`` trials."""

    task: str
    optimizer: str
    seed: int
    budget: int

    def path(self, out: Path) -> Path:
        return out / self.task / self.optimizer / f"seed{self.seed}.json"

    def cost(self) -> float:
        dims = len(registry()[self.task].space)
        model = self.task.split("_")[0]
        return _OPTIMIZER_COST.get(self.optimizer, 0.3) * dims + _TASK_COST.get(model, 0.5)


def plan(tasks: Iterable[str], names: Iterable[str], seeds: Iterable[int], budget: int) -> list[Job]:
    """Every (task, optimizer, seed) job, task by task (groups taken in turn), the costliest first within one.

    A run stopped part way so leaves whole tasks from every group, which the report can score.
    """
    by_group: dict[str, list[str]] = {}
    for name in tasks:
        by_group.setdefault(registry()[name].group, []).append(name)
    queues = list(by_group.values())
    order = [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]
    names, seeds = list(names), list(seeds)
    jobs = []
    for task in order:
        jobs += sorted((Job(task, o, s, budget) for o in names for s in seeds), key=lambda j: -j.cost())
    return jobs


def done(job: Job, out: Path) -> bool:
    """Whether ``out`` already holds this job's result (finished, or failed for good)."""
    try:
        record = json.loads(job.path(out).read_text())
    except (OSError, ValueError):
        return False
    return record.get("budget") == job.budget


def _versions(optimizer: str) -> dict[str, str]:
    library = optimizer.split("-")[0]
    versions = {"shoal": shoal.__version__, "python": platform.python_version()}
    if library in ("optuna", "hyperopt", "skopt"):
        versions[library] = __import__(library).__version__
    if optimizer in _PEER_PACKAGES:
        from importlib.metadata import version

        for package in (*_PEER_PACKAGES[optimizer], "numpy", "scikit-learn"):
            versions[f"{optimizer}:{package}"] = version(package)
    return versions


def execute(job: Job) -> dict[str, Any]:
    """Run one job and return its record (values in the order trials finished, times in seconds)."""
    task = registry()[job.task]
    space = shoal.Space(dict(task.space))
    adapter = optimizers.make(job.optimizer, task.space, job.seed, job.budget)
    pending = optimizers.pending(job.optimizer)
    finish_order = np.random.default_rng([job.seed, 4242])
    outstanding: list[tuple[Any, float]] = []
    values: list[float] = []
    ask_s: list[float] = []
    tell_s: list[float] = []
    objective_s = 0.0
    asked = 0
    start = time.perf_counter()
    while len(values) < job.budget:
        while len(outstanding) < pending and asked < job.budget:
            t0 = time.perf_counter()
            handle, config = adapter.ask()
            t1 = time.perf_counter()
            space.validate(config)  # a mistranslated space fails here, loudly
            value = float(task.objective(config))
            objective_s += time.perf_counter() - t1
            ask_s.append(t1 - t0)
            outstanding.append((handle, value))
            asked += 1
        handle, value = outstanding.pop(int(finish_order.integers(len(outstanding))))
        t0 = time.perf_counter()
        adapter.tell(handle, value)
        tell_s.append(time.perf_counter() - t0)
        values.append(value)
    return {
        **asdict(job), "group": task.group, "pending": pending, "values": values, "ask_s": ask_s,
        "tell_s": tell_s, "objective_s": objective_s, "wall_s": time.perf_counter() - start,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(job.optimizer),
    }


def _in_env(job: Job, out: str, group: str) -> dict[str, Any]:
    """Run the job in its peer env's python (``peer_runner.py``) and read back the record it wrote."""
    why = envs.problem(group)
    if why:  # not a result: the job runs once the env exists
        return {**asdict(job), "group": registry()[job.task].group, "error": f"{job.optimizer}: {why}",
                "unsaved": True}
    job.path(Path(out)).unlink(missing_ok=True)  # a record of another budget must not be read back
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, envs.INSIDE: group,
           "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    runner = Path(__file__).resolve().parent / "peer_runner.py"
    command = [str(envs.python(group)), str(runner), out, job.task, job.optimizer, str(job.seed),
               str(job.budget)]
    done_ = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    try:
        return json.loads(job.path(Path(out)).read_text())
    except (OSError, ValueError):
        if done_.returncode < 0:  # killed (the run was stopped): leave no record, so it reruns
            return {**asdict(job), "group": registry()[job.task].group,
                    "error": f"killed by signal {-done_.returncode}", "unsaved": True}
        raise RuntimeError(f"{job.optimizer}'s runner exited {done_.returncode} without a result: "
                           f"{done_.stderr.strip()[-1500:]}") from None


def run_one(job: Job, out: str) -> dict[str, Any]:
    """Run a job and write its JSON (atomically); a job that raises is written with its error.

    A peer with its own env (``envs.py``) runs in a subprocess of that env's python, which writes the JSON.
    """
    group = envs.group_of(job.optimizer)
    if group and os.environ.get(envs.INSIDE) != group:
        try:
            return _in_env(job, out, group)
        except Exception as exc:  # noqa: BLE001 - recorded like a failing optimizer
            record = {**asdict(job), "group": registry()[job.task].group,
                      "error": f"{type(exc).__name__}: {exc}"}
            _write(job, out, record)
            return record
    try:
        record = execute(job)
    except Exception as exc:  # noqa: BLE001 - one failing optimizer must not end the whole run
        record = {**asdict(job), "group": registry()[job.task].group, "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(limit=5)}
    _write(job, out, record)
    return record


def _write(job: Job, out: str, record: dict[str, Any]) -> None:
    path = job.path(Path(out))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)


def _init_worker() -> None:
    import warnings

    warnings.filterwarnings("ignore")


def reused(job: Job, reuse: Path | None) -> bool:
    """Whether a peer's job has a finished record in ``reuse`` (committed results), so it is not rerun."""
    return job.optimizer in optimizers.PEERS and peer_results.has(reuse, job.task, job.optimizer, job.seed,
                                                                   job.budget)


def run_all(jobs: list[Job], out: Path, n_jobs: int, say: Callable[[str], None] = print,
            reuse: Path | None = None) -> list[dict]:
    """Run the jobs not yet in ``out`` (nor, for a peer, in ``reuse``) on ``n_jobs`` processes.

    Returns the new records.
    """
    kept = [j for j in jobs if not reused(j, reuse)]
    todo = [j for j in kept if not done(j, out)]
    also = f" and {len(jobs) - len(kept)} peer jobs in {reuse}" if len(kept) < len(jobs) else ""
    say(f"{len(kept) - len(todo)} of {len(jobs)} jobs already in {out}{also}; running {len(todo)} "
        f"on {n_jobs} process(es)")
    records: list[dict] = []
    start = time.perf_counter()

    def note(record: dict) -> None:
        records.append(record)
        head = f"[{len(records)}/{len(todo)} {time.perf_counter() - start:6.0f}s] {record['task']} " \
               f"{record['optimizer']} seed {record['seed']}"
        if "error" in record:
            say(f"{head}: FAILED {record['error']}")
        else:
            say(f"{head}: best {min(record['values']):.6g} in {record['wall_s']:.1f}s")

    if n_jobs <= 1:
        _init_worker()
        for job in todo:
            note(run_one(job, str(out)))
        return records
    with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
        futures = [pool.submit(run_one, job, str(out)) for job in todo]
        for future in as_completed(futures):
            note(future.result())
    return records
