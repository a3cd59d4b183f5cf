"""The ``shoal`` command line and the YAML run config, end to end on real SQLite files."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import shoal
from shoal.cli import main
from shoal.config import ConfigError, RunConfig, build_sampler
from shoal.trial import TrialState

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SHOAL = ROOT / ".venv" / "bin" / "shoal"

SPACE = {
    "lr": {"type": "float", "low": "1e-4", "high": 1, "scale": "log"},  # "1e-4": how YAML reads it
    "units": {"type": "int", "low": 32, "high": 256, "step": 32},
    "opt": {"type": "choice", "values": ["adam", "sgd"]},
    "beta1": {"type": "float", "low": 0.8, "high": 0.99, "when": {"opt": ["adam"]}},
    "tag": {"type": "choice", "values": ["1", 2]},
}


def write_config(tmp_path: Path, name: str = "run.yaml", **changes) -> Path:
    data = {
        "study": "demo",
        "objective": "cli_objectives:score",
        "direction": "maximize",
        "space": SPACE,
        "n_trials": 12,
        "seed": 0,
        "storage": f"sqlite:///{tmp_path / 'shoal.db'}",
    }
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def storage_of(tmp_path: Path) -> list[str]:
    return ["--storage", f"sqlite:///{tmp_path / 'shoal.db'}"]


def test_run_then_inspect_with_every_command(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path)
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0, err
    assert "ran 12 trials (12 complete)" in out
    assert "best value" in out

    code, out, _ = run_cli(capsys, "studies", *storage_of(tmp_path))
    assert code == 0
    assert "demo" in out and "maximize" in out and "12 complete" in out and "Random(seed=0)" in out

    code, out, _ = run_cli(capsys, "trials", "demo", "--csv", *storage_of(tmp_path))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 12
    assert list(rows[0]) == ["number", "state", "value", *SPACE, "duration", "error"]
    assert [int(r["number"]) for r in rows] == list(range(12))
    assert all(r["state"] == "COMPLETE" and r["error"] == "" for r in rows)
    assert all(r["units"].isdigit() and int(r["units"]) % 32 == 0 for r in rows)  # "64", never "64.0"
    assert all(1e-4 <= float(r["lr"]) <= 1 for r in rows)
    assert all((r["beta1"] == "") == (r["opt"] == "sgd") for r in rows)  # inactive: empty cell
    assert all(float(r["duration"]) >= 0 for r in rows)

    code, out, _ = run_cli(capsys, "trials", "demo", "--json", *storage_of(tmp_path))
    assert code == 0
    listed = json.loads(out)
    assert [t["number"] for t in listed] == list(range(12))
    assert all(type(t["config"]["units"]) is int for t in listed)
    assert {type(t["config"]["tag"]) for t in listed} == {str, int}  # "1" stays a string, 2 an int
    assert all(t["config"]["tag"] in ("1", 2) for t in listed)

    code, out, _ = run_cli(capsys, "best", "demo", "--json", *storage_of(tmp_path))
    assert code == 0
    best = json.loads(out)
    assert set(best) == {"number", "value", "config"}

    code, shown, _ = run_cli(capsys, "show", "demo", "--top", "3", *storage_of(tmp_path))
    assert code == 0
    assert "Random(seed=0)" in shown and "12 (12 complete)" in shown
    assert "float [0.0001, 1] log" in shown and 'choice "1", 2' in shown
    assert f"best: trial {best['number']}" in shown and "top 3" in shown

    code, table, _ = run_cli(capsys, "trials", "demo", *storage_of(tmp_path))
    assert code == 0 and "COMPLETE" in table

    study = shoal.Study.load("demo", f"sqlite:///{tmp_path / 'shoal.db'}")
    assert best == {"number": study.best.number, "value": study.best.value, "config": study.best.config}
    assert [t["config"] for t in listed] == [t.config for t in study.trials]


def test_running_the_same_config_again_continues_the_study(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, n_trials=5)
    assert run_cli(capsys, "run", str(config), "--no-progress")[0] == 0
    code, out, _ = run_cli(capsys, "run", str(config), "--no-progress", "--n-trials", "3")
    assert code == 0
    assert "ran 3 trials (3 complete); 8 in total" in out
    code, out, _ = run_cli(capsys, "trials", "demo", "--json", *storage_of(tmp_path))
    assert [t["number"] for t in json.loads(out)] == list(range(8))
    assert "8 complete" in run_cli(capsys, "studies", *storage_of(tmp_path))[1]


def test_command_line_overrides_study_seed_and_storage(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, n_trials=4)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    args = ["run", str(config), "--no-progress", "--storage", other, "--seed", "3"]
    assert run_cli(capsys, *args, "--study", "a")[0] == 0
    assert run_cli(capsys, *args, "--study", "b")[0] == 0
    out = run_cli(capsys, "studies", "--storage", other)[1]
    assert "Random(seed=3)" in out and "Random(seed=0)" not in out
    assert not (tmp_path / "shoal.db").exists()
    configs = [
        [t["config"] for t in json.loads(run_cli(capsys, "trials", s, "--json", "--storage", other)[1])]
        for s in ("a", "b")
    ]
    assert len(configs[0]) == len(configs[1]) == 4
    assert configs[0] != configs[1]  # the seed is mixed with the study name


def test_storage_defaults_to_env_var_then_shoal_db_in_cwd(tmp_path: Path, capsys, monkeypatch) -> None:
    config = write_config(tmp_path, storage=None, n_trials=2)
    env_db = tmp_path / "from_env.db"
    monkeypatch.setenv("SHOAL_STORAGE", f"sqlite:///{env_db}")
    assert run_cli(capsys, "run", str(config), "--no-progress")[0] == 0
    assert env_db.exists()
    assert "demo" in run_cli(capsys, "studies")[1]

    monkeypatch.delenv("SHOAL_STORAGE")
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    assert run_cli(capsys, "run", str(config), "--no-progress")[0] == 0
    assert (workdir / "shoal.db").exists()


def test_objective_is_imported_from_the_config_directory(tmp_path: Path, capsys, monkeypatch) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "cli_local_objective.py").write_text(
        "def objective(config):\n    return config['x'] ** 2\n"
    )
    path = write_config(
        configs,
        objective="cli_local_objective:objective",
        direction="minimize",
        space={"x": {"type": "float", "low": -1, "high": 1}},
        n_trials=4,
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "run", str(path), "--no-progress")
    assert code == 0, err
    assert "ran 4 trials" in out


def test_custom_dimension_map_is_imported_from_the_config_directory(tmp_path: Path, capsys) -> None:
    (tmp_path / "cli_custom_map.py").write_text("def decay(u):\n    return 10 ** (-3 * u) / 10\n")
    space = {**SPACE, "decay": {"type": "custom", "fn": "cli_custom_map:decay"}}
    config = write_config(tmp_path, space=space, n_trials=5)
    code, _, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0, err
    listed = json.loads(run_cli(capsys, "trials", "demo", "--json", *storage_of(tmp_path))[1])
    assert len(listed) == 5 and all(1e-4 <= t["config"]["decay"] <= 0.1 for t in listed)
    assert "custom cli_custom_map:decay" in run_cli(capsys, "show", "demo", *storage_of(tmp_path))[1]


def test_grid_sampler_from_yaml_runs_every_point_once(tmp_path: Path, capsys) -> None:
    space = {
        "opt": {"type": "choice", "values": ["adam", "sgd"]},
        "units": {"type": "int", "low": 1, "high": 3},
        "lr": {"type": "fixed", "value": 0.01},
    }
    config = write_config(
        tmp_path, space=space, objective="cli_objectives:score",
        sampler={"name": "grid", "resolution": 3}, n_trials=50,
    )
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0, err
    assert "ran 6 trials" in out  # the grid is exhausted long before n_trials
    listed = json.loads(run_cli(capsys, "trials", "demo", "--json", *storage_of(tmp_path))[1])
    points = {(t["config"]["opt"], t["config"]["units"]) for t in listed}
    assert points == {(o, u) for o in ("adam", "sgd") for u in (1, 2, 3)}
    assert "Grid" in run_cli(capsys, "studies", *storage_of(tmp_path))[1]


def test_sampler_specs_build_the_named_classes() -> None:
    assert build_sampler(None) is None
    assert type(build_sampler("random")) is shoal.samplers.Random
    assert type(build_sampler({"name": "quasirandom", "seed": 1})) is shoal.samplers.QuasiRandom
    grid = build_sampler({"name": "grid", "resolution": 4, "shuffle": False})
    assert type(grid) is shoal.samplers.Grid
    zoom = build_sampler({"name": "coarse_to_fine", "rounds": 2, "base": {"name": "quasirandom"}})
    assert type(zoom) is shoal.samplers.CoarseToFine
    assert type(zoom.base) is shoal.samplers.QuasiRandom
    with pytest.raises(ConfigError, match="base sampler: unknown name 'tpe'"):
        build_sampler({"name": "coarse_to_fine", "base": "tpe"})
    with pytest.raises(ConfigError, match="sampler 'grid': unknown option 'resolutoin'; valid options"):
        build_sampler({"name": "grid", "resolutoin": 4})


def test_run_config_python_api(tmp_path: Path) -> None:
    config = RunConfig.from_yaml(write_config(tmp_path, n_trials=3))
    assert config.space["units"] == SPACE["units"] and config.n_trials == 3
    study = config.run(show_progress=False)
    assert len(study.trials) == 3 and study.direction == "maximize"
    again = RunConfig.from_dict(config.to_dict())
    assert again.to_dict() == config.to_dict()
    with pytest.raises(ConfigError, match="direction: must be minimize or maximize"):
        RunConfig.from_dict({**config.to_dict(), "direction": "up"})
    with pytest.raises(ConfigError, match="missing key 'objective'"):
        RunConfig.from_dict({"study": "s", "space": SPACE})
    assert RunConfig.from_dict({**config.to_dict(), "catch": ["ValueError"]}).catch_types() == (ValueError,)


def _one_line_error(code: int, err: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("shoal") and ": error: " in lines[0]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"space": {"lr": {"type": "float", "low": 0, "high": 1, "scale": "log"}}},
         "dimension 'lr': low must be > 0 for scale='log'"),
        ({"n_trial": 5}, "unknown key 'n_trial'; valid keys: study, objective"),
        ({"objective": "cli_no_such_module:f"}, "cannot import module 'cli_no_such_module'"),
        ({"objective": "cli_objectives:missing"}, "has no attribute 'missing'"),
        ({"objective": "cli_objectives:NOT_CALLABLE"}, "is a int, not a function"),
        ({"objective": "score"}, "objective: must be 'module:function'"),
        ({"sampler": "bayes"}, "sampler: unknown name 'bayes'; use one of random, grid"),
        ({"sampler": {"name": "random", "temperature": 2}}, "sampler 'random': unknown option 'temperature'"),
        ({"direction": "up"}, "direction: must be minimize or maximize"),
        ({"n_trials": 0}, "n_trials: must be a positive integer"),
        ({"n_trials": None}, "set n_trials or timeout"),
        ({"timeout": -1}, "timeout: must be a number of seconds > 0"),
        ({"storage": "shoal.db"}, "storage: must be a URL"),
        ({"catch": ["NoSuchError"]}, "catch: 'NoSuchError' is not an exception class"),
        ({"space": {"x": {"type": "float", "low": 0, "high": 1, "when": {"y": [1]}}}},
         "when names parent 'y', which is unknown"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, capsys, changes, message) -> None:
    config = write_config(tmp_path, **changes)
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    _one_line_error(code, err)
    assert message in err
    assert str(config) in err  # says which file
    assert not (tmp_path / "shoal.db").exists()  # nothing was created


def test_input_errors_are_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.yaml"
    code, _, err = run_cli(capsys, "run", str(missing))
    _one_line_error(code, err)
    assert "not found" in err

    broken = tmp_path / "broken.yaml"
    broken.write_text("study: demo\nspace: {lr: [1, 2\n")
    code, _, err = run_cli(capsys, "run", str(broken))
    _one_line_error(code, err)
    assert "not valid YAML at line" in err

    listed = tmp_path / "list.yaml"
    listed.write_text("- study\n")
    code, _, err = run_cli(capsys, "run", str(listed))
    _one_line_error(code, err)
    assert "top level must be a mapping" in err

    assert run_cli(capsys, "run", str(write_config(tmp_path, n_trials=2)), "--no-progress")[0] == 0
    for command in (["show", "nope"], ["trials", "nope", "--csv"], ["best", "nope"], ["delete", "nope"]):
        code, _, err = run_cli(capsys, *command, *storage_of(tmp_path))
        _one_line_error(code, err)
        assert "no study named 'nope'" in err and "'demo'" in err

    code, _, err = run_cli(capsys, "studies", "--storage", f"sqlite:///{tmp_path / 'absent.db'}")
    _one_line_error(code, err)
    assert "no shoal database at" in err and not (tmp_path / "absent.db").exists()

    db = storage_of(tmp_path)
    for argv, message in [
        (["trials", "demo", "--state", "DONE", *db], "unknown state 'DONE'"),
        (["trials", "demo", "--csv", "--json", *db], "not allowed with argument"),
        (["run", str(missing), "--n-trials", "0"], "expected a positive integer"),
        (["launch"], "invalid choice: 'launch'"),
        ([], "required: COMMAND"),
        (["delete", "demo", *db], "add --yes to delete it"),
    ]:
        code, _, err = run_cli(capsys, *argv)
        _one_line_error(code, err)
        assert message in err


def test_resume_with_a_changed_direction_or_narrowed_space_exits_2(tmp_path: Path, capsys) -> None:
    assert run_cli(capsys, "run", str(write_config(tmp_path, n_trials=3)), "--no-progress")[0] == 0
    code, _, err = run_cli(capsys, "run", str(write_config(tmp_path, direction="minimize")), "--no-progress")
    _one_line_error(code, err)
    assert "direction='maximize'" in err
    narrowed = {**SPACE, "lr": {"type": "float", "low": 0.5, "high": 1, "scale": "log"}}
    code, _, err = run_cli(capsys, "run", str(write_config(tmp_path, space=narrowed)), "--no-progress")
    _one_line_error(code, err)
    assert "dimension 'lr': stored trial value" in err


def test_failing_trials_are_recorded_and_caught_by_default(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, objective="cli_objectives:fail_on_sgd")
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0, err
    assert "failed" in out and "ValueError: sgd is not supported here" in out
    code, out, _ = run_cli(capsys, "trials", "demo", "--csv", "--state", "failed", *storage_of(tmp_path))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and all(r["opt"] == "sgd" and r["state"] == "FAILED" for r in rows)
    assert all(r["error"] == "ValueError: sgd is not supported here" and r["value"] == "" for r in rows)


def test_catch_list_decides_what_stops_the_run(tmp_path: Path, capsys) -> None:
    objective = "cli_objectives:divide_by_zero_on_sgd"
    config = write_config(tmp_path, objective=objective, catch=["ZeroDivisionError"])
    assert run_cli(capsys, "run", str(config), "--no-progress")[0] == 0

    config = write_config(tmp_path, objective=objective, catch=[], study="strict")
    code, _, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 1
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert "'catch' list does not cover" in err
    listed = json.loads(run_cli(capsys, "trials", "strict", "--json", *storage_of(tmp_path))[1])
    assert listed[-1]["state"] == "FAILED" and listed[-1]["config"]["opt"] == "sgd"
    assert all(t["state"] == "COMPLETE" for t in listed[:-1])


def test_ctrl_c_exits_130_and_the_same_command_resumes(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SHOAL_TEST_CALLS", str(tmp_path / "calls.txt"))
    config = write_config(tmp_path, objective="cli_objectives:interrupt_third_call", n_trials=5)
    code, _, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 130
    assert "run the same command again to resume" in err and "Traceback" not in err
    study = shoal.Study.load("demo", f"sqlite:///{tmp_path / 'shoal.db'}")
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.STALE, TrialState.QUEUED]

    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0, err
    listed = json.loads(run_cli(capsys, "trials", "demo", "--json", *storage_of(tmp_path))[1])
    assert sum(t["state"] == "COMPLETE" for t in listed) == 7
    assert listed[3]["config"] == listed[2]["config"]  # the interrupted config ran again


def test_delete_removes_the_study(tmp_path: Path, capsys) -> None:
    assert run_cli(capsys, "run", str(write_config(tmp_path, n_trials=2)), "--no-progress")[0] == 0
    code, out, _ = run_cli(capsys, "delete", "demo", "--yes", *storage_of(tmp_path))
    assert code == 0 and "deleted study 'demo' (2 trials)" in out
    assert "no studies" in run_cli(capsys, "studies", *storage_of(tmp_path))[1]


@pytest.mark.parametrize("command", [[], ["run"], ["studies"], ["show"], ["trials"], ["best"], ["delete"]])
def test_help_for_every_command(capsys, command: list[str]) -> None:
    code, out, _ = run_cli(capsys, *command, "--help")
    assert code == 0
    assert out.startswith(f"usage: shoal {command[0]}" if command else "usage: shoal")


def test_version(capsys) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"shoal {shoal.__version__}"


def test_example_quickstart_runs(tmp_path: Path, capsys) -> None:
    example = ROOT / "examples" / "quickstart.yaml"
    code, out, err = run_cli(
        capsys, "run", str(example), "--no-progress", "--n-trials", "6", *storage_of(tmp_path)
    )
    assert code == 0, err
    assert "study 'quickstart': ran 6 trials (6 complete)" in out


# -- the installed console script, in a real process ------------------------------------------
def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["SHOAL_STORAGE"] = f"sqlite:///{tmp_path / 'env.db'}"
    env.update(extra)
    return env


def test_console_script_exit_codes(tmp_path: Path) -> None:
    config = write_config(tmp_path, storage=None, n_trials=3)
    env = _env(tmp_path)
    done = subprocess.run([SHOAL, "run", config], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "ran 3 trials" in done.stdout and (tmp_path / "env.db").exists()
    bad = subprocess.run([SHOAL, "best", "nope"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("shoal: error: no study named 'nope'")
    assert "Traceback" not in bad.stderr
    strict = write_config(tmp_path, objective="cli_objectives:divide_by_zero_on_sgd", catch=[], study="s")
    crash = subprocess.run([SHOAL, "run", strict, "--no-progress"], env=env, cwd=tmp_path,
                           capture_output=True, text=True)
    assert crash.returncode == 1 and "ZeroDivisionError" in crash.stderr


def test_console_script_ctrl_c_exits_130(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    config = write_config(tmp_path, storage=None, objective="cli_objectives:wait_for_signal", n_trials=3)
    env = _env(tmp_path, SHOAL_TEST_MARKER=str(marker))
    proc = subprocess.Popen([SHOAL, "run", config, "--no-progress"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # wait (up to a minute) for the first trial to start
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "run the same command again to resume" in err and "Traceback" not in err
    study = shoal.Study.load("demo", f"sqlite:///{tmp_path / 'env.db'}")
    assert [t.state for t in study.trials] == [TrialState.STALE, TrialState.QUEUED]


def test_module_entry_point(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "shoal.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"shoal {shoal.__version__}"


def test_a_study_without_completed_trials(tmp_path: Path, capsys) -> None:
    space = {"lr": SPACE["lr"], "units": SPACE["units"], "opt": {"type": "choice", "values": ["sgd"]}}
    config = write_config(tmp_path, space=space, objective="cli_objectives:fail_on_sgd", n_trials=3)
    code, out, _ = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0 and "ran 3 trials (3 failed)" in out and "no completed trial yet" in out
    code, out, _ = run_cli(capsys, "show", "demo", *storage_of(tmp_path))
    assert code == 0 and "3 (3 failed)" in out and "no completed trial yet" in out
    code, _, err = run_cli(capsys, "best", "demo", *storage_of(tmp_path))
    _one_line_error(code, err)
    assert "study 'demo' has no completed trial yet" in err
    code, out, _ = run_cli(capsys, "trials", "demo", "--state", "complete", *storage_of(tmp_path))
    assert code == 0 and "has no trials in state COMPLETE" in out


def test_coarse_to_fine_with_a_nested_base_from_yaml(tmp_path: Path, capsys) -> None:
    sampler = {"name": "coarse_to_fine", "rounds": 2, "round_size": 4, "base": {"name": "quasirandom"}}
    config = write_config(tmp_path, sampler=sampler, n_trials=8)
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0, err
    assert "ran 8 trials (8 complete)" in out
    listed = json.loads(run_cli(capsys, "trials", "demo", "--json", *storage_of(tmp_path))[1])
    assert sorted({t["round"] for t in listed}) == [0, 1]
    studies = run_cli(capsys, "studies", *storage_of(tmp_path))[1]
    assert "CoarseToFine(rounds=2" in studies and "base=QuasiRandom" in studies
