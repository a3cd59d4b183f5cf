"""The report of ``multiobjective.py``'s runs (``multiobjective.py --report`` calls it, or run this file
with the same flags): per task group, the mean hypervolume at 50 and 100 trials per optimizer and the
mean rank; ask + tell seconds per trial near the end of a run; a Markdown section for RESULTS.md."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import multiobjective as mo  # noqa: E402
from _machine import cpu_model  # noqa: E402

START, END = "<!-- bench-mo:start -->", "<!-- bench-mo:end -->"
#: The two whose ask + tell time per trial the report sets side by side (in bold).
DEFAULT_SAMPLER, OPTUNA_GP = "shoal-auto", "optuna-gp"


def _ranks(values: Sequence[float]) -> list[float]:
    """Rank 1 = highest hypervolume; ties share the mean rank."""
    order = sorted(values, reverse=True)
    return [order.index(v) + 1 + (order.count(v) - 1) / 2 for v in values]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
            *("| " + " | ".join(r) + " |" for r in rows)]


def report(out: Path, command: str = "", notes: Sequence[str] = ()) -> str:
    """The Markdown report of the runs under ``out``."""
    records, failures = [], []
    for path in sorted(out.glob("*/*/seed*.json")):
        record = json.loads(path.read_text())
        if record.get("task") in mo.problems():
            (failures if "error" in record else records).append(record)
    if not records:
        raise ValueError(f"no results under {out}; run benchmarks/multiobjective.py --out {out} first")
    names = [n for n in mo.OPTIMIZERS if any(r["optimizer"] == n for r in records)]
    seeds = sorted({r["seed"] for r in records})
    budget = max(r["budget"] for r in records)
    budgets = sorted({min(b, budget) for b in mo.BUDGETS})
    # hv[task][budget][optimizer][seed]
    hv: dict[str, dict[int, dict[str, dict[int, float]]]] = {}
    for r in records:
        for b in budgets:
            hv.setdefault(r["task"], {}).setdefault(b, {}).setdefault(r["optimizer"], {})[r["seed"]] = \
                mo.score(r, mo.problems()[r["task"]], b)
    versions: dict[str, str] = {}
    for r in records:
        versions.update(r.get("versions", {}))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"- command: `{command}`" if command else "",
        f"- report written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores "
        f"({cpu_model()}), 1-minute load average {load:.2f}",
        f"- software: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}",
        f"- seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}), runs of {budget} trials; hypervolume of the "
        f"feasible trials among the first N against each task's fixed reference point (higher is better); "
        f"rank among the optimizers per (task, seed), 1 = best, averaged",
        *(f"- {n}" for n in notes), "",
    ]
    for group in mo.GROUPS:
        tasks = [t for t in mo.problems() if mo.problems()[t].group == group and t in hv]
        if not tasks:
            continue
        refs = ", ".join(f"{t} {mo.problems()[t].ref}" + (f", its known front's {front:.4g}" if (
            front := mo.front_hypervolume(t)) is not None else "") for t in tasks)
        lines += [f"**{group}** (reference points: {refs}):", ""]
        header = ["optimizer"]
        for t in tasks:
            header += [f"{t} HV@{b}" for b in budgets]
        header += [f"mean rank @{b}" for b in budgets]
        ranks: dict[int, dict[str, list[float]]] = {b: {n: [] for n in names} for b in budgets}
        for t in tasks:
            for b in budgets:
                per = hv[t][b]
                for seed in seeds:
                    here = [n for n in names if seed in per.get(n, {})]
                    for n, rank in zip(here, _ranks([per[n][seed] for n in here]), strict=True):
                        ranks[b][n].append(rank)
        rows = []
        for n in (n for n in names if any(n in hv[t][b] for t in tasks for b in budgets)):
            row = [n]
            for t in tasks:
                for b in budgets:
                    got = list(hv[t][b].get(n, {}).values())
                    row.append(f"{np.mean(got):.4g}" if got else "")
                    if got and len(got) < len(seeds):
                        row[-1] += f" ({len(got)} seeds)"
            row += [f"{np.mean(ranks[b][n]):.2f}" if ranks[b][n] else "" for b in budgets]
            rows.append(row)
        lines += _table(header, rows) + [""]
    # Ask + tell time near the end of a run.
    last = max(1, min(10, budget // 5))
    lines += [f"Ask + tell seconds per trial over trials {budget - last + 1}-{budget} (mean over runs; the "
              f"objective's time is not included):", ""]
    order = [t for t in mo.problems() if t in hv]
    trow = []
    for n in names:
        per_task = []
        for t in order:
            got = [float(np.mean(np.add(r["ask_s"], r["tell_s"])[-last:])) for r in records
                   if r["task"] == t and r["optimizer"] == n]
            per_task.append(f"{np.mean(got):.3f}" if got else "")
        trow.append([f"**{n}**" if n in (DEFAULT_SAMPLER, OPTUNA_GP) else n, *per_task])
    lines += _table(["optimizer", *order], trow)
    if failures:
        lines += ["", f"{len(failures)} runs failed and are left out:", ""]
        lines += sorted({f"- {f['optimizer']} on {f['task']}: {f['error'][:200]}" for f in failures})
    return "\n".join(line for line in lines if line is not None) + "\n"


def splice(results: Path, body: str, title: str = "## Several objectives and constraints") -> None:
    """Put ``body`` between the bench-mo markers in ``results`` (appending the section the first time)."""
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    block = f"{START}\n{body}{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{title}\n\n{block}\n"
    results.write_text(text)


if __name__ == "__main__":
    sys.exit(mo.main(["--report", *sys.argv[1:]]))
