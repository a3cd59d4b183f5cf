"""The ``shoal`` command line: run a study from a YAML config and inspect stored studies.

Exit codes: 0 ok; 1 the objective raised an exception that is not caught (traceback printed);
2 bad input (a usage error, a bad config, an objective module that fails to import, a space the
sampler cannot search, an unknown study, a read-only or damaged database, a Dask scheduler out of
reach), with one line on stderr and nothing stored; also the objective's module missing where the
trials run (its first trials failed importing it: recorded FAILED, then one line saying what to
install where);
130 interrupted (the study is saved; run the same command again to continue).

The command groups live in modules: ``runs`` (run), ``studies`` (studies, show, trials, best, lineage,
delete), ``panda`` (tweak, fork, schedule), ``reports`` (report, importance), ``transfer`` (export,
import, copy), ``compare`` and ``dashboard``;
``_output`` and ``_stored`` hold what they share (printing, opening a storage). This module holds the
parser and ``main``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from .._version import __version__
from ..config import STORAGE_ENV, ConfigError, check_dask_address
from ..errors import CLIError  # noqa: F401 - defined in shoal.errors
from ._output import STATES
from ._stored import is_storage_error, storage_failure, storage_url
from .compare import cmd_compare, parse_budgets
from .dashboard import cmd_dashboard
from .panda import cmd_fork, cmd_schedule, cmd_tweak
from .reports import cmd_importance, cmd_report
from .runs import Interrupted, cmd_run
from .studies import cmd_best, cmd_delete, cmd_lineage, cmd_show, cmd_studies, cmd_trials
from .transfer import cmd_copy, cmd_export, cmd_import

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line and a pointer to ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _int_at_least(minimum: int, wanted: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_count_arg = _int_at_least(0, "an integer >= 0")


def _seconds_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _dask_arg(text: str) -> str:
    try:
        return check_dask_address(text)
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"expected a Dask scheduler address such as 'tcp://10.0.0.5:8786', got {text!r}"
        ) from None


def _state(text: str) -> str:
    value = text.upper()
    if value not in STATES:
        raise argparse.ArgumentTypeError(f"unknown state {text!r}; use one of {', '.join(STATES)}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``shoal`` argument parser with its subcommands."""
    parser = _Parser(
        prog="shoal",
        description="Run hyperparameter searches from a YAML config and inspect stored studies.",
        epilog=f"Storage defaults to ${STORAGE_ENV} if set, else sqlite:///shoal.db in the working "
        "directory.",
    )
    parser.add_argument("--version", action="version", version=f"shoal {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    storage_help = f"storage URL (default: ${STORAGE_ENV} or sqlite:///shoal.db)"

    run = commands.add_parser(
        "run",
        help="run (or continue) a study from a YAML config",
        description="Run a study from a YAML config; running it again adds trials to the same study.",
    )
    run.add_argument("config", metavar="CONFIG", help="the YAML run config (see docs/cli.md)")
    run.add_argument("--n-trials", type=_positive_int, help="trials to run now (overrides n_trials)")
    run.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    run.add_argument("--storage", help="storage URL (overrides the config's storage)")
    run.add_argument("--study", help="study name (overrides the config's study)")
    run.add_argument("--seed", type=int, help="sampler seed (overrides the config's seed)")
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--n-workers", type=_positive_int, metavar="N",
        help="run N trials at once in local worker processes (overrides n_workers and dask)",
    )
    where.add_argument(
        "--dask", type=_dask_arg, metavar="ADDRESS",
        help="run trials on the Dask cluster whose scheduler is at ADDRESS, e.g. tcp://host:8786 "
        "(overrides dask and n_workers)",
    )
    run.add_argument(
        "--total-trials", type=_positive_int, metavar="N",
        help="a study-wide budget: start no trial once the study holds N configurations, counting "
        "every driver's (overrides total_trials)",
    )
    run.add_argument(
        "--timeout-per-trial", type=_seconds_arg, metavar="SECONDS",
        help="fail a trial that runs longer than this (overrides timeout_per_trial)",
    )
    run.add_argument(
        "--max-trials-per-worker", type=_positive_int, metavar="N",
        help="replace a worker process after N trials (overrides max_trials_per_worker)",
    )
    run.add_argument(
        "--retries", type=_count_arg, metavar="N",
        help="re-run a failed trial up to N times (overrides retries)",
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.set_defaults(handler=cmd_run)

    studies = commands.add_parser(
        "studies", help="list the studies in a storage", description="List the studies in a storage."
    )
    studies.add_argument("--storage", help=storage_help)
    studies.set_defaults(handler=cmd_studies)

    show = commands.add_parser(
        "show",
        help="summarize a study: counts, space, best and top trials (or its Pareto front)",
        description="Summarize a study: direction (or objectives and constraints), sampler, trials per "
        "state, space, best and top trials; with several objectives, its Pareto front.",
    )
    show.add_argument("study", metavar="STUDY")
    show.add_argument("--storage", help=storage_help)
    show.add_argument("--top", type=_positive_int, default=10, help="how many top trials (default 10)")
    show.set_defaults(handler=cmd_show)

    trials = commands.add_parser(
        "trials",
        help="list a study's trials (table, CSV or JSON)",
        description="List a study's trials as a table, as CSV or as JSON.",
    )
    trials.add_argument("study", metavar="STUDY")
    trials.add_argument("--storage", help=storage_help)
    trials.add_argument("--state", type=_state, help=f"only trials in this state ({', '.join(STATES)})")
    form = trials.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="write CSV to stdout")
    form.add_argument("--json", action="store_true", help="write a JSON list of trials to stdout")
    trials.set_defaults(handler=cmd_trials)

    best = commands.add_parser(
        "best", help="the best completed trial (the Pareto front with several objectives)",
        description="Print a study's best completed trial that meets its constraints; with several "
        "objectives, its Pareto front.",
    )
    best.add_argument("study", metavar="STUDY")
    best.add_argument("--storage", help=storage_help)
    best.add_argument(
        "--json", action="store_true",
        help='write {"number", "value", "config"} as JSON (several objectives: {"objectives", '
        '"constraints", "pareto_front"})',
    )
    best.set_defaults(handler=cmd_best)

    lineage = commands.add_parser(
        "lineage", help="who copied whom in a PBT study, and the best model's schedule",
        description="Show a population-based-training study's segments (continue, exploit, restart, "
        "with the config changes) and the hyperparameter schedule that produced the best model.",
    )
    lineage.add_argument("study", metavar="STUDY")
    lineage.add_argument("--storage", help=storage_help)
    lineage.add_argument("--json", action="store_true", help='write {"lineage", "best", "schedule"} as JSON')
    lineage.set_defaults(handler=cmd_lineage)

    tweak = commands.add_parser(
        "tweak", help="change a running trial's hyperparameters (from its next report on)",
        description="Change a RUNNING (or PAUSED) trial's hyperparameters, e.g. 'shoal tweak STUDY 7 "
        "lr=3e-4'. The change waits in storage; the trial's next report or should_stop delivers it "
        "(its trial.config then holds the new values), and 'shoal schedule' shows the step it took "
        "effect at.",
    )
    tweak.add_argument("study", metavar="STUDY")
    tweak.add_argument("number", type=_count_arg, metavar="NUMBER", help="the trial's number")
    tweak.add_argument("changes", nargs="+", metavar="NAME=VALUE",
                       help="new values, read by the dimension's type (a choice: as listed in the space)")
    tweak.add_argument("--storage", help=storage_help)
    tweak.set_defaults(handler=cmd_tweak)

    fork = commands.add_parser(
        "fork", help="a new trial from another trial's checkpoint, with some hyperparameters changed",
        description="Queue a new trial that starts from trial NUMBER's checkpoint at or before step N "
        "(saved with trial.save) with the config it had there and the given changes; the next free slot "
        "of a running or later 'shoal run' (or study.optimize) runs it.",
    )
    fork.add_argument("study", metavar="STUDY")
    fork.add_argument("number", type=_count_arg, metavar="NUMBER", help="the trial to fork")
    fork.add_argument("changes", nargs="*", metavar="NAME=VALUE", help="values to change (optional)")
    fork.add_argument("--step", type=_count_arg, required=True, metavar="N",
                      help="start from its latest checkpoint at or before step N")
    fork.add_argument("--storage", help=storage_help)
    fork.set_defaults(handler=cmd_fork)

    schedule = commands.add_parser(
        "schedule", help="a trial's hyperparameters over its steps: tweaks and forks",
        description="Show a trial's schedule: its initial config, then each step at which its "
        "hyperparameters changed (who changed them: person, pbt or rule; tweak or fork), then pending "
        "tweaks; for a fork, also the replayable schedule through its ancestors.",
    )
    schedule.add_argument("study", metavar="STUDY")
    schedule.add_argument("number", type=_count_arg, metavar="NUMBER", help="the trial's number")
    schedule.add_argument("--storage", help=storage_help)
    schedule.add_argument(
        "--json", action="store_true",
        help='write {"trial", "schedule", "changes", "excluded_from_models", ...} as JSON',
    )
    schedule.set_defaults(handler=cmd_schedule)

    delete = commands.add_parser(
        "delete", help="delete a study and its trials", description="Delete a study and all its trials."
    )
    delete.add_argument("study", metavar="STUDY")
    delete.add_argument("--storage", help=storage_help)
    delete.add_argument("--yes", action="store_true", help="really delete (required)")
    delete.set_defaults(handler=cmd_delete)

    export = commands.add_parser(
        "export", help="write a study as JSON lines to stdout (for 'shoal import')",
        description="Write a study as JSON lines to stdout: its description, every trial with its "
        "reports, values, changes, lineage, rung records and checkpoint references, and its round "
        "boxes. 'shoal import' reads it into any storage.",
    )
    export.add_argument("study", metavar="STUDY")
    export.add_argument("--storage", help=storage_help)
    export.set_defaults(handler=cmd_export)

    import_ = commands.add_parser(
        "import", help="read a study written by 'shoal export' into a storage",
        description="Create the study of a 'shoal export' file in a storage, every trial keeping its "
        "number, state, values, reports and timestamps. A study of that name must not exist there "
        "(rename it with --as).",
    )
    import_.add_argument("file", metavar="FILE", help="the export ('-' for stdin)")
    import_.add_argument("--storage", help=storage_help)
    import_.add_argument("--as", dest="as_name", metavar="NAME", help="the study's name there")
    import_.set_defaults(handler=cmd_import)

    copy = commands.add_parser(
        "copy", help="copy a study from one storage to another (export and import in one)",
        description="Copy a study, every trial and record, from one storage to another (or to the "
        "same one under another name with --as).",
    )
    copy.add_argument("study", metavar="STUDY")
    copy.add_argument("--from", dest="source", metavar="URL", help=f"where it is ({storage_help})")
    copy.add_argument("--to", dest="target", metavar="URL", required=True, help="the storage to copy into")
    copy.add_argument("--as", dest="as_name", metavar="NAME", help="the copy's name (default: the same)")
    copy.set_defaults(handler=cmd_copy)

    dashboard = commands.add_parser(
        "dashboard",
        help="a live web page of the studies: plots, trials, and actions (enqueue, stop, pause)",
        description="Serve a live dashboard of a storage's studies. Actions that change a study need "
        "the token it prints at start; it binds to 127.0.0.1 unless --host says otherwise.",
    )
    dashboard.add_argument("--storage", help=storage_help)
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    dashboard.add_argument(
        "--port", type=_count_arg, default=8080, help="port (default 8080; 0 picks a free one)"
    )
    dashboard.set_defaults(handler=cmd_dashboard)

    report = commands.add_parser(
        "report", help="write a self-contained HTML report of a study",
        description="Write one HTML file with the study's summary, importance and plots; it opens "
        "offline (plotly.js is inside). Needs plotly and scikit-learn: pip install 'shoal[plot]'.",
    )
    report.add_argument("study", metavar="STUDY")
    report.add_argument("-o", "--output", default="report.html",
                        help="the HTML file, ending in .html or .htm (default report.html)")
    report.add_argument("--storage", help=storage_help)
    report.set_defaults(handler=cmd_report)

    ranking = commands.add_parser(
        "importance", help="rank a study's dimensions by how much they move the objective",
        description="Rank the dimensions by importance, from the completed trials (needs scikit-learn).",
    )
    ranking.add_argument("study", metavar="STUDY")
    ranking.add_argument("--storage", help=storage_help)
    ranking.add_argument("--method", choices=["permutation", "fanova"], default="permutation",
                         help="permutation (fast, default) or fanova (variance decomposition)")
    ranking.add_argument("--json", action="store_true", help="write the ranking as JSON")
    ranking.set_defaults(handler=cmd_importance)

    compare = commands.add_parser(
        "compare", help="2 to 5 studies of one space side by side: bests and best so far",
        description="Print each study's best trial and configuration, and its best value after a few "
        "numbers of trials, side by side. The studies need the same dimensions and direction.",
    )
    compare.add_argument("studies", metavar="STUDY", nargs="+")
    compare.add_argument("--storage", help=storage_help)
    compare.add_argument("--budgets", type=parse_budgets, metavar="N,N,...",
                         help="trial counts to show the best value at (default: a quarter, half, three "
                         "quarters and all of the longest study's trials)")
    compare.set_defaults(handler=cmd_compare)
    return parser


def _is_assignment(arg: str) -> bool:
    return "=" in arg and not arg.startswith("-")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if getattr(args, "changes", None) is not None:  # NAME=VALUE after an option: fork S 7 --step 3 lr=1
            args.changes = [*args.changes, *(a for a in extra if _is_assignment(a))]
            extra = [a for a in extra if not _is_assignment(a)]
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return args.handler(args)
    except CLIError as exc:
        print(f"shoal: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`shoal trials --csv | head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail too
        return 141
    except (Interrupted, KeyboardInterrupt) as exc:
        print(f"shoal: {str(exc) or 'interrupted'}", file=sys.stderr)
        return 130
    except Exception as exc:
        if not is_storage_error(exc):
            raise
        # a damaged or unreadable database met while a command reads or writes it
        if args.command == "run":
            url = args.storage or "of the run config"
        elif args.command == "copy":
            url = f"{args.source or storage_url(argparse.Namespace(storage=None))} or {args.target}"
        else:
            url = storage_url(args)
        print(f"shoal: error: {storage_failure(url, exc)}", file=sys.stderr)
        return 2
