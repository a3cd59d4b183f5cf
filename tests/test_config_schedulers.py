"""YAML run configs with ``scheduler:``, ``checkpoints:`` and ``sampler: bohb``, down to the stored trials."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
import yaml
from conftest import sqlite_url_for

import shoal
from shoal.cli import main
from shoal.config import SCHEDULER_NAMES, ConfigError, RunConfig, build_sampler, build_scheduler
from shoal.schedulers import ASHA, PBT, Hyperband, MedianStopping
from shoal.trial import TrialState

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPACE = {"lr": {"type": "float", "low": 1.0e-4, "high": 1, "scale": "log"}}


def write_config(tmp_path: Path, **changes) -> Path:
    data = {
        "study": "s",
        "objective": "toy_training:learning_curve",
        "space": SPACE,
        "n_trials": 3,
        "storage": sqlite_url_for(tmp_path / "shoal.db"),
        **changes,
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in data.items() if v is not None}, sort_keys=False))
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- building ------------------------------------------------------------------------------------
def test_each_scheduler_name_builds_its_class_with_the_options() -> None:
    assert list(SCHEDULER_NAMES) == ["median", "asha", "hyperband", "pbt"]
    assert build_scheduler(None) is None
    assert type(build_scheduler("asha")) is ASHA

    median = build_scheduler({"name": "median", "n_startup": 2, "n_warmup": 1, "min_others": 3})
    assert type(median) is MedianStopping
    assert (median.n_startup, median.n_warmup, median.min_others) == (2, 1, 3)

    asha = build_scheduler({"name": "asha", "min_resource": 2, "reduction_factor": 4, "mode": "promote"})
    assert type(asha) is ASHA
    assert (asha.min_resource, asha.reduction_factor, asha.max_resource, asha.pauses) == (2, 4, None, True)

    hyperband = build_scheduler({"name": "hyperband", "min_resource": 1, "max_resource": 27, "n_brackets": 2})
    assert type(hyperband) is Hyperband
    assert (hyperband.max_resource, hyperband.n_brackets) == (27, 2)

    pbt = build_scheduler({"name": "pbt", "population": 5, "interval": 2, "factors": [0.5, 2], "synch": True})
    assert type(pbt) is PBT
    assert (pbt.population, pbt.interval, pbt.factors, pbt.synch) == (5, 2, (0.5, 2.0), True)


def test_bohb_is_a_sampler_name() -> None:
    bohb = build_sampler({"name": "bohb", "n_startup": 3, "random_fraction": 0.5, "seed": 1})
    assert type(bohb) is shoal.samplers.BOHB and bohb.seed == 1
    assert type(build_sampler("bohb")) is shoal.samplers.BOHB
    assert bohb.n_startup == 3
    with pytest.raises(ConfigError, match="sampler 'bohb': BOHB: n_startup must be an int >= 2"):
        build_sampler({"name": "bohb", "n_startup": 1})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "bohb", "min_points": 3}, "sampler 'bohb': BOHB: min_points was renamed; pass n_startup="),
        ({"name": "gp", "n_initial": 3}, "sampler 'gp': GP: n_initial was renamed; pass n_startup="),
    ],
)
def test_a_renamed_sampler_option_names_the_new_one(spec, message) -> None:
    with pytest.raises(ConfigError, match=message):
        build_sampler(spec)


def test_trials_before_the_model_is_n_startup_everywhere() -> None:
    """One name for one idea: the samplers and schedulers that wait for trials before modelling."""
    for spec in ("tpe", "gp", "bohb"):
        assert "n_startup" in inspect.signature(type(build_sampler(spec))).parameters
    assert "n_startup" in inspect.signature(type(build_scheduler("median"))).parameters


def test_the_study_gets_the_scheduler_and_the_checkpoint_store(tmp_path: Path) -> None:
    path = write_config(tmp_path, sampler="bohb", checkpoints=str(tmp_path / "ck"),
                        scheduler={"name": "hyperband", "min_resource": 1, "max_resource": 9})
    config = RunConfig.from_yaml(path)
    assert config.scheduler == {"name": "hyperband", "min_resource": 1, "max_resource": 9}
    assert RunConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()
    study = config.build_study()
    assert type(study.scheduler) is Hyperband and study.scheduler.max_resource == 9
    assert type(study.sampler) is shoal.samplers.BOHB
    assert study._checkpoints.root == str(tmp_path / "ck")


def test_a_relative_checkpoint_folder_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "configs").mkdir()
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path / "configs", scheduler="pbt", checkpoints="ck")
    study = RunConfig.from_yaml(path).build_study()
    assert study._checkpoints.root == str(tmp_path / "ck")  # like a relative SQLite path


def test_pbt_on_a_sqlite_file_may_use_the_default_store_next_to_it(tmp_path: Path) -> None:
    study = RunConfig.from_yaml(write_config(tmp_path, scheduler="pbt")).build_study()
    assert study._checkpoints.root == str(tmp_path / "shoal.db-checkpoints")


# -- errors: one line, exit code 2, nothing created ------------------------------------------------
POSTGRES = "postgresql+psycopg://me@dbhost/tuning"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scheduler": "sha"}, "scheduler: unknown name 'sha'; use one of median, asha, hyperband, pbt"),
        ({"scheduler": {"min_resource": 1}}, "scheduler: a mapping needs a 'name' key, e.g. {name: asha"),
        ({"scheduler": ["asha"]}, "scheduler: expected a name or a mapping with 'name', got ['asha']"),
        ({"scheduler": {"name": "asha", "eta": 3}},
         "scheduler 'asha': unknown option 'eta'; valid options: min_resource, reduction_factor, "
         "max_resource, mode"),
        ({"scheduler": {"name": "median", "seed": 1}}, "scheduler 'median': unknown option 'seed'"),
        ({"scheduler": {"name": "asha", "reduction_factor": 1}},
         "scheduler 'asha': ASHA: reduction_factor must be an int >= 2, got 1"),
        ({"scheduler": {"name": "hyperband", "min_resource": 9, "max_resource": 3}},
         "scheduler 'hyperband': Hyperband: max_resource (3) must be >= min_resource (9)"),
        ({"scheduler": {"name": "pbt", "population": 1}},
         "scheduler 'pbt': PBT: population must be an int >= 2"),
        ({"sampler": {"name": "bohb", "gama": 1}}, "sampler 'bohb': unknown option 'gama'"),
        ({"checkpoints": 5}, "checkpoints: must be a folder path or a URL such as 's3://bucket/run', got 5"),
        ({"checkpoints": " "}, "checkpoints: must be a folder path or a URL"),
        ({"checkpoints": "nosuchfs://bucket/run"},
         "checkpoints: 'nosuchfs://bucket/run': Protocol not known"),
        ({"scheduler": "pbt", "storage": POSTGRES},
         "checkpoints: scheduler 'pbt' resumes trials from checkpoints, and with storage "
         f"'{POSTGRES}' the default store is a folder that other drivers or workers cannot reach; "
         "set checkpoints: to a folder every worker shares, or a URL such as 's3://bucket/run'"),
        ({"scheduler": {"name": "asha", "mode": "promote"}, "dask": "tcp://127.0.0.1:1"},
         "checkpoints: scheduler 'asha' resumes trials from checkpoints, and on a Dask cluster"),
    ],
)
def test_a_bad_scheduler_or_store_is_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict, message: str
) -> None:
    config = write_config(tmp_path, **changes)
    code, out, err = run_cli(capsys, "run", str(config), "--no-progress")
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"shoal: error: {config}: ")
    assert message in err
    assert not (tmp_path / "shoal.db").exists()


def test_schedulers_that_do_not_resume_need_no_store_anywhere(tmp_path: Path) -> None:
    for scheduler in ("median", "asha", "hyperband"):
        config = RunConfig.from_dict({"study": "s", "objective": "m:f", "space": SPACE, "n_trials": 1,
                                      "storage": POSTGRES, "scheduler": scheduler})
        assert config.checkpoints is None
    shared = RunConfig.from_dict({"study": "s", "objective": "m:f", "space": SPACE, "n_trials": 1,
                                  "storage": POSTGRES, "scheduler": "pbt", "checkpoints": "memory://run"})
    assert shared.checkpoints == "memory://run"


# -- the examples, end to end ----------------------------------------------------------------------
def test_example_asha_yaml_stops_trials_at_the_rungs(capsys, sqlite_url: str) -> None:
    code, out, err = run_cli(
        capsys, "run", str(EXAMPLES / "asha.yaml"), "--no-progress", "--storage", sqlite_url
    )
    assert code == 0, err
    assert "study 'asha-toy': ran 20 trials" in out
    study = shoal.Study.load("asha-toy", sqlite_url)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert pruned and complete and len(pruned) + len(complete) == 20
    for trial in pruned:  # stopped at a rung (epochs 1, 3, 9), keeping its last loss
        assert trial.reports[-1][0] in (1, 3, 9)
        assert trial.value == trial.reports[-1][1]
    assert all(t.reports[-1][0] == 27 for t in complete)
    rungs = study.storage.read_rungs(study.id)
    assert {r.rung for r in rungs} == {0, 1, 2} and {r.step for r in rungs} == {1, 3, 9}


def test_example_pbt_yaml_trains_members_in_segments_with_checkpoints(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.chdir(tmp_path)  # the example's checkpoints: folder is relative to the working directory
    code, out, err = run_cli(capsys, "run", str(EXAMPLES / "pbt.yaml"), "--storage", sqlite_url)
    assert code == 0, err
    assert "16/16" in err  # no n_trials: the bar counts the segments PBT runs (before: 16/40)
    study = shoal.Study.load("pbt-toy", sqlite_url)
    lineage = study.storage.read_lineage(study.id)
    # 4 members x 12 steps / 3 steps per segment, every member training every step (synch)
    assert len(lineage) == len(study.trials) == 16
    assert {(r.member, r.segment) for r in lineage} == {(m, s) for m in range(4) for s in range(4)}
    assert {r.step for r in lineage} == {0, 3, 6, 9}
    assert any(r.donor is not None for r in lineage)  # at least one exploit
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    saved = list((tmp_path / "pbt-checkpoints").rglob("*.pkl"))
    assert saved and not (EXAMPLES / "pbt-checkpoints").exists()

    code, out, err = run_cli(capsys, "lineage", "pbt-toy", "--storage", sqlite_url, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert len(shown["lineage"]) == 16 and shown["best"] == study.best.number


def test_the_cli_reference_lists_every_sampler_and_scheduler_with_real_options() -> None:
    """docs/cli.md's tables name each config name once, and every option they list is a keyword the
    class takes (so the reference cannot drift from the code)."""
    import inspect
    import re

    from shoal import samplers, schedulers
    from shoal.config import SAMPLER_NAMES

    text = (EXAMPLES.parent / "docs" / "cli.md").read_text()
    for names, module in ((SAMPLER_NAMES, samplers), (SCHEDULER_NAMES, schedulers)):
        for name, cls_name in names.items():
            rows = [line for line in text.splitlines() if line.startswith(f"| `{name}`")]
            assert len(rows) == 1, f"docs/cli.md: expected one table row for {name!r}, got {len(rows)}"
            cells = rows[0].split(" | ")
            assert f"`shoal.{module.__name__.split('.')[-1]}.{cls_name}`" in cells[1], rows[0]
            accepted = set(inspect.signature(getattr(module, cls_name)).parameters)
            listed = {option for option in re.findall(r"^`(\w+)`|, `(\w+)`", cells[2]) for option in option
                      if option}
            assert listed <= accepted, f"{name}: options {sorted(listed - accepted)} are not {cls_name}'s"
            assert listed, rows[0]
