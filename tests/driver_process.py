"""A driver process for the driver tests: opens (or creates) a study and runs ``optimize`` on it.

    python driver_process.py URL STUDY DIR --objective block_from --kw first_blocking=2 \
        --n-workers 2 --total-trials 6 [--n-trials N] [--sampler random|spygrid] [--seed S] \
        [--heartbeat SECONDS --stale-after SECONDS]

The objective is a function of ``fault_objectives`` called with ``directory=DIR`` and the ``--kw``
arguments (values read as JSON). The test kills, stops or just waits for this process.
"""

from __future__ import annotations

import argparse
import json
import logging
from functools import partial

import fault_objectives as fo

import shoal
from shoal.samplers import Random


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("study")
    parser.add_argument("directory")
    parser.add_argument("--objective", required=True)
    parser.add_argument("--kw", action="append", default=[], help="NAME=JSON, passed to the objective")
    parser.add_argument("--n-trials", type=int)
    parser.add_argument("--total-trials", type=int)
    parser.add_argument("--n-workers", type=int, default=1)
    parser.add_argument("--sampler", choices=["random", "spygrid"], default="random")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--heartbeat", type=float, default=10.0)
    parser.add_argument("--stale-after", type=float, default=60.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    kwargs = {}
    for item in args.kw:
        name, _, value = item.partition("=")
        kwargs[name] = json.loads(value)
    objective = partial(getattr(fo, args.objective), directory=args.directory, **kwargs)
    if args.sampler == "spygrid":
        sampler = fo.SpyGrid(7, directory=args.directory, seed=args.seed)
    else:
        sampler = Random(seed=args.seed)
    study = shoal.Study(
        args.study,
        fo.SPACE,
        storage=args.url,
        sampler=sampler,
        heartbeat_seconds=args.heartbeat,
        stale_after=args.stale_after,
    )
    study.optimize(
        objective,
        n_trials=args.n_trials,
        total_trials=args.total_trials,
        n_workers=args.n_workers,
        show_progress=False,
    )


if __name__ == "__main__":
    main()
