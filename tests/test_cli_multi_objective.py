"""The command line and YAML run config with several objectives and constraints, on real SQLite files:
``run`` (objectives:, constraints:, report_metric:), ``show`` (the Pareto front and feasibility),
``trials`` (a column per returned value, in the table and --csv), ``best`` (--json: the front)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import multi_objectives as mo
import pytest
import yaml
from conftest import sqlite_url_for
from test_cli import _one_line_error, run_cli, storage_of

import shoal
from shoal.config import ConfigError, RunConfig

SPACE = {"x": {"type": "float", "low": 0, "high": 1}, "y": {"type": "float", "low": 0, "high": 1}}


def write_config(tmp_path: Path, name: str = "mo.yaml", **changes) -> Path:
    data = {
        "study": "mlp",
        "objective": "multi_objectives:tradeoff",
        "objectives": dict(mo.OBJECTIVES),
        "constraints": list(mo.CONSTRAINTS),
        "space": SPACE,
        "sampler": "random",
        "n_trials": 30,
        "seed": 0,
        "storage": sqlite_url_for(tmp_path / "shoal.db"),
    }
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_run_then_inspect_a_study_with_several_objectives(tmp_path: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "run", str(write_config(tmp_path)), "--no-progress")
    assert code == 0, err
    study = shoal.Study.load("mlp", sqlite_url_for(tmp_path / "shoal.db"))
    front = [t.number for t in study.pareto_front]
    assert front == mo.brute_front(study.trials, mo.OBJECTIVES) and front
    assert f"pareto front: {len(front)} trial" in out and "'shoal show mlp' prints them" in out

    code, out, _ = run_cli(capsys, "best", "mlp", "--json", *storage_of(tmp_path))
    assert code == 0
    found = json.loads(out)
    assert found["objectives"] == mo.OBJECTIVES and found["constraints"] == mo.CONSTRAINTS
    assert [t["number"] for t in found["pareto_front"]] == front
    by_number = {t.number: t for t in study.trials}
    for entry in found["pareto_front"]:
        trial = by_number[entry["number"]]
        assert (entry["values"], entry["feasible"], entry["config"]) == (trial.values, True, trial.config)

    code, out, _ = run_cli(capsys, "show", "mlp", *storage_of(tmp_path))
    assert code == 0
    assert "accuracy (maximize), latency_ms (minimize)" in out
    assert "memory_mb <= 512, latency_ms <= 20" in out
    done = [t for t in study.trials if t.state.value == "COMPLETE"]
    assert f"{sum(bool(t.feasible) for t in done)} of {len(done)} completed meet the constraints" in out
    assert f"pareto front: {len(front)} trials (accuracy max, latency_ms min" in out
    cells = [line.split("│") for line in out.splitlines() if line.startswith("│ ")]
    table_numbers = [int(row[1]) for row in cells if row[1].strip().isdigit()]
    assert table_numbers[-len(front):] == front  # the front table is printed last, a row per trial
    code, out, _ = run_cli(capsys, "best", "mlp", *storage_of(tmp_path))
    assert code == 0 and f"pareto front: {len(front)} trials" in out

    code, out, _ = run_cli(capsys, "trials", "mlp", "--csv", *storage_of(tmp_path))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["number", "state", "value", "values_accuracy", "values_latency_ms",
                             "values_memory_mb", "values_epochs", "feasible", "x", "y", "duration", "error"]
    for row, trial in zip(rows, study.trials, strict=True):
        assert row["feasible"] == ("" if trial.feasible is None else str(trial.feasible))
        for name in ("accuracy", "latency_ms", "memory_mb", "epochs"):
            cell = row[f"values_{name}"]
            assert (float(cell) if cell else None) == trial.values.get(name)
    code, out, _ = run_cli(capsys, "trials", "mlp", *storage_of(tmp_path))
    assert code == 0
    header = next(line for line in out.splitlines() if "state" in line and "value" in line)
    assert [c.strip() for c in header.split("┃")[1:-1]] == [
        "#", "state", "value", "accuracy", "latency_ms", "memory_mb", "epochs", "feasible", "x", "y",
        "duration", "error"]

    code, out, _ = run_cli(capsys, "studies", *storage_of(tmp_path))
    assert code == 0 and "accuracy (maximize), latency_ms (minimize)" in out


def test_one_objective_with_constraints_from_yaml(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, objective="multi_objectives:constrained", objectives=None,
                          direction="maximize", constraints=["memory_mb <= 300"])
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0, err
    study = shoal.Study.load("mlp", sqlite_url_for(tmp_path / "shoal.db"))
    best = study.best
    assert best is not None and best.feasible and best.values["memory_mb"] <= 300
    assert best.value == max(t.value for t in study.trials if t.feasible)
    assert f"best value {best.value:.6g} (trial {best.number})" in out
    code, out, _ = run_cli(capsys, "best", "mlp", "--json", *storage_of(tmp_path))
    assert json.loads(out) == {"number": best.number, "value": best.value, "config": best.config,
                               "values": best.values, "feasible": True}
    code, out, _ = run_cli(capsys, "show", "mlp", *storage_of(tmp_path))
    assert code == 0 and "memory_mb <= 300" in out and f"best: trial {best.number}" in out
    # a study none of whose trials meets the constraints yet
    none = write_config(tmp_path, name="none.yaml", study="none", objective="multi_objectives:constrained",
                        objectives=None, direction="maximize", constraints=["memory_mb <= -1"], n_trials=3)
    code, out, err = run_cli(capsys, "run", str(none), "--no-progress")
    assert code == 0 and "no completed trial meets the constraints yet" in out and "Warning" not in err
    code, _, err = run_cli(capsys, "best", "none", *storage_of(tmp_path))
    _one_line_error(code, err)
    assert "no completed trial meets the constraints (memory_mb <= -1) yet" in err


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"direction": "maximize"}, "direction: remove it; with objectives each objective names its own"),
        ({"objectives": ["accuracy", "latency_ms"]}, "objectives: must be a mapping of names to minimize"),
        ({"objectives": {}}, "objectives: objectives must be a non-empty mapping"),
        ({"objectives": {"accuracy": "up"}}, "objectives: objectives: 'accuracy' must be 'minimize' or"),
        ({"constraints": "memory_mb <= 512"}, "constraints: must be a list such as ['memory_mb <= 512'"),
        ({"constraints": ["memory_mb < 512"]}, "constraints: constraint 'memory_mb < 512' is not"),
        ({"constraints": ["memory_mb <= big"]}, "'big' is not a number"),
        ({"report_metric": "loss"}, "report_metric must name one of the objectives ('accuracy', 'latency"),
        ({"scheduler": {"name": "pbt", "population": 4}, "checkpoints": "ckpt"},
         "scheduler: scheduler PBT("),
    ],
)
def test_bad_objectives_in_a_config_are_one_line_and_exit_2(tmp_path: Path, capsys, changes, message) -> None:
    config = write_config(tmp_path, **changes)
    code, _, err = run_cli(capsys, "run", str(config), "--no-progress")
    _one_line_error(code, err)
    assert message in err and str(config) in err
    assert not (tmp_path / "shoal.db").exists()  # nothing was created


def test_resuming_with_other_objectives_exits_2_naming_the_stored_ones(tmp_path: Path, capsys) -> None:
    assert run_cli(capsys, "run", str(write_config(tmp_path, n_trials=2)), "--no-progress")[0] == 0
    changed = write_config(tmp_path, constraints=["memory_mb <= 256"])
    code, _, err = run_cli(capsys, "run", str(changed), "--no-progress")
    _one_line_error(code, err)
    assert "created with objectives={'accuracy': 'maximize', 'latency_ms': 'minimize'}" in err
    assert "constraints=['memory_mb <= 512', 'latency_ms <= 20']" in err


def test_run_config_keeps_objectives_constraints_and_report_metric(tmp_path: Path) -> None:
    config = RunConfig.from_yaml(write_config(tmp_path, report_metric="latency_ms"))
    assert (config.objectives, config.constraints, config.report_metric, config.direction) == (
        mo.OBJECTIVES, mo.CONSTRAINTS, "latency_ms", None)
    assert RunConfig.from_dict(config.to_dict()) == RunConfig.from_dict(config.to_dict())
    assert "direction" not in config.to_dict() and config.to_dict()["objectives"] == mo.OBJECTIVES
    study = config.build_study()
    assert study.objectives.names == ("accuracy", "latency_ms") and study.report_metric == "latency_ms"
    with pytest.raises(ConfigError, match="objectives: must be a mapping"):
        RunConfig.from_dict({**config.to_dict(), "objectives": "accuracy"})
