"""Comparing studies: ``shoal.analysis.compare``, ``GET /api/compare/A/B`` over HTTP (a real SQLite
file), and in Chromium the study list (pages, filter, sort, picking studies) and the compare page.

The browser test needs what ``tests/test_dashboard_browser.py`` needs (``/usr/bin/chromium`` and
playwright); it is skipped without them unless ``SHOAL_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from conftest import wait_for
from test_cli import _one_line_error, run_cli
from test_dashboard import Client
from test_dashboard_browser import TIMEOUT_MS, browser  # noqa: F401 - the fixture

import shoal
from shoal.analysis._data import as_study_data
from shoal.analysis.compare import best_at, check_comparable
from shoal.dashboard import Dashboard

SPACE = {"x": shoal.Float(0.0, 1.0), "k": shoal.Int(1, 5)}
ODD = "odd, name/1"  # a comma and a slash: each name is URL-encoded in the route


def objective(config: dict) -> float:
    return (config["x"] - 0.3) ** 2 + 0.01 * config["k"]


def _study(url: str, name: str, n: int, space=SPACE, **kwargs) -> shoal.Study:
    study = shoal.Study(name, space, storage=url, seed=1, **kwargs)
    if n:
        study.optimize(objective if "direction" not in kwargs else (lambda c: c["x"]), n, show_progress=False)
    return study


# -- the analysis --------------------------------------------------------------------------------
def test_best_at_budgets_follows_the_trials_in_order(sqlite_url: str) -> None:
    study = shoal.Study("b", SPACE, storage=sqlite_url, seed=0)
    for value in [5.0, 3.0, 4.0, 1.0]:
        study.tell(study.ask(), value)
    assert best_at(as_study_data(study), [1, 2, 3, 4, 10]) == [5.0, 3.0, 3.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("other", "message"),
    [
        ({"x": shoal.Int(0, 3), "k": shoal.Int(1, 5)}, "dimension 'x' is float in 'a' but int in 'b'"),
        ({"x": shoal.Float(0.0, 1.0)}, "dimension 'k' is in 'a' but not in 'b'"),
        ({**SPACE, "extra": shoal.Choice(["p", "q"])}, "dimension 'extra' is in 'b' but not in 'a'"),
    ],
)
def test_spaces_that_differ_are_refused_naming_the_dimension(sqlite_url: str, other, message: str) -> None:
    a, b = _study(sqlite_url, "a", 0), _study(sqlite_url, "b", 0, space=other)
    with pytest.raises(ValueError, match="the spaces differ: " + message):
        check_comparable([as_study_data(a), as_study_data(b)])


def test_ranges_may_differ_directions_may_not(sqlite_url: str) -> None:
    a = _study(sqlite_url, "a", 0)
    wider = _study(sqlite_url, "wider", 0, space={"x": shoal.Float(-1.0, 2.0), "k": shoal.Int(1, 9)})
    check_comparable([as_study_data(a), as_study_data(wider)])
    up = _study(sqlite_url, "up", 0, direction="maximize")
    with pytest.raises(ValueError, match="the directions differ: 'a' minimizes, 'up' maximizes"):
        check_comparable([as_study_data(a), as_study_data(up)])


# -- the API ---------------------------------------------------------------------------------------
@pytest.fixture
def compared(sqlite_url: str):
    studies = [_study(sqlite_url, name, 8, sampler=shoal.samplers.Random()) for name in ("first", ODD)]
    dashboard = Dashboard(sqlite_url, port=0).start()
    yield Client(dashboard), studies
    dashboard.stop()


def _path(*names: str) -> str:
    return "/api/compare/" + "/".join(quote(n, safe="") for n in names)


def test_compare_answers_bests_importance_and_figures(compared) -> None:
    dash, studies = compared
    got = dash.get(_path("first", ODD))
    assert got["direction"] == "minimize" and got["dimensions"] == ["x", "k"]
    for line, study in zip(got["studies"], studies, strict=True):
        assert line["name"] == study.name and line["n_trials"] == 8 and line["n_complete"] == 8
        best = study.best
        assert line["best"] == {"number": best.number, "value": best.value, "config": best.config}
        assert set(line["importance"]) == {"x", "k"} and line["importance_note"] is None
    for key in ("history", "edf", "importance"):
        traces = json.loads(got["figures"][key])["data"]
        assert [t["name"] for t in traces] == ["first", ODD], key
    history = json.loads(got["figures"]["history"])["data"][0]
    assert history["y"][-1] == studies[0].best.value and history["x"][-1] == 8


def test_a_poll_with_the_key_is_unchanged_until_a_trial_finishes(compared) -> None:
    dash, studies = compared
    key = dash.get(_path("first", ODD))["key"]
    assert dash.get(_path("first", ODD) + f"?since={quote(key)}") == {"key": key, "unchanged": True}
    studies[0].tell(studies[0].ask(), -1.0)

    def changed():
        got = dash.get(_path("first", ODD) + f"?since={quote(key)}")
        return None if got.get("unchanged") else got

    got = wait_for(changed, what="a new answer after a trial finished")
    assert got["studies"][0]["best"]["value"] == -1.0 and got["studies"][0]["n_trials"] == 9


def test_too_few_trials_for_importance_is_a_note_not_an_error(compared, sqlite_url: str) -> None:
    dash, _ = compared
    _study(sqlite_url, "young", 2)
    got = dash.get(_path("first", "young"))
    young = got["studies"][1]
    assert young["importance"] is None and "at least 4 completed trials" in young["importance_note"]


def test_refusals_say_why(compared, sqlite_url: str) -> None:
    dash, _ = compared
    _study(sqlite_url, "ints", 0, space={"x": shoal.Int(0, 3), "k": shoal.Int(1, 5)})
    _study(sqlite_url, "up", 0, direction="maximize")
    for path, status, message in [
        (_path("first"), 400, "compare 2 to 5 studies, got 1"),
        (_path(*["first"] * 6), 400, "compare 2 to 5 studies, got 6"),
        (_path("first", "nope"), 404, "no study named 'nope' in this storage"),
        (_path("first", "ints"), 400, "cannot compare: the spaces differ: dimension 'x' is float in 'first' "
                                      "but int in 'ints'"),
        (_path("first", "up"), 400, "cannot compare: the directions differ: 'first' minimizes, "
                                    "'up' maximizes"),
        (_path("first", "first"), 400, "cannot compare: study 'first' is named twice; compare different "
                                       "studies"),
    ]:
        assert dash.request("GET", path) == (status, {"error": message}), path


# -- the command line ------------------------------------------------------------------------------
def test_shoal_compare_prints_bests_and_best_so_far(compared, sqlite_url: str, capsys) -> None:
    _, studies = compared
    code, out, _ = run_cli(capsys, "compare", "first", ODD, "--budgets", "2,8", "--storage", sqlite_url)
    assert code == 0
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in out.splitlines() if line.count("│") == 4}
    assert rows["best trial"] == [str(s.best.number) for s in studies]
    assert rows["best after 8 trials"] == rows["best value"]
    assert rows["best after 2 trials"] == [f"{best_at(as_study_data(s), [2])[0]:.6g}" for s in studies]
    assert rows["k"] == [str(s.best.config["k"]) for s in studies]


def test_shoal_compare_refuses_in_one_line(compared, sqlite_url: str, capsys) -> None:
    _study(sqlite_url, "ints", 0, space={"x": shoal.Int(0, 3), "k": shoal.Int(1, 5)})
    for argv, message in [
        (["first"], "compare 2 to 5 studies, got 1"),
        (["first", "ints"], "cannot compare: the spaces differ: dimension 'x' is float in 'first' but int"),
        (["first", "nope"], "no study named 'nope'"),
        (["first", ODD, "--budgets", "0,4"], "argument --budgets: expected trial counts such as 8,16,32"),
    ]:
        code, _, err = run_cli(capsys, "compare", *argv, "--storage", sqlite_url)
        _one_line_error(code, err)
        assert message in err, err


# -- in the browser --------------------------------------------------------------------------------
def test_the_list_pages_filters_sorts_and_opens_a_comparison(browser, sqlite_url: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    for i in range(52):
        shoal.Study(f"filler-{i:02d}", {"y": shoal.Float(0.0, 1.0)}, storage=sqlite_url)
    for name in ("cmp-random", ODD):
        _study(sqlite_url, name, 6, sampler=shoal.samplers.Random())
    _study(sqlite_url, "cmp-ints", 3, space={"x": shoal.Int(0, 3), "k": shoal.Int(1, 5)})
    dashboard = Dashboard(sqlite_url, port=0).start()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        page.goto(dashboard.url_with_token)
        expect(page.locator("#page-info")).to_have_text("studies 1–50 of 55")
        expect(page.locator("#studies-table tbody tr")).to_have_count(50)
        # latest activity first: the studies with trials lead
        expect(page.locator("#studies-table tbody tr").first).to_have_attribute("data-study", "cmp-ints")
        page.click("#page-next")
        expect(page.locator("#page-info")).to_have_text("studies 51–55 of 55")
        expect(page.locator("#page-prev")).to_be_enabled()

        page.fill("#study-search", "CMP")
        expect(page.locator("#page-info")).to_have_text("studies 1–2 of 2 (matching; 55 in all)")
        page.click('th[data-sort="name"]')
        rows = page.locator("#studies-table tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_have_attribute("data-study", "cmp-ints")
        page.click('th[data-sort="name"]')  # again: descending
        expect(rows.first).to_have_attribute("data-study", "cmp-random")

        expect(page.locator("#compare-button")).to_be_disabled()
        page.locator('input[data-pick="cmp-random"]').check()
        page.fill("#study-search", "odd")  # a pick is kept while the filter changes
        expect(page.locator("#page-info")).to_have_text("studies 1–1 of 1 (matching; 55 in all)")
        page.locator(f'input[data-pick="{ODD}"]').check()
        expect(page.locator("#compare-button")).to_be_enabled()
        page.click("#compare-button")
        assert page.url.endswith("#/compare/cmp-random,odd%2C%20name%2F1"), page.url

        expect(page.locator('#compare-bests th[data-study="cmp-random"]')).to_be_visible()
        expect(page.locator(f'#compare-bests th[data-study="{ODD}"]')).to_be_visible()
        expect(page.locator('#compare-bests tr[data-dim="x"] td')).to_have_count(2)
        for div in ("#compare-history", "#compare-edf", "#compare-importance"):
            expect(page.locator(f"{div} .main-svg").first).to_be_visible()
        page.locator(f'a[data-best="{ODD}"]').click()
        expect(page.locator("#trial-state")).to_have_text("COMPLETE")
        page.go_back()
        expect(page.locator('#compare-bests th[data-study="cmp-random"]')).to_be_visible()

        page.goto(dashboard.url + "#/compare/cmp-random,cmp-ints")
        expect(page.locator("#compare-error")).to_have_text(
            "cannot compare: the spaces differ: dimension 'x' is float in 'cmp-random' but int in 'cmp-ints'")
        page.goto(dashboard.url + "#/compare/cmp-random")
        expect(page.locator("#compare-error")).to_have_text("compare 2 to 5 studies, got 1")

        page.goto(dashboard.url + "#/")
        page.reload()  # a fresh page: nothing picked
        for i in range(6):
            page.locator(f'input[data-pick="filler-{51 - i:02d}"]').check()
        expect(page.locator("#compare-button")).to_be_disabled()
        expect(page.locator("#compare-hint")).to_have_text("at most 5 studies: unpick 1")
        assert not problems, problems
    finally:
        page.close()
        dashboard.stop()
