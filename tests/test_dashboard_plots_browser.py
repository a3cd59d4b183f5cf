"""The dashboard's charts in a real browser (Debian's chromium, Playwright): whole-number ticks on
the trial and step axes, chart text at the page's size, only the plots the study has data for, and
a contour tall enough to read. Skipped without the browser unless ``SHOAL_REQUIRE_BROWSER=1``."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_dashboard_browser import TIMEOUT_MS, browser  # noqa: F401 - the shared browser fixture

import shoal
from shoal.dashboard import Dashboard
from shoal.samplers import Random

pytest.importorskip("plotly")
pytest.importorskip("sklearn")

SPACE = {"beta": shoal.Float(0.9, 0.999, scale="reverse_log"), "layers": shoal.Int(1, 3),
         "lr": shoal.Float(1e-4, 1e-1, scale="log")}


def _objective(config: dict, trial) -> float:
    value = 0.0
    for step in range(3):
        value = (1 - config["beta"]) * 10 + config["layers"] + config["lr"] / (step + 1)
        trial.report(value, step)
    return value


def _font_px(page, selector: str) -> float:
    """The size a chart's first text is drawn at on screen, in CSS pixels."""
    return page.eval_on_selector(selector, "t => parseFloat(getComputedStyle(t).fontSize) "
                                           "* t.ownerSVGElement.getScreenCTM().a")


def _ticks(page, chart: str) -> list[str]:
    return page.eval_on_selector_all(f"{chart} text.xtick", "ts => ts.map(t => t.textContent)")


def test_charts_tick_whole_numbers_at_the_page_font_and_offer_only_plots_with_data(
        browser, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    many = shoal.Study("many", SPACE, storage=url, sampler=Random(seed=0))
    many.optimize(_objective, 12, show_progress=False)
    shoal.Study("one", SPACE, storage=url, sampler=Random(seed=0)).optimize(
        lambda c, t: (t.report(1.0, 0), 1.0)[1], 1, show_progress=False)
    dashboard = Dashboard(url, port=0).start()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        page.goto(dashboard.url_with_token + "#/s/many")
        expect(page.locator("#history-chart")).to_be_visible()
        ticks = _ticks(page, "#history-chart")
        assert ticks and all(t.isdigit() for t in ticks) and int(ticks[-1]) <= 11, ticks
        body = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert 10 <= _font_px(page, "#history-chart text") <= body  # not scaled up with the panel

        options = page.locator("#figure-pick option")
        expect(options.first).to_be_attached()
        offered = options.evaluate_all("os => os.map(o => o.value)")
        assert "lineage" not in offered and "rounds" not in offered  # no data for them
        assert {"timeline", "intermediate", "edf", "contour"} <= set(offered)
        page.select_option("#figure-pick", "contour")
        expect(page.locator("#figure")).to_contain_text("Contour")
        height = page.eval_on_selector("#figure .main-svg", "s => s.getBoundingClientRect().height")
        assert height >= 450  # not squashed

        page.goto(dashboard.url_with_token + "#/s/many/t/0")
        expect(page.locator("#reports-chart")).to_be_visible()
        assert _ticks(page, "#reports-chart") == ["0", "1", "2"]
        assert 10 <= _font_px(page, "#reports-chart text") <= body

        page.goto(dashboard.url_with_token + "#/s/one")
        expect(page.locator("#history-chart")).to_be_visible()
        assert _ticks(page, "#history-chart") == ["0"]  # one trial: no tick at -1 or 1
        page.goto(dashboard.url_with_token + "#/s/one/t/0")
        expect(page.locator("#reports-chart")).to_be_visible()
        assert _ticks(page, "#reports-chart") == ["0"]
        assert problems == []
    finally:
        page.close()
        dashboard.stop()
