"""optimize(devices=...): each local worker process gets its own CUDA_VISIBLE_DEVICES and every trial
records the device it ran on. No GPU needed: the objectives report what their process was given."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from conftest import sqlite_url_for, wait_for

import shoal
from shoal.cli import main
from shoal.execution.devices import plan_devices, visible_devices
from shoal.trial import TrialState

SPACE = {"x": shoal.Float(0.0, 1.0)}


@pytest.fixture(autouse=True)
def no_gpus_in_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def gpu_seen(config: dict, trial) -> float:
    """The GPU this worker was given, as the value; its pid as the report at step 0."""
    trial.report(float(os.getpid()), 0)
    return float(os.environ["CUDA_VISIBLE_DEVICES"])


def dies_on_gpu_1_once(directory: str, config: dict, trial) -> float:
    """The worker given GPU 1 dies in its first trial; the process that replaces it leaves its pid.
    Trials on GPU 0 wait for that, so the replacement surely gets a trial."""
    died, replaced = Path(directory, "died"), Path(directory, "replaced")
    if os.environ["CUDA_VISIBLE_DEVICES"] == "1":
        if not died.exists():
            died.write_text(str(os.getpid()))
            os._exit(9)
        replaced.write_text(str(os.getpid()))
    else:
        wait_for(replaced.exists, "the replacement worker's trial", timeout=120)
    return gpu_seen(config, trial)


def _by_device(trials: list[shoal.Trial]) -> dict[str, set[tuple[float, int]]]:
    """device -> {(CUDA_VISIBLE_DEVICES seen, worker pid)} of the completed trials."""
    seen: dict[str, set[tuple[float, int]]] = defaultdict(set)
    for t in trials:
        if t.state == TrialState.COMPLETE:
            seen[t.device].add((t.value, int(t.reports[0][1])))
    return dict(seen)


def test_each_worker_sees_its_own_gpu_and_each_trial_records_it(sqlite_url: str) -> None:
    study = shoal.Study("gpus", SPACE, storage=sqlite_url, seed=0)
    study.optimize(gpu_seen, n_trials=8, devices=["cuda:0", "cuda:1"], show_progress=False)
    trials = shoal.Study.load("gpus", sqlite_url).trials  # read back from storage
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 8
    seen = _by_device(trials)
    # n_workers defaults to one per device: two processes, each always on its own GPU
    assert sorted(seen) == ["cuda:0", "cuda:1"]
    assert {v for v, _ in seen["cuda:0"]} == {0.0} and {v for v, _ in seen["cuda:1"]} == {1.0}
    assert len({pid for pids in seen.values() for _, pid in pids}) == 2
    assert all(t.device == f"cuda:{int(t.value)}" for t in trials)
    assert "CUDA_VISIBLE_DEVICES" not in os.environ  # the driver's own environment is untouched


def test_several_workers_share_a_gpu_round_robin(sqlite_url: str) -> None:
    study = shoal.Study("shared", SPACE, storage=sqlite_url, seed=0)
    study.optimize(gpu_seen, n_trials=12, devices=[0, 1], workers_per_device=2, show_progress=False)
    seen = _by_device(study.trials)
    assert sorted(seen) == ["cuda:0", "cuda:1"]
    for device, pairs in seen.items():  # two worker processes on each GPU
        assert {v for v, _ in pairs} == {float(device[-1])} and len({pid for _, pid in pairs}) == 2
    # n_workers below the places: still spread over the GPUs
    assert [d.label for d in plan_devices(["cuda:0", "cuda:1"], 3, 2)[1]] == ["cuda:0", "cuda:1", "cuda:0"]


def test_auto_takes_the_drivers_visible_gpus_and_maps_their_numbers(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")  # the driver sees physical GPUs 3 and 5
    assert [(d.label, d.visible) for d in visible_devices()] == [("cuda:0", "3"), ("cuda:1", "5")]
    study = shoal.Study("auto", SPACE, storage=sqlite_url, seed=0)
    study.optimize(gpu_seen, n_trials=4, devices="auto", show_progress=False)
    seen = _by_device(study.trials)
    assert {d: {v for v, _ in pairs} for d, pairs in seen.items()} == {"cuda:0": {3.0}, "cuda:1": {5.0}}
    # one GPU named, one worker: still a worker process of its own, given that GPU
    single = shoal.Study("one", SPACE, storage=sqlite_url, seed=0)
    single.optimize(gpu_seen, n_trials=2, devices=["cuda:1"], show_progress=False)
    assert {(t.device, t.value) for t in single.trials} == {("cuda:1", 5.0)}
    assert all(int(t.reports[0][1]) != os.getpid() for t in single.trials)


def test_a_replaced_worker_keeps_its_slots_gpu(tmp_path: Path, sqlite_url: str) -> None:
    from functools import partial

    study = shoal.Study("died", SPACE, storage=sqlite_url, seed=0)
    objective = partial(dies_on_gpu_1_once, str(tmp_path))
    study.optimize(objective, n_trials=4, devices=["cuda:0", "cuda:1"], show_progress=False)
    trials = study.trials
    died = [t for t in trials if t.state == TrialState.FAILED]
    assert len(died) == 1 and died[0].device == "cuda:1" and "worker died" in died[0].error
    seen = _by_device(trials)
    replacement = int((tmp_path / "replaced").read_text())
    assert replacement != int((tmp_path / "died").read_text())
    assert (1.0, replacement) in seen["cuda:1"] and {v for v, _ in seen["cuda:1"]} == {1.0}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"devices": "auto"}, "devices='auto': no GPU is visible (CUDA_VISIBLE_DEVICES is not set"),
        ({"devices": ["gpu0"]}, "devices: 'gpu0' is not a GPU; give 'cuda:N' or N"),
        ({"devices": ["cuda:0", "cuda:0"]}, "devices: cuda:0 is listed twice; list each GPU once and give "
                                            "workers_per_device=N"),
        ({"devices": []}, "devices must be 'auto' or a non-empty list"),
        ({"devices": ["cuda:0", "cuda:1"], "n_workers": 5, "workers_per_device": 2},
         "n_workers=5 is more than the 4 place(s) on 2 GPU(s) with workers_per_device=2; lower n_workers "
         "or raise workers_per_device to 3"),
        ({"workers_per_device": 2}, "workers_per_device: goes with devices="),
        ({"devices": ["cuda:0"], "workers_per_device": 0}, "workers_per_device must be an int >= 1"),
        ({"devices": ["cuda:0"], "executor": shoal.execution.InProcess()},
         "devices: give them to the executor"),
    ],
)
def test_bad_devices_are_refused_before_anything_runs(sqlite_url: str, options: dict, message: str) -> None:
    study = shoal.Study("bad", SPACE, storage=sqlite_url, seed=0)
    with pytest.raises(ValueError) as raised:
        study.optimize(gpu_seen, n_trials=2, show_progress=False, **options)
    assert message in str(raised.value)
    assert study.trials == []


def test_a_gpu_the_driver_cannot_see_is_refused(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    study = shoal.Study("unseen", SPACE, storage=sqlite_url, seed=0)
    unseen = r"devices: cuda:1 is not visible: CUDA_VISIBLE_DEVICES='2' shows 1 GPU"
    with pytest.raises(ValueError, match=unseen):
        study.optimize(gpu_seen, n_trials=2, devices=["cuda:0", "cuda:1"], show_progress=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")  # hides every GPU
    hidden = "devices='auto': no GPU is visible .CUDA_VISIBLE_DEVICES hides every GPU"
    with pytest.raises(ValueError, match=hidden):
        study.optimize(gpu_seen, n_trials=2, devices="auto", show_progress=False)
    assert study.trials == []


def _config(tmp_path: Path, **changes) -> Path:
    data = {"study": "gpus", "objective": "test_devices:gpu_seen", "direction": "minimize",
            "space": {"x": {"type": "float", "low": 0, "high": 1}}, "n_trials": 4, "seed": 0,
            "storage": sqlite_url_for(tmp_path / "shoal.db"), **changes}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_yaml_config_takes_the_same_keys_and_the_cli_shows_the_device(tmp_path: Path, capsys) -> None:
    config = _config(tmp_path, devices=["cuda:0", "cuda:1"], workers_per_device=1)
    assert main(["run", str(config), "--no-progress"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    storage = ["--storage", sqlite_url_for(tmp_path / "shoal.db")]
    assert main(["trials", "gpus", "--json", *storage]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {(t["device"], t["value"]) for t in listed} == {("cuda:0", 0.0), ("cuda:1", 1.0)}
    assert main(["trials", "gpus", "--csv", *storage]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split(",")[-2:] == ["device", "error"] and all(",cuda:" in r for r in rows[1:])
    assert main(["trials", "gpus", *storage]) == 0
    assert "device" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"devices": "auto"}, "devices='auto': no GPU is visible"),
        ({"devices": ["cuda:0"], "workers_per_device": 0}, "workers_per_device must be an int >= 1"),
        ({"devices": ["cuda:0"], "n_workers": 3}, "n_workers=3 is more than the 1 place(s)"),
        ({"devices": ["cuda:0"], "dask": "tcp://10.0.0.5:8786"},
         "devices: on Dask the workers own their GPUs"),
    ],
)
def test_bad_devices_in_a_config_are_one_line_and_store_nothing(
    tmp_path: Path, capsys, changes: dict, message: str
) -> None:
    code = main(["run", str(_config(tmp_path, **changes)), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "shoal.db").exists()


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def stand_in(config: dict, trial) -> float:
    """The benchmark's objective without a GPU: what the worker was given."""
    trial.report(1.0, 100)
    return float(os.environ["CUDA_VISIBLE_DEVICES"])


def test_the_gpu_benchmark_skips_cleanly_without_cuda_and_measures_through_devices(tmp_path: Path) -> None:
    import subprocess
    import sys

    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: run benchmarks/gpu_workers.py itself")
    env = {**os.environ, "PYTHONPATH": str(Path(shoal.__file__).parents[1])}
    done = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_workers.py")], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("gpu_workers: skipped: CUDA is not available")
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import gpu_workers
    finally:
        sys.path.remove(str(BENCHMARKS))
    row = gpu_workers.measure(2, 4, tmp_path, run=stand_in)  # two workers on cuda:0, counted
    assert (row["workers"], row["trials"]) == (2, 4) and row["per_minute"] > 0 and row["per_minute_span"] > 0
