"""Committed peer results: raw JSON reused by ``run.py`` (not rerun) and merged by the report.

Ax and HEBO take seconds per proposal, so their runs take hours; their records are committed under
``benchmarks/peers/results/TASK/OPTIMIZER/seedN.json`` (the layout of a run's ``--out``). A run skips
a job whose record is there, and the report reads them next to the fresh run's, the fresh one winning
for the same (task, optimizer, seed), and says which it reused and when they were made.

A peer that has not covered every task and seed of the comparison yet is scored apart, on the
(task, seed) pairs it has, next to shoal's default on the same pairs (``partial_rows``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import scoring
from .optimizers import PEERS

COMMITTED = Path(__file__).resolve().parent / "results"


def _read(folder: Path) -> dict[tuple[str, str, int], dict[str, Any]]:
    found = {}
    for path in sorted(folder.glob("*/*/seed*.json")):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue  # a file being written
        found[(record["task"], record["optimizer"], int(record["seed"]))] = record
    return found


def records(out: Path, reuse: Path | None = None, budget: int | None = None) -> list[dict[str, Any]]:
    """Every record of ``out`` and, for the peers' jobs ``out`` lacks, of ``reuse`` (marked ``reused``).

    A committed record joins only where ``out`` ran the same (task, seed) itself: committed seeds
    beyond the run's (the scikit-learn group has more) would otherwise give the peer more seeds than
    the others and move every optimizer's normalization.
    """
    fresh = _read(Path(out))
    covered = {(task, seed) for task, _, seed in fresh}
    merged = {}
    if reuse is not None and Path(reuse).resolve() != Path(out).resolve():
        merged = {key: {**record, "reused": True} for key, record in _read(Path(reuse)).items()
                  if key[1] in PEERS and (key[0], key[2]) in covered}
    merged.update(fresh)
    return [r for r in merged.values() if budget is None or r.get("budget") == budget]


def has(reuse: Path | None, task: str, optimizer: str, seed: int, budget: int) -> bool:
    """Whether ``reuse`` holds a finished record of this job."""
    if reuse is None:
        return False
    try:
        record = json.loads((Path(reuse) / task / optimizer / f"seed{seed}.json").read_text())
    except (OSError, ValueError):
        return False
    return record.get("budget") == budget and "error" not in record


def _seeds(seeds: Iterable[int]) -> str:
    seeds = sorted(set(seeds))
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"
    return "seeds " + ", ".join(map(str, seeds))


def describe_seeds(task_seeds: Mapping[str, Iterable[int]]) -> str:
    """"28 tasks, seeds 0-4 (5)", or where tasks ran different seeds, each set with its tasks (the
    most common set last, as "the other N")."""
    def count(seeds: tuple[int, ...]) -> str:
        return _seeds(seeds) + (f" ({len(seeds)})" if len(seeds) > 1 else "")

    by_set: dict[tuple[int, ...], list[str]] = {}
    for task, seeds in sorted(task_seeds.items()):
        by_set.setdefault(tuple(sorted(set(seeds))), []).append(task)
    if len(by_set) == 1:
        (seeds, names), = by_set.items()
        return f"{len(names)} task{'s' if len(names) > 1 else ''}, {count(seeds)}"
    ordered = sorted(by_set.items(), key=lambda item: (len(item[1]), -len(item[0]), item[0]))
    parts = [f"{count(seeds)} on {', '.join(names)}" for seeds, names in ordered[:-1]]
    seeds, names = ordered[-1]
    parts.append(f"{count(seeds)} on the other {len(names)}")
    return f"{len(task_seeds)} tasks: " + "; ".join(parts)


def reuse_notes(recs: Sequence[Mapping[str, Any]], reuse: Path | None) -> list[str]:
    """One line per optimizer with reused records: how many, which seeds, when they were made."""
    lines = []
    by_optimizer: dict[str, list[Mapping[str, Any]]] = {}
    for record in recs:
        if record.get("reused") and "error" not in record:
            by_optimizer.setdefault(record["optimizer"], []).append(record)
    for name, rows in sorted(by_optimizer.items()):
        made = sorted(r.get("finished_at", "")[:10] for r in rows if r.get("finished_at"))
        when = (made[0] if made[0] == made[-1] else f"{made[0]} to {made[-1]}") if made else "unknown dates"
        task_seeds: dict[str, list[int]] = {}
        for r in rows:
            task_seeds.setdefault(r["task"], []).append(r["seed"])
        lines.append(f"{name}: {len(rows)} runs reused from `{_where(reuse)}` "
                     f"({describe_seeds(task_seeds)}), made {when}, not rerun")
    return lines


def _where(reuse: Path | None) -> str:
    try:
        return str(Path(reuse or COMMITTED).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(reuse)


def split_partial(tasks: Mapping[str, scoring.TaskRuns], peers: Iterable[str], failures: Sequence[Mapping]
                  ) -> list[str]:
    """The peers that ran but lack a result (or failure) for some (task, seed) the others ran in ``tasks``."""
    peers = list(peers)
    partial = []
    for name in peers:
        ran = any(name in t.runs for t in tasks.values()) or any(f["optimizer"] == name for f in failures)
        if not ran:
            continue
        for task in tasks.values():
            seeds = {s for other, runs in task.runs.items() if other not in peers for s in runs}
            have = set(task.runs.get(name, {}))
            have |= {f["seed"] for f in failures if f["task"] == task.name and f["optimizer"] == name}
            if not seeds <= have:
                partial.append(name)
                break
    return partial


@dataclass
class _Pairs:
    """Scores of a partial peer and of the reference on the same (task, seed) pairs."""

    mine: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    mine_early: list[float] = field(default_factory=list)
    theirs_early: list[float] = field(default_factory=list)
    wins: float = 0.0

    def add(self, a: np.ndarray, b: np.ndarray, best: float, random_median: np.ndarray, early: int) -> None:
        k = min(early, len(random_median)) - 1
        for values, final, first in ((a, self.mine, self.mine_early), (b, self.theirs, self.theirs_early)):
            final.append(float(scoring.normalize(np.array(np.min(values)), best, random_median[-1])))
            first.append(float(scoring.normalize(np.array(np.min(values[:k + 1])), best, random_median[k])))
        low_a, low_b = float(np.min(a)), float(np.min(b))
        self.wins += 1.0 if low_a < low_b else 0.5 if low_a == low_b else 0.0


def partial_rows(tasks: Mapping[str, scoring.TaskRuns], baseline: str, reference: str,
                 partial: Iterable[str], early: int = scoring.EARLY) -> list[list[str]]:
    """Per partial peer and task group (and "all" over several groups): runs, its mean score and
    ``reference``'s on the same (task, seed) pairs, the same after ``early`` trials, and the share of
    pairs where the peer's final best is better (ties count half)."""
    rows = []
    for name in partial:
        groups: dict[str, _Pairs] = {}
        for task in tasks.values():
            if name not in task.runs or reference not in task.runs:
                continue
            best, random_median = scoring.anchors(task, baseline)
            for seed, values in task.runs[name].items():
                if seed in task.runs[reference]:
                    for key in (task.group, "all"):
                        groups.setdefault(key, _Pairs()).add(values, task.runs[reference][seed], best,
                                                             random_median, early)
        keys = sorted(k for k in groups if k != "all") + (["all"] if len(groups) > 2 else [])
        for key in keys:
            g = groups[key]
            rows.append([name, key, str(len(g.mine)), f"{np.mean(g.mine):.1f}", f"{np.mean(g.theirs):.1f}",
                         f"{np.mean(g.mine_early):.1f}", f"{np.mean(g.theirs_early):.1f}",
                         f"{g.wins / len(g.mine):.2f}"])
    return rows
