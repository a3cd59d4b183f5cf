"""The peers benchmark harness: scoring, task definitions, translations and a --quick run end to end."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from peers import bbob, cli, optimizers, scoring, synthetic, tasks  # noqa: E402

import shoal  # noqa: E402


def test_normalize_puts_random_median_at_0_and_best_at_100():
    values = np.array([10.0, 4.0, 1.0, 7.0, 12.0])
    scores = scoring.normalize(values, best=1.0, random_median=7.0)
    assert scores.tolist() == pytest.approx([-50.0, 50.0, 100.0, 0.0, -83.333333])


def test_normalize_when_random_median_is_already_the_best():
    scores = scoring.normalize(np.array([0.5, 0.6]), best=0.5, random_median=0.5)
    assert scores.tolist() == [100.0, 0.0]


def _runs(values: dict[str, list[list[float]]]) -> scoring.TaskRuns:
    task = scoring.TaskRuns("t", "synthetic")
    for name, per_seed in values.items():
        task.runs[name] = {seed: np.array(v) for seed, v in enumerate(per_seed)}
    return task


def test_scores_and_ranks_on_known_runs():
    task = _runs({
        "shoal-random": [[5.0, 4.0, 3.0], [5.0, 5.0, 5.0], [9.0, 4.0, 4.0]],  # best-so-far finals 3, 5, 4
        "a": [[2.0, 1.0, 1.5], [4.0, 4.0, 4.0], [3.0, 3.0, 3.0]],
        "b": [[6.0, 6.0, 3.0], [5.0, 5.0, 5.0], [4.0, 4.0, 4.0]],
    })
    best, median = scoring.anchors(task, "shoal-random")
    assert best == 1.0
    assert median.tolist() == [5.0, 4.0, 4.0]  # medians of the best-so-far curves after 1, 2, 3 trials
    final = scoring.final_scores(task, "shoal-random")
    # a: finals 1, 4, 3 -> 100, 0, 33.3; random: 3, 5, 4 -> 33.3, -33.3, 0; b: 3, 5, 4 -> same as random
    assert final["a"] == pytest.approx((100 + 0 + 100 / 3) / 3)
    assert final["shoal-random"] == pytest.approx(0.0)
    assert final["b"] == pytest.approx(final["shoal-random"])
    # score@1: the random median after 1 trial is 5; a's first values 2, 4, 3 -> 75, 25, 50
    assert scoring.scores_at(task, "shoal-random", 1)["a"] == pytest.approx(50.0)
    assert scoring.scores_at(task, "shoal-random", 20) == pytest.approx(final)  # past the budget: the final
    ranks = scoring.ranks(task, ["shoal-random", "a", "b"])
    # seed 0: a 1, random/b tie at 2.5; seed 1: a 1, tie 2.5; seed 2: a 1, tie 2.5
    assert ranks == {"a": 1.0, "shoal-random": 2.5, "b": 2.5}


def test_bbob_instances_have_their_optimum_at_xopt():
    for fid in bbob.FUNCTIONS:
        f = bbob.make_instance(fid, 5)
        assert f(f.xopt) == pytest.approx(0.0, abs=1e-9)
        assert f(f.xopt + 0.5) > 0
        assert np.all(np.abs(f.xopt) <= 4)
        steps = np.random.default_rng(fid).normal(scale=0.05, size=(20, 5))
        assert min(f(f.xopt + step) for step in steps) > 0  # a minimum, not a saddle
    again = bbob.make_instance(15, 5)
    assert np.array_equal(again.xopt, bbob.make_instance(15, 5).xopt)  # an instance is fixed by its numbers
    with pytest.raises(ValueError, match="fid"):
        bbob.make_instance(4, 5)


def test_synthetic_functions_reach_their_known_minima():
    assert synthetic.branin(np.array([np.pi, 2.275])) == pytest.approx(0.397887, abs=1e-6)
    assert synthetic.hartmann6(np.array([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])) == \
        pytest.approx(-3.32237, abs=1e-4)
    assert synthetic.ackley(synthetic.ackley_shift(5)) == pytest.approx(0.0, abs=1e-9)
    assert synthetic.levy(np.ones(5)) == pytest.approx(0.0, abs=1e-12)


def test_task_selection_and_a_clear_error():
    chosen = tasks.select("synthetic,bbob-f1-d2")
    assert "levy6-mixed" in chosen and chosen[-1] == "bbob-f1-d2"
    assert all(tasks.registry()[t].group == "synthetic" for t in chosen[:-1])
    with pytest.raises(ValueError, match="nope"):
        tasks.select("nope")


@pytest.mark.parametrize("name", ["optuna-tpe", "optuna-cmaes", "hyperopt-tpe", "skopt-gp", "shoal-tpe"])
def test_each_adapter_proposes_valid_configs_in_a_mixed_space(name):
    pytest.importorskip(name.split("-")[0] if not name.startswith("shoal") else "shoal")
    task = tasks.registry()["levy6-mixed"]
    space = shoal.Space(dict(task.space))
    adapter = optimizers.make(name, task.space, seed=3)
    seen_choices = set()
    for _ in range(11):  # 10 start-up trials, then one from the model
        handle, config = adapter.ask()
        space.validate(config)  # ints are ints, log values in range, choices among the values
        assert isinstance(config["n2"], int) and isinstance(config["n3"], int)
        seen_choices.add(config["c5"])
        adapter.tell(handle, task.objective(config))
    assert len(seen_choices) > 1


def test_quick_run_resumes_and_reports(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.run_main(["--quick", "--tasks", "branin", "--out", str(out)]) == 0
    files = sorted(out.glob("branin/*/seed*.json"))
    names = {f.parent.name for f in files}
    assert names == set(cli.QUICK["optimizers"].split(","))
    assert len(files) == 2 * len(names)
    for f in files:
        record = json.loads(f.read_text())
        assert "error" not in record
        assert len(record["values"]) == 12 and len(record["ask_s"]) == 12
    capsys.readouterr()
    assert cli.run_main(["--quick", "--tasks", "branin", "--out", str(out)]) == 0
    assert f"{len(files)} of {len(files)} jobs already" in capsys.readouterr().out

    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Other\n\nkept\n")
    assert cli.report_main(["--out", str(out), "--results", str(results)]) == 0
    text = results.read_text()
    assert "kept" in text and text.count("bench-peers:start") == 1
    early = text.split("(score@20;")[1].split("\n\n")[1]  # the score@20 table: a row per optimizer
    assert early.startswith("| optimizer | synthetic | all |") and "| shoal-tpe |" in early
    assert (out / "figures" / "curves-synthetic.png").stat().st_size > 1000
    loaded, failures = scoring.load(out)
    assert not failures
    final = scoring.final_scores(loaded["branin"], optimizers.BASELINE)
    assert final[optimizers.BASELINE] == pytest.approx(0.0)  # two seeds: the median is the mean
    best, random_median = scoring.anchors(loaded["branin"], optimizers.BASELINE)
    finals = [v.min() for runs in loaded["branin"].runs.values() for v in runs.values()]
    assert max(scoring.normalize(np.array(finals), best, random_median[-1])) == pytest.approx(100.0)
    assert cli.report_main(["--out", str(out), "--results", str(results)]) == 0  # replaces, not appends
    assert results.read_text().count("bench-peers:start") == 1


def test_plan_runs_whole_tasks_taking_groups_in_turn():
    from peers import harness

    jobs = harness.plan(["branin", "hartmann6", "bbob-f8-d2", "knn_digits"], ["shoal-random", "shoal-gp"],
                        range(2), 10)
    order = list(dict.fromkeys(j.task for j in jobs))
    assert [tasks.registry()[t].group for t in order[:3]] == ["synthetic", "bbob", "sklearn"]
    assert order[3] == "hartmann6"
    first = [j for j in jobs if j.task == order[0]]
    assert jobs[: len(first)] == first and len(first) == 4  # a task's jobs are together


def test_report_leaves_out_tasks_not_every_optimizer_finished():
    from peers import reporting

    done = _runs({"shoal-random": [[1.0], [2.0]], "a": [[1.0], [2.0]]})
    half = _runs({"shoal-random": [[1.0], [2.0]], "a": [[1.0]]})
    half.name = "half"
    failed = _runs({"shoal-random": [[1.0], [2.0]], "a": [[1.0]]})
    failed.name = "failed"
    kept, partial = reporting.complete_tasks(
        {"t": done, "half": half, "failed": failed},
        [{"task": "failed", "optimizer": "a", "seed": 1, "error": "ValueError: no choices"}])
    assert set(kept) == {"t", "failed"} and partial == ["half"]

    # Seeds count per task: a task every optimizer ran on fewer seeds (a group given fewer) is kept,
    # and one optimizer's missing seed there still leaves it out.
    few = _runs({"shoal-random": [[1.0]], "a": [[1.0]]})
    few.name = "few"
    lopsided = _runs({"shoal-random": [[1.0]], "a": [[1.0], [2.0]]})
    lopsided.name = "lopsided"
    kept, partial = reporting.complete_tasks({"t": done, "few": few, "lopsided": lopsided}, [])
    assert set(kept) == {"t", "few"} and partial == ["lopsided"]


def test_seed_sets_are_described_per_task():
    from peers import peer_results

    assert peer_results.describe_seeds({"a": [0, 1, 2], "b": [2, 1, 0]}) == "2 tasks, seeds 0-2 (3)"
    text = peer_results.describe_seeds({"a": range(10), "b": range(5), "c": range(5), "d": [0, 3]})
    assert text == ("4 tasks: seeds 0-9 (10) on a; seeds 0, 3 (2) on d; seeds 0-4 (5) on the other 2")


# -- peers in their own envs: committed results, merge and resume -----------------------------------
def _fake_peer(folder: Path, optimizer: str, seed: int, values: list[float], when: str) -> None:
    """A record as a peer's runner writes it, without running the peer (its env is heavy)."""
    path = folder / "branin" / optimizer / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "task": "branin", "optimizer": optimizer, "seed": seed, "budget": 12, "group": "synthetic",
        "pending": 1, "values": values, "ask_s": [0.5] * 12, "tell_s": [0.1] * 12, "objective_s": 0.0,
        "wall_s": 7.2, "finished_at": f"{when}T10:00:00+00:00", "versions": {"hebo:HEBO": "0.3.6"}}))


def test_missing_peer_env_names_the_command_and_leaves_no_record(tmp_path, monkeypatch):
    from peers import envs, harness

    monkeypatch.setenv("SHOAL_PEER_ENVS", str(tmp_path / "envs"))
    why = optimizers.unavailable("hebo")
    assert "python benchmarks/peers/envs.py hebo" in why
    record = harness.run_one(harness.Job("branin", "hebo", 0, 12), str(tmp_path / "out"))
    assert "envs.py hebo" in record["error"] and record["unsaved"]
    assert not (tmp_path / "out").exists()  # not "failed for good": the job runs once the env exists
    # An env whose requirements file changed since it was made is not used either.
    (tmp_path / "envs" / "smac" / "bin").mkdir(parents=True)
    (tmp_path / "envs" / "smac" / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "envs" / "smac" / ".requirements-sha").write_text("stale\n")
    assert "predates requirements/smac.txt" in envs.problem("smac")
    with pytest.raises(ValueError, match="peer group"):
        envs.problem("nope")


def test_committed_peer_results_are_reused_merged_and_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHOAL_PEER_ENVS", str(tmp_path / "envs"))  # no env: hebo cannot run here
    out, committed = tmp_path / "run", tmp_path / "committed"
    _fake_peer(committed, "hebo", 0, [9.0, 5.0] + [0.5] * 10, when="2026-01-02")
    argv = ["--quick", "--tasks", "branin", "--optimizers", "shoal-random,shoal-auto,hebo", "--out", str(out),
            "--reuse", str(committed)]
    assert cli.run_main(argv) == 0
    said = capsys.readouterr().out
    assert "skipping 1 hebo jobs" in said and "envs.py hebo" in said  # seed 1 is not committed
    assert "1 peer jobs in" in said and not (out / "branin" / "hebo").exists()

    results = tmp_path / "RESULTS.md"
    assert cli.report_main(["--out", str(out), "--results", str(results), "--reuse", str(committed)]) == 0
    text = results.read_text()
    assert "hebo: 1 runs reused from" in text and "seed 0), made 2026-01-02" in text
    assert "scored apart below: hebo" in text  # one seed of two: not in the ranked table
    assert "| hebo | synthetic | 1 |" in text and "| hebo | **" not in text
    paired = text.split("minus each peer's")[1].split("\n\n")[1].splitlines()  # scored on its one pair
    assert paired[0] == "| peer | synthetic | all |" and paired[2].startswith("| hebo | ")
    assert paired[2].endswith("(1) |") and len(paired) == 3

    _fake_peer(committed, "hebo", 1, [8.0] * 12, when="2026-01-05")  # the other seed lands
    capsys.readouterr()
    assert cli.run_main(argv) == 0
    assert "2 peer jobs in" in capsys.readouterr().out
    _fake_peer(out, "hebo", 0, [0.4] * 12, when="2026-02-01")  # a fresh run wins over the committed one
    assert cli.report_main(["--out", str(out), "--results", str(results), "--reuse", str(committed)]) == 0
    text = results.read_text()
    assert "hebo: 1 runs reused from" in text and "seed 1), made 2026-01-05" in text
    assert "scored apart" not in text
    assert "(2) |" in text.split("minus each peer's")[1].split("\n\n")[1]  # both seeds now
    rows = [line for line in text.splitlines() if line.startswith("| hebo |")]
    assert rows and "hebo:HEBO 0.3.6" in text  # ranked with the others now, its version noted
    # The merged records: the fresh seed 0, the committed seed 1.
    from peers import peer_results

    merged = {r["seed"]: r for r in peer_results.records(out, committed) if r["optimizer"] == "hebo"}
    assert merged[0]["values"][0] == 0.4 and "reused" not in merged[0] and merged[1]["reused"]
    # A committed seed the run did not cover (more seeds committed than run) stays out of the merge,
    # or the peer would be scored on more seeds than the others and move everyone's normalization.
    _fake_peer(committed, "hebo", 2, [0.1] * 12, when="2026-01-06")
    assert {r["seed"] for r in peer_results.records(out, committed) if r["optimizer"] == "hebo"} == {0, 1}
    assert cli.report_main(["--out", str(out), "--results", str(results), "--reuse", str(committed)]) == 0
    assert "hebo: 1 runs reused from" in results.read_text()
    assert cli.report_main(["--out", str(out), "--no-reuse"]) == 0
    assert "reused" not in (out / "REPORT.md").read_text()


def _write_runs(folder: Path, runs: dict[str, list[float]], seeds: range) -> None:
    """Records of 12 trials on branin: optimizer -> its values, the same on every seed."""
    for name, values in runs.items():
        for seed in seeds:
            path = folder / "branin" / name / f"seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({
                "task": "branin", "optimizer": name, "seed": seed, "budget": 12, "group": "synthetic",
                "pending": optimizers.pending(name), "values": values,
                "ask_s": [0.01] * 12, "tell_s": [0.0] * 12, "objective_s": 0.0, "wall_s": 0.1}))


def test_parallel_target_is_judged_on_the_extra_seeds_when_given(tmp_path):
    out, extra = tmp_path / "run", tmp_path / "parallel"
    _write_runs(out, {"shoal-random": [9.0] * 6 + [5.0] * 6, "shoal-gp": [9.0] * 6 + [1.0] * 6,
                      "shoal-gp-par4": [9.0] * 6 + [3.0] * 6}, range(2))
    assert cli.report_main(["--out", str(out), "--no-reuse"]) == 0
    text = (out / "REPORT.md").read_text()
    assert "| synthetic | 100.0 | 50.0 | 0.50 | +50.0 [+50.0, +50.0] (2) | no |" in text
    assert json.loads((out / "headline.json").read_text())["parallel_synthetic"] == 0.5
    # Over more seeds the parallel GP matches the sequential one: that judges, the table's runs stay shown.
    _write_runs(extra, {"shoal-random": [9.0] * 6 + [5.0] * 6, "shoal-gp": [9.0] * 6 + [1.0] * 6,
                        "shoal-gp-par4": [9.0] * 6 + [1.0] * 6, "shoal-tpe": [0.0] * 12}, range(4))
    assert cli.report_main(["--out", str(out), "--no-reuse", "--parallel", str(extra)]) == 0
    text = (out / "REPORT.md").read_text()
    assert "| synthetic | 100.0 | 50.0 | 0.50 | +50.0 [+50.0, +50.0] (2) |\n" in text  # no target column
    assert "The same over 1 task, seeds 0-3 (4)" in text and "judged on the seeds of the next table" in text
    # shoal-tpe's 0 in that folder is not the best: only random search and the two GPs are normalized
    assert "| synthetic | 100.0 | 100.0 | 1.00 | +0.0 [+0.0, +0.0] (4) | yes |" in text
    assert json.loads((out / "headline.json").read_text())["parallel_synthetic"] == 1.0
    # A folder without those runs (a typo, a run not made yet) is an error naming the command, not a skip.
    with pytest.raises(SystemExit) as exit_info:
        cli.report_main(["--out", str(out), "--no-reuse", "--parallel", str(tmp_path / "nothing")])
    assert exit_info.value.code == 2


def test_report_shows_the_env_peers_overhead_and_judges_ax_and_hebo(tmp_path):
    out = tmp_path / "run"
    argv = ["--quick", "--tasks", "branin", "--optimizers", "shoal-random", "--out", str(out)]
    assert cli.run_main(argv) == 0
    rows = [{"peer": "hebo", "shoal": "shoal-auto", "trials": 60, "repeats": 5, "peer_ms": 900.0,
             "shoal_ms": 300.0, "ratio": 3.0},
            {"peer": "smac", "shoal": "shoal-auto", "trials": 60, "repeats": 5, "peer_ms": 20.0,
             "shoal_ms": 300.0, "ratio": 20 / 300}]
    (out / "overhead-peers.json").write_text(json.dumps(rows))
    assert cli.report_main(["--out", str(out)]) == 0
    text = (out / "REPORT.md").read_text()
    assert "| shoal-auto / hebo | 60 | 300.00 | 900.00 | 3.00x | yes |" in text
    assert "| shoal-auto / smac | 60 | 300.00 | 20.00 | 0.07x |  |" in text  # no target against SMAC
    with pytest.raises(SystemExit) as exit_:
        cli.overhead_main(["--peers", "nope", "--out", str(out)])
    assert exit_.value.code == 2


def test_partial_peer_is_scored_on_the_pairs_it_has():
    from peers import peer_results

    task = _runs({
        "shoal-random": [[5.0, 3.0], [5.0, 5.0]],  # random median after 2 trials: 4
        "shoal-auto": [[4.0, 2.0], [5.0, 4.0]],
        "hebo": [[1.0, 1.0]],  # seed 0 only: the best anyone found
    })
    assert peer_results.split_partial({"t": task}, ["hebo", "ax"], []) == ["hebo"]
    [row] = peer_results.partial_rows({"t": task}, "shoal-random", "shoal-auto", ["hebo"])
    # seed 0: hebo 1 -> 100; shoal-auto 2 -> 100 * (4 - 2) / (4 - 1) = 66.7; hebo better on 1 of 1.
    # After 1 trial (early=1): random's median 5; hebo 1 -> 100, shoal-auto 4 -> 100 * (5 - 4) / (5 - 1)
    assert row == ["hebo", "synthetic", "1", "100.0", "66.7", "100.0", "66.7", "1.00"]
    [early] = peer_results.partial_rows({"t": task}, "shoal-random", "shoal-auto", ["hebo"], early=1)
    assert early == ["hebo", "synthetic", "1", "100.0", "66.7", "100.0", "25.0", "1.00"]
    other = dataclasses.replace(task, name="u", group="bbob")
    rows = peer_results.partial_rows({"t": task, "u": other}, "shoal-random", "shoal-auto", ["hebo"])
    assert [r[:3] for r in rows] == [["hebo", "bbob", "1"], ["hebo", "synthetic", "1"], ["hebo", "all", "2"]]
    assert peer_results.split_partial({"t": task}, ["ax"], []) == []  # a peer that never ran is not partial


@pytest.mark.parametrize("name", optimizers.PEERS)
def test_peer_runs_in_its_env_when_that_env_exists(name, tmp_path):
    from peers import envs, harness

    if envs.problem(envs.group_of(name)):
        pytest.skip(f"{name}'s env is not built here ({envs.CREATE_COMMAND} {name})")
    record = harness.run_one(harness.Job("levy6-mixed", name, 1, 12), str(tmp_path))
    assert "error" not in record, record.get("error")
    assert len(record["values"]) == 12 and record["versions"][f"{name}:numpy"]
    written = json.loads((tmp_path / "levy6-mixed" / name / "seed1.json").read_text())
    assert written["values"] == record["values"]


def test_continue_in_botorch_refuses_a_task_that_is_not_all_linear_floats(capsys):
    from peers import continue_in_botorch

    assert continue_in_botorch.main(["--task", "svc_digits", "--seeds", "1"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "--task svc_digits" in line and "linear float" in line
    assert continue_in_botorch.main(["--task", "bbob-f8-d2", "--start", "10", "--budget", "10"]) == 2
    assert "--start 10" in capsys.readouterr().err


def test_continue_in_botorch_records_shoals_run_on_the_unit_cube():
    from peers import continue_in_botorch

    units, values = continue_in_botorch.shoal_history("bbob-f8-d2", seed=0, budget=8)
    task = tasks.registry()["bbob-f8-d2"]
    assert len(units) == len(values) == 8 and np.all((np.array(units) >= 0) & (np.array(units) <= 1))
    again = [task.objective({"x0": -5 + 10 * u[0], "x1": -5 + 10 * u[1]}) for u in units]
    assert again == pytest.approx(values)
    assert units[0] == pytest.approx([0.5, 0.5])  # the GP's design starts at the centre


def test_gp_acquisition_gap_measures_each_model_proposal_and_restores_the_search(capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import gp_acquisition_gap

    import shoal.samplers._gp_acquisition as acquisition

    before = acquisition.Acquisition.maximize, acquisition._N_REFINE
    assert gp_acquisition_gap.main(["--task", "bbob-f8-d2", "--budget", "9", "--extra", "64",
                                    "--starts", "6"]) == 0
    assert "bbob-f8-d2 seed 0: 4 model proposals" in capsys.readouterr().out  # 9 trials, a 5-trial design
    assert (acquisition.Acquisition.maximize, acquisition._N_REFINE) == before
    assert gp_acquisition_gap.main(["--task", "nope"]) == 2


def test_gp_on_bounds_counts_the_model_proposals_on_a_face(capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import gp_on_bounds

    on, total, early_on, early_total, _ = gp_on_bounds.count("bbob-f8-d2", 1, 12)
    assert total == early_total == 7  # 12 trials, a 5-trial design
    assert 0 <= early_on == on <= total
    assert gp_on_bounds.main(["--tasks", "bbob-f8-d2", "--seeds", "1", "--budget", "8"]) == 0
    assert "bbob-f8-d2: " in capsys.readouterr().out
    assert gp_on_bounds.main(["--tasks", "nope"]) == 2
    assert gp_on_bounds.main(["--tasks", "bbob-f8-d2", "--seeds", "0"]) == 2


def test_continue_in_botorch_targets_clip_the_bad_tail_as_ax_does():
    from peers import continue_in_botorch

    values = [1.0, 2.0, 3.0, 4.0, 100.0]  # Q1 2, Q3 4: clipped at 4 + 1.5 * 2 = 7
    assert continue_in_botorch._targets(values, "none").tolist() == [1.0, 2.0, 3.0, 4.0, 7.0]
    logs = continue_in_botorch._targets(values, "log-outputs")  # in log: clipped at log 4 + 1.5 log 2
    assert logs[-1] == pytest.approx(math.log(4.0) + 1.5 * math.log(2.0)) and logs[0] == 0.0
    with pytest.raises(ValueError, match="log-outputs"):
        continue_in_botorch._targets([1.0, -2.0], "log-outputs")


def test_paired_difference_is_the_tables_mean_with_a_bootstrap_interval():
    task = _runs({
        "shoal-random": [[5.0, 3.0], [5.0, 5.0], [5.0, 4.0]],  # random median after 2 trials: 4
        "a": [[2.0, 1.0], [4.0, 4.0], [3.0, 3.0]],  # 1 -> 100, 4 -> 0, 3 -> 33.3
        "b": [[4.0, 4.0], [4.0, 4.0], [4.0, 4.0]],  # 0 on every seed
        "c": [[2.0, 2.0]],  # seed 0 only: 2 -> 66.7
    })
    final = scoring.final_scores(task, "shoal-random")
    diff, low, high, pairs = scoring.paired_difference([task], "shoal-random", "a", "b")
    assert diff == pytest.approx(final["a"] - final["b"]) and pairs == 3
    assert low < diff < high and low >= 0.0 - 1e-9 and high <= 100.0 + 1e-9  # redrawn seeds of 100, 0, 33.3
    assert scoring.paired_difference([task], "shoal-random", "a", "a")[:3] == (0.0, 0.0, 0.0)
    # only the seeds both ran: a's seed 0 (100) against c's (66.7)
    assert scoring.paired_difference([task], "shoal-random", "a", "c") == pytest.approx(
        (100 / 3, 100 / 3, 100 / 3, 1))
    assert scoring.paired_difference([task], "shoal-random", "a", "missing") is None
    # two tasks: the mean of the task means, and a lead on every seed of every task stays above 0
    other = dataclasses.replace(task, name="u", runs={**task.runs, "a": {s: np.array([1.0, 1.0])
                                                                          for s in range(3)}})
    diff2, low2, _, pairs2 = scoring.paired_difference([task, other], "shoal-random", "a", "b")
    assert diff2 == pytest.approx((final["a"] + 100.0) / 2) and pairs2 == 6
    assert scoring.paired_difference([other], "shoal-random", "a", "b")[:3] == pytest.approx((100, 100, 100))
    assert low2 > 0.0
