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
from conftest import sqlite_url_for

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
        "storage": sqlite_url_for(tmp_path / "shoal.db"),
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
    return ["--storage", sqlite_url_for(tmp_path / "shoal.db")]


def test_run_then_inspect_with_every_command(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path)
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0, err
    assert "ran 12 trials (12 complete)" in out
    assert "best value" in out

    code, out, _ = run_cli(capsys, "studies", *storage_of(tmp_path))
    assert code == 0
    assert "demo" in out and "maximize" in out and "12 complete" in out and "Auto(seed=0)" in out

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
    assert "Auto(seed=0)" in shown and "12 (12 complete)" in shown
    assert "float [0.0001, 1] log" in shown and 'choice "1", 2' in shown
    assert f"best: trial {best['number']}" in shown and "top 3" in shown

    code, table, _ = run_cli(capsys, "trials", "demo", *storage_of(tmp_path))
    assert code == 0 and "COMPLETE" in table

    study = shoal.Study.load("demo", sqlite_url_for(tmp_path / "shoal.db"))
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
    other = sqlite_url_for(tmp_path / "other.db")
    args = ["run", str(config), "--no-progress", "--storage", other, "--seed", "3"]
    assert run_cli(capsys, *args, "--study", "a")[0] == 0
    assert run_cli(capsys, *args, "--study", "b")[0] == 0
    out = run_cli(capsys, "studies", "--storage", other)[1]
    assert "Auto(seed=3)" in out and "Auto(seed=0)" not in out
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
    monkeypatch.setenv("SHOAL_STORAGE", sqlite_url_for(env_db))
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


def test_studies_and_show_name_the_scheduler_and_the_sampler_it_implies(tmp_path: Path, capsys) -> None:
    from shoal.dashboard.data import summary_json
    from shoal.schedulers import ASHA, PBT

    url = sqlite_url_for(tmp_path / "shoal.db")
    space = {"lr": shoal.Float(1e-4, 1.0, scale="log")}
    shoal.Study("plain", space, storage=url, seed=0)
    shoal.Study("pbt", space, storage=url, seed=0)  # made first without a scheduler: Auto
    pbt = shoal.Study("pbt", space, storage=url, seed=0, scheduler=PBT(population=4, max_steps=12))
    shoal.Study("asha", space, storage=url, seed=0, scheduler=ASHA(1, max_resource=9))
    shoal.Study.load("pbt", url)  # reading it changes nothing
    records = {s.record.name: s.record for s in pbt.storage.list_studies()}
    assert records["pbt"].sampler == "Random(seed=0)"  # what PBT runs with, no longer "Auto"
    assert records["pbt"].scheduler == PBT(population=4, max_steps=12).describe()
    assert records["asha"].scheduler.startswith("ASHA(min_resource=1")
    assert records["plain"].scheduler is None
    code, out, err = run_cli(capsys, "studies", "--storage", url)
    assert code == 0, err
    header = next(line for line in out.splitlines() if "sampler" in line)
    assert header.index("sampler") < header.index("scheduler")
    row = {line.split()[1]: line for line in out.splitlines() if line.split()[1:2] in (["pbt"], ["plain"])}
    assert "Random(seed=0)" in row["pbt"] and "PBT(population=4" in row["pbt"] and "Auto" not in row["pbt"]
    assert "none" in row["plain"]
    code, out, err = run_cli(capsys, "show", "pbt", "--storage", url)
    assert code == 0 and "scheduler" in out and "PBT(population=4" in out
    assert summary_json(pbt.storage.list_studies()[1])["scheduler"] == records["pbt"].scheduler


def test_sampler_specs_build_the_named_classes() -> None:
    assert build_sampler(None) is None
    assert type(build_sampler("random")) is shoal.samplers.Random
    assert type(build_sampler({"name": "quasirandom", "seed": 1})) is shoal.samplers.QuasiRandom
    grid = build_sampler({"name": "grid", "resolution": 4, "shuffle": False})
    assert type(grid) is shoal.samplers.Grid
    zoom = build_sampler({"name": "coarse_to_fine", "rounds": 2, "base": {"name": "quasirandom"}})
    assert type(zoom) is shoal.samplers.CoarseToFine
    assert type(zoom.base) is shoal.samplers.QuasiRandom
    for name, cls in (("tpe", "TPE"), ("gp", "GP"), ("cmaes", "CMAES"), ("auto", "Auto")):
        assert type(build_sampler({"name": name, "seed": 2})) is getattr(shoal.samplers, cls)
    with pytest.raises(ConfigError, match="base sampler: unknown name 'annealing'"):
        build_sampler({"name": "coarse_to_fine", "base": "annealing"})
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
        ({"n_trials": None}, "set n_trials, total_trials or timeout"),
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

    code, _, err = run_cli(capsys, "studies", "--storage", sqlite_url_for(tmp_path / "absent.db"))
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
    assert "run the same command again to continue" in err and "Traceback" not in err
    study = shoal.Study.load("demo", sqlite_url_for(tmp_path / "shoal.db"))
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
    env["SHOAL_STORAGE"] = sqlite_url_for(tmp_path / "env.db")
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
    assert "run the same command again to continue" in err and "Traceback" not in err
    study = shoal.Study.load("demo", sqlite_url_for(tmp_path / "env.db"))
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


# -- running in parallel: n_workers, dask, total_trials and the fault options -------------------
#: Objectives for the parallel runs. Worker processes import them by name, so they live in a module
#: written once per session into a directory put on the import path (and on PYTHONPATH for
#: subprocesses); a marker directory comes through $SHOAL_TEST_DIR.
PARALLEL_OBJECTIVES = '''
import os
import time
from pathlib import Path


def _dir():
    return Path(os.environ["SHOAL_TEST_DIR"])


def pids(config, trial):
    """Step 0: the process running the call; step 1: its parent (the driver, for a local worker)."""
    trial.report(os.getpid(), 0)
    trial.report(os.getppid(), 1)
    return config["x"] ** 2


def fails_first_attempt(config):
    """Raise on the first attempt of each configuration (one marker per configuration)."""
    try:
        fd = os.open(_dir() / f"tried-{config['x']!r}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return config["x"] ** 2
    os.close(fd)
    raise ValueError("the first attempt fails")


def hangs_on_trial_0(config, trial):
    if trial.number == 0:
        time.sleep(120)
    return config["x"] ** 2


def meets_the_other_driver(config, trial):
    """Mark this driver (the worker's parent) as started, then wait (60 s at most) until two have."""
    trial.report(os.getppid(), 1)
    (_dir() / f"driver-{os.getppid()}").touch()
    deadline = time.monotonic() + 60
    while len(list(_dir().glob("driver-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    return config["x"] ** 2


def waits_for_signal(config, trial):
    (_dir() / f"started-{os.getpid()}").touch()
    time.sleep(120)
    return config["x"] ** 2
'''

X_SPACE = {"x": {"type": "float", "low": -1, "high": 1}}


@pytest.fixture(scope="session")
def objectives_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli_parallel")
    (directory / "cli_parallel_objectives.py").write_text(PARALLEL_OBJECTIVES)
    return directory


@pytest.fixture
def parallel(objectives_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Objectives importable as ``cli_parallel_objectives:<name>``; returns their marker directory."""
    monkeypatch.syspath_prepend(str(objectives_dir))
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv("SHOAL_TEST_DIR", str(markers))
    return markers


def parallel_config(tmp_path: Path, objective: str, **changes) -> Path:
    changes.setdefault("n_trials", 6)
    return write_config(
        tmp_path, objective=f"cli_parallel_objectives:{objective}", direction="minimize",
        space=X_SPACE, **changes,
    )


def load_trials(tmp_path: Path, study: str = "demo") -> list[shoal.Trial]:
    return shoal.Study.load(study, sqlite_url_for(tmp_path / "shoal.db")).trials


def reported(trial: shoal.Trial, step: int) -> int:
    return int(dict(trial.reports)[step])


def test_yaml_n_workers_runs_trials_in_worker_processes(tmp_path: Path, capsys, parallel) -> None:
    config = parallel_config(tmp_path, "pids", n_workers=2)
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0, err
    assert "ran 6 trials (6 complete)" in out
    trials = load_trials(tmp_path)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    workers = {reported(t, 0) for t in trials}
    assert os.getpid() not in workers  # not in this (the driver's) process...
    assert {reported(t, 1) for t in trials} == {os.getpid()}  # ...but in its child processes
    assert len(workers) == 2  # two slots filled at once, each by its own process


def test_command_line_workers_and_recycling_override_the_config(tmp_path: Path, capsys, parallel) -> None:
    config = parallel_config(tmp_path, "pids", n_workers=1, dask="tcp://127.0.0.1:1")
    code, _, err = run_cli(
        capsys, "run", str(config), "--no-progress", "--n-workers", "2", "--max-trials-per-worker", "1",
    )
    assert code == 0, err  # --n-workers replaced the config's dask: no scheduler was contacted
    trials = load_trials(tmp_path)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert len({reported(t, 0) for t in trials}) == 6  # a fresh process for every trial
    assert {reported(t, 1) for t in trials} == {os.getpid()}


def test_retries_rerun_failed_trials(tmp_path: Path, capsys, parallel) -> None:
    config = parallel_config(tmp_path, "fails_first_attempt", n_trials=3, retries=1)
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress", "--n-workers", "2")
    assert code == 0, err
    assert "ran 3 trials (3 complete); 6 in total" in out  # the failed attempts stay stored
    trials = load_trials(tmp_path)
    failed = [t for t in trials if t.state == TrialState.FAILED]
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(failed) == len(done) == 3
    assert all("ValueError: the first attempt fails" in (t.error or "") for t in failed)
    by_number = {t.number: t for t in trials}
    assert sorted(t.requeued_from for t in done) == sorted(t.number for t in failed)
    assert all(by_number[t.requeued_from].config == t.config for t in done)

    for marker in parallel.glob("tried-*"):  # both studies start at the space's centre
        marker.unlink()
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress", "--retries", "0",
                             "--study", "no_retries")
    assert code == 0, err
    assert "ran 3 trials (3 failed)" in out  # the command line's 0 beats the config's 1


def test_timeout_per_trial_fails_the_slow_trial_and_goes_on(tmp_path: Path, capsys, parallel) -> None:
    config = parallel_config(tmp_path, "hangs_on_trial_0", n_trials=3)
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress", "--timeout-per-trial", "1")
    assert code == 0, err
    assert "ran 3 trials (2 complete, 1 failed)" in out
    trials = load_trials(tmp_path)
    assert [t.state for t in trials] == [TrialState.FAILED, TrialState.COMPLETE, TrialState.COMPLETE]
    assert "timed out after 1s (timeout_per_trial)" in (trials[0].error or "")


def _shoal_env(objectives_dir: Path, markers: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(objectives_dir), env.get("PYTHONPATH", "")])
    env["SHOAL_TEST_DIR"] = str(markers)
    return env


def test_total_trials_is_shared_by_two_drivers(tmp_path: Path, objectives_dir: Path, parallel) -> None:
    total, n_workers, drivers = 10, 2, 2
    config = parallel_config(tmp_path, "meets_the_other_driver", n_trials=None)
    argv = [SHOAL, "run", config, "--total-trials", str(total), "--n-workers", str(n_workers),
            "--no-progress"]
    env = _shoal_env(objectives_dir, parallel)
    procs = [
        subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for _ in range(drivers)
    ]
    outputs = []
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=240))
        finally:
            if proc.poll() is None:
                proc.kill()
    assert [p.returncode for p in procs] == [0, 0], outputs

    trials = load_trials(tmp_path)
    assert all(t.state == TrialState.COMPLETE for t in trials)
    configurations = [t for t in trials if t.requeued_from is None]
    # the rule of Study._ask_within: no driver asks once the study holds `total` configurations;
    # each driver's slots may each have started one more in the race
    assert total <= len(configurations) <= total + n_workers * drivers
    ran = [int(out.split("ran ")[1].split(" trial")[0]) for out, _ in outputs]
    assert sum(ran) == len(trials)
    assert {reported(t, 1) for t in trials} == {p.pid for p in procs}  # both drivers ran trials

    again = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"ran 0 trials (none); {len(trials)} in total" in again.stdout  # the budget is spent


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_workers": 0}, "n_workers: must be a positive integer, got 0"),
        ({"n_workers": "two"}, "n_workers: must be a positive integer, got 'two'"),
        ({"total_trials": 0}, "total_trials: must be a positive integer"),
        ({"max_trials_per_worker": -1}, "max_trials_per_worker: must be a positive integer"),
        ({"timeout_per_trial": 0}, "timeout_per_trial: must be a number of seconds > 0"),
        ({"timeout_per_trial": "soon"}, "timeout_per_trial: must be a number of seconds > 0, got 'soon'"),
        ({"retries": -1}, "retries: must be an integer >= 0"),
        ({"retries": True}, "retries: must be an integer >= 0"),
        ({"dask": "scheduler"}, "dask: must be a Dask scheduler address such as 'tcp://"),
        ({"dask": 8786}, "dask: must be a Dask scheduler address"),
        ({"dask": "10.0.0.5:8786"}, "dask: must be a Dask scheduler address such as 'tcp://10.0.0.5:8786'"),
        ({"dask": "tcp://h:8786", "n_workers": 2}, "n_workers: with dask the cluster's workers run"),
        ({"dask": "tcp://h:8786", "max_trials_per_worker": 5},
         "max_trials_per_worker: recycles local worker processes and does not apply to a Dask"),
    ],
)
def test_bad_parallel_config_is_one_line_and_exit_2(tmp_path: Path, capsys, changes, message) -> None:
    config = write_config(tmp_path, **changes)
    code, _, err = run_cli(capsys, "run", str(config), "--no-progress")
    _one_line_error(code, err)
    assert message in err and str(config) in err
    assert not (tmp_path / "shoal.db").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--n-workers", "0"], "argument --n-workers: expected a positive integer, got '0'"),
        (["--total-trials", "many"], "argument --total-trials: expected a positive integer"),
        (["--max-trials-per-worker", "0"], "argument --max-trials-per-worker: expected a positive"),
        (["--timeout-per-trial", "0"], "argument --timeout-per-trial: expected a number of seconds > 0"),
        (["--timeout-per-trial", "nan"], "argument --timeout-per-trial: expected a number of seconds"),
        (["--retries", "-1"], "argument --retries: expected an integer >= 0, got '-1'"),
        (["--dask", "nowhere"], "argument --dask: expected a Dask scheduler address"),
        (["--n-workers", "2", "--dask", "tcp://h:1"], "--dask: not allowed with argument --n-workers"),
    ],
)
def test_bad_parallel_flags_are_one_line_and_exit_2(tmp_path: Path, capsys, flags, message) -> None:
    code, _, err = run_cli(capsys, "run", str(write_config(tmp_path)), *flags)
    _one_line_error(code, err)
    assert message in err
    assert not (tmp_path / "shoal.db").exists()


def test_total_trials_alone_ends_a_run(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, n_trials=None, total_trials=5)
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 0, err
    assert "ran 5 trials (5 complete); 5 in total" in out
    code, out, _ = run_cli(capsys, "run", str(config), "--no-progress", "--total-trials", "7")
    assert code == 0 and "ran 2 trials (2 complete); 7 in total" in out
    code, out, _ = run_cli(capsys, "run", str(config), "--no-progress", "--n-trials", "1")
    assert code == 0 and "ran 0 trials (none); 7 in total" in out  # 1 more, but the study holds 5


def test_parallel_keys_round_trip_and_reach_optimize(tmp_path: Path) -> None:
    config = RunConfig.from_yaml(write_config(
        tmp_path, n_trials=None, n_workers=3, total_trials=40, timeout_per_trial="3e2",
        max_trials_per_worker=10, retries=2,
    ))
    assert (config.n_workers, config.total_trials, config.timeout_per_trial) == (3, 40, 300.0)
    assert RunConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()
    options = config.optimize_options()
    assert options["n_workers"] == 3 and options["total_trials"] == 40 and options["retries"] == 2
    assert options["timeout_per_trial"] == 300.0 and options["max_trials_per_worker"] == 10
    assert "executor" not in options
    on_dask = RunConfig.from_dict({**config.to_dict(), "n_workers": None, "max_trials_per_worker": None,
                                   "dask": "tcp://10.0.0.5:8786"})
    assert on_dask.optimize_options()["executor"] == "tcp://10.0.0.5:8786"
    assert "n_workers" not in on_dask.optimize_options()


def test_unreachable_dask_scheduler_is_one_line_and_creates_nothing(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr("shoal.cli.runs.DASK_CONNECT_SECONDS", 1.0)
    code, _, err = run_cli(capsys, "run", str(write_config(tmp_path)), "--dask", f"tcp://127.0.0.1:{port}")
    _one_line_error(code, err)
    assert f"dask: cannot reach the Dask scheduler at 'tcp://127.0.0.1:{port}'" in err
    assert not (tmp_path / "shoal.db").exists()


def test_dask_address_runs_the_trials_on_the_cluster(tmp_path: Path, capsys, parallel) -> None:
    import distributed  # the dev extra has it

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
        config = parallel_config(tmp_path, "pids")
        address = cluster.scheduler_address
        code, out, err = run_cli(capsys, "run", str(config), "--no-progress", "--dask", address)
        assert code == 0, err
    assert "ran 6 trials (6 complete)" in out
    trials = load_trials(tmp_path)
    assert {reported(t, 0) for t in trials} <= worker_pids  # every call ran in a Dask worker


def test_dask_workers_without_the_objectives_module_stop_the_run_in_one_line(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    import distributed

    monkeypatch.setattr(sys, "path", list(sys.path))  # the run puts the config's folder on it
    # the workers start before the module exists, from another folder: they cannot import it
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        (tmp_path / "driver_side_objectives.py").write_text("def score(config):\n    return config['x']\n")
        config = write_config(tmp_path, objective="driver_side_objectives:score", direction="minimize",
                              space=X_SPACE, n_trials=8)
        try:
            code, _, err = run_cli(capsys, "run", str(config), "--no-progress", "--dask",
                                   cluster.scheduler_address)
        finally:
            sys.modules.pop("driver_side_objectives", None)
    _one_line_error(code, err)
    assert "study 'demo': stopped: trials 0 and 1 all failed with ModuleNotFoundError: No module named " \
           "'driver_side_objectives' on dask worker tcp://" in err
    assert "install 'driver_side_objectives' on every Dask worker" in err
    trials = load_trials(tmp_path)
    assert [t.state.value for t in trials] == ["FAILED", "FAILED"]


def test_console_script_ctrl_c_with_workers_stops_them_and_resumes(
    tmp_path: Path, objectives_dir: Path, parallel
) -> None:
    config = parallel_config(tmp_path, "waits_for_signal", n_trials=4, n_workers=2)
    env = _shoal_env(objectives_dir, parallel)
    proc = subprocess.Popen([SHOAL, "run", config, "--no-progress"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        for _ in range(600):  # wait (up to a minute) for both workers to be in a trial
            if len(list(parallel.glob("started-*"))) == 2 or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert len(list(parallel.glob("started-*"))) == 2, proc.communicate()[1]
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "run the same command again to continue" in err and "Traceback" not in err
    states = sorted(t.state.value for t in load_trials(tmp_path))
    assert states == ["QUEUED", "QUEUED", "STALE", "STALE"]
    for marker in parallel.glob("started-*"):  # no worker outlives its driver
        with pytest.raises(ProcessLookupError):
            os.kill(int(marker.name.split("-")[1]), 0)
