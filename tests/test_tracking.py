"""Experiment tracking against the real packages: an MLflow SQLite store, W&B offline run folders and
TensorBoard event files, each read back and compared with the study's own trials.

One study per way of running trials (in this process, 2 local worker processes, a 2-worker Dask
cluster) logs to all three trackers at once; the driver logs, so the workers have no tracking setup.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tracking_objectives as to
from conftest import sqlite_url_for

pytest.importorskip("mlflow")
pytest.importorskip("wandb")
pytest.importorskip("torch.utils.tensorboard")

import cloudpickle  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2  # noqa: E402
from wandb.proto import wandb_internal_pb2  # noqa: E402

import shoal  # noqa: E402
from shoal.mlflow import MLflowCallback  # noqa: E402
from shoal.rules import ReduceOnPlateau  # noqa: E402
from shoal.tensorboard import TensorBoardCallback  # noqa: E402
from shoal.trial import TrialState  # noqa: E402
from shoal.wandb import WandbCallback  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: MLflow's SQL store on SQLAlchemy 2.1 warns about its own mappers; nothing of shoal's
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
MODES = ["in_process", "local_workers", "dask"]
#: the enqueued trials: every outcome; two more are sampled (their proposed_by is the sampler's reason)
ENQUEUED = [
    {"lr": 0.01, "mode": "ok", "units": 8},
    {"lr": 0.1, "mode": "prune", "units": 16},
    {"lr": 0.2, "mode": "fail", "units": 32},
    {"lr": 0.5, "mode": "flat", "units": 64},
    {"lr": 0.3, "mode": "ok", "units": 24},
]
N_TRIALS = len(ENQUEUED) + 2
MLFLOW_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAILED": "FAILED"}


# -- reading back what was logged ----------------------------------------------------------------


def wandb_runs(folder: Path) -> list[dict[str, Any]]:
    """Every offline W&B run under ``folder``: its run record, config, history, summary and exit code,
    parsed from the run's ``.wandb`` file (a LevelDB-style log of ``Record`` protobufs in 32 KiB
    blocks, after a 7-byte ``:W&B`` header)."""
    runs = []
    for path in sorted(folder.glob("wandb/offline-run-*/run-*.wandb")):
        run: dict[str, Any] = {"config": {}, "history": [], "summary": {}, "exit_code": None}
        for record in _wandb_records(path.read_bytes()):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                info = record.run
                run.update(group=info.run_group, name=info.display_name, tags=list(info.tags),
                           job_type=info.job_type, project=info.project)
                run["config"].update({i.key: json.loads(i.value_json) for i in record.run.config.update})
            elif kind == "config":
                run["config"].update({i.key: json.loads(i.value_json) for i in record.config.update})
            elif kind == "history":
                row = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
                run["history"].append(row)
            elif kind == "summary":
                for item in record.summary.update:
                    run["summary"][item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
            elif kind == "exit":
                run["exit_code"] = record.exit.exit_code
        run["config"].pop("_wandb", None)
        runs.append(run)
    return runs


def _wandb_records(data: bytes) -> Iterator[Any]:
    block, header = 32768, 7
    ident, magic, _version = struct.unpack("<4sHB", data[:header])
    assert ident == b":W&B" and magic == 0xBEE1, "not a W&B transaction log"
    position, pending = header, b""
    while position + header <= len(data):
        left = block - position % block
        if left < header:  # a block's tail too short for a record header is padding
            position += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[position: position + header])
        if length == 0 and kind == 0:
            position += left
            continue
        pending += data[position + header: position + header + length]
        position += header + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def tensorboard_run(folder: Path) -> dict[str, Any]:
    """A trial's TensorBoard run: scalars by tag, hparams, session status, text."""
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    scalars = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
    out: dict[str, Any] = {"scalars": scalars, "hparams": {}, "status": None, "text": {}}
    for content in events.PluginTagToContent("hparams").values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.WhichOneof("data") == "session_start_info":
            for name, value in data.session_start_info.hparams.items():
                out["hparams"][name] = getattr(value, value.WhichOneof("kind"))
        elif data.WhichOneof("data") == "session_end_info":
            out["status"] = api_pb2.Status.Name(data.session_end_info.status)
    for tag in events.Tags()["tensors"]:
        if tag.startswith("schedule"):
            out["text"]["schedule"] = events.Tensors(tag)[-1].tensor_proto.string_val[0].decode()
    return out


# -- the studies -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One MLflow SQLite store for the module (creating its tables takes seconds)."""
    return sqlite_url_for(tmp_path_factory.mktemp("mlflow") / "mlflow.db")


@pytest.fixture(scope="module")
def offline_wandb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """W&B in offline mode, quiet, writing under a temp folder (WANDB_DIR)."""
    folder = tmp_path_factory.mktemp("wandb")
    saved = {k: os.environ.get(k) for k in ("WANDB_MODE", "WANDB_DIR", "WANDB_SILENT")}
    os.environ.update(WANDB_MODE="offline", WANDB_DIR=str(folder), WANDB_SILENT="true")
    yield folder
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _run_options(mode: str) -> tuple[dict[str, Any], Any]:
    if mode == "in_process":
        return {}, None
    if mode == "local_workers":
        return {"n_workers": 2}, None
    distributed = pytest.importorskip("distributed")
    cloudpickle.register_pickle_by_value(to)  # Dask workers import nothing from tests/
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=50)
    client = distributed.Client(cluster, set_as_default=False)
    return {"executor": client}, (client, cluster)


@pytest.fixture(scope="module", params=MODES)
def logged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mlflow_uri: str,
           offline_wandb: Path) -> dict[str, Any]:
    """A study of ``N_TRIALS`` trials, every outcome included, logged to all three trackers."""
    mode = request.param
    folder = tmp_path_factory.mktemp(mode)
    name = f"track-{mode}"
    study = shoal.Study(name, to.SPACE, direction="maximize", storage=sqlite_url_for(folder / "s.db"), seed=0,
                        rules=[ReduceOnPlateau("lr", patience=2)])
    for config in ENQUEUED:
        study.enqueue(config)
    wandb_dir = folder / "w"
    wandb_dir.mkdir()
    callbacks = [
        MLflowCallback(tracking_uri=mlflow_uri),  # experiment: the study's name
        WandbCallback(project="shoal-tests", wandb_kwargs={"dir": str(wandb_dir), "mode": "offline"}),
        TensorBoardCallback(folder / "tb"),
    ]
    options, cleanup = _run_options(mode)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            study.optimize(to.objective, n_trials=N_TRIALS, callbacks=callbacks, show_progress=False,
                           **options)
    finally:
        if cleanup is not None:
            for closing in cleanup:
                closing.close()
            cloudpickle.unregister_pickle_by_value(to)
    not_logged = [str(w.message) for w in caught if "was not logged" in str(w.message)]
    assert not not_logged, not_logged
    return {"mode": mode, "study": study, "trials": study.trials, "folder": folder, "wandb": wandb_dir,
            "tb": callbacks[2]}


def test_the_study_has_every_outcome(logged: dict[str, Any]) -> None:
    trials = logged["trials"]
    assert len(trials) == N_TRIALS
    states = {t.state for t in trials}
    assert {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED} <= states
    assert any(t.changes for t in trials), "the flat trial's lr was tweaked by the rule"
    assert any(t.proposed_by for t in trials), "sampled trials say why they were proposed"


def test_mlflow_one_run_per_trial_nested_under_the_study(logged: dict[str, Any], mlflow_uri: str) -> None:
    client = MlflowClient(tracking_uri=mlflow_uri)
    study, trials = logged["study"], logged["trials"]
    experiment = client.get_experiment_by_name(study.name)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("shoal.role") == "study"]
    children = [r for r in runs if r.data.tags.get("shoal.role") == "trial"]
    assert len(parents) == 1 and len(children) == N_TRIALS == len(runs) - 1
    parent = parents[0]
    assert parent.data.tags["shoal.study"] == study.name and parent.info.run_name == study.name
    assert parent.data.tags["shoal.sampler"] == study.sampler.describe()
    by_number = {int(r.data.tags["shoal.trial"]): r for r in children}
    assert sorted(by_number) == [t.number for t in trials]
    for trial in trials:
        run = by_number[trial.number]
        tags = run.data.tags
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.run_name == f"trial-{trial.number}"
        assert run.data.params == {k: str(v) for k, v in trial.config.items()}
        history = client.get_metric_history(run.info.run_id, "report")
        assert sorted((m.step, m.value) for m in history) == sorted(trial.reports)
        if trial.value is None:
            assert "value" not in run.data.metrics
        else:
            assert run.data.metrics["value"] == pytest.approx(trial.value)
        assert tags["shoal.state"] == trial.state.value
        assert run.info.status == MLFLOW_STATUS[trial.state.value]
        assert tags.get("shoal.proposed_by") == trial.proposed_by
        assert float(tags["shoal.duration"]) == pytest.approx(trial.duration, abs=1e-5)
        assert run.info.start_time == int(trial.started_at.timestamp() * 1000)
        assert run.info.end_time == int(trial.finished_at.timestamp() * 1000)
        if trial.state == TrialState.FAILED:
            assert tags["shoal.failure"] == "objective"
            assert "fails on purpose" in tags["shoal.error"]
        if trial.changes:
            schedule = json.loads(tags["shoal.schedule"])
            assert schedule == [[step, config] for step, config in trial.schedule]
            assert len(schedule) > 1 and schedule[1][1]["lr"] < trial.config["lr"]
        else:
            assert "shoal.schedule" not in tags


def test_wandb_one_run_per_trial_grouped_by_the_study(logged: dict[str, Any]) -> None:
    study, trials = logged["study"], logged["trials"]
    runs = wandb_runs(logged["wandb"])
    assert len(runs) == N_TRIALS
    assert {r["group"] for r in runs} == {study.name}
    assert {r["project"] for r in runs} == {"shoal-tests"}
    by_number = {r["summary"]["trial"]: r for r in runs}
    assert sorted(by_number) == [t.number for t in trials]
    for trial in trials:
        run = by_number[trial.number]
        assert run["name"] == f"trial-{trial.number}" and run["job_type"] == "trial"
        assert run["config"] == trial.config
        history = [(row["_step"], row["report"]) for row in run["history"] if "report" in row]
        assert history == sorted(trial.reports)
        summary = run["summary"]
        assert summary["state"] == trial.state.value and run["tags"] == [trial.state.value]
        assert summary.get("value") == (None if trial.value is None else pytest.approx(trial.value))
        assert summary.get("proposed_by") == trial.proposed_by
        assert summary["duration"] == pytest.approx(trial.duration, abs=1e-5)
        assert run["exit_code"] == (1 if trial.state == TrialState.FAILED else 0)
        if trial.changes:
            assert summary["schedule"] == [[step, config] for step, config in trial.schedule]
        else:
            assert "schedule" not in summary


def test_tensorboard_hparams_and_reports_per_trial(logged: dict[str, Any]) -> None:
    study, trials, callback = logged["study"], logged["trials"], logged["tb"]
    folders = sorted((callback.log_dir / study.name).iterdir())
    assert len(folders) == N_TRIALS
    statuses = {"COMPLETE": "STATUS_SUCCESS", "PRUNED": "STATUS_SUCCESS", "FAILED": "STATUS_FAILURE"}
    for trial in trials:
        run = tensorboard_run(callback.run_dir(study.name, trial.number))
        assert run["hparams"] == {**trial.config, "shoal.state": trial.state.value}
        assert run["status"] == statuses[trial.state.value]
        assert run["scalars"]["report"] == [(s, pytest.approx(v, rel=1e-6)) for s, v in sorted(trial.reports)]
        if trial.value is None:
            assert "value" not in run["scalars"]
        else:
            last = trial.reports[-1][0] if trial.reports else 0
            assert run["scalars"]["value"] == [(last, pytest.approx(trial.value, rel=1e-6))]
        assert ("schedule" in run["text"]) == bool(trial.changes)


# -- more than one objective, a resumed study, failures ---------------------------------------------


def test_several_objectives_are_logged_by_name(tmp_path: Path, mlflow_uri: str, offline_wandb: Path) -> None:
    study = shoal.Study("track-multi", to.SPACE, objectives={"accuracy": "maximize", "latency": "minimize"},
                        constraints=["memory <= 100"], seed=1)
    callbacks = [MLflowCallback(mlflow_uri, experiment_name="track-multi-exp", metric_name="first"),
                 WandbCallback(project="shoal-tests", metric_name="first",
                               wandb_kwargs={"dir": str(tmp_path)}),
                 TensorBoardCallback(tmp_path / "tb", metric_name="first")]
    study.optimize(to.two_objectives, n_trials=2, callbacks=callbacks, show_progress=False)
    trials = study.trials
    client = MlflowClient(tracking_uri=mlflow_uri)
    experiment = client.get_experiment_by_name("track-multi-exp")
    runs = {int(r.data.tags["shoal.trial"]): r for r in client.search_runs(
        [experiment.experiment_id], filter_string="tags.`shoal.role` = 'trial'")}
    wb = {r["summary"]["trial"]: r["summary"] for r in wandb_runs(tmp_path)}
    for trial in trials:
        expected = {"first": trial.values["accuracy"], **trial.values}
        assert set(trial.values) == {"accuracy", "latency", "memory"}
        metrics = runs[trial.number].data.metrics
        assert {k: metrics[k] for k in expected} == pytest.approx(expected)
        assert runs[trial.number].data.tags["shoal.feasible"] == str(trial.feasible)
        assert {k: wb[trial.number][k] for k in expected} == pytest.approx(expected)
        assert wb[trial.number]["feasible"] is trial.feasible
        scalars = tensorboard_run(callbacks[2].run_dir(study.name, trial.number))["scalars"]
        assert {k: scalars[k][-1][1] for k in expected} == pytest.approx(expected, rel=1e-6)


def test_a_resumed_study_finds_its_mlflow_run_again(tmp_path: Path, mlflow_uri: str) -> None:
    url = sqlite_url_for(tmp_path / "s.db")
    study = shoal.Study("track-resume", to.SPACE, direction="maximize", storage=url, seed=2)
    study.enqueue({"lr": 0.05, "mode": "ok", "units": 8})
    study.optimize(to.objective, n_trials=1, callbacks=[MLflowCallback(mlflow_uri)], show_progress=False)
    again = shoal.Study.load("track-resume", url)  # a new driver: a new callback finds the study's run
    again.enqueue({"lr": 0.06, "mode": "ok", "units": 8})
    again.optimize(to.objective, n_trials=1, callbacks=[MLflowCallback(mlflow_uri)], show_progress=False)
    client = MlflowClient(tracking_uri=mlflow_uri)
    experiment = client.get_experiment_by_name("track-resume")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r.info.run_id for r in runs if r.data.tags["shoal.role"] == "study"]
    children = [r for r in runs if r.data.tags["shoal.role"] == "trial"]
    assert len(parents) == 1
    assert sorted(r.data.params["lr"] for r in children) == ["0.05", "0.06"]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == set(parents)


def test_ask_and_tell_call_the_callback_themselves(tmp_path: Path) -> None:
    study = shoal.Study("track-ask", to.SPACE, direction="maximize", seed=6)
    callback = TensorBoardCallback(tmp_path)
    trial = study.ask()
    trial.report(0.25, 3)
    callback(study, study.tell(trial, 0.5))
    run = tensorboard_run(callback.run_dir("track-ask", trial.number))
    assert run["scalars"] == {"report": [(3, 0.25)], "value": [(3, 0.5)]}
    assert run["hparams"] == pytest.approx({**trial.config, "shoal.state": "COMPLETE"})


def test_a_deleted_mlflow_experiment_stops_the_study_at_its_first_trial(mlflow_uri: str) -> None:
    client = MlflowClient(tracking_uri=mlflow_uri)
    client.delete_experiment(client.create_experiment("track-deleted"))
    study = shoal.Study("track-setup", to.SPACE, direction="maximize", seed=4)
    study.enqueue({"lr": 0.05, "mode": "ok", "units": 8})
    callback = MLflowCallback(mlflow_uri, experiment_name="track-deleted")
    with pytest.raises(ValueError, match="MLflow experiment 'track-deleted' is deleted; restore it"):
        study.optimize(to.objective, n_trials=3, callbacks=[callback], show_progress=False)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]  # the trial is kept all the same


def test_a_logging_failure_warns_and_the_study_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    study = shoal.Study("track-warn", to.SPACE, direction="maximize", seed=3)
    expected = r"TensorBoardCallback: trial \d+ of study 'track-warn' was not logged to TensorBoard"
    with pytest.warns(RuntimeWarning, match=expected) as caught:
        study.optimize(to.objective, n_trials=2, callbacks=[TensorBoardCallback(blocker / "tb")],
                       show_progress=False)
    assert len(study.trials) == 2 and all(t.state.finished for t in study.trials)
    assert len([w for w in caught if "was not logged" in str(w.message)]) == 2  # one per trial


def test_a_trial_mlflow_refuses_warns_and_its_run_is_not_left_running(mlflow_uri: str) -> None:
    study = shoal.Study("track-bad-name", {"lr!": shoal.Float(0.1, 1.0)}, direction="maximize", seed=5)
    expected = r"MLflowCallback: trial 0 of study 'track-bad-name' was not logged to MLflow: .*lr!"
    with pytest.warns(RuntimeWarning, match=expected):
        study.optimize(lambda config: config["lr!"], n_trials=1, callbacks=[MLflowCallback(mlflow_uri)],
                       show_progress=False)
    client = MlflowClient(tracking_uri=mlflow_uri)
    experiment = client.get_experiment_by_name("track-bad-name")
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.`shoal.role` = 'trial'")
    assert [r.info.status for r in runs] == ["FAILED"]


@pytest.mark.parametrize("make, match", [
    (lambda: MLflowCallback(metric_name=""), "metric_name must be a non-empty string"),
    (lambda: MLflowCallback(metric_name="report"), "metric_name and report_name are both 'report'"),
    (lambda: MLflowCallback(tracking_uri=""), "tracking_uri must be an MLflow tracking URI"),
    (lambda: MLflowCallback(experiment_name=3), "experiment_name must be a non-empty string"),
    (lambda: WandbCallback(wandb_kwargs={"group": "g"}), r"wandb_kwargs sets \['group'\]"),
    (lambda: WandbCallback(project=""), "project must be a non-empty string"),
    (lambda: TensorBoardCallback(None), "log_dir must be a folder path"),
    (lambda: TensorBoardCallback("runs", report_name=" "), "report_name must be a non-empty string"),
])
def test_bad_options_are_refused(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("module, blocked, extra", [
    ("shoal.mlflow", "mlflow", "mlflow"),
    ("shoal.wandb", "wandb", "wandb"),
    ("shoal.tensorboard", "tensorboard", "tensorboard"),
])
def test_a_missing_package_names_the_extra(module: str, blocked: str, extra: str) -> None:
    code = (f"import sys\nsys.modules[{blocked!r}] = None\n"
            f"try:\n    import {module}\nexcept ImportError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stderr
    assert f"pip install 'shoal[{extra}]'" in done.stdout and module in done.stdout
