"""Bayesmark-style scores from job records: normalized score, ranks, best-so-far curves, parallel ratio.

For a task, let ``best`` be the lowest value any optimizer found (over all seeds and the full budget)
and ``rand(t)`` the median over seeds of random search's best value after t trials. An optimizer's
normalized score after t trials is ``100 * (rand(t) - f(t)) / (rand(t) - best)`` for its best value
``f(t)``: 100 matches the best anyone found, 0 is the median random search, negative is worse than it.
The score of a task is the mean over seeds at the full budget; score@20 is the same after 20 trials
(``EARLY``: users stop early far more often than benchmarks do). Ranks compare the optimizers' best
values on each (task, seed) (1 = best, ties share the mean rank) and are averaged over seeds.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

#: The early budget the report also scores (score@20).
EARLY = 20


@dataclass
class TaskRuns:
    """The records of one task: optimizer -> seed -> values in the order trials finished."""

    name: str
    group: str
    runs: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)

    def curves(self, optimizer: str) -> np.ndarray:
        """Best-so-far values, one row per seed (seeds in order)."""
        rows = [np.minimum.accumulate(v) for _, v in sorted(self.runs[optimizer].items())]
        return np.array(rows)


def load(out: Path, budget: int | None = None) -> tuple[dict[str, TaskRuns], list[dict]]:
    """Task name -> runs from every JSON under ``out`` (of ``budget`` trials if given), and the failures."""
    paths = sorted(Path(out).glob("*/*/seed*.json"))
    return from_records([json.loads(path.read_text()) for path in paths], budget)


def from_records(records: Iterable[dict], budget: int | None = None
                 ) -> tuple[dict[str, TaskRuns], list[dict]]:
    """Task name -> runs from job records (of ``budget`` trials if given), and the failures."""
    tasks: dict[str, TaskRuns] = {}
    failures: list[dict] = []
    for record in records:
        if budget is not None and record["budget"] != budget:
            continue
        if "error" in record:
            failures.append(record)
            continue
        runs = tasks.setdefault(record["task"], TaskRuns(record["task"], record["group"]))
        values = np.asarray(record["values"], float)
        runs.runs.setdefault(record["optimizer"], {})[int(record["seed"])] = values
    return tasks, failures


def normalize(values: np.ndarray, best: float, random_median: np.ndarray | float) -> np.ndarray:
    """100 at ``best``, 0 at ``random_median``; where they coincide, 100 for reaching it, else 0."""
    values = np.asarray(values, dtype=float)
    random_median = np.broadcast_to(np.asarray(random_median, dtype=float), values.shape)
    span = random_median - best
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = 100.0 * (random_median - values) / span
    flat = np.where(values <= best, 100.0, 0.0)
    return np.where(span > 0, scaled, flat)


def anchors(task: TaskRuns, baseline: str) -> tuple[float, np.ndarray]:
    """(best value anyone found, median best-so-far of ``baseline`` after each trial)."""
    if baseline not in task.runs:
        raise ValueError(f"task {task.name!r} has no runs of the baseline {baseline!r}; run it first")
    best = min(float(np.min(v)) for seeds in task.runs.values() for v in seeds.values())
    return best, np.median(task.curves(baseline), axis=0)


def score_curves(task: TaskRuns, baseline: str) -> dict[str, np.ndarray]:
    """Optimizer -> mean normalized best-so-far score after each trial (over seeds)."""
    best, random_median = anchors(task, baseline)
    out = {}
    for name in task.runs:
        curves = task.curves(name)
        length = min(curves.shape[1], len(random_median))
        out[name] = normalize(curves[:, :length], best, random_median[:length]).mean(axis=0)
    return out


def final_scores(task: TaskRuns, baseline: str) -> dict[str, float]:
    """Optimizer -> mean normalized score over seeds at the full budget."""
    return {name: float(curve[-1]) for name, curve in score_curves(task, baseline).items()}


def scores_at(task: TaskRuns, baseline: str, trials: int) -> dict[str, float]:
    """Optimizer -> mean normalized score over seeds after ``trials`` trials (score@trials): the best value
    anyone found in the full budget is still 100, the baseline's median best after ``trials`` is 0."""
    return {name: float(curve[min(trials, len(curve)) - 1])
            for name, curve in score_curves(task, baseline).items()}


def ranks(task: TaskRuns, optimizers: Iterable[str]) -> dict[str, float]:
    """Optimizer -> mean rank (1 = best) over the seeds every listed optimizer ran."""
    names = [n for n in optimizers if n in task.runs]
    seeds = sorted(set.intersection(*(set(task.runs[n]) for n in names))) if names else []
    if not seeds:
        return {}
    table = np.array([[float(np.min(task.runs[n][s])) for n in names] for s in seeds])
    rank_rows = np.array([rankdata(row) for row in table])
    return dict(zip(names, rank_rows.mean(axis=0).tolist(), strict=True))


@dataclass
class Summary:
    """Per-task scores and ranks, and their means per group and overall."""

    scores: dict[str, dict[str, float]]  # task -> optimizer -> score
    early: dict[str, dict[str, float]]  # task -> optimizer -> score after EARLY trials
    ranks: dict[str, dict[str, float]]  # task -> optimizer -> mean rank
    groups: dict[str, list[str]]  # group -> tasks

    def mean(self, table: Mapping[str, Mapping[str, float]], tasks: Iterable[str]) -> dict[str, float]:
        """Optimizer -> mean over ``tasks`` (of those it has a figure for)."""
        gathered: dict[str, list[float]] = defaultdict(list)
        for task in tasks:
            for name, value in table.get(task, {}).items():
                gathered[name].append(value)
        return {name: float(np.mean(v)) for name, v in gathered.items()}


def summarize(tasks: Mapping[str, TaskRuns], baseline: str, ranked: Iterable[str]) -> Summary:
    """Scores for every optimizer; ranks among ``ranked`` (the sequential comparison)."""
    ranked = list(ranked)
    scores = {name: final_scores(t, baseline) for name, t in tasks.items()}
    early = {name: scores_at(t, baseline, EARLY) for name, t in tasks.items()}
    rank_table = {name: ranks(t, ranked) for name, t in tasks.items()}
    groups: dict[str, list[str]] = defaultdict(list)
    for name, t in tasks.items():
        groups[t.group].append(name)
    return Summary(scores, early, rank_table, dict(groups))


def seed_scores(task: TaskRuns, baseline: str, optimizer: str) -> dict[int, float]:
    """Seed -> ``optimizer``'s normalized score at its full budget on that seed (``final_scores`` is
    their mean)."""
    best, random_median = anchors(task, baseline)
    out = {}
    for seed, values in task.runs[optimizer].items():
        last = min(len(values), len(random_median)) - 1
        out[seed] = float(normalize(np.min(values[:last + 1]), best, random_median[last]))
    return out


def paired_difference(tasks: Iterable[TaskRuns], baseline: str, a: str, b: str, draws: int = 2000,
                      seed: int = 0) -> tuple[float, float, float, int] | None:
    """``a``'s score minus ``b``'s, per task the mean over the seeds both ran, then the mean over tasks
    (as the group tables average), with a 95 % bootstrap interval (tasks drawn with replacement, then
    each drawn task's seeds) and the number of (task, seed) pairs: (difference, low, high, pairs).
    None where no task has both."""
    diffs = []
    for task in tasks:
        if a in task.runs and b in task.runs:
            score_a, score_b = seed_scores(task, baseline, a), seed_scores(task, baseline, b)
            common = sorted(set(score_a) & set(score_b))
            if common:
                diffs.append(np.array([score_a[s] - score_b[s] for s in common]))
    if not diffs:
        return None
    rng = np.random.default_rng(seed)
    # per task, the mean of its seeds redrawn, once per bootstrap draw: shape (tasks, draws)
    redrawn = np.array([d[rng.integers(len(d), size=(draws, len(d)))].mean(axis=1) for d in diffs])
    picks = rng.integers(len(diffs), size=(draws, len(diffs)))
    boots = redrawn[picks, np.arange(draws)[:, None]].mean(axis=1)
    low, high = np.percentile(boots, [2.5, 97.5])
    pairs = sum(len(d) for d in diffs)
    return float(np.mean([d.mean() for d in diffs])), float(low), float(high), pairs
