"""The ``shoal`` command line: run a study from a YAML config and inspect stored studies.

Exit codes: 0 ok; 1 the objective raised an exception that is not caught (traceback printed);
2 bad input (a usage error, a bad config, an unknown study, a Dask scheduler out of reach), with one
line on stderr;
130 interrupted (the study is saved; run the same command again to resume).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._version import __version__
from .config import STORAGE_ENV, ConfigError, RunConfig, check_dask_address, default_storage
from .errors import CLIError  # noqa: F401 - defined in shoal.errors
from .storage import Storage, StudyNotFound, StudyRecord, get_storage
from .trial import Trial, TrialState

__all__ = ["main", "build_parser"]

_STATES = [s.value for s in TrialState]
#: How long ``shoal run --dask`` tries to reach the scheduler before it gives up.
DASK_CONNECT_SECONDS = 10.0
#: Run options the command line may set; each replaces the config's key of the same name.
_RUN_OVERRIDES = ("n_trials", "timeout", "seed", "storage", "study", "total_trials",
                  "timeout_per_trial", "max_trials_per_worker", "retries")



class _Interrupted(Exception):
    """Ctrl-C, carrying what to tell the user."""


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line and a pointer to ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- output helpers ----------------------------------------------------------------------------
def _console():
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=200)
    return console


def _table(*columns: str, title: str | None = None):
    from rich.table import Table

    table = Table(title=title, title_justify="left", min_width=len(title) + 4 if title else None)
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


def _esc(text: Any) -> str:
    from rich.markup import escape

    return escape(str(text))


def _fmt(value: Any) -> str:
    """A value for a table: floats to 6 significant digits, everything else as written."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1000:.3g}ms" if seconds < 1 else f"{seconds:.1f}s"


def _error_line(error: str | None) -> str:
    """One line of an error: the last line of a traceback (the exception), else the first line."""
    if not error:
        return ""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1].strip() if lines[0].startswith("Traceback") else lines[0].strip()


def _counts_text(counts: dict[TrialState, int]) -> str:
    if not counts:
        return "none"
    ordered = sorted(counts.items(), key=lambda item: _STATES.index(item[0].value))
    return ", ".join(f"{n} {state.value.lower()}" for state, n in ordered)


def _count(trials: Iterable[Trial]) -> dict[TrialState, int]:
    counts: dict[TrialState, int] = {}
    for trial in trials:
        counts[trial.state] = counts.get(trial.state, 0) + 1
    return counts


def _describe_dimension(spec: Any) -> str:
    """A stored dimension (its JSON form) as one short line."""
    if not isinstance(spec, dict):
        return f"fixed {json.dumps(spec)}"
    kind = spec.get("type", "?")
    if kind in ("float", "int"):
        text = f"{kind} [{_fmt(spec.get('low'))}, {_fmt(spec.get('high'))}]"
        if spec.get("scale"):
            text += f" {spec['scale']}"
        if spec.get("step") is not None:
            text += f" step {_fmt(spec['step'])}"
    elif kind == "choice":
        text = "choice " + ", ".join(json.dumps(v) for v in spec.get("values", []))
    elif kind == "fixed":
        text = f"fixed {json.dumps(spec.get('value'))}"
    else:
        text = f"{kind} {spec.get('fn', '')}".strip()
    for parent, values in (spec.get("when") or {}).items():
        text += f"; when {parent} in {json.dumps(values)}"
    if "default" in spec:
        text += f"; default {json.dumps(spec['default'])}"
    return text


# -- storage access (read-only for the inspecting commands) ------------------------------------
def _storage_url(args: argparse.Namespace) -> str:
    return args.storage or default_storage()


def _open_storage(url: str, *, must_exist: bool) -> Storage:
    """Open a storage URL; for reading, a SQLite file that is not there is an error, not a new file."""
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    if not isinstance(url, str) or "://" not in url:
        raise CLIError(
            f"--storage: expected a URL such as 'sqlite:///shoal.db' or "
            f"'postgresql+psycopg://user@host/db', got {url!r}"
        )
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError as exc:
        raise CLIError(f"--storage {url!r}: not a database URL ({exc})") from None
    if must_exist and parsed.get_backend_name() == "sqlite" and parsed.database:
        path = Path(parsed.database)
        if parsed.database != ":memory:" and not path.exists():
            raise CLIError(
                f"no shoal database at {str(path.resolve())!r} (storage {url}); run 'shoal run "
                f"CONFIG.yaml' first, or pass --storage / set {STORAGE_ENV}"
            )
    try:
        return get_storage(url)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    except SQLAlchemyError as exc:
        raise CLIError(f"storage {url!r}: cannot open it ({_error_line(str(exc))})") from None


def _load(args: argparse.Namespace) -> tuple[Storage, StudyRecord, list[Trial]]:
    storage = _open_storage(_storage_url(args), must_exist=True)
    try:
        record = storage.get_study(args.study)
    except StudyNotFound as exc:
        raise CLIError(str(exc)) from None
    return storage, record, storage.read_trials(record.study_id)


def _ranked(record: StudyRecord, trials: Iterable[Trial]) -> list[Trial]:
    """Completed trials, best first."""
    sign = -1.0 if record.direction == "maximize" else 1.0
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    return sorted(done, key=lambda t: (sign * t.value, t.number))  # ties: the earliest first


def _best(record: StudyRecord, trials: Iterable[Trial]) -> Trial:
    ranked = _ranked(record, trials)
    if not ranked:
        raise CLIError(f"study {record.name!r} has no completed trial yet")
    return ranked[0]


def _dimension_names(record: StudyRecord, trials: Iterable[Trial]) -> list[str]:
    names = list(record.space)
    for trial in trials:
        names.extend(k for k in trial.config if k not in names)
    return names


def _config_table(config: dict[str, Any], title: str):
    table = _table("name", "value", title=title)
    for name, value in config.items():
        table.add_row(_esc(name), _esc(_fmt(value)))
    return table


def _trials_table(trials: Sequence[Trial], names: list[str], *, title: str, full: bool):
    columns = ["#", "state", "value", *names, "duration"] if full else ["#", "value", *names, "duration"]
    if full:
        columns.append("error")
    table = _table(*[_esc(c) for c in columns], title=title)
    for t in trials:
        row = [str(t.number)]
        if full:
            row.append(t.state.value)
        row.append(_fmt(t.value))
        row.extend(_fmt(t.config.get(n)) for n in names)
        row.append(_fmt_duration(t.duration))
        if full:
            row.append(_error_line(t.error))
        table.add_row(*[_esc(c) for c in row])
    return table


# -- commands ----------------------------------------------------------------------------------
def _connect_dask(address: str):
    """A ``dask.distributed.Client`` on the scheduler at ``address``, or a one-line CLIError."""
    try:
        from distributed import Client
    except ImportError:
        raise CLIError(
            f"dask: running on the Dask cluster at {address!r} needs dask.distributed; "
            "pip install 'shoal[dask]'"
        ) from None
    try:
        return Client(address, timeout=DASK_CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CLIError(
            f"dask: cannot reach the Dask scheduler at {address!r} ({_error_line(str(exc))}); start "
            "one with 'dask scheduler' and pass the address it prints"
        ) from None


def _cmd_run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    for key in _RUN_OVERRIDES:
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    # where trials run: --n-workers or --dask on the command line replaces both config keys
    if args.n_workers is not None:
        overrides.update(n_workers=args.n_workers, dask=None)
    if args.dask is not None:
        overrides.update(dask=args.dask, n_workers=None)
    try:
        config = RunConfig.from_yaml(args.config, overrides)
    except ConfigError as exc:
        raise CLIError(str(exc)) from None
    try:
        objective = config.load_objective()
    except ConfigError as exc:
        raise CLIError(f"{args.config}: {exc}") from None
    # reach the cluster before touching storage: a wrong address creates no database
    client = None if config.dask is None else _connect_dask(config.dask)
    try:
        return _run_study(args, config, objective, client)
    finally:
        if client is not None:
            client.close()


def _run_study(args: argparse.Namespace, config: RunConfig, objective: Any, client: Any) -> int:
    _open_storage(config.storage, must_exist=False)
    try:
        study = config.build_study()
        options = config.optimize_options()
    except (ConfigError, ValueError) as exc:  # a changed space or direction, a bad storage URL
        about = "" if str(exc).startswith(f"study {config.study!r}") else f"study {config.study!r}: "
        raise CLIError(f"{args.config}: {about}{exc}") from None
    if client is not None:
        options["executor"] = client

    finished_before = {t.number for t in study.trials if t.state.finished}
    new: list[Trial] = []  # the trials this run finished (other drivers may add theirs meanwhile)
    try:
        study.optimize(
            objective,
            config.n_trials,
            show_progress=not args.no_progress,
            callbacks=[lambda _study, trial: new.append(trial)],
            **options,
        )
    except KeyboardInterrupt:
        raise _Interrupted(
            f"interrupted; study {config.study!r} keeps its finished trials in {config.storage}; "
            "run the same command again to resume"
        ) from None
    except Exception as exc:  # the objective raised something 'catch' does not cover
        traceback.print_exc()
        failed = [
            t for t in study.trials
            if t.state == TrialState.FAILED and t.number not in finished_before
            and type(exc).__name__ in _error_line(t.error)
        ]
        if failed:
            print(
                f"shoal: the objective raised {type(exc).__name__}, which the config's 'catch' list "
                f"does not cover; trial {failed[-1].number} of study {config.study!r} is recorded "
                "as FAILED",
                file=sys.stderr,
            )
        return 1

    trials = study.trials
    console = _console()
    console.print(
        f"study {_esc(config.study)!r}: ran {len(new)} trial{'s' * (len(new) != 1)} "
        f"({_counts_text(_count(new))}); {len(trials)} in total; storage {_esc(config.storage)}"
    )
    failed = [t for t in new if t.state == TrialState.FAILED]
    if failed:
        console.print(f"first failure (trial {failed[0].number}): {_esc(_error_line(failed[0].error))}")
    try:
        best = study.best
    except ValueError:
        console.print("no completed trial yet")
        return 0
    console.print(f"best value {_fmt(best.value)} (trial {best.number})")
    for name, value in best.config.items():
        console.print(f"  {_esc(name)} = {_esc(_fmt(value))}")
    return 0


def _cmd_studies(args: argparse.Namespace) -> int:
    url = _storage_url(args)
    summaries = _open_storage(url, must_exist=True).list_studies()
    console = _console()
    if not summaries:
        console.print(f"no studies in {_esc(url)}")
        return 0
    table = _table("study", "direction", "trials", "states", "best", "sampler", title=_esc(url))
    for s in summaries:
        table.add_row(
            _esc(s.record.name),
            s.record.direction,
            str(s.n_trials),
            _counts_text(s.counts),
            _fmt(s.best_value),
            _esc(s.record.sampler),
        )
    console.print(table)
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    _, record, trials = _load(args)
    console = _console()
    summary = _table("", "", title=f"study {_esc(record.name)}")
    summary.show_header = False
    summary.add_row("direction", record.direction)
    summary.add_row("sampler", _esc(record.sampler))
    summary.add_row("storage", _esc(_storage_url(args)))
    summary.add_row("created", record.created_at.isoformat(timespec="seconds"))
    summary.add_row("trials", f"{len(trials)} ({_counts_text(_count(trials))})")
    console.print(summary)
    space = _table("dimension", "definition", title="space")
    for name, spec in record.space.items():
        space.add_row(_esc(name), _esc(_describe_dimension(spec)))
    console.print(space)
    ranked = _ranked(record, trials)
    if not ranked:
        console.print("no completed trial yet")
        return 0
    best = _best(record, trials)
    console.print(_config_table(best.config, f"best: trial {best.number}, value {_fmt(best.value)}"))
    top = ranked[: args.top]
    console.print(
        _trials_table(top, _dimension_names(record, top), title=f"top {len(top)}", full=False)
    )
    return 0


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _cmd_trials(args: argparse.Namespace) -> int:
    _, record, trials = _load(args)
    if args.state is not None:
        trials = [t for t in trials if t.state.value == args.state]
    names = _dimension_names(record, trials)
    if args.json:
        json.dump([t.to_dict() for t in trials], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.csv:
        fixed = {"number", "state", "value", "duration", "error"}
        columns = [f"config_{n}" if n in fixed else n for n in names]
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["number", "state", "value", *columns, "duration", "error"])
        for t in trials:
            writer.writerow(
                [t.number, t.state.value, _csv_cell(t.value)]
                + [_csv_cell(t.config.get(n)) for n in names]
                + [_csv_cell(t.duration), _error_line(t.error)]
            )
        return 0
    console = _console()
    if not trials:
        console.print(f"study {_esc(record.name)!r} has no trials" + (
            f" in state {args.state}" if args.state else ""))
        return 0
    console.print(_trials_table(trials, names, title=f"study {_esc(record.name)}", full=True))
    return 0


def _cmd_best(args: argparse.Namespace) -> int:
    _, record, trials = _load(args)
    best = _best(record, trials)
    if args.json:
        json.dump({"number": best.number, "value": best.value, "config": best.config}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    _console().print(_config_table(best.config, f"best: trial {best.number}, value {_fmt(best.value)}"))
    return 0


def _cmd_lineage(args: argparse.Namespace) -> int:
    from .schedulers.pbt import lineage_events, schedule_from

    storage, record, trials = _load(args)
    lineage = storage.read_lineage(record.study_id)
    if not lineage:
        raise CLIError(f"study {record.name!r} has no lineage: it did not run with scheduler=PBT(...)")
    rows = lineage_events(trials, lineage)
    ranked = _ranked(record, [t for t in trials if t.number in {r["trial"] for r in rows}])
    schedule = schedule_from(trials, lineage, ranked[0].number) if ranked else None
    if args.json:
        steps = [] if schedule is None else [{"first_step": s, "config": c} for s, c in schedule.changes()]
        json.dump({"lineage": rows, "best": None if schedule is None else schedule.trial,
                   "schedule": steps}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    members = len({r["member"] for r in rows})
    table = _table("#", "member", "seg", "steps", "state", "value", "event", "changed",
                   title=f"lineage: {_esc(record.name)} ({members} members, {len(rows)} segments)")
    for r in rows:
        steps = f"{r['first_step']}-{'' if r['last_step'] is None else r['last_step']}"
        changed = ", ".join(f"{k} {_fmt(a)} -> {_fmt(b)}" for k, (a, b) in r["changed"].items())
        table.add_row(*[_esc(c) for c in (r["trial"], r["member"], r["segment"], steps, r["state"],
                                          _fmt(r["value"]), r["event"], changed)])
    console = _console()
    console.print(table)
    if schedule is not None:
        names = list(record.space) or sorted(schedule.steps[0][1])
        title = f"schedule of the best model: trial {schedule.trial}, value {_fmt(schedule.value)}"
        best = _table("from step", *[_esc(n) for n in names], title=title)
        for first, config in schedule.changes():
            best.add_row(str(first), *[_esc(_fmt(config.get(n))) for n in names])
        console.print(best)
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from .dashboard import serve

    storage = _open_storage(_storage_url(args), must_exist=True)
    try:
        serve(storage, host=args.host, port=args.port)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    url = _storage_url(args)
    storage, record, trials = _load(args)
    if not args.yes:
        raise CLIError(
            f"study {record.name!r} has {len(trials)} trials; add --yes to delete it for good"
        )
    storage.delete_study(record.name)
    _console().print(f"deleted study {_esc(record.name)!r} ({len(trials)} trials) from {_esc(url)}")
    return 0


def _study_data(args: argparse.Namespace):
    """The stored study as the analysis reads it (nothing written to storage)."""
    from .analysis._data import StudyData

    storage, record, trials = _load(args)
    try:
        return StudyData.from_record(record, trials, storage)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _cmd_report(args: argparse.Namespace) -> int:
    from .analysis.report import write_report

    data = _study_data(args)
    try:
        path = write_report(data, args.output)
    except (ImportError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    _console().print(f"wrote the report of study {_esc(data.name)!r} ({len(data.trials)} trials) to "
                     f"{_esc(path)}")
    return 0


def _cmd_importance(args: argparse.Namespace) -> int:
    from .analysis.importance import importance

    data = _study_data(args)
    try:
        result = importance(data, method=args.method)
    except (ImportError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        json.dump(result.to_dict(), sys.stdout)
        sys.stdout.write("\n")
        return 0
    table = _table("#", "dimension", "share", title=f"importance: {_esc(data.name)} ({result.method}, "
                   f"{result.n_trials} completed trials)")
    for rank, (name, share) in enumerate(result.items(), 1):
        table.add_row(str(rank), _esc(name), f"{share:.1%}")
    _console().print(table)
    return 0


# -- parser ------------------------------------------------------------------------------------
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
    if value not in _STATES:
        raise argparse.ArgumentTypeError(f"unknown state {text!r}; use one of {', '.join(_STATES)}")
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
        help="run (or resume) a study from a YAML config",
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
    run.set_defaults(handler=_cmd_run)

    studies = commands.add_parser(
        "studies", help="list the studies in a storage", description="List the studies in a storage."
    )
    studies.add_argument("--storage", help=storage_help)
    studies.set_defaults(handler=_cmd_studies)

    show = commands.add_parser(
        "show",
        help="summarize a study: counts, space, best and top trials",
        description="Summarize a study: direction, sampler, trials per state, space, best and top trials.",
    )
    show.add_argument("study", metavar="STUDY")
    show.add_argument("--storage", help=storage_help)
    show.add_argument("--top", type=_positive_int, default=10, help="how many top trials (default 10)")
    show.set_defaults(handler=_cmd_show)

    trials = commands.add_parser(
        "trials",
        help="list a study's trials (table, CSV or JSON)",
        description="List a study's trials as a table, as CSV or as JSON.",
    )
    trials.add_argument("study", metavar="STUDY")
    trials.add_argument("--storage", help=storage_help)
    trials.add_argument("--state", type=_state, help=f"only trials in this state ({', '.join(_STATES)})")
    form = trials.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="write CSV to stdout")
    form.add_argument("--json", action="store_true", help="write a JSON list of trials to stdout")
    trials.set_defaults(handler=_cmd_trials)

    best = commands.add_parser(
        "best", help="the best completed trial", description="Print a study's best completed trial."
    )
    best.add_argument("study", metavar="STUDY")
    best.add_argument("--storage", help=storage_help)
    best.add_argument("--json", action="store_true", help='write {"number", "value", "config"} as JSON')
    best.set_defaults(handler=_cmd_best)

    lineage = commands.add_parser(
        "lineage", help="who copied whom in a PBT study, and the best model's schedule",
        description="Show a population-based-training study's segments (continue, exploit, restart, "
        "with the config changes) and the hyperparameter schedule that produced the best model.",
    )
    lineage.add_argument("study", metavar="STUDY")
    lineage.add_argument("--storage", help=storage_help)
    lineage.add_argument("--json", action="store_true", help='write {"lineage", "best", "schedule"} as JSON')
    lineage.set_defaults(handler=_cmd_lineage)

    delete = commands.add_parser(
        "delete", help="delete a study and its trials", description="Delete a study and all its trials."
    )
    delete.add_argument("study", metavar="STUDY")
    delete.add_argument("--storage", help=storage_help)
    delete.add_argument("--yes", action="store_true", help="really delete (required)")
    delete.set_defaults(handler=_cmd_delete)

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
    dashboard.set_defaults(handler=_cmd_dashboard)

    report = commands.add_parser(
        "report", help="write a self-contained HTML report of a study",
        description="Write one HTML file with the study's summary, importance and plots; it opens "
        "offline (plotly.js is inside). Needs plotly and scikit-learn: pip install 'shoal[plot]'.",
    )
    report.add_argument("study", metavar="STUDY")
    report.add_argument("-o", "--output", default="report.html", help="the HTML file (default report.html)")
    report.add_argument("--storage", help=storage_help)
    report.set_defaults(handler=_cmd_report)

    ranking = commands.add_parser(
        "importance", help="rank a study's dimensions by how much they move the objective",
        description="Rank the dimensions by importance, from the completed trials (needs scikit-learn).",
    )
    ranking.add_argument("study", metavar="STUDY")
    ranking.add_argument("--storage", help=storage_help)
    ranking.add_argument("--method", choices=["permutation", "fanova"], default="permutation",
                         help="permutation (fast, default) or fanova (variance decomposition)")
    ranking.add_argument("--json", action="store_true", help="write the ranking as JSON")
    ranking.set_defaults(handler=_cmd_importance)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return args.handler(args)
    except CLIError as exc:
        print(f"shoal: error: {exc}", file=sys.stderr)
        return 2
    except (_Interrupted, KeyboardInterrupt) as exc:
        print(f"shoal: {str(exc) or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
