"""A digest of seeded studies on every sampler and scheduler, to prove a refactor changed no proposal.

Run it on two checkouts and compare the JSON: identical output means every sampler (Random, Sobol,
Grid, coarse-to-fine, TPE, GP, CMA-ES, Auto) and scheduler (ASHA, median, PBT) proposed and decided
exactly the same trials with the same seed.

    PYTHONPATH=src .venv/bin/python scripts/seeded_digest.py > after.json
    (cd ../old && PYTHONPATH=src ../main/.venv/bin/python ../main/scripts/seeded_digest.py) > before.json
    python3 -c "import json; a, b = (json.load(open(f)) for f in ('before.json', 'after.json')); \
print({k: a[k] == b[k] for k in a})"
"""
import json
import math
import sys
import tempfile

import shoal
from shoal import samplers as S
from shoal import schedulers as K

SPACE = {"lr": shoal.Float(1e-4, 1.0, scale="log"), "beta": shoal.Float(0.9, 0.999, scale="reverse_log"),
         "units": shoal.Int(32, 256, step=32), "opt": shoal.Choice(["adam", "sgd"]),
         "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]})}
CONT = {"x": shoal.Float(-2, 2), "y": shoal.Float(-2, 2), "z": shoal.Int(0, 10)}

def f(c):
    v = (math.log10(c["lr"]) + 2) ** 2 + (c["units"] - 128) ** 2 / 1e4 + (0.3 if c["opt"] == "sgd" else 0)
    return v + (c.get("beta1", 0.9) - 0.9) ** 2 + math.log10(1 - c["beta"]) ** 2 / 10

def g(c):
    return (c["x"] - 0.3) ** 2 + (c["y"] + 0.5) ** 2 + (c["z"] - 3) ** 2 / 10

def curve(c, trial):
    v = 0
    for step in range(1, 10):
        v = f(c) + 1.0 / step
        trial.report(v, step)
        if trial.should_stop():
            raise shoal.TrialPruned()
    return v

def pbt_obj(c, trial):
    state = trial.load() or {"step": 0, "w": 0.0}
    for step in range(state["step"] + 1, 9):
        state = {"step": step, "w": state["w"] + c["lr"]}
        trial.save(state, step)
        trial.report(-abs(state["w"] - 0.5), step)
        if trial.should_stop():
            break
    return -abs(state["w"] - 0.5)

def digest(study):
    return [(t.number, str(t.state), t.config, None if t.value is None else round(t.value, 12),
             [list(r) for r in t.reports]) for t in study.trials]

out = {}
runs = {
    "random": (SPACE, S.Random(), None, f, 30), "quasi": (SPACE, S.QuasiRandom(), None, f, 30),
    "grid": (CONT, S.Grid(resolution=3), None, g, 30), "c2f": (CONT, S.CoarseToFine(rounds=3), None, g, 30),
    "tpe": (SPACE, S.TPE(), None, f, 40), "gp": (SPACE, S.GP(), None, f, 20),
    "cmaes": (CONT, S.CMAES(), None, g, 30),
    "auto": (SPACE, None, None, f, 20),
    "asha": (SPACE, S.Random(), K.ASHA(min_resource=1, max_resource=9), curve, 25),
    "median": (SPACE, S.Random(), K.MedianStopping(), curve, 25),
}
for name, (space, sampler, sched, obj, n) in runs.items():
    st = shoal.Study(name, space, sampler=sampler, scheduler=sched, seed=7)
    st.optimize(obj, n, show_progress=False)
    out[name] = digest(st)
with tempfile.TemporaryDirectory() as tmp:
    st = shoal.Study("pbt", {"lr": shoal.Float(0.01, 0.2, scale="log")}, "maximize",
                     storage=f"sqlite:///{tmp}/p.db", seed=3,
                     scheduler=K.PBT(population=4, interval=2, max_steps=8, seed=3))
    st.optimize(pbt_obj, show_progress=False)
    out["pbt"] = digest(st)
json.dump(out, sys.stdout, sort_keys=True, default=str)
