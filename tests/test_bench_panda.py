"""The panda benchmark (ReduceOnPlateau against fixed hyperparameters and PBT): its --quick run end to
end, equal epochs for every method, and the floor task's model."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import panda  # noqa: E402


class FakeTrial:
    """Just enough of a trial handle for the objective: no checkpoint, reports collected."""

    number = 0

    def __init__(self) -> None:
        self.reports: list[tuple[int, float]] = []

    def load(self):
        return None

    def save(self, state, step):
        return ""

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_stop(self) -> bool:
        return False


def test_the_floor_task_stalls_at_a_floor_that_a_lower_rate_lowers() -> None:
    high, low = FakeTrial(), FakeTrial()
    stalled = panda.floor_objective({"lr": 0.2}, high, steps=60)
    assert stalled == pytest.approx(0.1, rel=1e-3)  # the floor of lr 0.2 is 0.5 * 0.2
    assert panda.floor_objective({"lr": 0.01}, low, steps=200) < 0.01  # slower, but lower
    # reports are noisy (2%), the returned value is not; the noise repeats for a seed
    assert all(abs(v / 0.1 - 1) < 0.1 for _, v in high.reports[-10:])
    assert len({round(v, 6) for _, v in high.reports[-10:]}) > 1
    again = FakeTrial()
    panda.floor_objective({"lr": 0.2}, again, steps=60)
    assert again.reports == high.reports


def test_one_seed_spends_equal_epochs_on_every_method() -> None:
    row = panda.run_seed("floor", seed=0, population=3, steps=8, synch=True)
    assert row["fixed_epochs"] == row["rule_epochs"] == row["pbt_epochs"] == 3 * 8
    assert row["trials"] == 3
    assert all(math.isfinite(row[m]) and row[m] > 0 for m in panda.METHODS)


def test_summary_ratios_are_against_fixed() -> None:
    rows = [{"seed": s, "fixed": 0.2, "rule": 0.1, "pbt": 0.3, "fixed_epochs": 10, "rule_epochs": 10,
             "pbt_epochs": 10, "fixed_seconds": 1.0, "rule_seconds": 1.0, "pbt_seconds": 1.0} for s in (0, 1)]
    rows[1]["rule"] = 0.3
    summary = panda.summarize(rows)
    assert summary["fixed"]["ratio"] == pytest.approx(1.0)
    assert summary["rule"]["ratio"] == pytest.approx(0.2 / 0.2)
    assert (summary["rule"]["better"], summary["rule"]["same"], summary["rule"]["worse"]) == (1, 0, 1)
    assert summary["pbt"]["ratio"] == pytest.approx(1.5) and summary["pbt"]["worse"] == 2
    assert summary["rule"]["std"] == pytest.approx(math.sqrt(0.02))


def test_quick_run_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    results = panda.main(["--quick", "--markdown"])
    out = capsys.readouterr().out
    assert set(results) == {"schedule", "floor"}  # --quick leaves the MLP out
    for summary in results.values():
        assert set(summary) == set(panda.METHODS)
        epochs = {s["epochs"] for s in summary.values()}
        assert epochs == {4 * 16}  # 4 members or trials of 16 steps each, for every method
        assert all(math.isfinite(s["mean"]) and s["mean"] > 0 for s in summary.values())
    assert "| method | mean ± std | vs fixed |" in out and "seeds 0..1" in out
    assert out.count("| seed | fixed | rule | pbt | rule tweaks |") == 2
    assert "rule tweaks per seed" in out
