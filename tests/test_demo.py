"""The `make demo` script, run end to end on a tiny budget against a temporary SQLite file: five
strategies side by side, then the default on 2 worker processes with ASHA."""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import math
import re
import sys
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import pytest
from conftest import sqlite_url_for

pytest.importorskip("sklearn")

from rich.console import Console  # noqa: E402

import shoal  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
N_TRIALS = 4
INT_DIMS = ("hidden_units", "n_layers", "batch_size")
FLOAT_DIMS = ("learning_rate", "momentum", "lr_decay", "beta1", "beta2", "epsilon", "l2")
SGD_ONLY = ("momentum", "lr_decay")
ADAM_ONLY = ("beta1", "beta2", "epsilon")


def _load_demo() -> ModuleType:
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(EXAMPLES))  # demo.py imports its objective, digits_mlp, by name
        spec = importlib.util.spec_from_file_location("shoal_example_demo", EXAMPLES / "demo.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    return _load_demo()


@pytest.fixture(scope="module")
def first_run(demo: ModuleType, tmp_path_factory: pytest.TempPathFactory):
    url = sqlite_url_for(tmp_path_factory.mktemp("demo") / "demo.db")
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(EXAMPLES))  # as `python examples/demo.py` has it: workers import digits_mlp
        result = demo.run_demo(url, n_trials=N_TRIALS, seed=0, console=console)
    return url, result, out.getvalue()


def _stored(url: str, name: str) -> list[shoal.Trial]:
    return shoal.Study.load(name, url).trials


def test_five_studies_with_the_budget(demo: ModuleType, first_run) -> None:
    url, result, _ = first_run
    outcomes = result.outcomes
    names = {s.record.name for s in shoal.storage.get_storage(url).list_studies()}
    expected = {"demo-grid", "demo-random", "demo-sobol", "demo-coarse-to-fine", "demo-auto",
                "demo-parallel-asha"}
    assert expected == names
    assert [o.strategy.study_name for o in outcomes] == [s.study_name for s in demo.STRATEGIES]
    for outcome in outcomes:
        trials = _stored(url, outcome.strategy.study_name)
        assert len(trials) == N_TRIALS == outcome.n_trials
        assert all(t.state == shoal.TrialState.COMPLETE for t in trials)


def test_accuracies_and_best_config_come_from_the_stored_trials(first_run) -> None:
    url, result, _ = first_run
    outcomes = result.outcomes
    for outcome in outcomes:
        trials = _stored(url, outcome.strategy.study_name)
        values = [t.value for t in trials]
        assert all(0.0 < v <= 1.0 for v in values)
        assert outcome.best_value == max(values)
        best = next(t for t in trials if t.number == outcome.best_number)
        assert best.value == outcome.best_value
        assert best.config == outcome.best_config


def test_configs_keep_their_types_and_conditions(first_run) -> None:
    url, result, _ = first_run
    outcomes = result.outcomes
    for outcome in outcomes:
        for trial in _stored(url, outcome.strategy.study_name):
            config = trial.config
            assert config["solver"] in ("adam", "sgd")
            for name in INT_DIMS:
                assert type(config[name]) is int, (name, config[name])
            assert config["batch_size"] in (32, 64, 128, 256)
            assert 1 <= config["n_layers"] <= 3 and 16 <= config["hidden_units"] <= 256
            for name in FLOAT_DIMS:
                if name in config:
                    assert type(config[name]) is float, (name, config[name])
            assert 1e-4 <= config["learning_rate"] <= 1e-1
            active = SGD_ONLY if config["solver"] == "sgd" else ADAM_ONLY
            inactive = ADAM_ONLY if config["solver"] == "sgd" else SGD_ONLY
            assert all(name in config for name in active)
            assert not any(name in config for name in inactive)


def test_distinct_counts_match_the_stored_trials(demo: ModuleType, first_run) -> None:
    url, result, _ = first_run
    outcomes = result.outcomes
    for outcome in outcomes:
        trials = _stored(url, outcome.strategy.study_name)
        for name in demo.SPACE:
            used = [t.config[name] for t in trials if name in t.config]
            assert outcome.distinct[name] == (len(set(used)), len(used)), name
    by_key = {o.strategy.key: o for o in outcomes}
    # The grid tries 2 values of every range (a choice keeps all its values), whatever the budget.
    for name, dim in demo.SPACE.items():
        if not isinstance(dim, shoal.Choice):
            assert by_key["grid"].distinct[name][0] <= 2, name
    # Random search tries a new learning rate and a new L2 penalty every trial.
    assert by_key["random"].distinct["learning_rate"] == (N_TRIALS, N_TRIALS)
    assert by_key["random"].distinct["l2"] == (N_TRIALS, N_TRIALS)


def test_printed_table_shows_the_counts_and_how_to_inspect(demo: ModuleType, first_run) -> None:
    url, result, text = first_run
    outcomes = result.outcomes
    for name in demo.SPACE:
        row = next(line for line in text.splitlines() if "│" in line and re.match(rf"\W*{name}\b", line))
        expected = [f"{n}/{total}" if total else "-" for n, total in (o.distinct[name] for o in outcomes)]
        assert re.findall(r"\d+/\d+|(?<=\s)-(?=\s)", row) == expected, row
    accuracy_row = next(line for line in text.splitlines() if "best accuracy" in line)
    assert re.findall(r"\d\.\d{4}", accuracy_row) == [f"{o.best_value:.4f}" for o in outcomes]
    for command in ("studies", "show demo-random", "trials demo-random --csv"):
        assert f"{command} --storage {url}" in text
    winner = max(outcomes, key=lambda o: o.best_value)
    assert f"found by {winner.strategy.study_name} (trial {winner.best_number})" in text


def test_the_default_is_the_fifth_column(demo: ModuleType, first_run) -> None:
    url, result, text = first_run
    assert [o.strategy.key for o in result.outcomes][-1] == "auto"
    assert isinstance(demo.STRATEGIES[-1].make_sampler(), shoal.samplers.Auto)
    chosen = [t.proposed_by for t in _stored(url, "demo-auto")]
    assert all(p is not None and p.startswith("gp:") for p in chosen), chosen  # a GP at this budget
    assert "The default (Auto) chose gp: budget 4 (< 300 trials), 11 dimensions" in " ".join(text.split())


def test_second_act_runs_the_default_with_asha_on_two_workers(demo: ModuleType, first_run) -> None:
    url, result, _ = first_run
    trials = _stored(url, demo.PARALLEL_STUDY)
    parallel = result.parallel
    assert len(trials) == N_TRIALS == parallel.n_trials and parallel.n_workers == 2
    assert all(t.proposed_by is not None and t.proposed_by.startswith("gp:") for t in trials)
    complete = [t for t in trials if t.state == shoal.TrialState.COMPLETE]
    stopped = [t for t in trials if t.state == shoal.TrialState.PRUNED]
    assert len(complete) + len(stopped) == N_TRIALS
    assert complete  # the first trial to reach a rung always goes on, so one trains to the end
    for trial in complete:
        assert [step for step, _ in trial.reports] == list(range(1, demo.EPOCHS + 1))
        assert trial.value == trial.reports[-1][1]
    for trial in stopped:  # stopped at a rung (1, 3 or 9 epochs), keeping the last accuracy
        assert trial.reports[-1][0] in (1, 3, 9) and trial.value == trial.reports[-1][1]
    assert parallel.n_stopped == len(stopped)
    assert parallel.epochs == sum(t.reports[-1][0] for t in trials)
    assert parallel.best_value == max(t.value for t in complete)
    # Two at a time: some two trials ran over the same stretch of time.
    assert any(a.started_at < b.finished_at and b.started_at < a.finished_at
               for a, b in itertools.combinations(trials, 2))


def test_reporting_each_epoch_trains_as_the_plain_objective_does(first_run) -> None:
    url, result, _ = first_run
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(EXAMPLES))
        from digits_mlp import objective
    trained = next(t for t in _stored(url, "demo-parallel-asha") if t.state == shoal.TrialState.COMPLETE)
    assert objective(trained.config) == trained.value  # so the two acts' accuracies compare


def test_second_act_table_sets_the_runs_side_by_side(demo: ModuleType, first_run) -> None:
    url, result, text = first_run
    sequential, parallel = result.sequential, result.parallel
    auto = next(o for o in result.outcomes if o.strategy.key == "auto")
    assert (sequential.n_trials, sequential.wall_s, sequential.best_value) == (
        auto.n_trials, auto.wall_s, auto.best_value)
    assert sequential.epochs == N_TRIALS * demo.EPOCHS and sequential.n_workers == 1
    second = text[text.index("Second act"):]

    def row(label: str) -> list[str]:
        line = next(line for line in second.splitlines() if line.startswith(f"│ {label} "))
        return [cell.strip() for cell in line.split("│")[2:-1]]

    assert row("processes") == ["1", "2"]
    assert row("early stopping") == ["-", "ASHA"]
    assert row("stopped early") == ["-", str(parallel.n_stopped)]
    assert row("epochs trained") == [str(N_TRIALS * demo.EPOCHS), str(parallel.epochs)]
    for run, name in ((sequential, "demo-auto"), (parallel, demo.PARALLEL_STUDY)):
        assert run.trials_per_minute == pytest.approx(60 * run.n_trials / run.wall_s)
        assert (run.first_result_s, run.running_per_minute) == demo.pace(_stored(url, name))
    runs = (sequential, parallel)
    assert row("first result after") == [f"{r.first_result_s:.1f} s" for r in runs]
    assert row("trials per minute") == [f"{r.trials_per_minute:.0f}" for r in runs]
    assert row("  after the first") == [f"{r.running_per_minute:.0f}" for r in runs]
    assert row("best accuracy") == [f"{r.best_value:.4f}" for r in runs]
    speed = parallel.trials_per_minute / sequential.trials_per_minute
    running = parallel.running_per_minute / sequential.running_per_minute
    assert (f"2 workers with ASHA: {speed:.1f}x the trials per minute, {running:.1f}x once the worker "
            f"processes had started") in " ".join(second.split())


def test_pace_counts_from_the_first_result(demo: ModuleType) -> None:
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)

    def trial(number: int, created: float, finished: float | None) -> shoal.Trial:
        return shoal.Trial(number, shoal.TrialState.COMPLETE if finished else shoal.TrialState.RUNNING, {},
                           created_at=start + timedelta(seconds=created),
                           finished_at=None if finished is None else start + timedelta(seconds=finished))

    # Created at 0 s; results at 6, 7, 8 and 10 s; one still running: 3 trials in the 4 s after the first.
    trials = [trial(0, 0, 6), trial(1, 0, 7), trial(2, 6, 8), trial(3, 7, 10), trial(4, 8, None)]
    assert demo.pace(trials) == (6.0, 45.0)
    assert demo.pace([trial(0, 0, 2)])[0] == 2.0  # one result: no pace after it
    assert all(math.isnan(v) for v in demo.pace([trial(0, 0, None)]))


def test_space_maps_to_the_right_estimator_arguments() -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(EXAMPLES))
        from digits_mlp import build_model
    common = {"learning_rate": 0.01, "hidden_units": 32, "n_layers": 2, "batch_size": 64, "l2": 1e-4}
    sgd = build_model({**common, "solver": "sgd", "momentum": 0.95, "lr_decay": 0.25}).get_params()
    assert sgd["solver"] == "sgd" and sgd["momentum"] == 0.95
    assert sgd["learning_rate"] == "invscaling" and sgd["power_t"] == 0.25
    assert sgd["hidden_layer_sizes"] == (32, 32) and sgd["batch_size"] == 64
    assert sgd["learning_rate_init"] == 0.01 and sgd["alpha"] == 1e-4 and sgd["early_stopping"] is False
    adam = build_model(
        {**common, "solver": "adam", "beta1": 0.85, "beta2": 0.995, "epsilon": 1e-9}
    ).get_params()
    assert adam["solver"] == "adam"
    assert (adam["beta_1"], adam["beta_2"], adam["epsilon"]) == (0.85, 0.995, 1e-9)


def test_command_line_flags(demo: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOAL_STORAGE", raising=False)
    args = demo.parse_args([])
    assert (args.storage, args.n_trials, args.seed, args.n_workers) == ("sqlite:///shoal.db", 32, 0, 2)
    args = demo.parse_args(
        ["--storage", "sqlite:///x.db", "--n-trials", "7", "--seed", "3", "--n-workers", "4"]
    )
    assert (args.storage, args.n_trials, args.seed, args.n_workers) == ("sqlite:///x.db", 7, 3, 4)
    for bad in (["--n-trials", "0"], ["--n-workers", "0"]):
        with pytest.raises(SystemExit):
            demo.parse_args(bad)
    monkeypatch.setenv("SHOAL_STORAGE", "sqlite:///elsewhere.db")  # where the shoal command looks
    assert demo.parse_args([]).storage == "sqlite:///elsewhere.db"


def test_the_demo_ends_with_the_importance_ranking(demo: ModuleType, first_run) -> None:
    from shoal.analysis.importance import importance_of

    url, result, text = first_run
    outcomes = result.outcomes
    tail = text[text.index("Hyperparameter importance over the"):]
    rows = re.findall(r"^\s+(\d+)\. (\S+)\s+(\d+\.\d)%", tail, re.M)
    trials = [t for o in outcomes for t in _stored(url, o.strategy.study_name)]
    expected = importance_of(shoal.Space(demo.SPACE), trials)
    assert [name for _, name, _ in rows] == expected.ranking  # every tunable hyperparameter, ranked
    assert [float(share) for _, _, share in rows] == [round(100 * expected[n], 1) for n in expected.ranking]
    assert text.rstrip().splitlines()[-1] == tail.rstrip().splitlines()[-1]  # it is the last thing printed


# Last: it runs the demo again into the shared storage, so the trials stored by the first run change.
def test_rerun_replaces_the_studies_and_repeats_them(demo: ModuleType, first_run) -> None:
    url, result, _ = first_run
    outcomes = result.outcomes
    names = [o.strategy.study_name for o in outcomes]
    before = {name: [t.config for t in _stored(url, name)] for name in names}
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(EXAMPLES))
        demo.run_demo(url, n_trials=N_TRIALS, seed=0, console=Console(file=io.StringIO()))
    for name, configs in before.items():
        after = _stored(url, name)
        assert len(after) == N_TRIALS  # replaced, not continued
        assert [t.config for t in after] == configs  # same seed, same trials
    assert len(_stored(url, demo.PARALLEL_STUDY)) == N_TRIALS


def test_the_closing_text_opens_the_compare_page(demo: ModuleType, first_run, capsys) -> None:
    from shoal.cli import main
    from shoal.dashboard import Dashboard

    url, _, text = first_run
    names = [s.study_name for s in demo.STRATEGIES]
    assert f"then open http://127.0.0.1:8080/#/compare/{','.join(names)}" in text
    assert f"dashboard --storage {url}" in text and f"compare {' '.join(names)} --storage {url}" in text
    with Dashboard(url, port=0) as dashboard:  # the page that URL opens answers
        with urllib.request.urlopen(dashboard.url + "api/compare/" + "/".join(names), timeout=60) as answer:
            got = json.loads(answer.read())
    assert [s["name"] for s in got["studies"]] == names
    assert main(["compare", *names, "--storage", url]) == 0
    assert "best after" in capsys.readouterr().out
