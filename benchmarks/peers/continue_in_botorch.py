"""Continue shoal's own GP runs with BoTorch's model and acquisition, from the same history.

Ax leads on some BBOB tasks. Is that its initial design, or what its model and acquisition do with
the same points? This runs shoal's GP on a task and seed for ``--budget`` trials, keeps its first
``--start`` trials, and lets BoTorch propose the rest in the Ax env (``benchmarks/peers/envs.py ax``)
the way Ax's default strategy does: ``SingleTaskGP`` with its default kernel and priors, values
clipped at Q3 + 1.5 IQR on the bad side (Ax's automatic winsorization) and standardized, then
``qLogNoisyExpectedImprovement`` maximized by ``optimize_acqf`` (20 restarts from 1,024 raw samples).

    PYTHONPATH=src .venv/bin/python benchmarks/peers/continue_in_botorch.py \
        --task bbob-f15-d10 --seeds 5 --start 10 --budget 60

``--variant`` swaps one part of shoal's GP into BoTorch's pipeline (its kernel, priors, output
transform or acquisition; ``--help`` lists them), to find which part makes the difference.

Only tasks whose dimensions are all linear floats (the BBOB functions) are supported: their unit
cube is the same for both. Prints, per seed, the best value of shoal's run at ``--start`` and at
``--budget``, and BoTorch's at ``--budget``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peers import envs  # noqa: E402
from peers.tasks import registry  # noqa: E402
from shoal import Space  # noqa: E402

RAW_SAMPLES = 1024
RESTARTS = 20


def _bounds(task_name: str) -> np.ndarray:
    import shoal

    if task_name not in registry():
        raise ValueError(f"--task {task_name}: no such task (benchmarks/peers/run.py --list lists them)")
    rows = []
    for name, dim in registry()[task_name].space.items():
        if not isinstance(dim, shoal.Float) or dim.scale != "linear" or dim.step is not None:
            raise ValueError(f"--task {task_name}: dimension {name!r} is not a linear float; "
                             "only all-float linear tasks such as bbob-* are supported")
        rows.append((dim.low, dim.high))
    return np.array(rows, dtype=float)


def _evaluate(task_name: str, space: Space, unit: np.ndarray) -> float:
    return float(registry()[task_name].objective(space.decode(unit)[0]))


def shoal_history(task_name: str, seed: int, budget: int) -> tuple[list[list[float]], list[float]]:
    """Unit-cube points and values of shoal's GP run (the peers benchmark's adapter, same seed)."""
    from peers.optimizers import ShoalAdapter
    from shoal.samplers import GP

    _bounds(task_name)  # only all-float linear tasks: their unit cube is BoTorch's box
    task = registry()[task_name]
    space = Space(dict(task.space))
    adapter = ShoalAdapter(task.space, seed, GP())
    units, values = [], []
    for _ in range(budget):
        handle, config = adapter.ask()
        value = float(task.objective(config))
        adapter.tell(handle, value)
        units.append(space.encode(config).tolist())
        values.append(value)
    return units, values


#: One part of shoal's GP swapped into BoTorch's pipeline (``--variant``), to find which part matters.
VARIANTS = {
    "none": "BoTorch as Ax runs it",
    "matern": "Matern-5/2 kernel (shoal's) instead of the squared exponential",
    "output-scale": "a fitted output scale over the kernel (shoal fits one)",
    "shoal-length-prior": "shoal's length-scale prior, log-normal around 0.4 sqrt(d), sd 1.2",
    "shoal-noise-prior": "shoal's noise prior, log-normal around 1e-3, sd 2",
    "log-outputs": "the logarithm of the values (shoal's GP often models them so)",
    "shoal-warp": "shoal's robust standardization of the values instead of clipping and standardizing",
    "log-ei": "analytic log EI below the best posterior mean at a tried point (shoal's acquisition)",
}


def _targets(values: list[float], variant: str) -> np.ndarray:
    """Minimization targets as the variant models them: clipped at Q3 + 1.5 IQR on the bad side (Ax's
    automatic winsorization; ``Standardize`` then scales them), or shoal's robust warp."""
    y = np.asarray(values, dtype=float)
    if variant == "log-outputs":
        if np.any(y <= 0):
            raise ValueError("--variant log-outputs: the task has values <= 0")
        y = np.log(y)
    if variant == "shoal-warp":
        from shoal.samplers.gp import warp

        return warp(y)
    q1, q3 = np.percentile(y, 25, method="lower"), np.percentile(y, 75, method="higher")
    return np.minimum(y, q3 + 1.5 * (q3 - q1))


def _model(tx, ty, variant: str):  # noqa: ANN001, ANN202 (torch types exist only in the Ax env)
    import math as m

    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from gpytorch.constraints import GreaterThan
    from gpytorch.kernels import RBFKernel, ScaleKernel
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.priors import LogNormalPrior

    d = tx.shape[1]
    options = {}
    if variant in ("matern", "output-scale"):
        kernel = get_covar_module_with_dim_scaled_prior(ard_num_dims=d, use_rbf_kernel=variant != "matern")
        options["covar_module"] = ScaleKernel(kernel) if variant == "output-scale" else kernel
    elif variant == "shoal-length-prior":
        prior = LogNormalPrior(m.log(0.4) + 0.5 * m.log(d), 1.2)
        options["covar_module"] = RBFKernel(ard_num_dims=d, lengthscale_prior=prior)
    elif variant == "shoal-noise-prior":
        options["likelihood"] = GaussianLikelihood(noise_prior=LogNormalPrior(m.log(1e-3), 2.0),
                                                   noise_constraint=GreaterThan(1e-8))
    return SingleTaskGP(tx, ty, outcome_transform=Standardize(1), **options)


def continue_with_botorch(task_name: str, units: list[list[float]], values: list[float], budget: int,
                          seed: int, variant: str = "none") -> list[float]:
    """BoTorch's proposals from the given history up to ``budget`` trials (run inside the Ax env)."""
    import torch
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    warnings.filterwarnings("ignore")  # BoTorch's restarts of failed line searches, as in the Ax adapter
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    bounds = _bounds(task_name)
    space = Space(dict(registry()[task_name].space))
    x, y = [list(u) for u in units], list(values)
    box = torch.tensor([[0.0] * len(bounds), [1.0] * len(bounds)], dtype=torch.double)
    while len(y) < budget:
        tx = torch.tensor(x, dtype=torch.double)
        ty = -torch.tensor(_targets(y, variant), dtype=torch.double)[:, None]  # BoTorch maximizes
        model = _model(tx, ty, variant)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        if variant == "log-ei":
            with torch.no_grad():
                best = model.posterior(tx).mean.max()
            acquisition = LogExpectedImprovement(model, best)
        else:
            acquisition = qLogNoisyExpectedImprovement(model, tx)
        candidate, _ = optimize_acqf(acquisition, box, q=1, num_restarts=RESTARTS, raw_samples=RAW_SAMPLES)
        unit = candidate[0].numpy()
        x.append(unit.tolist())
        y.append(_evaluate(task_name, space, unit))
    return y


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="bbob-f15-d10")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    parser.add_argument("--start", type=int, default=10, help="trials of shoal's run BoTorch starts from")
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--variant", default="none", choices=sorted(VARIANTS),
                        help="one part of shoal's GP in BoTorch's pipeline: " + "; ".join(
                            f"{k}: {v}" for k, v in VARIANTS.items()))
    parser.add_argument("--inside", help=argparse.SUPPRESS)  # a history file: continue it in the Ax env
    args = parser.parse_args(argv)
    if args.inside:
        history = json.loads(Path(args.inside).read_text())
        values = continue_with_botorch(args.task, history["units"], history["values"], args.budget,
                                       history["seed"], args.variant)
        Path(args.inside).write_text(json.dumps({**history, "botorch": values}))
        return 0
    try:  # bad input is refused before anything runs: one line, exit code 2
        if args.start < 2 or args.budget <= args.start:
            raise ValueError(f"--start {args.start}: must be >= 2 and below --budget ({args.budget})")
        _bounds(args.task)
        problem = envs.problem("ax")
        if problem:
            raise ValueError(f"the Ax env is needed: {problem}")
    except ValueError as exc:
        print(f"continue_in_botorch: {exc}", file=sys.stderr)
        return 2
    src = str(Path(__file__).resolve().parents[2] / "src")
    rows = []
    for seed in range(args.seeds):
        units, values = shoal_history(args.task, seed, args.budget)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "history.json"
            path.write_text(json.dumps({"units": units[:args.start], "values": values[:args.start],
                                        "seed": seed}))
            subprocess.run([str(envs.python("ax")), __file__, "--task", args.task, "--budget",
                            str(args.budget), "--variant", args.variant, "--inside", str(path)],
                           env={"PYTHONPATH": src, "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
                           check=True)
            botorch = json.loads(path.read_text())["botorch"]
        rows.append((min(values[:args.start]), min(values), min(botorch)))
        print(f"seed {seed}: best after {args.start} {rows[-1][0]:.2f}; at {args.budget}: "
              f"shoal {rows[-1][1]:.2f}, BoTorch {rows[-1][2]:.2f}", flush=True)
    mean = np.mean(rows, axis=0)
    wins = sum(b < s for _, s, b in rows)
    print(f"{args.task}, {args.seeds} seeds, from shoal's first {args.start} trials to {args.budget}, "
          f"variant {args.variant}: "
          f"mean best shoal {mean[1]:.2f}, BoTorch {mean[2]:.2f} (BoTorch lower on {wins} of "
          f"{len(rows)} seeds){'' if math.isfinite(mean[2]) else ' (a run failed)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
