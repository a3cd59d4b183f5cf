"""``shoal run``: run (or continue) a study from a YAML config, in process, on workers or on Dask."""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from typing import Any

from ..config import ConfigError, RunConfig
from ..errors import CLIError, ObjectiveUnavailable
from ..trial import Trial, TrialState
from ._output import count_states, counts_text, error_line, esc, fmt, new_console
from ._stored import check_writable, is_storage_error, open_storage, storage_failure

#: How long ``shoal run --dask`` tries to reach the scheduler before it gives up.
DASK_CONNECT_SECONDS = 10.0
#: Run options the command line may set; each replaces the config's key of the same name.
RUN_OVERRIDES = ("n_trials", "timeout", "seed", "storage", "study", "total_trials",
                 "timeout_per_trial", "max_trials_per_worker", "retries")


class Interrupted(Exception):
    """Ctrl-C, carrying what to tell the user."""


def connect_dask(address: str):
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
            f"dask: cannot reach the Dask scheduler at {address!r} ({error_line(str(exc))}); start "
            "one with 'dask scheduler' and pass the address it prints"
        ) from None


def cmd_run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    for key in RUN_OVERRIDES:
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
    client = None if config.dask is None else connect_dask(config.dask)
    try:
        return _run_study(args, config, objective, client)
    finally:
        if client is not None:
            client.close()


def _run_study(args: argparse.Namespace, config: RunConfig, objective: Any, client: Any) -> int:
    check_writable(config.storage)  # a read-only database is refused before anything is stored
    open_storage(config.storage, must_exist=False)
    try:
        study = config.build_study()
        options = config.optimize_options()
    except (ConfigError, ValueError) as exc:  # a changed space or direction, a bad storage URL
        about = "" if str(exc).startswith(f"study {config.study!r}") else f"study {config.study!r}: "
        raise CLIError(f"{args.config}: {about}{exc}") from None
    except Exception as exc:
        if is_storage_error(exc):  # a damaged file, a database that refuses writes
            raise storage_failure(config.storage, exc) from None
        raise
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
    except ObjectiveUnavailable as exc:  # the first trials could not import a module where they run
        raise CLIError(f"study {config.study!r}: {exc}") from None
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; study {config.study!r} keeps its finished trials in {config.storage}; "
            "run the same command again to continue"
        ) from None
    except Exception as exc:  # the objective raised something 'catch' does not cover
        failed = _failed_by(study, exc, finished_before)
        if not failed and is_storage_error(exc):  # the storage failed, not the objective
            raise storage_failure(config.storage, exc) from None
        traceback.print_exc()
        if failed:
            print(
                f"shoal: the objective raised {type(exc).__name__}, which the config's 'catch' list "
                f"does not cover; trial {failed[-1].number} of study {config.study!r} is recorded "
                "as FAILED",
                file=sys.stderr,
            )
        return 1

    try:
        trials = study.trials
    except Exception as exc:
        if is_storage_error(exc):
            raise storage_failure(config.storage, exc) from None
        raise
    console = new_console()
    console.print(
        f"study {esc(config.study)!r}: ran {len(new)} trial{'s' * (len(new) != 1)} "
        f"({counts_text(count_states(new))}); {len(trials)} in total; storage {esc(config.storage)}"
    )
    if any(t.state == TrialState.PAUSED for t in trials):  # promote mode: say they are not stuck
        from ..analysis.paused import paused_summary

        for line in paused_summary(trials, study.storage.read_rungs(study.id)):
            console.print(esc(line))
    failed = [t for t in new if t.state == TrialState.FAILED]
    if failed:
        console.print(f"first failure (trial {failed[0].number}): {esc(error_line(failed[0].error))}")
    if study.objectives.multi:
        front = study.pareto_front
        if front:
            console.print(f"pareto front: {len(front)} trial{'s' * (len(front) != 1)} ("
                          f"{', '.join(str(t.number) for t in front)}); 'shoal show {esc(config.study)}' "
                          "prints them")
        else:
            console.print("no completed trial meets the constraints yet")
        return 0
    try:
        with warnings.catch_warnings():  # no feasible trial yet: said below, in a line of its own
            warnings.simplefilter("ignore")
            best = study.best
    except ValueError:
        console.print("no completed trial yet")
        return 0
    if best is None:
        console.print("no completed trial meets the constraints yet")
        return 0
    console.print(f"best value {fmt(best.value)} (trial {best.number})")
    for name, value in best.config.items():
        console.print(f"  {esc(name)} = {esc(fmt(value))}")
    return 0


def _failed_by(study: Any, exc: BaseException, finished_before: set[int]) -> list[Trial]:
    """The trials of this run recorded FAILED by ``exc`` (none when the storage cannot be read)."""
    try:
        trials = study.trials
    except Exception as error:
        if is_storage_error(error):
            return []
        raise
    return [
        t for t in trials
        if t.state == TrialState.FAILED and t.number not in finished_before
        and type(exc).__name__ in error_line(t.error)
    ]
