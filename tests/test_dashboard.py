"""The dashboard over HTTP, against a real SQLite file: reads, the token, and the panda actions
(enqueue, stop, pause) reaching a Study that runs at the same time.

The page itself is driven in a real browser by ``tests/test_dashboard_browser.py``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import sqlite_url_for, wait_for

import shoal
from shoal.dashboard import TOKEN_HEADER, Dashboard
from shoal.storage import SQLStorage
from shoal.trial import TrialState

SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "layers": shoal.Int(1, 4),
    "opt": shoal.Choice(["adam", "sgd"]),
    "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
}


class Client:
    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None, host: str | None = None
    ) -> tuple[int, Any]:
        url = self.dashboard.url.rstrip("/") + path
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers[TOKEN_HEADER] = token
        if host is not None:
            headers["Host"] = host
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw, status, kind = response.read(), response.status, response.headers["Content-Type"]
        except urllib.error.HTTPError as exc:
            raw, status, kind = exc.read(), exc.code, exc.headers["Content-Type"]
        return status, json.loads(raw) if kind.startswith("application/json") else raw

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, body
        return body

    def act(self, path: str, body: Any = None, token: str | None = "yes") -> tuple[int, Any]:
        token = self.dashboard.token if token == "yes" else token
        return self.request("POST", path, body if body is not None else {}, token=token)


@pytest.fixture
def dash(sqlite_url: str):
    shoal.Study("warmup", {"x": shoal.Float(0, 1)}, storage=sqlite_url)  # the file exists before the dash
    dashboard = Dashboard(sqlite_url, port=0).start()
    yield Client(dashboard)
    dashboard.stop()


def quadratic(config: dict) -> float:
    return (config["lr"] - 0.01) ** 2 + config["layers"]


# -- reading -----------------------------------------------------------------------------------


def test_lists_studies_with_counts_best_and_paused(dash: Client, sqlite_url: str) -> None:
    study = shoal.Study("tune", SPACE, storage=sqlite_url, seed=0)
    study.optimize(quadratic, 4, show_progress=False)
    study.enqueue({"lr": 0.1, "layers": 2, "opt": "sgd"})
    study.pause()
    listed = {s["name"]: s for s in dash.get("/api/studies")["studies"]}
    assert set(listed) == {"warmup", "tune"}
    tune = listed["tune"]
    assert tune["n_trials"] == 5 and tune["counts"] == {"COMPLETE": 4, "QUEUED": 1}
    assert tune["best_value"] == pytest.approx(study.best.value)
    assert tune["paused"] is True and listed["warmup"]["paused"] is False
    odd = shoal.Study("a/b c?", {"x": shoal.Float(0, 1)}, storage=sqlite_url)  # any name works in a path
    odd.optimize(lambda c: c["x"], 1, show_progress=False)
    assert dash.get("/api/studies/a%2Fb%20c%3F/trials/0")["state"] == "COMPLETE"
    head = dash.get("/api/studies/tune")
    assert head["space"] == study.space.to_dict() and head["direction"] == "minimize"
    assert head["best_value"] == pytest.approx(study.best.value) and head["paused"] is True


def test_unknown_study_and_trial_are_404_naming_what_exists(dash: Client) -> None:
    status, body = dash.request("GET", "/api/studies/nope")
    assert status == 404 and "'nope'" in body["error"] and "'warmup'" in body["error"]
    status, body = dash.request("GET", "/api/studies/warmup/trials/7")
    assert status == 404 and "no trial number 7" in body["error"]
    status, body = dash.request("GET", "/api/studies/warmup/trials/x")
    assert status == 400 and "integer" in body["error"]


def test_trials_come_incrementally_by_revision(dash: Client, sqlite_url: str) -> None:
    study = shoal.Study("live", SPACE, storage=sqlite_url, seed=1)
    study.optimize(quadratic, 3, show_progress=False)
    first = dash.get("/api/studies/live/trials")
    assert [t["number"] for t in first["trials"]] == [0, 1, 2]
    assert {t["state"] for t in first["trials"]} == {"COMPLETE"}
    since = f"/api/studies/live/trials?since={first['rev']}&epoch={first['epoch']}"
    running = study.ask()
    wait_for(lambda: dash.get(since)["trials"], "the new trial")
    update = dash.get(since)
    assert [(t["number"], t["state"]) for t in update["trials"]] == [(3, "RUNNING")]
    running.report(0.5, 0)
    study.tell(running, 0.25)
    after = f"/api/studies/live/trials?since={update['rev']}&epoch={update['epoch']}"
    done = wait_for(lambda: dash.get(after)["trials"], "the finished trial")
    assert [(t["number"], t["state"], t["value"], t["n_reports"]) for t in done] == [(3, "COMPLETE", 0.25, 1)]
    # a page that watched another dashboard process (another epoch) gets everything again
    again = dash.get(f"/api/studies/live/trials?since={update['rev']}&epoch=other")
    assert [t["number"] for t in again["trials"]] == [0, 1, 2, 3]


def test_trial_detail_has_reports_error_and_lineage(dash: Client, sqlite_url: str) -> None:
    study = shoal.Study("flaky", SPACE, storage=sqlite_url, seed=2)

    def objective(config: dict, trial) -> float:
        trial.report(1.5, 0)
        trial.report(1.25, 1)
        raise RuntimeError("out of memory at layer 3")

    study.optimize(objective, 1, retries=1, catch=(RuntimeError,), show_progress=False)
    first = dash.get("/api/studies/flaky/trials/0")
    assert first["state"] == "FAILED" and "out of memory at layer 3" in first["error"]
    assert "Traceback" in first["error"] and first["reports"] == [[0, 1.5], [1, 1.25]]
    assert first["lineage"] == {"repeats": [], "repeated_by": [1]}
    retry = dash.get("/api/studies/flaky/trials/1")
    assert retry["lineage"] == {"repeats": [0], "repeated_by": []}
    assert retry["config"] == first["config"]
    row = dash.get("/api/studies/flaky/trials")["trials"][0]
    assert row["error"] == "RuntimeError: out of memory at layer 3"  # the table shows the last line


def test_serves_the_page_and_only_its_files(dash: Client) -> None:
    status, page = dash.request("GET", "/")
    assert status == 200 and b"/static/app.js" in page
    for name in ("app.js", "style.css"):
        status, body = dash.request("GET", f"/static/{name}")
        assert status == 200 and len(body) > 1000
    for path in ("/static/..%2Fserver.py", "/static/server.py", "/etc/passwd", "/api/nothing"):
        status, body = dash.request("GET", path)
        assert status == 404, path
    status, body = dash.request("GET", "/static/plotly.min.js")
    try:
        import plotly  # noqa: F401
    except ImportError:
        assert status == 404 and "plotly" in body["error"]
    else:
        assert status == 200 and b"plotly" in body[:2000].lower()


def test_analysis_plots_come_as_plotly_json_when_plotly_is_installed(dash: Client, sqlite_url: str) -> None:
    import importlib.util

    study = shoal.Study("plots", SPACE, storage=sqlite_url, seed=8)
    study.optimize(quadratic, 12, show_progress=False)
    listed = [f["key"] for f in dash.get("/api/studies/plots/figures")["figures"]]
    if importlib.util.find_spec("plotly") is None:
        assert listed == []
        return
    assert "slices" in listed and "parallel_coordinates" in listed
    assert "history" not in listed  # the page draws that one itself, live
    assert "lineage" not in listed and "intermediate" not in listed  # no lineage, no reports: no plot
    status, body = dash.request("GET", "/api/studies/plots/figures/lineage")
    assert status == 404 and body["error"] == "no data for plot 'lineage' yet: no trial descends from another"
    answer = dash.get("/api/studies/plots/figures/slices")
    figure = json.loads(answer["figure"])
    assert answer["title"] and figure["data"] and "layout" in figure
    status, body = dash.request("GET", "/api/studies/plots/figures/nope")
    assert status == 404 and "slices" in body["error"]
    status, body = dash.request("GET", "/api/studies/nope/figures")
    assert status == 404


def test_refuses_requests_not_addressed_to_localhost(dash: Client) -> None:
    """A page on another site that rebinds its DNS name to 127.0.0.1 cannot read the studies."""
    status, body = dash.request("GET", "/api/studies", host="attacker.example:8080")
    assert status == 403 and "localhost" in body["error"]
    port = dash.dashboard.url.rsplit(":", 1)[1].strip("/")
    status, _ = dash.request("GET", "/api/studies", host=f"localhost:{port}")
    assert status == 200


# -- the token ---------------------------------------------------------------------------------


def test_actions_need_the_token(dash: Client, sqlite_url: str) -> None:
    study = shoal.Study("guarded", SPACE, storage=sqlite_url)
    config = {"lr": 0.1, "layers": 2, "opt": "sgd"}
    for token in (None, "", "wrong-token-value", dash.dashboard.token[:-1]):
        for path, body in (
            ("/api/studies/guarded/enqueue", {"config": config}),
            ("/api/studies/guarded/pause", {"paused": True}),
            ("/api/studies/guarded/trials/0/stop", {}),
        ):
            status, answer = dash.act(path, body, token=token)
            assert status == 403 and TOKEN_HEADER in answer["error"], (token, path)
    assert study.trials == [] and not study.paused
    assert len(dash.dashboard.token) >= 20  # random, printed at start


# -- panda mode --------------------------------------------------------------------------------


def test_enqueue_validates_against_the_space_with_clear_errors(dash: Client, sqlite_url: str) -> None:
    study = shoal.Study("hand", SPACE, storage=sqlite_url, seed=3)
    bad = [
        ({"lr": 5, "layers": 2, "opt": "sgd"}, r"dimension 'lr': 5\.0 is not a legal value"),
        ({"lr": 0.1, "layers": "two", "opt": "sgd"}, r"dimension 'layers': 'two' is not a legal value"),
        ({"lr": 0.1, "layers": 2, "opt": "rmsprop"}, r"dimension 'opt': 'rmsprop'"),
        ({"lr": 0.1, "layers": 2, "opt": "sgd", "beta1": 0.9}, r"'beta1' is inactive"),
        ({"lr": 0.1, "layers": 2, "opt": "sgd", "momentum": 0.9}, r"unknown dimension\(s\) \['momentum'\]"),
    ]
    for config, message in bad:
        status, body = dash.act("/api/studies/hand/enqueue", {"config": config})
        assert status == 400 and re.search(message, body["error"]), (config, body)
    status, body = dash.act("/api/studies/hand/enqueue", {"configuration": {}})
    assert status == 400 and '{"config"' in body["error"]
    assert study.trials == []
    status, body = dash.act(
        "/api/studies/hand/enqueue", {"config": {"lr": 0.02, "layers": 3, "opt": "adam", "beta1": 0.9}}
    )
    assert status == 201 and body["trial"]["state"] == "QUEUED"
    # the next optimize runs the person's configuration first, exactly as given
    seen: list[dict] = []
    study.optimize(lambda c: seen.append(dict(c)) or quadratic(c), 1, show_progress=False)
    assert seen == [{"lr": 0.02, "layers": 3, "opt": "adam", "beta1": 0.9}]
    assert study.trials[0].state == TrialState.COMPLETE
    # a configuration with values left out: the study's sampler fills them when it starts
    status, body = dash.act("/api/studies/hand/enqueue", {"config": {"lr": 0.1, "layers": 2}})
    assert status == 201 and body["trial"]["state"] == "QUEUED"
    study.optimize(lambda c: seen.append(dict(c)) or quadratic(c), 1, show_progress=False)
    assert seen[1]["lr"] == 0.1 and seen[1]["layers"] == 2 and seen[1]["opt"] in ("adam", "sgd")


def test_stop_reaches_a_running_objective_at_its_next_report(dash: Client, sqlite_url: str) -> None:
    study = shoal.Study("long", SPACE, storage=sqlite_url, seed=4)
    steps: list[int] = []

    def objective(config: dict, trial) -> float:
        for step in range(10_000):
            trial.report(1.0 / (step + 1), step)
            steps.append(step)
            if trial.should_stop():
                raise shoal.TrialPruned()
            time.sleep(0.01)
        return 0.0

    runner = threading.Thread(target=study.optimize, args=(objective, 1), kwargs={"show_progress": False})
    runner.start()
    try:
        wait_for(lambda: len(steps) >= 3, "the trial to report")
        status, body = dash.act("/api/studies/long/trials/0/stop")
        assert (status, body) == (200, {"number": 0, "stop_requested": True})
        runner.join(30)
        assert not runner.is_alive()
    finally:
        study.stop_trial(0) if runner.is_alive() else None
        runner.join(30)
    (trial,) = study.trials
    assert trial.state == TrialState.PRUNED and trial.stop_requested
    assert len(steps) < 10_000
    status, body = dash.act("/api/studies/long/trials/0/stop")
    assert status == 409 and "PRUNED" in body["error"]


def test_pause_holds_new_trials_until_resumed(
    dash: Client, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = shoal.Study("held", SPACE, storage=sqlite_url, seed=5)
    gate, started = threading.Event(), []
    # The loop reads the paused flag only when it has a free slot and budget left, that is, right
    # before it would start a trial; record its answers to see it decline to start one.
    looks: list[bool] = []
    is_paused = study.storage.is_paused

    def watched_is_paused(study_id: int) -> bool:
        answer = is_paused(study_id)
        if study_id == study.id:
            looks.append(answer)
        return answer

    monkeypatch.setattr(study.storage, "is_paused", watched_is_paused)

    def objective(config: dict) -> float:
        started.append(config)
        if len(started) == 1:
            gate.wait(30)
        return quadratic(config)

    runner = threading.Thread(target=study.optimize, args=(objective, 3), kwargs={"show_progress": False})
    runner.start()
    try:
        wait_for(lambda: started, "the first trial")
        paused = dash.act("/api/studies/held/pause", {"paused": True})
        assert paused == (200, {"name": "held", "paused": True})
        gate.set()  # the running trial finishes; no new one may start while paused
        wait_for(lambda: [t.state for t in study.trials] == [TrialState.COMPLETE], "trial 0 to finish")
        finished_at = len(looks)
        # twice since then the loop was free to start trial 1, found the study paused, and did not
        wait_for(lambda: looks[finished_at:].count(True) >= 2, "the loop to find the study paused")
        assert len(started) == 1 and len(study.trials) == 1 and runner.is_alive()
        assert dash.get("/api/studies/held")["paused"] is True
        assert dash.act("/api/studies/held/pause", {"paused": False})[0] == 200
        runner.join(30)
        assert not runner.is_alive()
    finally:
        gate.set()
        study.unpause()
        runner.join(30)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    status, body = dash.act("/api/studies/held/pause", {"paused": "yes"})
    assert status == 400 and '"paused": true' in body["error"]


def test_study_pause_and_stop_trial_without_a_dashboard() -> None:
    study = shoal.Study("mem", SPACE, seed=6)
    assert not study.paused
    study.pause()
    assert study.paused
    study.unpause()
    assert not study.paused
    running = study.ask()
    running.report(1.0, 0)
    assert not running.should_stop()
    assert study.stop_trial(running.number) is True
    running.report(0.5, 1)
    assert running.should_stop()
    study.tell(running, state="PRUNED")
    assert study.stop_trial(running.number) is False
    with pytest.raises(ValueError, match="no trial number 9"):
        study.stop_trial(9)


def test_paused_optimize_with_a_deadline_returns_without_starting(sqlite_url: str) -> None:
    study = shoal.Study("deadline", SPACE, storage=sqlite_url)
    study.pause()
    study.optimize(quadratic, 5, timeout=1.0, show_progress=False)
    assert study.trials == []


# -- never in a writer's way -------------------------------------------------------------------


def test_reads_hold_no_lock_a_writer_waits_for(dash: Client, sqlite_url: str, tmp_path: Path) -> None:
    """A writer that never waits (busy timeout 0) writes while the dashboard reads all the time."""
    study = shoal.Study("busy", SPACE, storage=sqlite_url, seed=7)
    study.optimize(quadratic, 20, show_progress=False)
    stop, reads, errors = threading.Event(), [], []

    def reader() -> None:
        while not stop.is_set():
            try:
                dash.get("/api/studies")
                dash.get("/api/studies/busy/trials")
                dash.get("/api/studies/busy/trials/3")
                reads.append(1)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    writer = sqlite3.connect(tmp_path / "shoal.db", timeout=0, isolation_level=None)
    try:
        wait_for(lambda: len(reads) >= 3, "the readers")
        for i in range(100):
            writer.execute("BEGIN IMMEDIATE")  # fails at once with 'database is locked' if blocked
            writer.execute("INSERT INTO shoal_meta (key, value) VALUES (?, ?)", (f"probe-{i}", "x"))
            writer.execute("COMMIT")
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        writer.close()
    assert errors == [] and len(reads) >= 3


# -- the command line --------------------------------------------------------------------------


def test_shoal_dashboard_command_prints_address_and_token(sqlite_url: str, tmp_path: Path) -> None:
    shoal.Study("cli", SPACE, storage=sqlite_url).enqueue({"lr": 0.1, "layers": 1, "opt": "sgd"})
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shoal", "dashboard", "--storage", sqlite_url, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        opened = re.search(r"open\s+(http://127\.0\.0\.1:(\d+)/)\?token=(\S+)", "".join(lines))
        token = re.search(r"token\s+(\S+)", lines[2])
        assert opened and token and opened.group(3) == token.group(1), lines
        conn = http.client.HTTPConnection("127.0.0.1", int(opened.group(2)), timeout=30)
        conn.request("GET", "/api/studies")
        studies = json.loads(conn.getresponse().read())["studies"]
        assert [s["name"] for s in studies] == ["cli"]
        conn.request("POST", "/api/studies/cli/pause", body=b'{"paused": true}',
                     headers={TOKEN_HEADER: token.group(1)})
        assert conn.getresponse().status == 200
        assert SQLStorage(sqlite_url).get_study("cli").paused
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()


def test_shoal_dashboard_on_a_missing_database_is_a_usage_error(tmp_path: Path) -> None:
    from shoal.cli import main

    code = main(["dashboard", "--storage", sqlite_url_for(tmp_path / "none.db"), "--port", "0"])
    assert code == 2 and not (tmp_path / "none.db").exists()


def test_dashboard_arguments_are_checked(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="port must be an int"):
        Dashboard(sqlite_url, port=70000)
    with pytest.raises(ValueError, match="token must be a string of at least 8"):
        Dashboard(sqlite_url, port=0, token="short")
    first = Dashboard(sqlite_url, port=0)
    try:
        taken = int(first.url.rsplit(":", 1)[1].strip("/"))
        with pytest.raises(ValueError, match="pick another --port"):
            Dashboard(sqlite_url, port=taken)
    finally:
        first.stop()


def _reports_until_stopped(config: dict, trial) -> float:
    for step in range(3000):
        trial.report(float(step), step)
        if trial.should_stop():
            raise shoal.TrialPruned()
        time.sleep(0.01)
    return 0.0


def test_a_stop_reaches_a_trial_in_a_worker_process(sqlite_url: str) -> None:
    study = shoal.Study("workers", SPACE, storage=sqlite_url, seed=9)
    runner = threading.Thread(
        target=study.optimize, args=(_reports_until_stopped, 1),
        kwargs={"n_workers": 2, "show_progress": False},
    )
    runner.start()
    other = shoal.Study.load("workers", sqlite_url)  # a person's view, as the dashboard has it
    try:
        wait_for(lambda: [t for t in other.trials if t.state == TrialState.RUNNING and t.reports], "reports")
        assert other.stop_trial(0) is True
        runner.join(60)
        assert not runner.is_alive()
    finally:
        other.stop_trial(0)
        runner.join(60)
    (trial,) = study.trials
    assert trial.state == TrialState.PRUNED and len(trial.reports) < 3000
