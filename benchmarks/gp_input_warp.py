"""The input-warping experiment of RESULTS.md ("Input warping"): the peers benchmark with the
single-objective GP's models warping their numeric inputs (``GP.warp_inputs = True``; off by default,
on in MOGP). Takes ``benchmarks/peers/run.py``'s arguments, e.g.

    PYTHONPATH=src .venv/bin/python benchmarks/gp_input_warp.py --seeds 10 --tasks bbob,synthetic \
        --optimizers shoal-gp --jobs 1 --out .tmp/gp-warp

and compare with the same command through ``benchmarks/peers/run.py`` (another ``--out``). Runs in
one process (``--jobs 1``): the peers harness spawns its workers, which would not see the switch.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import shoal.samplers.gp as gp

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--jobs" in args and args[args.index("--jobs") + 1:args.index("--jobs") + 2] != ["1"]:
        sys.exit("gp_input_warp.py: --jobs must be 1 (spawned workers would not see GP.warp_inputs)")
    gp.GP.warp_inputs = True
    run = Path(__file__).resolve().parent / "peers" / "run.py"
    sys.argv = [str(run), *args]
    runpy.run_path(str(run), run_name="__main__")
