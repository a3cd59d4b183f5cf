"""Ask + tell time per trial at 60 trials: shoal's default sampler next to Ax, HEBO and SMAC3.

The peers cannot load a history they did not propose the way Optuna's ``add_trial`` does (not through
their documented ask/tell), so each optimizer here runs its own ask/tell loop on ``timing.objective``
over ``timing.SPACE`` for ``n - 1`` trials, and the next ``repeats`` trials are timed (ask + tell,
the objective excluded); the mean is kept. The peers run in their envs (``envs.py``), through this
file as a script: ``python timing_peers.py NAME N REPEATS SEED`` prints the seconds as JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from peers import envs, optimizers, timing  # noqa: I001
else:
    from . import envs, optimizers, timing

#: shoal's default sampler, the reference of the peers' rows.
SHOAL_DEFAULT = "shoal-auto"
TRIALS = 60


def own_loop(name: str, n: int, repeats: int, seed: int) -> list[float]:
    """Seconds per ask + tell for ``repeats`` trials after ``n - 1`` the optimizer proposed itself."""
    adapter = optimizers.make(name, timing.SPACE, seed, n - 1 + repeats)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(n - 1 + repeats):
            start = time.perf_counter()
            handle, config = adapter.ask()
            middle = time.perf_counter()
            value = timing.objective(config)
            resume = time.perf_counter()
            adapter.tell(handle, value)
            if i >= n - 1:
                times.append(time.perf_counter() - resume + middle - start)
    return times


def _in_env(name: str, n: int, repeats: int, seed: int) -> list[float]:
    group = envs.group_of(name) or name
    why = envs.problem(group)
    if why:
        raise RuntimeError(f"{name}: {why}")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, envs.INSIDE: group, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([str(envs.python(group)), __file__, name, str(n), str(repeats), str(seed)],
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{name}'s timing exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(peers: list[str], n: int = TRIALS, repeats: int = 20, seed: int = 0, say=print
            ) -> list[dict[str, Any]]:
    """One row per peer: its mean ms per ask + tell at ``n`` trials and shoal's default's."""
    shoal_ms = 1000 * statistics.mean(own_loop(SHOAL_DEFAULT, n, repeats, seed))
    rows = []
    for name in peers:
        try:
            peer_ms = 1000 * statistics.mean(_in_env(name, n, repeats, seed))
        except RuntimeError as exc:
            say(f"note: {name} not timed: {exc}")
            continue
        row = {"peer": name, "shoal": SHOAL_DEFAULT, "trials": n, "repeats": repeats, "peer_ms": peer_ms,
               "shoal_ms": shoal_ms, "ratio": peer_ms / shoal_ms}
        say(f"{SHOAL_DEFAULT} vs {name} at {n} trials: shoal {shoal_ms:9.2f} ms, {name} {peer_ms:9.2f} ms "
            f"per ask+tell ({name}/shoal {row['ratio']:.2f}x)")
        rows.append(row)
    return rows


if __name__ == "__main__":
    name, n, repeats, seed = sys.argv[1], *map(int, sys.argv[2:5])
    print(json.dumps(own_loop(name, n, repeats, seed)))
