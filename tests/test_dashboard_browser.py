"""The dashboard page in a real browser: Debian's chromium driven by Playwright.

A study runs in another process (a slow objective on SQLite) while the page watches it: a new trial
row appears, a configuration enqueued through the form runs to COMPLETE, a bad value shows the
space's error, a running trial is stopped and the study paused from the page; a trial that ASHA's
promote mode left PAUSED says at which rung it waits; a study with two objectives shows its Pareto
front first; a trial tweaked from its page while it runs shows the tweak on its curve and in its
schedule, and a fork from its page is queued.

Needs ``/usr/bin/chromium`` (``bash scripts/browser.sh`` installs it) and ``playwright`` (the dev
extra); ``playwright install`` is never used. Without them the test is skipped, unless
``SHOAL_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where it fails. With
``SHOAL_DASHBOARD_SCREENSHOTS=1`` it also writes the screenshots in ``docs/img/``.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import shoal
from shoal.dashboard import Dashboard

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "img"
TIMEOUT_MS = 45_000  # a bound against a hang on a loaded machine; the test takes about 20 s

DRIVER = textwrap.dedent(
    """
    import faulthandler, signal, sys, time
    import shoal

    faulthandler.register(signal.SIGUSR1)  # the test asks for the driver's stacks when it fails

    def objective(config, trial):
        steps = 300 if config["lr"] == 0.5 else 4  # the page enqueues lr=0.5 to stop it by hand
        for step in range(steps):
            time.sleep(0.1)
            trial.report(config["lr"] * config["layers"] / (step + 1), step)
            if trial.should_stop():
                raise shoal.TrialPruned()
        return (config["lr"] - 0.01) ** 2 * config["layers"]

    study = shoal.Study.load("browser", sys.argv[1], seed=0)
    study.optimize(objective, 500, show_progress=False)
    """
)


def _browser_or_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run `bash scripts/browser.sh`"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install -e '.[dev]'"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _browser_or_reason()
    if reason is not None:
        if os.environ.get("SHOAL_REQUIRE_BROWSER"):
            pytest.fail(f"SHOAL_REQUIRE_BROWSER is set but the browser test cannot run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@pytest.fixture
def dashboard_page(browser, tmp_path: Path):
    """``open_page(url, where)``: a page (downloads allowed) on a new dashboard over ``url`` at the
    hash ``where``; no script error may happen on it meanwhile (a refused request's 4xx aside)."""
    from playwright.sync_api import expect

    opened: list = []

    def open_page(url: str, where: str):
        dashboard = Dashboard(url, port=0).start()
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page.set_default_timeout(TIMEOUT_MS)
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        opened.append((dashboard, page, problems))
        page.goto(dashboard.url_with_token + where)
        return page

    expect.set_options(timeout=TIMEOUT_MS)
    yield open_page
    for dashboard, page, problems in opened:
        page.close()
        dashboard.stop()
        refused = "the server responded with a status of 4"  # a refused action, /favicon.ico
        assert [p for p in problems if refused not in p] == [], problems


def _shot(page, name: str) -> None:
    if os.environ.get("SHOAL_DASHBOARD_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_the_page_follows_a_running_study_and_steers_it(browser, tmp_path: Path, sqlite_url: str) -> None:
    from playwright.sync_api import expect

    space = {
        "lr": shoal.Float(1e-4, 1.0, scale="log"),
        "layers": shoal.Int(1, 4),
        "opt": shoal.Choice(["adam", "sgd"]),
        "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
    }
    shoal.Study("browser", space, storage=sqlite_url, seed=0)
    shoal.Study("baseline", {"x": shoal.Float(0, 1)}, storage=sqlite_url).optimize(
        lambda c: (c["x"] - 0.3) ** 2, 5, show_progress=False
    )
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    driver = subprocess.Popen([sys.executable, str(script), sqlite_url], stderr=subprocess.PIPE, text=True)
    dashboard = Dashboard(sqlite_url, port=0).start()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    expect.set_options(timeout=TIMEOUT_MS)  # bounds against a hang on a loaded machine, not timings
    try:
        # the study list, opened with the token the dashboard printed
        page.goto(dashboard.url_with_token)
        expect(page.locator('tr[data-study="browser"]')).to_be_visible()
        expect(page.locator('tr[data-study="baseline"]')).to_be_visible()
        expect(page.locator("#token-state")).to_have_text("set")
        assert "token=" not in page.url  # dropped from the address bar and history
        page.locator('tr[data-study="browser"] a').click()

        # the study view: a new trial row appears while we watch
        rows = page.locator("#trials-table tbody tr")
        expect(rows.first).to_be_visible()
        seen = max(int(n) for n in rows.evaluate_all("rs => rs.map(r => r.dataset.number)"))
        expect(page.locator(f'#trials-table tr[data-number="{seen + 1}"]')).to_be_visible()
        expect(page.locator("#history-chart")).to_be_visible()

        # a bad value shows the space's error; nothing is queued
        page.fill("#field-lr", "5")
        page.fill("#field-layers", "3")
        page.select_option("#field-opt", label="sgd")
        expect(page.locator("#field-beta1")).to_be_hidden()  # inactive for sgd
        page.click("#enqueue-button")
        expect(page.locator("#enqueue-message")).to_contain_text("dimension 'lr': 5.0 is not a legal value")

        # a good one is queued, then run by the study in the other process
        page.fill("#field-lr", "0.0123")
        page.click("#enqueue-button")
        expect(page.locator("#enqueue-message")).to_contain_text("queued as trial")
        number = int(page.locator("#enqueue-message").inner_text().rsplit(" ", 1)[1])
        mine = page.locator(f'#trials-table tr[data-number="{number}"]')
        expect(mine).to_have_attribute("data-state", "COMPLETE")
        expect(mine).to_contain_text("0.0123")
        expect(mine).to_contain_text("sgd")

        # a long trial (lr=0.5 runs 30 s) is stopped from its row: its next report answers stop
        page.fill("#field-lr", "0.5")
        page.click("#enqueue-button")
        expect(page.locator("#enqueue-message")).not_to_have_text(f"queued as trial {number}")
        expect(page.locator("#enqueue-message")).to_contain_text("queued as trial")
        long_number = int(page.locator("#enqueue-message").inner_text().rsplit(" ", 1)[1])
        long = page.locator(f'#trials-table tr[data-number="{long_number}"]')
        expect(long).to_have_attribute("data-state", "RUNNING")
        long.locator("button[data-stop]").click()
        expect(long).to_have_attribute("data-state", "PRUNED")

        # sort by value (click the header), and look at the history with some trials in it
        page.click('#trials-table th[data-key="value"]')
        expect(page.locator('#trials-table th[data-key="value"]')).to_have_class("sortable sorted")

        # an analysis plot from shoal.analysis, drawn by plotly.js served from the plotly package
        if importlib.util.find_spec("plotly") is not None:
            expect(page.locator("#figure-pick")).to_have_value("parallel_coordinates")
            expect(page.locator("#figure .main-svg").first).to_be_visible()
            expect(page.locator("#figure")).to_contain_text("Parallel coordinates")
            expect(page.locator("#figure")).not_to_contain_text("no completed trial")
        _shot(page, "dashboard-study.png")

        # pause, then resume, from the page
        page.click("#pause-button")
        expect(page.locator("#paused-badge")).to_be_visible()
        assert shoal.Study.load("browser", sqlite_url).paused
        page.click("#pause-button")
        expect(page.locator("#paused-badge")).to_be_hidden()

        # the enqueued trial's details: its config, reports and state
        mine.click()
        expect(page.locator("#trial-state")).to_have_text("COMPLETE")
        expect(page.locator("#config-table")).to_contain_text("0.0123")
        expect(page.locator("#reports-chart")).to_be_visible()
        _shot(page, "dashboard-trial.png")

        page.goto(dashboard.url)
        expect(page.locator('tr[data-study="browser"]')).to_be_visible()
        _shot(page, "dashboard-studies.png")
        # no script error; the browser logs the requests the API refused on purpose (the bad value)
        refused = "the server responded with a status of 4"
        assert [p for p in problems if refused not in p] == [], problems
    except BaseException:
        # show what the driver was doing (pytest prints this output with the failure)
        print("driver exit code before the failure:", driver.poll())
        if driver.poll() is None:
            driver.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
        print("trials:", [(t.number, t.state.name) for t in shoal.Study.load("browser", sqlite_url).trials])
        raise
    finally:
        page.close()
        driver.terminate()
        _, errors = driver.communicate(timeout=30)
        print("driver stderr:", errors)
        dashboard.stop()
    assert driver.returncode in (0, -15), errors


def _resumable(config, trial):
    """ASHA promote mode: resume from the epoch the trial was paused after."""
    state = trial.load()
    first = 1 if state is None else state["epoch"] + 1
    loss = float("nan")
    for epoch in range(first, 7):
        loss = config["q"] + 1.0 / epoch
        trial.save({"epoch": epoch}, epoch)
        trial.report(loss, epoch)
        if trial.should_stop():
            break
    return loss


def test_the_page_says_why_a_trial_is_paused(browser, tmp_path: Path) -> None:
    """ASHA in promote mode leaves trials PAUSED: the table and the trial's page say at which rung."""
    from playwright.sync_api import expect

    from shoal.samplers import Random
    from shoal.schedulers import ASHA

    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    study = shoal.Study(
        "promote", {"q": shoal.Float(0.0, 1.0)}, storage=url, sampler=Random(), seed=0,
        scheduler=ASHA(1, reduction_factor=2, max_resource=6, mode="promote"),
        checkpoints=str(tmp_path / "ck"),
    )
    study.optimize(_resumable, 12, show_progress=False)
    rungs = {1: 0, 2: 1, 4: 2}  # the rung at each step where a trial may be paused

    def note(trial) -> str:
        return f"paused at rung {rungs[trial.reports[-1][0]]}, not promoted; a later optimize may promote it"

    paused = [t for t in study.trials if t.state == shoal.TrialState.PAUSED]
    assert paused
    dashboard = Dashboard(url, port=0).start()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        page.goto(dashboard.url_with_token + "#/s/promote")
        for trial in paused:
            cell = page.locator(f'#trials-table tr[data-number="{trial.number}"] td.note')
            expect(cell).to_have_text(note(trial))
        done = next(t for t in study.trials if t.state == shoal.TrialState.COMPLETE)
        expect(page.locator(f'#trials-table tr[data-number="{done.number}"]')).not_to_contain_text("promote")
        trial = paused[-1]
        page.locator(f'#trials-table tr[data-number="{trial.number}"]').click()
        expect(page.locator("#trial-state")).to_have_text("PAUSED")
        expect(page.locator("#trial-note")).to_have_text(note(trial))
        assert problems == []
    finally:
        page.close()
        dashboard.stop()


def _two_objectives(config):
    x, y = config["x"], config["y"]
    return {"accuracy": x, "latency_ms": 5 + 20 * x * x + 5 * y, "memory_mb": 1000 * y}


def test_the_page_shows_the_pareto_front_of_a_multi_objective_study(browser, tmp_path: Path) -> None:
    """Several objectives and a constraint: the Pareto front is the figure picked first, the table
    shows each objective and strikes the trials that miss the constraint."""
    from playwright.sync_api import expect

    from shoal.samplers import Random

    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    study = shoal.Study("mo", {"x": shoal.Float(0.0, 1.0), "y": shoal.Float(0.0, 1.0)}, storage=url,
                        sampler=Random(seed=0), objectives={"accuracy": "maximize", "latency_ms": "minimize"},
                        constraints=["memory_mb <= 600"])
    study.optimize(_two_objectives, 12, show_progress=False)
    bad = next(t for t in study.trials if t.feasible is False)
    dashboard = Dashboard(url, port=0).start()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        page.goto(dashboard.url_with_token + "#/s/mo")
        expect(page.locator("#figure-pick")).to_have_value("pareto_front")
        expect(page.locator("#figure .main-svg").first).to_be_visible()
        expect(page.locator("#figure")).to_contain_text("Pareto front")
        expect(page.locator("#figure-pick option[value=hypervolume]")).to_have_count(1)
        row = page.locator(f'#trials-table tr[data-number="{bad.number}"]')
        expect(row.locator("td.infeasible")).to_contain_text("latency_ms=")
        assert problems == []
    finally:
        page.close()
        dashboard.stop()


def test_a_tweak_from_the_page_reaches_the_running_trial_and_marks_its_curve(browser, tmp_path: Path) -> None:
    """A trial runs in a thread and waits before its step 3 on an event the test sets: the page tweaks
    its lr meanwhile (a bad value first: refused, nothing stored), the objective goes on, and the page
    shows the tweak as a mark on the curve at step 4 (in force from the step after the report that
    delivered it) and in the schedule table; then it forks the finished trial from its last checkpoint."""
    from conftest import wait_for
    from playwright.sync_api import expect

    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    space = {"lr": shoal.Float(1e-4, 1.0, scale="log"), "units": shoal.Int(8, 64), "seed": shoal.Fixed(0)}
    study = shoal.Study("tweak", space, storage=url, seed=0, checkpoints=str(tmp_path / "ck"))
    study.enqueue({"lr": 0.01, "units": 16, "seed": 0})
    release = threading.Event()

    def objective(config, trial):
        loss = 1.0
        for step in range(8):
            if step == 3 and not release.wait(TIMEOUT_MS / 1000):
                raise RuntimeError("the test never released the objective")
            loss *= 0.5 if trial.config["lr"] < 0.005 else 0.9  # trial.config: the tweak shows at once
            trial.save({"step": step}, step)
            trial.report(loss, step)
        return loss

    runner = threading.Thread(target=study.optimize, args=(objective, 1), kwargs={"show_progress": False})
    runner.start()
    dashboard = Dashboard(url, port=0).start()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    expect.set_options(timeout=TIMEOUT_MS)
    try:
        stored = lambda: shoal.Study.load("tweak", url).trials[0]  # noqa: E731
        wait_for(lambda: len(stored().reports) == 3, "the objective's reports up to step 2")
        page.goto(dashboard.url_with_token + "#/s/tweak/t/0")
        expect(page.locator("#trial-state")).to_have_text("RUNNING")
        expect(page.locator("#tweak-lr")).to_have_value("0.01")  # prefilled with the current value
        expect(page.locator("#tweak-seed")).to_have_count(0)  # Fixed: not offered

        page.fill("#tweak-lr", "5")
        page.click("#tweak-button")
        expect(page.locator("#tweak-message")).to_contain_text("dimension 'lr': 5.0 is not a legal value")
        assert stored().changes == []

        page.fill("#tweak-lr", "0.001")
        page.click("#tweak-button")
        expect(page.locator("#tweak-message")).to_contain_text("sent lr 0.01→0.001")
        expect(page.locator('#schedule-table tr[data-step="pending"]')).to_contain_text("lr 0.01→0.001")
        assert stored().pending_changes == {"lr": 0.001}
        release.set()  # step 3 reports with the old lr and delivers the tweak: in force from step 4

        expect(page.locator("#trial-state")).to_have_text("COMPLETE")
        mark = page.locator('#reports-chart .tweak-mark[data-step="4"]')
        expect(mark).to_have_count(1)
        expect(mark).to_contain_text("lr 0.01→0.001")
        expect(page.locator("#reports-chart .tweak-mark")).to_have_count(1)
        expect(page.locator('#reports-chart circle[data-x="7"]')).to_have_count(1)  # points after the tweak
        row = page.locator('#schedule-table tr[data-step="4"]')
        expect(row).to_contain_text("lr 0.01→0.001")
        expect(row).to_contain_text("person")
        expect(row).to_contain_text("tweak")
        expect(page.locator("#excluded-note")).to_contain_text("changed while it trained (lr)")
        expect(page.locator('#config-table tr[data-name="lr"]')).to_contain_text("0.01 → 0.001")
        assert [v for _, v in stored().reports] == pytest.approx([0.9, 0.81, 0.729, 0.6561, 0.32805,
                                                                  0.164025, 0.0820125, 0.04100625])

        # a finished trial cannot be tweaked, but can be forked from its last checkpoint
        expect(page.locator("#tweak-form")).to_have_count(0)
        expect(page.locator("#fork-step")).to_have_value("7")
        page.fill("#fork-lr", "0.002")
        page.click("#fork-button")
        expect(page.locator("#fork-message")).to_contain_text("forked as trial 1")
        page.click("#fork-link")
        expect(page.locator("#trial-state")).to_have_text("QUEUED")
        fork_row = page.locator('#schedule-table tr[data-step="8"]')
        expect(fork_row).to_contain_text("lr 0.001→0.002")
        expect(fork_row).to_contain_text("fork")
        refused = "the server responded with a status of 4"
        assert [p for p in problems if refused not in p] == [], problems
    finally:
        release.set()
        runner.join(TIMEOUT_MS / 1000)
        page.close()
        dashboard.stop()
    assert not runner.is_alive()
