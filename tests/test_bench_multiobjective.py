"""The multi-objective benchmark (issue 13): problem definitions at known points, a tiny run end to end."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import multiobjective as mo  # noqa: E402
import multiobjective_report  # noqa: E402


@pytest.mark.parametrize("f1", [0.0, 0.25, 0.5, 1.0])
def test_zdt_fronts_at_g_equal_1(f1):
    x = np.array([f1, 0, 0, 0, 0, 0], dtype=float)  # x1.. = 0: g = 1, on the known front
    assert mo.zdt(1, x) == pytest.approx((f1, 1 - math.sqrt(f1)))
    assert mo.zdt(2, x) == pytest.approx((f1, 1 - f1**2))
    assert mo.zdt(3, x) == pytest.approx((f1, 1 - math.sqrt(f1) - f1 * math.sin(10 * math.pi * f1)))
    off = mo.zdt(1, np.array([f1, 1, 1, 1, 1, 1], dtype=float))  # g = 10: dominated
    assert off[1] == pytest.approx(10 * (1 - math.sqrt(f1 / 10)))


def test_dtlz2_front_is_the_unit_sphere():
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = np.concatenate([rng.random(2), np.full(4, 0.5)])  # g = 0
        assert np.sum(np.square(mo.dtlz2(x))) == pytest.approx(1.0)
    assert mo.dtlz2(np.array([0.0, 0.0, 0.5, 0.5, 0.5, 0.5])) == pytest.approx((1.0, 0.0, 0.0))
    assert mo.dtlz2(np.array([1.0, 0.0, 1, 1, 1, 1])) == pytest.approx((0.0, 0.0, 2.0))  # g = 1


def test_binh_korn_at_known_points():
    assert mo.binh_korn(0.0, 0.0) == pytest.approx({"f1": 0.0, "f2": 50.0, "c1": 0.0, "c2": 7.7 - 64 - 9})
    end = mo.binh_korn(5.0, 3.0)  # the front's other end (136, 4), feasible
    assert (end["f1"], end["f2"]) == pytest.approx((136.0, 4.0)) and end["c1"] == pytest.approx(-16.0)
    assert end["c2"] < 0
    assert mo.binh_korn(5.0, 0.0)["c1"] <= 0 and mo.binh_korn(0.0, 3.0)["c1"] > 0  # c1: circle around (5, 0)


def test_score_counts_only_feasible_trials_and_reads_the_first_n():
    problem = mo.problems()["binh-korn"]
    record = {"values": [{"f1": 100.0, "f2": 10.0, "c1": -1.0, "c2": -1.0},
                         {"f1": 0.0, "f2": 0.0, "c1": 1.0, "c2": -1.0},  # infeasible: counts for nothing
                         {"f1": 40.0, "f2": 30.0, "c1": -1.0, "c2": -1.0}]}
    first = (140 - 100) * (55 - 10)
    assert mo.score(record, problem, 1) == pytest.approx(first)
    assert mo.score(record, problem, 2) == pytest.approx(first)
    assert mo.score(record, problem, 3) == pytest.approx(first + (100 - 40) * (55 - 30))
    assert mo.score({"values": record["values"][1:2]}, problem, 2) == 0.0
    assert multiobjective_report._ranks([3.0, 1.0, 3.0]) == [1.5, 3.0, 1.5]


def test_tiny_run_resumes_and_reports(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--tasks", "binh-korn", "--optimizers", "shoal-nsga2,optuna-tpe", "--seeds", "1", "--budget", "8",
            "--out", str(out)]
    assert mo.main(argv) == 0
    files = sorted(out.glob("binh-korn/*/seed0.json"))
    assert [f.parent.name for f in files] == ["optuna-tpe", "shoal-nsga2"]
    for f in files:
        record = json.loads(f.read_text())
        assert "error" not in record, record.get("traceback")
        assert len(record["values"]) == 8 and set(record["values"][0]) == {"f1", "f2", "c1", "c2"}
    capsys.readouterr()
    assert mo.main(argv) == 0
    assert "2 of 2 jobs already" in capsys.readouterr().out

    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Other\n\nkept\n")
    for _ in range(2):  # the second time replaces the section
        assert mo.main(["--report", "--out", str(out), "--results", str(results), "--command", "cmd"]) == 0
    text = results.read_text()
    assert "kept" in text and text.count(multiobjective_report.START) == 1
    assert "**constrained**" in text and "binh-korn HV@8" in text and "`cmd`" in text
    with pytest.raises(SystemExit):
        mo.main(["--tasks", "nope", "--out", str(out)])


def test_front_hypervolumes_match_their_closed_forms():
    # the area between the front (f2 = 1 - sqrt(f1) or 1 - f1^2 on [0, 1], 0 beyond) and f2 = 11, up to 1.1
    assert mo.front_hypervolume("zdt1") == pytest.approx(11 - 1 / 3 + 1.1, abs=1e-3)
    assert mo.front_hypervolume("zdt2") == pytest.approx(11 - 2 / 3 + 1.1, abs=1e-3)
    assert mo.front_hypervolume("forest-cancer") is None


def test_constrained_zdt1_cuts_the_middle_of_the_front():
    middle = mo.problems()["zdt1-c"].evaluate({f"x{i}": v for i, v in enumerate([0.25, 0, 0, 0, 0, 0])})
    assert middle["f1"] + middle["f2"] == pytest.approx(0.75) and middle["c1"] == pytest.approx(0.1)
    end = mo.problems()["zdt1-c"].evaluate({f"x{i}": v for i, v in enumerate([1.0, 0, 0, 0, 0, 0])})
    assert end["c1"] == pytest.approx(-0.15)  # (1, 0) stays feasible
    f = np.linspace(0, 1, 200_001)
    lost = np.clip((mo.ZDT1C_BOUND - f) - (1 - np.sqrt(f)), 0, None).mean()  # below the line f1 + f2 = 0.85
    assert mo.front_hypervolume("zdt1-c") == pytest.approx(11 - 1 / 3 + 1.1 - lost, abs=1e-3)
