"""The markdown report and best-so-far plots, from the JSON records a run left in its ``--out`` folder."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import optimizers, peer_results, scoring
from .tasks import GROUPS

START, END = "<!-- bench-peers:start -->", "<!-- bench-peers:end -->"
AUTO, GP, GP_PARALLEL = "shoal-auto", "shoal-gp", "shoal-gp-par4"
#: Overhead targets: (shoal sampler, trials) -> shoal must not be slower than Optuna's counterpart.
OVERHEAD_TARGETS = {("GP", 300), ("TPE", 1000)}
PARALLEL_TARGET = 0.95


def _fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "--:" for i in range(len(header))]
    return ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|",
            *("| " + " | ".join(row) + " |" for row in rows)]


def plot(tasks: Mapping[str, scoring.TaskRuns], baseline: str, order: Sequence[str], path: Path,
         group: str) -> bool:
    """Mean normalized best-so-far score per optimizer across the group's tasks; False when none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    members = [t for t in tasks.values() if t.group == group]
    if not members:
        return False
    per_optimizer: dict[str, list[np.ndarray]] = {}
    for task in members:
        for name, curve in scoring.score_curves(task, baseline).items():
            per_optimizer.setdefault(name, []).append(curve)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    colors = plt.get_cmap("tab20").colors
    for i, name in enumerate(n for n in order if n in per_optimizer):
        length = min(len(c) for c in per_optimizer[name])
        mean = np.mean([c[:length] for c in per_optimizer[name]], axis=0)
        style = "-" if name.startswith("shoal") else "--"
        ax.plot(np.arange(1, length + 1), mean, style, label=name, color=colors[(2 * i) % 20 + (i >= 10)],
                linewidth=3 if name == AUTO else 1.2, zorder=1 if name == AUTO else 2, alpha=0.9)
    ax.set_ylim(-50, 105)
    ax.set_xlabel("trials")
    ax.set_ylabel("normalized score")
    ax.set_title(f"{group}: best so far, mean of {len(members)} tasks (100 = best found, 0 = random median)",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True


def complete_tasks(tasks: Mapping[str, scoring.TaskRuns], failures: Sequence[Mapping[str, Any]],
                   ignore: Sequence[str] = ()) -> tuple[dict[str, scoring.TaskRuns], list[str]]:
    """The tasks with a record (result or failure) for every optimizer seen anywhere and every seed seen
    on that task; the rest.

    Seeds count per task, so a group may run more seeds than another (``make bench-peers`` gives the
    scikit-learn tasks 10); the scores average seeds within a task first, so each task weighs the same.
    Optimizers in ``ignore`` (the peers run apart, see ``peer_results``) do not count either way.
    """
    failures = [f for f in failures if f["optimizer"] not in ignore]
    names = {n for t in tasks.values() for n in t.runs if n not in ignore}
    names |= {f["optimizer"] for f in failures}
    kept, partial = {}, []
    for name, task in tasks.items():
        have = {(n, s) for n, runs in task.runs.items() if n not in ignore for s in runs}
        have |= {(f["optimizer"], f["seed"]) for f in failures if f["task"] == name}
        seeds = {s for _, s in have}
        if len(have) == len(names) * len(seeds):
            kept[name] = task
        else:
            partial.append(name)
    return kept, partial


def _task_seeds(tasks: Mapping[str, scoring.TaskRuns]) -> dict[str, set[int]]:
    return {name: {s for runs in t.runs.values() for s in runs} for name, t in tasks.items()}


def parallel_table(tasks: Mapping[str, scoring.TaskRuns], summary: scoring.Summary, baseline: str,
                   judged: bool) -> tuple[list[str], dict[str, float]]:
    """Per group (and all): the sequential GP's score, the parallel GP's (from ``summary`` of ``tasks``),
    their ratio and the GP minus the parallel GP with a 95 % bootstrap interval; ``judged`` adds the
    target column. Also the ratios."""
    group_tasks = {**{g: summary.groups[g] for g in GROUPS if g in summary.groups}, "all": list(tasks)}
    rows, ratios = [], {}
    for g, names in group_tasks.items():
        scores = summary.mean(summary.scores, names)
        seq, par = scores.get(GP), scores.get(GP_PARALLEL)
        ratio = par / seq if seq and par is not None and seq > 0 else float("nan")
        ratios[g] = ratio
        diff = scoring.paired_difference([tasks[t] for t in names], baseline, GP, GP_PARALLEL)
        row = [g, _fmt(seq), _fmt(par), _fmt(ratio, 2),
               "" if diff is None else f"{diff[0]:+.1f} [{diff[1]:+.1f}, {diff[2]:+.1f}] ({diff[3]})"]
        rows.append(row + (["yes" if ratio >= PARALLEL_TARGET else "no"] if judged else []))
    header = ["tasks", "sequential score", "4 outstanding score", "ratio",
              "sequential minus 4 outstanding, 95 % interval (pairs)"]
    return _table(header + (["met"] if judged else []), rows), ratios


def _machine() -> str:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from _machine import cpu_model

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, 1-minute load "
            f"average {load:.2f} when the report was written")


def _versions(records: Sequence[Mapping[str, Any]]) -> str:
    seen: dict[str, str] = {}
    for record in records:
        if record.get("seed") == 0:
            seen.update(record.get("versions", {}))
    return ", ".join(f"{k} {v}" for k, v in sorted(seen.items()))


def build(out: Path, figures: Path, link_base: Path, budget: int | None = None,
          command: str = "", notes: Sequence[str] = (), reuse: Path | None = None,
          parallel: Path | None = None) -> tuple[str, dict[str, Any]]:
    """The report's markdown (links to figures relative to ``link_base``) and its headline figures.

    Runs of the sequential and parallel GP and random search in ``parallel`` (more seeds) judge the
    parallel target instead of the table's own runs, which are still shown.

    Records in ``reuse`` (committed peer results) fill in the jobs ``out`` lacks.
    """
    records = peer_results.records(out, reuse, budget)
    tasks, failures = scoring.from_records(records)
    if not tasks:
        raise ValueError(f"no results under {out}; run benchmarks/peers/run.py --out {out} first")
    baseline = optimizers.BASELINE
    tasks, partial = complete_tasks(tasks, failures, ignore=optimizers.PEERS)
    if partial:
        notes = [*notes, f"left out, not every (optimizer, seed) finished yet: {', '.join(partial)}"]
    notes = [*notes, *peer_results.reuse_notes(records, reuse)]
    running = peer_results.split_partial(tasks, optimizers.PEERS, failures)
    if running:
        notes = [*notes, f"not yet run on every task and seed, so scored apart below: {', '.join(running)}"]
    present = {n for t in tasks.values() for n in t.runs} - set(running)
    ranked = [n for n in optimizers.OPTIMIZERS if n in present and optimizers.pending(n) == 1]
    summary = scoring.summarize(tasks, baseline, ranked)
    groups = [g for g in GROUPS if g in summary.groups]
    task_seeds = _task_seeds(tasks)
    budgets = sorted({len(v) for t in tasks.values() for runs in t.runs.values() for v in runs.values()})
    lines = [
        f"- command: `{command}`" if command else "",
        f"- report written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {_machine()}",
        f"- software: {_versions(records)}",
        f"- {peer_results.describe_seeds(task_seeds)}, budget {budgets[-1]} trials; "
        f"normalized score: 100 = best value any optimizer found on the task, 0 = median best of random "
        f"search ({baseline}); ranks among the {len(ranked)} sequential optimizers, per (task, seed), "
        "then averaged",
        *(f"- {n}" for n in notes),
        "",
    ]
    # Group table.
    header = ["optimizer"]
    for g in [*groups, "all"]:
        header += [f"{g} score", f"{g} rank"]
    group_tasks = {**{g: summary.groups[g] for g in groups}, "all": list(tasks)}
    means = {g: (summary.mean(summary.scores, ts), summary.mean(summary.ranks, ts))
             for g, ts in group_tasks.items()}
    rows = []
    for name in ranked:
        row = [name]
        for g in group_tasks:
            score, rank = means[g][0].get(name), means[g][1].get(name)
            best_score = max(means[g][0][n] for n in ranked if n in means[g][0])
            best_rank = min(means[g][1][n] for n in ranked if n in means[g][1])
            row += [f"**{_fmt(score)}**" if score == best_score else _fmt(score),
                    f"**{_fmt(rank, 2)}**" if rank == best_rank else _fmt(rank, 2)]
        rows.append(row)
    lines += ["Mean normalized score (higher is better) and mean rank (lower is better) per task group:", ""]
    lines += _table(header, rows) + [""]
    early = {g: summary.mean(summary.early, ts) for g, ts in group_tasks.items()}
    lines += [f"Mean normalized score after {scoring.EARLY} trials (score@{scoring.EARLY}; 100 is still the "
              f"best found in the full budget, 0 the median random search after {scoring.EARLY} trials):", ""]
    lines += _table(["optimizer", *group_tasks], [
        [name, *(f"**{_fmt(early[g][name])}**" if early[g][name] == max(early[g][n] for n in ranked)
                 else _fmt(early[g][name]) for g in group_tasks)] for name in ranked]) + [""]
    # Targets.
    headline: dict[str, Any] = {"groups": {}}
    lines += ["Targets:", ""]
    for g in groups:
        scores, rank_means = means[g]
        if AUTO not in scores:
            lines.append(f"- {g}: {AUTO} did not run, so the default-sampler target cannot be judged")
            continue
        top_score = max(scores[n] for n in ranked if n in scores)
        top_rank = min(rank_means[n] for n in ranked if n in rank_means)
        met = scores[AUTO] >= top_score and rank_means[AUTO] <= top_rank
        headline["groups"][g] = {"auto_score": scores[AUTO], "auto_rank": rank_means[AUTO], "met": met}
        leader = max((n for n in ranked if n in scores), key=lambda n: scores[n])
        lines.append(f"- {g}: {AUTO} score {scores[AUTO]:.2f}, rank {rank_means[AUTO]:.2f}; highest score "
                     f"{leader} {top_score:.2f}, best rank {top_rank:.2f}: "
                     f"**{'met' if met else 'not met'}**")
        early_leader = max((n for n in ranked if n in early[g]), key=lambda n: early[g][n])
        early_met = early[g][AUTO] >= early[g][early_leader]
        headline["groups"][g]["early_met"] = early_met
        lines.append(f"- {g} at {scoring.EARLY} trials: {AUTO} {early[g][AUTO]:.2f}; highest {early_leader} "
                     f"{early[g][early_leader]:.2f}: **{'met' if early_met else 'not met'}**")
    # Parallel.
    if GP_PARALLEL in present and GP in present:
        judged_here = parallel is None
        lines += ["", f"Parallel: {GP} with 4 trials outstanding ({GP_PARALLEL}) against {GP} sequential, "
                  f"same tasks, seeds and budget (target: ratio >= {PARALLEL_TARGET:.2f}"
                  + ("" if judged_here else "; judged on the seeds of the next table") + "):", ""]
        table, ratios = parallel_table(tasks, summary, baseline, judged_here)
        lines += table
        if judged_here:
            headline.update({f"parallel_{g}": r for g, r in ratios.items()})
    if parallel is not None:
        extra, _ = scoring.load(parallel, budget)
        extra = {name: scoring.TaskRuns(t.name, t.group, {n: r for n, r in t.runs.items()
                                                          if n in (baseline, GP, GP_PARALLEL)})
                 for name, t in extra.items()}
        extra, _ = complete_tasks({n: t for n, t in extra.items() if len(t.runs) == 3}, [])
        if not extra:
            raise ValueError(f"--parallel {parallel}: no task with runs of {baseline}, {GP} and "
                             f"{GP_PARALLEL} on the same seeds; run benchmarks/peers/run.py --optimizers "
                             f"{baseline},{GP},{GP_PARALLEL} --out {parallel} first")
        table, ratios = parallel_table(extra, scoring.summarize(extra, baseline, []), baseline, True)
        lines += ["", f"The same over {peer_results.describe_seeds(_task_seeds(extra))} (`{parallel}`; "
                  f"normalized among {baseline}, {GP} and {GP_PARALLEL} only; the ratio of two of "
                  "shoal's own settings needs more seeds than the table above to tell a few points "
                  "apart, and they are cheap):", "", *table]
        headline.update({f"parallel_{g}": r for g, r in ratios.items()})
    # Overhead.
    overhead_path = out / "overhead.json"
    if overhead_path.exists():
        rows = json.loads(overhead_path.read_text())
        lines += ["", "Overhead: mean time in ask + tell per trial once the study holds N trials "
                  "(same random history for both, one untimed warm-up; `benchmarks/peers/timing.py`):", ""]
        orow = []
        for r in rows:
            target = (r["shoal"], r["trials"]) in OVERHEAD_TARGETS
            orow.append([f"shoal {r['shoal']} / Optuna {r['optuna']}", str(r["trials"]),
                         _fmt(r["shoal_ms"], 2),
                         _fmt(r["optuna_ms"], 2), f"{r['ratio']:.2f}x",
                         ("yes" if r["shoal_ms"] <= r["optuna_ms"] else "no") if target else ""])
        lines += _table(["sampler", "trials", "shoal ms", "Optuna ms", "Optuna/shoal", "target met"], orow,
                        right_from=1)
        if not any(r["shoal"] == "GP" and r["trials"] >= 1000 for r in rows):
            lines += ["", "The GPs at 1,000 trials are not timed by default (`overhead.py --gp-1000` does)."]
    lines += _peer_overhead(out / "overhead-peers.json")
    # Peers part way.
    rows = peer_results.partial_rows(tasks, baseline, AUTO, running)
    if rows:
        lines += ["", f"Peers with results for only part of the tasks and seeds, scored on the (task, seed) "
                  f"pairs they have, next to {AUTO} on the same pairs (same normalization as above):", ""]
        lines += _table(["optimizer", "group", "runs", "score", f"{AUTO} score", f"score@{scoring.EARLY}",
                         f"{AUTO} score@{scoring.EARLY}", f"share of runs better than {AUTO}"], rows)
    lines += _paired_rows(tasks, baseline, group_tasks, [
        n for n in optimizers.OPTIMIZERS if n in present | set(running) and not n.startswith("shoal-")])
    # Plots.
    lines += ["", "Best-so-far curves (mean normalized score over the group's tasks and seeds):", ""]
    for g in groups:
        path = figures / f"curves-{g}.png"
        if plot(tasks, baseline, [n for n in optimizers.OPTIMIZERS if n in present], path, g):
            lines.append(f"![{g}]({os.path.relpath(path, link_base)})")
    # Per-task scores and ranks.
    lines += ["", "Normalized score per task (mean over seeds; rank in brackets):", ""]
    short = {n: n.replace("shoal-", "s-").replace("optuna-", "o-").replace("hyperopt-", "h-")
             .replace("skopt-", "sk-") for n in present}
    cols = [n for n in optimizers.OPTIMIZERS if n in present]
    trows = []
    for g in groups:
        for t in summary.groups[g]:
            cells = []
            for n in cols:
                score = _fmt(summary.scores[t].get(n), 0)
                cells.append(f"{score} ({_fmt(summary.ranks[t][n], 1)})" if n in summary.ranks[t] else score)
            trows.append([t, *cells])
    lines += _table(["task", *(short[n] for n in cols)], trows)
    # Cost.
    lines += ["", "Mean seconds per run (ask + tell only; the objective's time is not included):", ""]
    crow = []
    for n in [*cols, *running]:
        totals = []
        for record in records:
            if record["optimizer"] == n and "error" not in record:
                totals.append(sum(record["ask_s"]) + sum(record["tell_s"]))
        crow.append([n, _fmt(float(np.mean(totals)), 2) if totals else ""])
    lines += _table(["optimizer", "s per run"], crow)
    if failures:
        lines += ["", f"{len(failures)} runs failed and are left out:", ""]
        seen = set()
        for f in failures:
            key = (f["optimizer"], f["error"])
            if key not in seen:
                seen.add(key)
                count = sum(1 for g in failures if (g["optimizer"], g["error"]) == key)
                lines.append(f"- {f['optimizer']} ({count} runs, e.g. {f['task']}): {f['error'][:200]}")
    return "\n".join(line for line in lines if line is not None) + "\n", headline


def _paired_rows(tasks: Mapping[str, scoring.TaskRuns], baseline: str, group_tasks: Mapping[str, list[str]],
                 peers: Sequence[str]) -> list[str]:
    """The table of shoal's default minus each peer per group, with bootstrap intervals."""
    rows = []
    for peer in peers:
        row = [peer]
        for names in group_tasks.values():
            diff = scoring.paired_difference([tasks[t] for t in names], baseline, AUTO, peer)
            row.append("" if diff is None else f"{diff[0]:+.1f} [{diff[1]:+.1f}, {diff[2]:+.1f}] ({diff[3]})")
        if any(row[1:]):
            rows.append(row)
    if not rows:
        return []
    return ["", f"{AUTO}'s score minus each peer's, per group: the mean over tasks of the per-seed "
            "differences on the (task, seed) pairs both ran, with a 95 % bootstrap interval (tasks "
            "drawn with replacement, then each drawn task's seeds; 2,000 draws) and the number of "
            "pairs. An interval above 0 is a lead beyond the spread of tasks and seeds:", "",
            *_table(["peer", *group_tasks], rows)]


def _peer_overhead(path: Path) -> list[str]:
    """The table of shoal's default against the env peers' ask + tell time (target: cheaper than Ax, HEBO)."""
    if not path.exists():
        return []
    rows = json.loads(path.read_text())
    lines = ["", "Overhead against the peers in their own envs: mean ask + tell per trial once each "
             "optimizer has run its own loop to N trials (`benchmarks/peers/timing_peers.py`; target: "
             "shoal's default cheaper than Ax and HEBO at 60 trials):", ""]
    table = [[f"{r['shoal']} / {r['peer']}", str(r["trials"]), _fmt(r["shoal_ms"], 2), _fmt(r["peer_ms"], 2),
              f"{r['ratio']:.2f}x",
              ("yes" if r["shoal_ms"] <= r["peer_ms"] else "no") if r["peer"] in ("ax", "hebo") else ""]
             for r in rows]
    return lines + _table(["optimizers", "trials", "shoal ms", "peer ms", "peer/shoal", "target met"], table)


def splice(results: Path, body: str, title: str = "## Against the peers") -> None:
    """Put ``body`` between the bench-peers markers in ``results`` (appending the section the first time)."""
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    block = f"{START}\n{body}{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{title}\n\n{block}\n"
    results.write_text(text)
