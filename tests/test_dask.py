"""The Dask executor against a real ``distributed.LocalCluster`` (2 worker processes, 1 thread each)."""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import sqlite_url_for, wait_for

distributed = pytest.importorskip("distributed")

import cloudpickle  # noqa: E402
import dask  # noqa: E402
import multi_objectives  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

import shoal  # noqa: E402
from shoal.execution import Job  # noqa: E402
from shoal.execution.dask import DaskExecutor, TrialAbandoned, is_dask_target  # noqa: E402
from shoal.records import Steering  # noqa: E402
from shoal.storage import get_storage  # noqa: E402
from shoal.trial import TrialState  # noqa: E402

# Workers import nothing from tests/: the objectives below (and the multi-objective ones) travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])
cloudpickle.register_pickle_by_value(multi_objectives)

DRIVER_PID = os.getpid()
SPACE = {"x": shoal.Float(0.0, 1.0)}


def _cluster(**config: object) -> LocalCluster:
    with dask.config.set(config):
        return LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
        )


def _cluster_with(**worker_options: object) -> LocalCluster:
    """Two worker processes of two threads each, started with ``worker_options`` (resources, env)."""
    return LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=":0",
                        silence_logs=50, **worker_options)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Dask's defaults: a task whose worker dies is rescheduled (allowed-failures 3)."""
    cluster = _cluster()
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def module_client(cluster: LocalCluster) -> Iterator[Client]:
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()


@pytest.fixture
def client(module_client: Client) -> Client:
    """The cluster's client, once both workers are up (a killed one is restarted by its nanny)."""
    module_client.wait_for_workers(2, timeout=120)
    return module_client


def _worker_pids(client: Client) -> set[int]:
    return set(client.run(os.getpid).values())


# -- objectives (run on the workers) -----------------------------------------------------------
def pid_objective(config: dict, trial) -> float:
    trial.report(config["x"], 0)
    return float(os.getpid())


def pid_once_released(directory: str, release: str, config: dict, trial) -> float:
    """Leave this worker's pid in ``directory``, then hold the worker until the test sets the Dask
    event ``release`` (it does once two workers have left theirs)."""
    trial.report(config["x"], 0)
    Path(directory, f"pid-{os.getpid()}").touch()
    if not distributed.Event(release).wait(timeout=60):
        raise TimeoutError("the test never released the trial")
    return float(os.getpid())


def reads_own_reports(url: str, name: str, config: dict, trial) -> float:
    """Report twice, then read this trial's reports back from the study's storage."""
    trial.report(config["x"], 0)
    trial.report(config["x"] + 1, 1)
    storage = get_storage(url)
    study_id = storage.get_study(name).study_id
    [me] = [t for t in storage.read_trials(study_id) if t.number == trial.number]
    assert me.state == TrialState.RUNNING
    return float(len(me.reports))


def prunable(config: dict, trial) -> float:
    for step in range(10):
        trial.report(float(step), step)
        if trial.should_stop():
            raise shoal.TrialPruned()
    return 100.0


def raises_for_half(config: dict) -> float:
    if config["x"] == 0.5:
        raise ValueError("x = 0.5 is not allowed")
    if config["x"] == 0.125:
        raise KeyError("not caught")
    return config["x"]


def dies_once(marker: str, config: dict) -> float:
    """SIGKILL this worker the first time x is 0.25 (never the test process)."""
    if config["x"] == 0.25 and not os.path.exists(marker):
        if os.getpid() == DRIVER_PID:
            raise RuntimeError("the objective ran in the driver, not on a Dask worker")
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(30)
    return config["x"]


def hangs(marker: str, config: dict, trial) -> float:
    """Report forever when x is 0.75; note when the driver abandons the trial."""
    if config["x"] == 0.75:
        try:
            for step in range(600):
                trial.report(float(step), step)
                time.sleep(0.05)
        except TrialAbandoned:
            Path(marker).write_text("abandoned")
            raise
    return config["x"]


# -- targets and arguments ---------------------------------------------------------------------
def test_is_dask_target(module_client: Client) -> None:
    assert is_dask_target(module_client)
    assert is_dask_target("tcp://10.0.0.1:8786") and is_dask_target("tls://host:8786")
    for other in ("tcp://", "localhost:8786", "sqlite:///x.db", 3, None, object()):
        assert not is_dask_target(other)


def test_bad_arguments(module_client: Client) -> None:
    with pytest.raises(ValueError, match="client_or_address"):
        DaskExecutor("localhost:8786")
    with pytest.raises(ValueError, match="slots"):
        DaskExecutor(module_client, slots=0)
    study = shoal.Study("bad", SPACE)
    with pytest.raises(ValueError, match="executor must be"):
        study.optimize(pid_objective, n_trials=1, executor="localhost:8786", show_progress=False)


def test_slots_and_client_ownership(cluster: LocalCluster, client: Client) -> None:
    assert DaskExecutor(client).slots == 2
    assert DaskExecutor(client, slots=5).slots == 5
    given = DaskExecutor(client)
    given.close()
    assert client.status == "running"  # a client we were given stays open
    owned = DaskExecutor(cluster.scheduler_address)
    own_client = owned.client
    assert owned.slots == 2 and own_client is not client
    owned.close()
    assert own_client.status == "closed"


# -- running trials ----------------------------------------------------------------------------
def test_trials_run_in_worker_processes(client: Client, tmp_path: Path, sqlite_url: str) -> None:
    study = shoal.Study("pids", SPACE, storage=sqlite_url, seed=1)
    # the first calls wait until both workers have one: then both have run a trial, whatever the timing
    pids_seen, release = tmp_path / "pids", distributed.Event(f"release-{uuid.uuid4().hex}", client=client)
    pids_seen.mkdir()
    objective = functools.partial(pid_once_released, str(pids_seen), release.name)
    runner = threading.Thread(target=study.optimize, args=(objective,),
                              kwargs={"n_trials": 8, "executor": client, "show_progress": False})
    runner.start()
    try:
        wait_for(lambda: len(list(pids_seen.glob("pid-*"))) >= 2, "a trial running on each worker")
    finally:
        release.set()
        runner.join(120)
    assert not runner.is_alive()
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 8
    pids = {int(t.value) for t in trials}
    assert len(pids) >= 2 and DRIVER_PID not in pids
    assert pids <= _worker_pids(client)
    assert all(t.reports == [(0, t.config["x"])] for t in trials)


def worker_values(config: dict) -> dict:
    """Named values, one a numpy number, with the pid of the worker that ran the call."""
    return {**multi_objectives.tradeoff(config), "pid": float(os.getpid())}


def test_named_values_travel_from_dask_workers(client: Client, sql_url: str) -> None:
    """Several objectives and constraints on Dask, through SQLite and PostgreSQL: what workers return
    is judged by the driver's study (a NaN or a missing objective fails that trial only)."""
    mo = multi_objectives
    study = shoal.Study("mo", mo.SPACE, storage=sql_url, objectives=mo.OBJECTIVES, constraints=mo.CONSTRAINTS,
                        sampler=shoal.samplers.Random(seed=5))
    study.optimize(worker_values, n_trials=16, executor=client, show_progress=False)
    trials = study.trials
    assert len(trials) == 16 and {t.state for t in trials} >= {TrialState.COMPLETE}
    for trial in trials:
        state, values, feasible = mo.expected(trial.config)
        assert (trial.state.value, trial.feasible) == (state, feasible)
        if values is not None:
            assert {k: v for k, v in trial.values.items() if k != "pid"} == values
            assert int(trial.values["pid"]) in _worker_pids(client)
    assert [t.number for t in study.pareto_front] == mo.brute_front(trials, mo.OBJECTIVES)
    plain = shoal.Study("plain", mo.SPACE, "maximize", sql_url, seed=1)
    plain.optimize(worker_values, n_trials=2, executor=client, show_progress=False)
    assert all(t.state == TrialState.FAILED and "return a number" in t.error for t in plain.trials)


def test_scheduler_address(cluster: LocalCluster, client: Client, sqlite_url: str) -> None:
    study = shoal.Study("address", SPACE, storage=sqlite_url, seed=2)
    study.optimize(pid_objective, n_trials=4, executor=cluster.scheduler_address, show_progress=False)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    assert {int(t.value) for t in study.trials} <= _worker_pids(client)


def test_reports_are_stored_while_the_trial_runs(client: Client, sqlite_url: str) -> None:
    study = shoal.Study("reports", SPACE, storage=sqlite_url, seed=3)
    objective = functools.partial(reads_own_reports, sqlite_url, "reports")
    study.optimize(objective, n_trials=4, executor=client, show_progress=False)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4, [t.error for t in study.trials]
    assert [t.value for t in study.trials] == [2.0] * 4
    reloaded = shoal.Study.load("reports", sqlite_url)
    assert all([s for s, _ in t.reports] == [0, 1] for t in reloaded.trials)


class StopsAtTwo(shoal.Study):
    """A study whose every trial is asked to stop once it reports step 2."""

    def _report(self, record, step: int, value: float) -> Steering:
        super()._report(record, step, value)
        return Steering(stop=step >= 2)


def test_should_stop_reaches_the_worker(client: Client, sqlite_url: str) -> None:
    study = StopsAtTwo("stop", SPACE, storage=sqlite_url, seed=4)
    study.optimize(prunable, n_trials=4, executor=client, show_progress=False)
    for trial in study.trials:
        assert trial.state == TrialState.PRUNED
        assert trial.value == 2.0 and [s for s, _ in trial.reports] == [0, 1, 2]


def test_an_exception_fails_the_trial_and_the_study_goes_on(client: Client, sqlite_url: str) -> None:
    study = shoal.Study("errors", SPACE, storage=sqlite_url, seed=5)
    study.enqueue({"x": 0.5})
    study.optimize(raises_for_half, n_trials=4, executor=client, show_progress=False)
    first, *rest = study.trials
    assert first.state == TrialState.FAILED and "ValueError: x = 0.5 is not allowed" in first.error
    assert [t.state for t in rest] == [TrialState.COMPLETE] * 3

    # an exception outside ``catch`` is recorded, then raised in the driver
    study.enqueue({"x": 0.125})
    with pytest.raises(KeyError, match="not caught"):
        study.optimize(raises_for_half, n_trials=2, executor=client, catch=ValueError, show_progress=False)
    failed = [t for t in study.trials if t.config["x"] == 0.125]
    assert len(failed) == 1 and failed[0].state == TrialState.FAILED


# -- faults ------------------------------------------------------------------------------------
def _killed_run(client: Client, tmp_path: Path, retries: int) -> list[shoal.Trial]:
    marker = tmp_path / "killed"
    study = shoal.Study("kill", SPACE, storage=sqlite_url_for(tmp_path / "shoal.db"), seed=6)
    study.enqueue({"x": 0.25})
    objective = functools.partial(dies_once, str(marker))
    study.optimize(objective, n_trials=6, executor=client, retries=retries, show_progress=False)
    assert marker.exists() and int(marker.read_text()) != DRIVER_PID  # a worker really died
    return study.trials


def test_a_killed_worker_fails_its_trial_once(client: Client, tmp_path: Path) -> None:
    # Dask would reschedule the task on the other worker; the driver refuses the rerun.
    killed, *rest = _killed_run(client, tmp_path, retries=0)
    assert killed.state == TrialState.FAILED and "dask worker died" in killed.error
    assert len(rest) == 5 and all(t.state == TrialState.COMPLETE for t in rest)
    assert all(t.config["x"] != 0.25 for t in rest)  # not re-run behind the study's back


def test_a_killed_trial_is_retried_when_asked(client: Client, tmp_path: Path) -> None:
    trials = _killed_run(client, tmp_path, retries=1)
    killed = trials[0]
    assert killed.state == TrialState.FAILED and "dask worker died" in killed.error
    [retry] = [t for t in trials if t.requeued_from == killed.number]
    assert retry.state == TrialState.COMPLETE and retry.config == killed.config
    assert len(trials) == 7 and sum(t.state == TrialState.COMPLETE for t in trials) == 6


def test_killed_worker_without_allowed_failures(tmp_path: Path) -> None:
    """With ``allowed-failures: 0`` the scheduler fails the task itself (KilledWorker)."""
    cluster = _cluster(**{"distributed.scheduler.allowed-failures": 0})
    client = Client(cluster, set_as_default=False)
    try:
        killed, *rest = _killed_run(client, tmp_path, retries=0)
        assert killed.state == TrialState.FAILED and "dask worker died: KilledWorker" in killed.error
        assert len(rest) == 5 and all(t.state == TrialState.COMPLETE for t in rest)
    finally:
        client.close()
        cluster.close()


def test_timeout_per_trial_abandons_the_call(client: Client, tmp_path: Path, sqlite_url: str) -> None:
    marker = tmp_path / "abandoned"
    study = shoal.Study("timeout", SPACE, storage=sqlite_url, seed=7)
    study.enqueue({"x": 0.75})
    objective = functools.partial(hangs, str(marker))
    study.optimize(objective, n_trials=4, executor=client, timeout_per_trial=3, show_progress=False)
    hung, *rest = study.trials
    assert hung.state == TrialState.FAILED and "timed out" in hung.error
    assert [t.state for t in rest] == [TrialState.COMPLETE] * 3
    # Dask cannot kill the thread, but the call's next report tells the objective to stop
    wait_for(marker.exists, "the call to see it was abandoned", timeout=30)
    assert marker.read_text() == "abandoned"


def test_close_stops_running_calls_at_their_next_report(client: Client, tmp_path: Path) -> None:
    """A closed executor answers no more reports; the task sees it was cancelled and stops."""
    marker = tmp_path / "abandoned"
    objective = functools.partial(hangs, str(marker))
    executor = DaskExecutor(client)
    reports: list[tuple[int, int, float]] = []

    def on_report(key: int, step: int, value: float | None) -> Steering:
        reports.append((key, step, value))
        return Steering()

    executor.start(Job(objective, True, (Exception,)), on_report)
    executor.submit(7, {"x": 0.75}, 7)
    while not reports:
        assert executor.wait(60) == []  # reports only: the call is still running
    executor.close()
    assert reports[0] == (7, 0, 0.0)
    wait_for(marker.exists, "the call to see it was abandoned", timeout=30)
    assert marker.read_text() == "abandoned"


def test_an_objective_workers_cannot_load_stops_the_study(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An objective from a module only the driver has travels by name; the workers say they lack it,
    and after the first two trials failed that way the call stops, saying what to install where."""
    (tmp_path / "driver_only_objectives.py").write_text("def objective(config):\n    return 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import driver_only_objectives

    study = shoal.Study("unloadable", SPACE, seed=8)
    try:
        with pytest.raises(shoal.errors.ObjectiveUnavailable) as raised:
            study.optimize(driver_only_objectives.objective, n_trials=8, executor=client,
                           show_progress=False)
    finally:
        del sys.modules["driver_only_objectives"]
    message = str(raised.value)
    assert "trials 0 and 1 all failed with ModuleNotFoundError: No module named 'driver_only_objectives'" \
        in message
    assert "install 'driver_only_objectives' on every Dask worker" in message and "\n" not in message
    assert len(study.trials) == 2  # both slots' first trials; nothing more started
    for trial in study.trials:
        assert trial.state == TrialState.FAILED
        assert "could not be loaded on dask worker tcp://" in trial.error
        assert "driver_only_objectives" in trial.error


def gpu_seen(config: dict) -> float:
    return float(os.environ.get("CUDA_VISIBLE_DEVICES", "-1"))


def test_devices_auto_asks_dask_for_a_gpu_resource_per_trial(sqlite_url: str) -> None:
    with _cluster_with(resources={"GPU": 1}, env={"CUDA_VISIBLE_DEVICES": "7"}) as cluster, \
            Client(cluster, set_as_default=False) as gpu_client:
        gpu_client.wait_for_workers(2, timeout=120)
        assert DaskExecutor(gpu_client, gpus_per_trial=1).slots == 2  # 2 threads each, 1 GPU each
        assert DaskExecutor(gpu_client, gpus_per_trial=0.5).slots == 4
        addresses = set(gpu_client.scheduler_info()["workers"])
        study = shoal.Study("dask-gpus", SPACE, storage=sqlite_url, seed=0)
        study.optimize(gpu_seen, n_trials=6, executor=gpu_client, devices="auto", show_progress=False)
    trials = shoal.Study.load("dask-gpus", sqlite_url).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6 and {t.value for t in trials} == {7.0}
    assert {t.device.split(" on ")[1] for t in trials} <= addresses
    assert all(t.device.startswith("GPU 7 on tcp://") for t in trials)


def test_devices_on_dask_need_workers_with_gpus_and_auto(client: Client, sqlite_url: str) -> None:
    study = shoal.Study("dask-no-gpus", SPACE, storage=sqlite_url, seed=0)
    refused = (r"no worker of the Dask cluster offers a GPU resource of at least 1; "
               r"start workers with 'dask worker ADDRESS --resources GPU=1'")
    with pytest.raises(ValueError, match=refused):
        study.optimize(gpu_seen, n_trials=2, executor=client, devices="auto", show_progress=False)
    with pytest.raises(ValueError, match="devices: on Dask the workers own their GPUs"):
        study.optimize(gpu_seen, n_trials=2, executor=client, devices=["cuda:0"], show_progress=False)
    with pytest.raises(ValueError, match="gpus_per_trial must be a number in"):
        DaskExecutor(client, gpus_per_trial=2)
    assert study.trials == []
