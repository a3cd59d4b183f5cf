"""Trials per minute with 1, 2, 4 and 8 local workers sharing one GPU, through ``optimize(devices=)``.

Each setting runs the same small, real PyTorch objective (an MLP trained for a fixed number of
steps on synthetic data that lives on the GPU) with ``devices=["cuda:0"]`` and
``workers_per_device=n``: n worker processes, each started with ``CUDA_VISIBLE_DEVICES`` set to that
GPU. While one worker's trial runs Python or waits on the host, another's kernels keep the GPU
busy, so throughput grows with workers until the GPU is saturated.

Two figures per setting: trials per minute over the whole ``optimize`` call (worker start-up and
CUDA initialisation included) and over the trials' own span (first start to last finish, from the
stored timestamps), which is what a long study sees. Each worker checks that it sees exactly one
GPU, and every trial must record ``device == "cuda:0"``.

Without CUDA (no GPU, or a CPU-only torch) it prints why and exits 0: nothing to measure.

    .venv/bin/python benchmarks/gpu_workers.py [--workers 1,2,4,8] [--trials 48] [--steps 300] [--markdown]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import shoal

SPACE = {
    "lr": shoal.Float(1e-4, 1e-1, scale="log"),
    "width": shoal.Choice([256, 512, 1024]),
    "depth": shoal.Int(2, 4),
}


def objective(config: dict[str, Any], trial: Any) -> float:
    """Train an MLP for ``STEPS`` steps on synthetic data on the worker's GPU; the last loss."""
    import os

    import torch

    if torch.cuda.device_count() != 1:
        raise RuntimeError(f"the worker sees {torch.cuda.device_count()} GPUs "
                           f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}), not 1")
    steps = int(os.environ.get("SHOAL_BENCH_STEPS", "300"))
    device = torch.device("cuda")
    generator = torch.Generator(device=device).manual_seed(trial.number)
    x = torch.randn(16384, 256, device=device, generator=generator)
    y = (x[:, :8].sum(dim=1, keepdim=True) > 0).float()
    layers: list[torch.nn.Module] = []
    width, inputs = int(config["width"]), 256
    for _ in range(int(config["depth"])):
        layers += [torch.nn.Linear(inputs, width), torch.nn.ReLU()]
        inputs = width
    model = torch.nn.Sequential(*layers, torch.nn.Linear(inputs, 1)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    loss = torch.zeros((), device=device)
    for step in range(steps):
        batch = torch.randint(0, x.shape[0], (512,), device=device, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
        if (step + 1) % 100 == 0:
            trial.report(float(loss), step + 1)  # a host sync, as a real loop's logging has
    return float(loss)


def cuda_missing() -> str | None:
    """Why there is nothing to measure here (None when a CUDA GPU is usable)."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return f"CUDA is not available (torch {torch.__version__}, {torch.cuda.device_count()} GPUs visible)"
    return None


def measure(workers: int, trials: int, folder: Path, run: Any = objective) -> dict[str, Any]:
    """``trials`` trials of ``run`` on ``workers`` workers sharing cuda:0; the figures."""
    storage = f"sqlite:///{folder / f'gpu-{workers}.db'}"
    study = shoal.Study(f"gpu-{workers}", SPACE, storage=storage, sampler=shoal.samplers.Random(seed=0))
    started = time.perf_counter()
    study.optimize(run, n_trials=trials, n_workers=workers, devices=["cuda:0"],
                   workers_per_device=workers, show_progress=False)
    wall = time.perf_counter() - started
    done = study.trials
    failed = [t for t in done if t.state != shoal.TrialState.COMPLETE]
    if failed:
        raise RuntimeError(f"{len(failed)} trials did not complete; first: {failed[0].error}")
    devices = {t.device for t in done}
    if devices != {"cuda:0"}:
        raise RuntimeError(f"trials recorded devices {devices}, expected only cuda:0")
    span = (max(t.finished_at for t in done) - min(t.started_at for t in done)).total_seconds()
    return {"workers": workers, "trials": len(done), "wall": wall, "span": span,
            "per_minute": 60 * len(done) / wall, "per_minute_span": 60 * len(done) / span}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="1,2,4,8",
                        help="worker counts sharing the GPU (default 1,2,4,8)")
    parser.add_argument("--trials", type=int, default=48, help="trials per setting (default 48)")
    parser.add_argument("--steps", type=int, default=300, help="training steps per trial (default 300)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    why = cuda_missing()
    if why is not None:
        print(f"gpu_workers: skipped: {why}; run it on a machine with a CUDA GPU")
        return 0
    import os

    import torch

    os.environ["SHOAL_BENCH_STEPS"] = str(args.steps)  # the workers inherit it
    logging.getLogger("shoal").setLevel(logging.ERROR)
    counts = [int(n) for n in args.workers.split(",")]
    print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; shoal {shoal.__version__}; "
          f"{args.trials} trials of {args.steps} steps per setting")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in counts:
            row = measure(n, args.trials, Path(folder))
            rows.append(row)
            print(f"{n} worker(s): {row['per_minute']:.0f} trials/min over the call ({row['wall']:.1f} s), "
                  f"{row['per_minute_span']:.0f} over the trials' span", flush=True)
    if args.markdown:
        print("\n| workers on one GPU | trials/min (whole call) | trials/min (trials' span) | wall s |")
        print("|---|---|---|---|")
        for row in rows:
            print(f"| {row['workers']} | {row['per_minute']:.0f} | {row['per_minute_span']:.0f} "
                  f"| {row['wall']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
