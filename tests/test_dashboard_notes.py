"""Notes, deleting a study and why a trial ended, on the dashboard: the JSON API over HTTP against a
real SQLite file, and the page in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_dashboard_browser import TIMEOUT_MS, browser, dashboard_page  # noqa: F401 - fixtures

import shoal
from shoal.dashboard import TOKEN_HEADER, Dashboard
from shoal.dashboard.data import MIN_READ_INTERVAL
from shoal.samplers import Random
from shoal.schedulers import ASHA

XSS = [
    '<img src=x onerror="window.__xss = 1">',
    "<script>window.__xss = 2</script>",
    "[click me](javascript:window.__xss=3)",
    '**<svg onload="window.__xss = 4">**',
    '[quoted](https://example.org/"onmouseover="window.__xss=5)',
]


def _curve(config, trial):
    for step in range(1, 10):
        trial.report(config["q"] + 1.0 / step, step)
        if trial.should_stop():
            raise shoal.TrialPruned()
    if config["q"] > 0.9:
        raise ValueError("q too high")
    return config["q"]


def _study(url: str) -> shoal.Study:
    study = shoal.Study("notes", {"q": shoal.Float(0.0, 1.0)}, storage=url, sampler=Random(seed=2), seed=0,
                        scheduler=ASHA(1, reduction_factor=3, max_resource=9))
    study.optimize(_curve, 24, catch=(ValueError,), show_progress=False)
    return study


def _call(dash: Dashboard, path: str, body: dict | None = None, token: str | None = None):
    data = None if body is None else json.dumps(body).encode()
    method = "GET" if body is None else "POST"
    request = urllib.request.Request(dash.url + path.lstrip("/"), data=data, method=method)
    if token is not None:
        request.add_header(TOKEN_HEADER, token)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_notes_delete_and_why_ended_through_the_api(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    study = _study(url)
    shoal.Study("other", {"x": shoal.Float(0, 1)}, storage=url)
    with Dashboard(url, port=0) as dash:
        assert _call(dash, "/api/studies/notes/note") == (200, {"note": None, "updated_at": None})
        status, body = _call(dash, "/api/studies/notes/note", {"text": "plan"})
        assert status == 403 and "token" in body["error"]
        assert _call(dash, "/api/studies/notes/note", {"text": "# plan"}, dash.token)[0] == 200
        assert _call(dash, "/api/studies/notes/note")[1]["note"] == "# plan"
        status, body = _call(dash, "/api/studies/notes/note", {"text": 5}, dash.token)
        assert status == 400 and '{"text": "<Markdown>"}' in body["error"]
        _, rows = _call(dash, "/api/studies/notes/trials")
        assert not any(r["has_note"] for r in rows["trials"])
        rev = rows["rev"]
        assert _call(dash, "/api/studies/notes/trials/3/note", {"text": "odd *curve*"}, dash.token) == (
            200, {"number": 3, "note": "odd *curve*"})
        assert _call(dash, "/api/studies/notes/trials/99/note", {"text": "x"}, dash.token)[0] == 404
        _, changed = _call(dash, f"/api/studies/notes/trials?since={rev}&epoch={rows['epoch']}")
        assert [(r["number"], r["has_note"]) for r in changed["trials"]] == [(3, True)]  # the next poll
        assert _call(dash, "/api/studies/notes/trials/3")[1]["user_note"] == "odd *curve*"
        assert shoal.Study.load("notes", url).trials[3].note == "odd *curve*"

        # why each trial ended, in the rows and on the trial's page
        rungs = study.storage.read_rungs(study.id)
        by_number = {r["number"]: r for r in rows["trials"]}
        for trial in study.trials:
            if trial.state == shoal.TrialState.PRUNED:
                rung = max(r.rung for r in rungs if r.trial_number == trial.number)
                assert by_number[trial.number]["ended"] == (
                    f"pruned at step {trial.reports[-1][0]} by ASHA at rung {rung}")
            elif trial.state == shoal.TrialState.FAILED:
                assert by_number[trial.number]["ended"] == "failed: ValueError: q too high"
            else:
                assert by_number[trial.number]["ended"] == "completed"
        pruned = next(t for t in study.trials if t.state == shoal.TrialState.PRUNED)
        detail = _call(dash, f"/api/studies/notes/trials/{pruned.number}")[1]
        assert detail["ended"].startswith("pruned at step")

        # deleting needs the token and the study's name typed again
        assert _call(dash, "/api/studies/notes/delete", {"confirm": "notes"})[0] == 403
        status, body = _call(dash, "/api/studies/notes/delete", {"confirm": "note"}, dash.token)
        assert status == 400 and '{"confirm": "notes"}' in body["error"]
        assert sorted(s["name"] for s in _call(dash, "/api/studies")[1]["studies"]) == ["notes", "other"]
        assert _call(dash, "/api/studies/notes/delete", {"confirm": "notes"}, dash.token) == (
            200, {"deleted": "notes", "n_trials": 24})
        assert [s["name"] for s in _call(dash, "/api/studies")[1]["studies"]] == ["other"]
        assert _call(dash, "/api/studies/notes/trials")[0] == 404
    with pytest.raises(shoal.storage.StudyNotFound):
        shoal.Study.load("notes", url)


def test_a_note_set_elsewhere_on_a_finished_trial_reaches_the_next_poll(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    study = shoal.Study("elsewhere", {"q": shoal.Float(0.0, 1.0)}, storage=url, sampler=Random(seed=0))
    study.optimize(lambda c: c["q"], 4, show_progress=False)
    with Dashboard(url, port=0) as dash:
        _, rows = _call(dash, "/api/studies/elsewhere/trials")
        assert not any(r["has_note"] for r in rows["trials"])
        since = f"since={rows['rev']}&epoch={rows['epoch']}"
        other = shoal.Study.load("elsewhere", url)  # another driver, as `study.note` in another process
        other.note("look again", trial=2)
        time.sleep(MIN_READ_INTERVAL)  # past the dashboard's read throttle
        _, changed = _call(dash, f"/api/studies/elsewhere/trials?{since}")
        assert [(r["number"], r["has_note"]) for r in changed["trials"]] == [(2, True)]
        assert _call(dash, f"/api/studies/elsewhere/trials?{since}")[1]["trials"] == changed["trials"]
        other.note("", trial=2)  # removed: the row changes back
        time.sleep(MIN_READ_INTERVAL)
        _, rows = _call(dash, "/api/studies/elsewhere/trials")
        assert not any(r["has_note"] for r in rows["trials"])


def test_the_page_edits_notes_renders_them_safely_says_why_trials_ended_and_deletes(dashboard_page, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    study = _study(url)
    shoal.Study("kept", {"x": shoal.Float(0, 1)}, storage=url)
    page = dashboard_page(url, "#/s/notes")
    expect(page.locator("#trials-table tbody tr")).to_have_count(24)

    # the study's note: written on the page, rendered as Markdown, every payload inert
    page.click("#study-note-edit")
    plan = "# Plan\n\n- **wide** first\n- then `narrow`\n\nsee [docs](https://example.org/a?b=1&c=2)"
    page.fill("#study-note-text", plan + "\n\n" + "\n\n".join(XSS))
    page.click("#study-note-save")
    view = page.locator("#study-note-view")
    expect(view.locator("h3")).to_have_text("Plan")
    expect(view.locator("li")).to_have_count(2)
    expect(view.locator("li strong")).to_have_text("wide")
    expect(view.locator("li code")).to_have_text("narrow")
    expect(view.locator('a[href="https://example.org/a?b=1&c=2"]')).to_have_text("docs")
    shown = ("<img src=x", "<script>window.__xss = 2</script>", "javascript:window.__xss=3", "<svg onload")
    for payload in shown:
        expect(view).to_contain_text(payload)  # shown as text
    assert view.locator("img, script, svg, [onerror], [onload], [onmouseover]").count() == 0
    assert view.locator("a").count() == 2  # docs, and the https link whose quote stayed escaped
    assert page.locator('a[href^="javascript"]').count() == 0
    quoted = 'https://example.org/"onmouseover="window.__xss=5'
    expect(view.locator("a").nth(1)).to_have_attribute("href", quoted)
    view.locator("a").nth(1).hover()
    assert page.evaluate("window.__xss") is None
    assert shoal.Study.load("notes", url).note().startswith("# Plan")
    page.reload()
    expect(page.locator("#study-note-view h3")).to_have_text("Plan")
    assert page.evaluate("window.__xss") is None

    # why trials ended, as a column; a pruned trial's page says it, and takes a note
    pruned = next(t for t in study.trials if t.state == shoal.TrialState.PRUNED)
    failed = next(t for t in study.trials if t.state == shoal.TrialState.FAILED)
    row = page.locator(f'#trials-table tr[data-number="{pruned.number}"]')
    expect(row).to_contain_text(f"pruned at step {pruned.reports[-1][0]} by ASHA at rung")
    expect(page.locator(f'#trials-table tr[data-number="{failed.number}"] td.err')).to_have_text(
        "failed: ValueError: q too high")
    row.click()
    expect(page.locator("#trial-ended")).to_contain_text(f"pruned at step {pruned.reports[-1][0]} by ASHA")
    page.click("#trial-user-note-edit")
    page.fill("#trial-user-note-text", "*odd* curve " + XSS[0])
    page.click("#trial-user-note-save")
    expect(page.locator("#trial-user-note-view em")).to_have_text("odd")
    expect(page.locator("#trial-user-note-view")).to_contain_text("<img src=x")
    assert page.locator("#trial-user-note-view img").count() == 0
    assert shoal.Study.load("notes", url).trials[pruned.number].note.startswith("*odd* curve")
    page.click("#crumbs a >> nth=1")
    expect(page.locator(f'#trials-table tr[data-number="{pruned.number}"] .note-mark')).to_have_count(1)
    assert page.evaluate("window.__xss") is None

    # delete: a wrong name is refused, the right one deletes and the page goes back to the list
    page.once("dialog", lambda dialog: dialog.accept("note"))
    page.click("#delete-button")
    expect(page.locator("#study-message")).to_contain_text("to delete study 'notes' for good")
    page.once("dialog", lambda dialog: dialog.accept("notes"))
    page.click("#delete-button")
    expect(page.locator('tr[data-study="kept"]')).to_be_visible()
    expect(page.locator('tr[data-study="notes"]')).to_have_count(0)
    assert page.url.endswith("#/")
    assert [s.record.name for s in shoal.storage.get_storage(url).list_studies()] == ["kept"]
