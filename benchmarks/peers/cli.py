"""Command lines of ``run.py``, ``report.py`` and ``overhead.py``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from . import envs, harness, optimizers, peer_results, reporting, tasks, timing, timing_peers

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = Path(".tmp/bench-peers")
#: ``--quick``: cheap optimizers, two tasks, two seeds, a short budget (for the test).
QUICK = {"seeds": 2, "budget": 12, "optimizers": "shoal-random,shoal-tpe,optuna-tpe,hyperopt-tpe"}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text}")
    return value


def _reuse_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--reuse", type=Path, default=peer_results.COMMITTED,
                        help=f"{what} (default {peer_results.COMMITTED.relative_to(HERE.parent.parent)})")
    parser.add_argument("--no-reuse", action="store_true", help="ignore committed peer results")


def _reuse(args: argparse.Namespace) -> Path | None:
    return None if args.no_reuse else args.reuse


def run_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="shoal's samplers against the peers, same tasks and seeds")
    parser.add_argument("--quick", action="store_true",
                        help="tiny run: 2 tasks, 2 seeds, 12 trials, cheap optimizers")
    parser.add_argument("--seeds", type=_positive, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--budget", type=_positive, help="trials per run (default 60)")
    parser.add_argument("--tasks",
                        help=f"comma-separated groups ({', '.join(tasks.GROUPS)}, all) or task names")
    parser.add_argument("--optimizers", help=f"comma-separated, from {', '.join(optimizers.OPTIMIZERS)}")
    parser.add_argument("--jobs", type=_positive, default=1, help="worker processes (default 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"results folder (default {DEFAULT_OUT})")
    parser.add_argument("--list", action="store_true", help="print the tasks and optimizers, run nothing")
    _reuse_options(parser, "skip peer jobs whose results are committed")
    args = parser.parse_args(argv)
    seeds = args.seeds or (QUICK["seeds"] if args.quick else 5)
    budget = args.budget or (QUICK["budget"] if args.quick else 60)
    task_spec = args.tasks or (",".join(tasks.QUICK) if args.quick else "all")
    default_names = QUICK["optimizers"] if args.quick else ",".join(optimizers.DEFAULT)
    names = (args.optimizers or default_names).split(",")
    try:
        chosen = tasks.select(task_spec)
        unknown = [n for n in names if n not in optimizers.OPTIMIZERS]
        if unknown:
            raise ValueError(
                f"--optimizers: unknown {unknown}; choose from {', '.join(optimizers.OPTIMIZERS)}")
    except ValueError as exc:
        parser.error(str(exc))
    if args.list:
        for name in chosen:
            task = tasks.registry()[name]
            print(f"{task.group:10} {name:22} {len(task.space)} dims")
        print("optimizers:", ", ".join(names))
        return 0
    reuse = _reuse(args)
    jobs = harness.plan(chosen, names, range(seeds), budget)
    for name in names:
        why = optimizers.unavailable(name)
        if why:  # its jobs with committed results still count as done
            missing = [j for j in jobs if j.optimizer == name and not harness.reused(j, reuse)]
            if missing:
                print(f"note: skipping {len(missing)} {name} jobs: {why}")
            jobs = [j for j in jobs if j not in missing]
    if optimizers.BASELINE not in names:
        print(f"note: {optimizers.BASELINE} is not among the optimizers; the report needs its runs in --out")
    start = time.perf_counter()
    harness.run_all(jobs, args.out, args.jobs, reuse=reuse)
    print(f"done in {time.perf_counter() - start:.0f}s: {len(chosen)} tasks x {len(names)} optimizers x "
          f"{seeds} seeds, {budget} trials; results in {args.out}")
    return 0


def report_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="score a bench-peers run and write the report")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the run's results folder")
    parser.add_argument("--figures", type=Path, help="where the PNG plots go (default OUT/figures)")
    parser.add_argument("--results", type=Path,
                        help="also put the report in this markdown file, between the bench-peers markers")
    parser.add_argument("--budget", type=_positive, help="score only runs of this budget")
    parser.add_argument("--command", default="", help="the run command to print in the report")
    parser.add_argument("--note", action="append", default=[], help="a line to add to the report's notes")
    parser.add_argument("--parallel", type=Path,
                        help="a run of shoal-random, shoal-gp and shoal-gp-par4 over more seeds that judges "
                             "the parallel target (the table's own runs are still shown)")
    _reuse_options(parser, "merge in committed peer results for the jobs --out lacks")
    args = parser.parse_args(argv)
    figures = args.figures or args.out / "figures"
    report_path = args.out / "REPORT.md"
    link_base = args.results.resolve().parent if args.results else args.out.resolve()
    try:
        body, headline = reporting.build(args.out, figures.resolve(), link_base, args.budget, args.command,
                                         args.note, _reuse(args), args.parallel)
    except ValueError as exc:
        parser.error(str(exc))
    report_path.parent.mkdir(parents=True, exist_ok=True)
    if args.results:
        reporting.splice(args.results, body)
        print(f"updated {args.results}")
    local, _ = reporting.build(args.out, figures.resolve(), args.out.resolve(), args.budget, args.command,
                               args.note, _reuse(args), args.parallel) if args.results else (body, headline)
    report_path.write_text(local)
    (args.out / "headline.json").write_text(json.dumps(headline, indent=1))
    print(local)
    print(f"wrote {report_path} and plots in {figures}")
    return 0


def overhead_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ask + tell time per trial, shoal next to Optuna")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (writes overhead.json)")
    parser.add_argument("--repeats", type=_positive, default=20, help="timed trials per point (mean kept)")
    parser.add_argument("--gp-1000", action="store_true", help="also time the GPs at 1,000 trials (slow)")
    parser.add_argument("--quick", action="store_true", help="20 and 50 trials, 2 repeats")
    parser.add_argument("--peers", default="ready",
                        help="peers timed against shoal's default at 60 trials, in their envs: "
                             f"comma-separated from {', '.join(optimizers.PEERS)}, 'ready' (those whose env "
                             "exists, the default) or 'none'")
    args = parser.parse_args(argv)
    if args.peers == "ready":
        peers = [p for p in optimizers.PEERS if envs.problem(envs.group_of(p) or p) is None]
    else:
        peers = [] if args.peers == "none" else args.peers.split(",")
        unknown = [p for p in peers if p not in optimizers.PEERS]
        if unknown:
            parser.error(f"--peers: unknown {unknown}; choose from {', '.join(optimizers.PEERS)}, "
                         "ready, none")
    sizes = dict(timing.PAIRS)
    if args.gp_1000:
        sizes[("GP", "gp")] = (100, 300, 1000)
    if args.quick:
        sizes = {pair: (20, 50) for pair in sizes}
        args.repeats = 2
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    rows = timing.measure(sizes, repeats=args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "overhead.json").write_text(json.dumps(rows, indent=1))
    print(f"wrote {args.out / 'overhead.json'}")
    if peers:
        trials = 20 if args.quick else timing_peers.TRIALS
        peer_rows = timing_peers.measure(peers, trials, repeats=args.repeats)
        (args.out / "overhead-peers.json").write_text(json.dumps(peer_rows, indent=1))
        print(f"wrote {args.out / 'overhead-peers.json'}")
    return 0
