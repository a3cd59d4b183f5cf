"""`make demo`: five search strategies tune one MLP at the same budget, then the default on 2 workers.

An MLP on scikit-learn's bundled digits (no download) is tuned over the hyperparameters the course
notes rank (learning rate, momentum, hidden units, batch size, layers, learning-rate decay, Adam's
betas and epsilon, L2), by a grid, random search, a Sobol sequence, coarse-to-fine random search and
shoal's default sampler (Auto, a Gaussian process at this budget), each with the same number of
trials. The table shows the best validation accuracy of each, and how many distinct values of every
hyperparameter it tried: a grid at 2 values per dimension tries 2 learning rates however many trials
it runs; the others try a new one every trial.

The second act runs the default again with the same budget, on 2 local worker processes with ASHA
stopping unpromising trials at 1, 3 and 9 epochs, and sets its trials per minute and best accuracy
next to the sequential run's.

Every trial is kept in a SQLite file (``shoal.db``, or ``$SHOAL_STORAGE`` as for the ``shoal``
command), one study per strategy (``demo-grid``, ...) and ``demo-parallel-asha``; a rerun replaces
those six studies. Inspect them afterwards with the ``shoal`` command.

    python examples/demo.py [--n-trials 32] [--n-workers 2] [--seed 0] [--storage sqlite:///shoal.db]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from digits_mlp import EPOCHS, SPACE, load_data, objective, objective_by_epoch
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

import shoal
from shoal.config import default_storage
from shoal.samplers import Auto, CoarseToFine, Grid, QuasiRandom, Random, Sampler
from shoal.schedulers import ASHA
from shoal.storage import StudyNotFound, get_storage

#: Trials per strategy: a power of 2, where a Sobol sequence is best balanced.
DEFAULT_TRIALS = 32
#: Worker processes of the second act.
DEFAULT_WORKERS = 2
STUDY_PREFIX = "demo-"
PARALLEL_STUDY = STUDY_PREFIX + "parallel-asha"


@dataclass(frozen=True)
class Strategy:
    """One column of the comparison: a study name, a heading and the sampler it runs."""

    key: str
    heading: str
    make_sampler: Callable[[], Sampler]

    @property
    def study_name(self) -> str:
        return STUDY_PREFIX + self.key


STRATEGIES: tuple[Strategy, ...] = (
    # The two ends of every range (and every choice) already make 768 grid points, conditional
    # dimensions counted exactly: far more than the budget, so the grid's shuffled order picks which
    # of them run, and every run tries the same 2 learning rates.
    Strategy("grid", "Grid\nresolution 2", lambda: Grid(resolution=2)),
    Strategy("random", "Random", lambda: Random()),
    Strategy("sobol", "Sobol\nquasi-random", lambda: QuasiRandom("sobol")),
    Strategy("coarse-to-fine", "Coarse to fine\n3 rounds", lambda: CoarseToFine(rounds=3, top=0.2)),
    # shoal's default: what Study(...) uses without sampler=. At this budget it is a GP.
    Strategy("auto", "Default\nAuto", lambda: Auto()),
)


@dataclass(frozen=True)
class Outcome:
    """What one strategy achieved; ``distinct`` maps a hyperparameter to (distinct values, trials
    in which it was active)."""

    strategy: Strategy
    n_trials: int
    n_complete: int
    best_value: float | None
    best_number: int | None
    best_config: dict[str, Any]
    wall_s: float
    distinct: dict[str, tuple[int, int]]


@dataclass(frozen=True)
class Throughput:
    """One run of the default sampler, for the second act: how fast and how well."""

    label: str
    n_workers: int
    scheduler: str | None
    n_trials: int
    n_stopped: int
    epochs: int
    wall_s: float
    best_value: float | None
    #: Seconds from the first trial's creation to the first result (worker processes start meanwhile).
    first_result_s: float
    #: Trials per minute from the first result to the last: the pace once the processes are running.
    running_per_minute: float

    @property
    def trials_per_minute(self) -> float:
        return 60.0 * self.n_trials / self.wall_s if self.wall_s > 0 else float("inf")


def pace(trials: Sequence[shoal.Trial]) -> tuple[float, float]:
    """(seconds to the first result, trials per minute after it), from the trials' stored times."""
    finished = sorted(t.finished_at for t in trials if t.finished_at is not None)
    created = [t.created_at for t in trials if t.created_at is not None]
    if not finished or not created:
        return float("nan"), float("nan")
    first = (finished[0] - min(created)).total_seconds()
    span = (finished[-1] - finished[0]).total_seconds()
    return first, (60.0 * (len(finished) - 1) / span if span > 0 else float("nan"))


@dataclass(frozen=True)
class DemoResult:
    """Both acts: one ``Outcome`` per strategy, then the sequential and the parallel run."""

    outcomes: list[Outcome]
    sequential: Throughput
    parallel: Throughput


def distinct_values(trials: Sequence[shoal.Trial], names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Per dimension: how many different values the trials used, and how many trials used it at all."""
    out: dict[str, tuple[int, int]] = {}
    for name in names:
        values = [t.config[name] for t in trials if name in t.config]
        out[name] = (len({(type(v), v) for v in values}), len(values))
    return out


def replace_studies(storage: str, strategies: Sequence[Strategy] = STRATEGIES) -> None:
    """Delete earlier demo studies of the same names, so a rerun starts fresh."""
    backend = get_storage(storage)
    for name in [s.study_name for s in strategies] + [PARALLEL_STUDY]:
        try:
            backend.delete_study(name)
        except StudyNotFound:
            pass


def run_strategy(strategy: Strategy, storage: str, n_trials: int, seed: int, console: Console) -> Outcome:
    """Run one strategy's study to its budget and summarise it."""
    study = shoal.Study(
        strategy.study_name,
        SPACE,
        direction="maximize",
        storage=storage,
        sampler=strategy.make_sampler(),
        seed=seed,
    )
    label = strategy.heading.replace("\n", ", ")
    started = time.perf_counter()
    with console.status(f"{strategy.study_name}: starting") as status:

        def show(study: shoal.Study, trial: shoal.Trial) -> None:
            status.update(f"{strategy.study_name} ({label}): trial {trial.number + 1}/{n_trials}")

        study.optimize(objective, n_trials, show_progress=False, callbacks=[show])
    wall = time.perf_counter() - started
    trials = study.trials
    complete = [t for t in trials if t.state == shoal.TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None  # type: ignore[arg-type, return-value]
    outcome = Outcome(
        strategy=strategy,
        n_trials=len(trials),
        n_complete=len(complete),
        best_value=None if best is None else best.value,
        best_number=None if best is None else best.number,
        best_config={} if best is None else dict(best.config),
        wall_s=wall,
        distinct=distinct_values(trials, list(SPACE)),
    )
    best_text = "no completed trial" if best is None else f"best {best.value:.4f}"
    console.print(
        f"  [bold]{strategy.study_name:<20}[/] {len(trials):>4} trials  {best_text}  {wall:6.1f} s"
    )
    return outcome


def render_table(outcomes: Sequence[Outcome]) -> Table:
    """Strategies as columns; results, then distinct values per hyperparameter, as rows."""
    budget = max(o.n_trials for o in outcomes)
    table = Table(
        title=f"Same budget, {budget} trials per strategy",
        caption="distinct values tried / trials where the hyperparameter was active",
    )
    table.add_column("", style="bold", no_wrap=True)
    for outcome in outcomes:
        table.add_column(outcome.strategy.heading, justify="right")
    top = max((o.best_value for o in outcomes if o.best_value is not None), default=None)

    def accuracy(o: Outcome) -> str:
        if o.best_value is None:
            return "-"
        text = f"{o.best_value:.4f}"
        return f"[bold green]{text}[/]" if o.best_value == top else text

    table.add_row("best accuracy", *(accuracy(o) for o in outcomes))
    table.add_row(
        "trials run",
        *(f"{o.n_trials}" + ("" if o.n_complete == o.n_trials else f" ({o.n_trials - o.n_complete} failed)")
          for o in outcomes),
    )
    table.add_row("wall time", *(f"{o.wall_s:.1f} s" for o in outcomes), end_section=True)
    for name in SPACE:
        cells = []
        for o in outcomes:
            n_distinct, n_active = o.distinct[name]
            cells.append(f"{n_distinct}/{n_active}" if n_active else "-")
        table.add_row(name, *cells)
    return table


def _format(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _shoal_command() -> str:
    """``shoal`` when it is on PATH, else the script next to this Python (e.g. ``.venv/bin/shoal``)."""
    script = Path(sys.executable).parent / "shoal"
    if shutil.which("shoal") or not script.exists():
        return "shoal"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def run_demo(
    storage: str | None = None,
    n_trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    console: Console | None = None,
    n_workers: int = DEFAULT_WORKERS,
) -> DemoResult:
    """Run the five strategies and print the comparison, then the default on ``n_workers`` workers
    with ASHA next to its sequential run; return what each achieved."""
    console = console or Console()
    storage = storage or default_storage()
    X_train, X_val, _, _ = load_data()
    console.print(
        f"[bold]shoal demo[/]: an MLP on scikit-learn's digits ({len(X_train)} training / {len(X_val)} "
        f"validation images, {EPOCHS} epochs per trial), {len(SPACE)} hyperparameters.\n"
        f"{len(STRATEGIES)} strategies x {n_trials} trials, seed {seed}, trials kept in {storage}",
        highlight=False,
    )
    replace_studies(storage)
    with threadpool_limits(limits=1):  # the GP too: small matrices, one BLAS thread is fastest
        return _run_acts(storage, n_trials, seed, console, n_workers)


def _run_acts(storage: str, n_trials: int, seed: int, console: Console, n_workers: int) -> DemoResult:
    started = time.perf_counter()
    # digits_mlp.train also limits BLAS to one thread, which reaches the worker processes of act 2.
    outcomes = [run_strategy(s, storage, n_trials, seed, console) for s in STRATEGIES]

    console.print()
    console.print(render_table(outcomes))
    sampler, why = Auto.choice(shoal.Space(SPACE), n_trials)
    console.print(f"The default (Auto) chose {sampler}: {why}.", highlight=False)
    finished = [o for o in outcomes if o.best_value is not None]
    if finished:
        winner = max(finished, key=lambda o: o.best_value)  # type: ignore[arg-type, return-value]
        console.print(
            f"\nBest configuration: validation accuracy [bold]{winner.best_value:.4f}[/], found by "
            f"{winner.strategy.study_name} (trial {winner.best_number})"
        )
        for name, value in winner.best_config.items():
            console.print(f"  {name:<14} {_format(value)}")

    auto = next(o for o in outcomes if o.strategy.key == "auto")
    sequential = Throughput("Sequential\nAuto", 1, None, auto.n_trials, 0, auto.n_trials * EPOCHS,
                            auto.wall_s, auto.best_value, *pace(shoal.Study.load(auto.strategy.study_name,
                                                                                 storage).trials))
    console.print(
        f"\n[bold]Second act[/]: the default again, the same {n_trials} trials, on {n_workers} worker "
        f"processes with ASHA (rungs at 1, 3 and 9 epochs, the top third goes on)",
        highlight=False,
    )
    parallel = run_parallel(storage, n_trials, seed, console, n_workers)
    console.print()
    console.print(render_throughput(sequential, parallel))
    console.print(summarise(sequential, parallel), highlight=False)

    total = time.perf_counter() - started
    command = _shoal_command()
    where = "" if storage == default_storage() else f" --storage {storage}"
    n_all = sum(o.n_trials for o in outcomes) + parallel.n_trials
    console.print(f"\nAll {n_all} trials ran in {total:.0f} s. Inspect them:")
    lines = ("studies", "show demo-random", "trials demo-random --csv", "importance demo-random",
             "report demo-random -o report.html", f"trials {PARALLEL_STUDY}")
    for line in lines:
        console.print(f"  {command} {line}{where}", highlight=False, markup=False, soft_wrap=True)
    print_importance(storage, console)
    print_compare(command, where, console)
    return DemoResult(outcomes, sequential, parallel)


#: Where ``shoal dashboard`` listens by default.
DASHBOARD = "http://127.0.0.1:8080/"


def compare_url(strategies: Sequence[Strategy] = STRATEGIES, base: str = DASHBOARD) -> str:
    """The dashboard's compare page of the strategies' studies (names URL-encoded, comma-separated)."""
    return f"{base}#/compare/" + ",".join(quote(s.study_name, safe="") for s in strategies)


def print_compare(command: str, where: str, console: Console) -> None:
    """How to see the strategies side by side: the dashboard's compare page, or ``shoal compare``."""
    names = " ".join(s.study_name for s in STRATEGIES)
    console.print("\nCompare the strategies side by side (best so far, best configurations, importance, "
                  "distribution of accuracies) in the dashboard:", highlight=False)
    for line in (f"  {command} dashboard{where}", f"  then open {compare_url()}",
                 f"or in the terminal:\n  {command} compare {names}{where}"):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def run_parallel(storage: str, n_trials: int, seed: int, console: Console,
                 n_workers: int = DEFAULT_WORKERS) -> Throughput:
    """The default sampler with ASHA on ``n_workers`` local worker processes, to ``n_trials`` trials."""
    study = shoal.Study(
        PARALLEL_STUDY,
        SPACE,
        direction="maximize",
        storage=storage,
        sampler=Auto(),
        scheduler=ASHA(min_resource=1, reduction_factor=3, max_resource=EPOCHS),
        seed=seed,
    )
    finished = 0
    started = time.perf_counter()
    with console.status(f"{PARALLEL_STUDY}: starting {n_workers} workers") as status:

        def show(study: shoal.Study, trial: shoal.Trial) -> None:
            nonlocal finished
            finished += 1
            status.update(f"{PARALLEL_STUDY} ({n_workers} workers, ASHA): {finished}/{n_trials} trials")

        study.optimize(objective_by_epoch, n_trials, n_workers=n_workers, show_progress=False,
                       callbacks=[show])
    wall = time.perf_counter() - started
    trials = study.trials
    complete = [t for t in trials if t.state == shoal.TrialState.COMPLETE]
    stopped = [t for t in trials if t.state == shoal.TrialState.PRUNED]
    best = max((t.value for t in complete), default=None)  # type: ignore[type-var]
    epochs = sum(t.reports[-1][0] for t in trials if t.reports)
    result = Throughput(f"{n_workers} workers\nAuto + ASHA", n_workers, "ASHA", len(trials), len(stopped),
                        epochs, wall, best, *pace(trials))
    best_text = "no trial trained to the end" if best is None else f"best {best:.4f}"
    console.print(f"  [bold]{PARALLEL_STUDY:<20}[/] {len(trials):>4} trials  {best_text}  {wall:6.1f} s")
    failed = [t for t in trials if t.state == shoal.TrialState.FAILED]
    if failed:
        last_line = (failed[0].error or "").strip().splitlines()[-1:] or ["no error recorded"]
        console.print(f"  [red]{len(failed)} trials failed[/]; the first: {last_line[0]}", highlight=False)
    return result


def render_throughput(*runs: Throughput) -> Table:
    """The sequential and the parallel run as columns: trials, epochs, time, trials per minute, best."""
    table = Table(
        title=f"The default at the same budget, {max(r.n_trials for r in runs)} trials",
        caption=f"best accuracy: trials trained all {EPOCHS} epochs",
    )
    table.add_column("", style="bold", no_wrap=True)
    for run in runs:
        table.add_column(run.label, justify="right")
    table.add_row("processes", *(str(r.n_workers) for r in runs))
    table.add_row("early stopping", *(r.scheduler or "-" for r in runs))
    table.add_row("trials run", *(str(r.n_trials) for r in runs))
    table.add_row("stopped early", *(str(r.n_stopped) if r.scheduler else "-" for r in runs))
    table.add_row("epochs trained", *(str(r.epochs) for r in runs))
    table.add_row("wall time", *(f"{r.wall_s:.1f} s" for r in runs))
    table.add_row("first result after", *(f"{r.first_result_s:.1f} s" for r in runs))
    table.add_row("trials per minute", *(f"{r.trials_per_minute:.0f}" for r in runs))
    table.add_row("  after the first", *(f"{r.running_per_minute:.0f}" for r in runs))
    table.add_row("best accuracy", *("-" if r.best_value is None else f"{r.best_value:.4f}" for r in runs))
    return table


def summarise(sequential: Throughput, parallel: Throughput) -> str:
    """One line: how many times the trials per minute (overall, and once the workers run), the share of
    epochs, the change in accuracy."""
    speed = parallel.trials_per_minute / sequential.trials_per_minute
    running = parallel.running_per_minute / sequential.running_per_minute
    share = parallel.epochs / max(sequential.epochs, 1)
    text = (
        f"{parallel.n_workers} workers with ASHA: {speed:.1f}x the trials per minute, {running:.1f}x once "
        f"the worker processes had started (the first result came after {parallel.first_result_s:.1f} s: "
        f"each worker imports scikit-learn), {share:.0%} of the epochs"
    )
    if parallel.best_value is not None and sequential.best_value is not None:
        text += f", best accuracy {parallel.best_value - sequential.best_value:+.4f}"
    return text + "."


def print_importance(storage: str, console: Console, strategies: Sequence[Strategy] = STRATEGIES) -> None:
    """The importance ranking of the hyperparameters, over the trials of all the demo studies."""
    from shoal.analysis._data import StudyData
    from shoal.analysis.importance import MIN_TRIALS, importance_of

    backend = get_storage(storage)
    trials = [t for s in strategies for t in StudyData.from_storage(backend, s.study_name).trials]
    complete = [t for t in trials if t.state == shoal.TrialState.COMPLETE]
    if len(complete) < MIN_TRIALS:
        console.print(f"\nImportance needs at least {MIN_TRIALS} completed trials; run more.")
        return
    result = importance_of(shoal.Space(SPACE), trials)
    console.print(
        f"\nHyperparameter importance over the {result.n_trials} completed trials of the "
        f"{len(strategies)} studies ({result.method} importance of a random forest on the unit-cube "
        "coordinates):",
        highlight=False,
    )
    for rank, (name, share) in enumerate(result.items(), 1):
        bar = "#" * round(share * 40)
        console.print(f"  {rank:>2}. {name:<14} {share:6.1%}  {bar}", highlight=False, markup=False)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--storage", default=default_storage(), help="SQLAlchemy URL (default: $SHOAL_STORAGE or %(default)s)"
    )
    parser.add_argument(
        "--n-trials", type=int, default=DEFAULT_TRIALS, help="trials per strategy (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every sampler (default: %(default)s)")
    parser.add_argument(
        "--n-workers", type=int, default=DEFAULT_WORKERS,
        help="worker processes of the second act (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.n_trials < 1:
        parser.error("--n-trials must be >= 1")
    if args.n_workers < 1:
        parser.error("--n-workers must be >= 1")
    if args.seed < 0:
        parser.error("--seed must be >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run_demo(args.storage, args.n_trials, args.seed, n_workers=args.n_workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
