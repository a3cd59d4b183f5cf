"""The study list at scale: the storage's cheap counts and aggregated summaries (every backend), and
``GET /api/studies`` paged, filtered, sorted and answering only changed lines (a real SQLite file)."""

from __future__ import annotations

import pytest
from conftest import wait_for
from test_dashboard import Client

import shoal
from shoal.dashboard import Dashboard
from shoal.storage import Storage
from shoal.trial import TrialState

SPACE = {"x": shoal.Float(0.0, 1.0)}


def _run(study: shoal.Study, values: list[float | None]) -> None:
    """One trial per value: completed with it, or (None) left RUNNING."""
    for value in values:
        trial = study.ask()
        if value is not None:
            study.tell(trial, value)


def test_counts_and_summaries_agree_with_the_full_list(storage: Storage) -> None:
    low = shoal.Study("low", SPACE, storage=storage, seed=0)
    _run(low, [3.0, 1.0, 2.0, None])
    high = shoal.Study("high", SPACE, direction="maximize", storage=storage, seed=0)
    _run(high, [3.0, 5.0])
    high.pause()
    shoal.Study("empty", SPACE, storage=storage)
    listed = {s.record.name: s for s in storage.list_studies()}
    assert listed["low"].best_value == 1.0 and listed["high"].best_value == 5.0
    assert listed["empty"].best_value is None and listed["empty"].counts == {}

    counts = {c.name: c for c in storage.study_counts()}
    assert counts["low"].counts == {TrialState.COMPLETE: 3, TrialState.RUNNING: 1}
    assert counts["high"].paused is True and counts["low"].paused is False
    assert counts["empty"].counts == {}
    assert [c.study_id for c in storage.study_counts()] == sorted(c.study_id for c in counts.values())

    some = storage.summarize_studies([counts["low"].study_id, counts["empty"].study_id, 10_000])
    assert [s.record.name for s in some] == ["low", "empty"]
    assert some == [listed["low"], listed["empty"]]
    # last activity: the latest trial time, else the study's creation
    low_trials = low.trials
    latest = max(t for tr in low_trials for t in (tr.created_at, tr.started_at, tr.finished_at) if t)
    assert listed["low"].last_activity == latest
    assert listed["empty"].last_activity == listed["empty"].record.created_at


def test_infeasible_trials_are_not_the_best_in_the_aggregate(storage: Storage) -> None:
    study = shoal.Study("c", SPACE, storage=storage, seed=0, constraints=["mem <= 1.0"])
    for value, mem in [(0.5, 2.0), (0.9, 0.5)]:
        study.tell(study.ask(), {"value": value, "mem": mem})
    (summary,) = storage.summarize_studies([storage.get_study("c").study_id])
    assert summary.best_value == 0.9


@pytest.fixture
def listing(sqlite_url: str):
    for i in range(12):
        shoal.Study(f"s{i:02d}", SPACE, storage=sqlite_url)
    busy = shoal.Study("busy", SPACE, storage=sqlite_url, seed=0)
    _run(busy, [1.0, 2.0, 3.0])
    dashboard = Dashboard(sqlite_url, port=0).start()
    yield Client(dashboard), busy
    dashboard.stop()


def test_pages_filter_and_sort(listing) -> None:
    dash, _ = listing
    first = dash.get("/api/studies?limit=5&sort=name")
    assert (first["total"], first["matched"], first["order"]) == (13, 13, "asc")
    assert first["names"] == ["busy", "s00", "s01", "s02", "s03"]
    assert [s["name"] for s in first["studies"]] == first["names"]
    last = dash.get("/api/studies?limit=5&sort=name&offset=10")
    assert last["names"] == ["s09", "s10", "s11"]
    assert dash.get("/api/studies?sort=name&order=desc&limit=2")["names"] == ["s11", "s10"]
    assert dash.get("/api/studies?sort=trials&limit=1")["names"] == ["busy"]
    assert dash.get("/api/studies?limit=1")["names"] == ["busy"]  # last activity, latest first
    found = dash.get("/api/studies?q=S1")  # any case
    assert (found["matched"], found["names"]) == (2, ["s11", "s10"])
    assert dash.get("/api/studies?q=nothing")["names"] == []


def test_a_poll_sends_only_the_lines_that_changed(listing) -> None:
    dash, busy = listing
    first = dash.get("/api/studies?sort=name")
    assert len(first["studies"]) == 13
    since = f"/api/studies?sort=name&since={first['rev']}&epoch={first['epoch']}"
    assert dash.get(since)["studies"] == []
    busy.tell(busy.ask(), 0.5)
    shoal.Study("s03", SPACE, storage=busy.storage).pause()

    def changed():
        got = dash.get(since)
        return got if len(got["studies"]) == 2 else None

    got = wait_for(changed, what="the two changed lines")
    lines = {s["name"]: s for s in got["studies"]}
    assert lines["busy"]["n_trials"] == 4 and lines["busy"]["best_value"] == 0.5
    assert lines["s03"]["paused"] is True
    stale = dash.get(f"/api/studies?sort=name&since={got['rev']}&epoch=other")  # another process's page
    assert len(stale["studies"]) == 13


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort=size", "sort must be one of name, activity, trials, got 'size'"),
        ("order=up", "order must be 'asc' or 'desc', got 'up'"),
        ("limit=0", "limit must be between 1 and 500, got 0"),
        ("limit=many", "limit must be an integer, got 'many'"),
        ("offset=-1", "offset must be >= 0, got -1"),
    ],
)
def test_bad_list_parameters_are_named(listing, query: str, message: str) -> None:
    dash, _ = listing
    status, body = dash.request("GET", f"/api/studies?{query}")
    assert (status, body) == (400, {"error": message})
