"""A driver process for tests/test_panda.py: opens (or creates) a study on ``panda_objectives.SPACE``
and runs ``optimize`` with one of its objectives, called with ``directory=DIR`` and the ``--kw``
arguments (values read as JSON). The test tweaks its trials from another process, and may kill it.

    python panda_driver.py URL STUDY DIR --objective NAME [--kw NAME=JSON] [--n-trials N]
        [--n-workers N] [--checkpoints PATH] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import logging
from functools import partial

import panda_objectives as po

import shoal


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("study")
    parser.add_argument("directory")
    parser.add_argument("--objective", required=True)
    parser.add_argument("--kw", action="append", default=[], help="NAME=JSON, passed to the objective")
    parser.add_argument("--n-trials", type=int, default=1)
    parser.add_argument("--n-workers", type=int, default=1)
    parser.add_argument("--checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    kwargs = {}
    for item in args.kw:
        name, _, value = item.partition("=")
        kwargs[name] = json.loads(value)
    objective = partial(getattr(po, args.objective), directory=args.directory, **kwargs)
    study = shoal.Study(args.study, po.SPACE, storage=args.url, seed=args.seed, checkpoints=args.checkpoints)
    study.optimize(objective, n_trials=args.n_trials, n_workers=args.n_workers, show_progress=False)


if __name__ == "__main__":
    main()
