"""The study page's trial table in a real browser (Debian's chromium driven by Playwright, as in
``test_dashboard_browser``): filters, free-text search, the columns shown, pages, the CSV of the
visible rows and the best trials marked in the table and the history plot."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from test_dashboard_browser import TIMEOUT_MS, browser, dashboard_page  # noqa: F401 - fixtures

import shoal
from shoal.samplers import Random

SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "units": shoal.Int(16, 128),
    "opt": shoal.Choice(["adam", "sgd"]),
}


def _objective(config):
    if config["units"] > 120:
        raise ValueError("too wide")
    return (config["lr"] - 0.01) ** 2 * config["units"] + (0.5 if config["opt"] == "sgd" else 0.0)


def _numbers(page) -> list[int]:
    return page.locator("#trials-table tbody tr").evaluate_all("rs => rs.map(r => +r.dataset.number)")


def _set(page, selector: str, text: str) -> None:
    page.fill(selector, text)


def test_filters_search_columns_csv_and_the_best_trial(dashboard_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    study = shoal.Study("table", SPACE, storage=url, sampler=Random(seed=3), seed=0)
    study.optimize(_objective, 40, catch=(ValueError,), show_progress=False)
    trials = study.trials
    failed = [t for t in trials if t.state == shoal.TrialState.FAILED]
    assert failed and len(failed) < len(trials)
    page = dashboard_page(url, "#/s/table")
    rows = page.locator("#trials-table tbody tr")
    expect(rows).to_have_count(40)

    def shows(expected: list[int]) -> None:
        expect(rows).to_have_count(len(expected))
        assert sorted(_numbers(page)) == sorted(expected)

    # by state, by a value range, by an expression over the hyperparameters
    page.select_option("#filter-state", "FAILED")
    shows([t.number for t in failed])
    expect(page.locator("#trials-title")).to_have_text(f"Trials ({len(failed)} of 40 pass the filters)")
    page.select_option("#filter-state", "")
    _set(page, "#filter-min", "0.01")
    _set(page, "#filter-max", "0.6")
    shows([t.number for t in trials if t.value is not None and 0.01 <= t.value <= 0.6])
    _set(page, "#filter-min", "")
    _set(page, "#filter-max", "")
    _set(page, "#filter-expr", "lr < 1e-2")
    shows([t.number for t in trials if t.config["lr"] < 1e-2])
    _set(page, "#filter-expr", "opt = adam, units >= 64")
    shows([t.number for t in trials if t.config["opt"] == "adam" and t.config["units"] >= 64])
    _set(page, "#filter-expr", "opt != sgd and value <= 0.001")
    shows([t.number for t in trials if t.config["opt"] != "sgd" and t.value is not None and t.value <= 0.001])

    # a bad filter says what is wrong, and the table shows every row meanwhile
    _set(page, "#filter-expr", "lrr < 1e-3")
    expect(page.locator("#filter-error")).to_contain_text('unknown name "lrr"')
    expect(page.locator("#filter-error")).to_contain_text("lr, units, opt")
    expect(rows).to_have_count(40)
    _set(page, "#filter-expr", "opt < adam")
    expect(page.locator("#filter-error")).to_contain_text("< needs a number")
    _set(page, "#filter-expr", "lr ~ 3")
    expect(page.locator("#filter-error")).to_contain_text('cannot read "lr ~ 3"')
    _set(page, "#filter-expr", "")
    expect(page.locator("#filter-error")).to_have_text("")

    # free text over the row: the error's text, a state
    _set(page, "#filter-text", "too wide")
    shows([t.number for t in failed])
    _set(page, "#filter-text", "")

    # the best trial is marked in the table and in the history plot
    best = study.best
    assert best is not None
    expect(page.locator("#trials-table tr.top")).to_have_count(1)
    expect(page.locator(f'#trials-table tr.top[data-number="{best.number}"] .top-mark')).to_have_count(1)
    expect(page.locator("#history-chart circle.top")).to_have_count(1)
    expect(page.locator(f'#history-chart circle.top[data-x="{best.number}"]')).to_have_count(1)

    # the columns shown, remembered after a reload
    page.click("#columns-pick summary")
    page.uncheck('#columns-pick input[data-col="config.units"]')
    expect(page.locator('#trials-table th[data-key="config.units"]')).to_have_count(0)
    page.reload()
    expect(rows).to_have_count(40)
    expect(page.locator('#trials-table th[data-key="config.units"]')).to_have_count(0)
    expect(page.locator('#trials-table th[data-key="config.lr"]')).to_have_count(1)

    # the CSV holds the visible rows, in the table's order, with the columns shown
    _set(page, "#filter-expr", "opt = adam")
    page.click('#trials-table th[data-key="value"]')  # ascending by value
    expected = sorted((t for t in trials if t.config["opt"] == "adam"),
                      key=lambda t: (t.value is None, t.value if t.value is not None else 0, t.number))
    expect(rows).to_have_count(len(expected))
    with page.expect_download() as download:
        page.click("#export-csv")
    assert download.value.suggested_filename == "table-trials.csv"
    table = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert table[0] == ["number", "state", "value", "duration", "reports", "lr", "opt", "why ended"]
    assert [int(r[0]) for r in table[1:]] == [t.number for t in expected]
    for row, trial in zip(table[1:], expected, strict=True):
        assert row[1] == trial.state.value
        assert (float(row[2]) if row[2] else None) == pytest.approx(trial.value)
        assert float(row[5]) == pytest.approx(trial.config["lr"])
        assert row[6] == "adam"
        assert ("too wide" in row[7]) == (trial.state == shoal.TrialState.FAILED)


def test_a_long_table_comes_in_pages(dashboard_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    study = shoal.Study("long", {"x": shoal.Float(0.0, 1.0)}, storage=url, sampler=Random(seed=1))
    study.optimize(lambda c: c["x"], 230, show_progress=False)
    page = dashboard_page(url, "#/s/long")
    rows = page.locator("#trials-table tbody tr")
    expect(rows).to_have_count(100)
    expect(page.locator("#page-info")).to_have_text("rows 1–100 of 230")
    assert _numbers(page) == list(range(229, 129, -1))  # newest first
    page.click("#page-next")
    expect(page.locator("#page-info")).to_have_text("rows 101–200 of 230")
    page.click("#page-next")
    expect(rows).to_have_count(30)
    expect(page.locator("#page-next")).to_be_disabled()
    _set(page, "#filter-expr", "x < 0.5")  # a filter starts again at the first page
    below = sum(t.config["x"] < 0.5 for t in study.trials)
    expect(page.locator("#page-info")).to_have_text(f"rows 1–100 of {below}")


def _two(config):
    return {"accuracy": config["x"], "latency_ms": 5 + 20 * config["x"] ** 2 + 5 * config["y"]}


def test_several_objectives_mark_the_pareto_front(dashboard_page, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    study = shoal.Study("mo", {"x": shoal.Float(0.0, 1.0), "y": shoal.Float(0.0, 1.0)}, storage=url,
                        sampler=Random(seed=0), objectives={"accuracy": "maximize", "latency_ms": "minimize"})
    study.optimize(_two, 25, show_progress=False)
    front = sorted(t.number for t in study.pareto_front)
    assert 1 < len(front) < 25
    page = dashboard_page(url, "#/s/mo")
    expect(page.locator("#trials-table tr.top")).to_have_count(len(front))
    marked = page.locator("#trials-table tr.top").evaluate_all("rs => rs.map(r => +r.dataset.number)")
    assert sorted(marked) == front
    expect(page.locator("#history-chart circle.top")).to_have_count(len(front))
    _set(page, "#filter-expr", "latency_ms < 10")
    expect(page.locator("#trials-table tbody tr")).to_have_count(
        sum(t.values["latency_ms"] < 10 for t in study.trials))
