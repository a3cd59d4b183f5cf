"""The dashboard's tweak and fork actions over HTTP, against a real SQLite file.

``POST /api/studies/NAME/trials/N/tweak`` changes a running trial's hyperparameters (``Study.tweak``)
and ``.../fork`` starts a new trial from one of its checkpoints (``Study.fork``). Both need the token,
and a value the space refuses is a 400 with its message and nothing stored. The trial's JSON carries
each change at the step it took effect. The page is driven in a browser by
``tests/test_dashboard_browser.py``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for

import shoal
from shoal.dashboard import TOKEN_HEADER, Dashboard

SPACE = {
    "lr": shoal.Float(1e-4, 1.0, scale="log"),
    "layers": shoal.Int(1, 4),
    "opt": shoal.Choice(["adam", "sgd"]),
    "beta1": shoal.Float(0.8, 0.99, when={"opt": ["adam"]}),
    "seed": shoal.Fixed(7),
}
START = {"lr": 0.01, "layers": 2, "opt": "adam", "beta1": 0.9, "seed": 7}


class Client:
    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers[TOKEN_HEADER] = token
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.dashboard.url.rstrip("/") + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, body
        return body

    def act(self, path: str, body: Any, token: str | None = "yes") -> tuple[int, Any]:
        return self.request("POST", path, body, self.dashboard.token if token == "yes" else token)


@pytest.fixture
def dash(sqlite_url: str):
    shoal.Study("warmup", {"x": shoal.Float(0, 1)}, storage=sqlite_url)  # the file exists before the dash
    dashboard = Dashboard(sqlite_url, port=0).start()
    yield Client(dashboard)
    dashboard.stop()


@pytest.fixture
def running(sqlite_url: str, tmp_path: Path):
    """A study whose trial 0 is RUNNING (through ``ask``), with a checkpoint saved at steps 0 and 1."""
    study = shoal.Study("panda", SPACE, storage=sqlite_url, seed=0, checkpoints=str(tmp_path / "ck"))
    study.enqueue(START)
    trial = study.ask()
    for step in (0, 1):
        trial.save({"step": step}, step)
        trial.report(1.0 / (step + 1), step)
    return study, trial


def stored_changes(url: str, number: int) -> list:
    return shoal.Study.load("panda", url).trials[number].changes


TWEAK = "/api/studies/panda/trials/0/tweak"


def test_tweak_and_fork_need_the_token(dash: Client, sqlite_url: str, running) -> None:
    fork = "/api/studies/panda/trials/0/fork"
    for path, body in ((TWEAK, {"changes": {"lr": 0.001}}), (fork, {"step": 1})):
        for token in (None, "not-the-token"):
            status, answer = dash.act(path, body, token=token)
            assert status == 403 and TOKEN_HEADER in answer["error"], (path, token)
    study = shoal.Study.load("panda", sqlite_url)
    assert [t.number for t in study.trials] == [0] and study.trials[0].changes == []


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"lr": 5.0}, "tweak of trial 0: dimension 'lr': 5.0 is not a legal value"),
        ({"lr": "0.001"}, "dimension 'lr': '0.001' is not a legal value"),  # numbers come as numbers
        ({"layers": 2.5}, "dimension 'layers': 2.5 is not a legal value"),
        ({"seed": 8}, "dimension 'seed' is Fixed(7); it cannot change"),
        ({"depth": 3}, "unknown dimension(s) ['depth']"),
        ({"opt": "sgd"}, "a running model cannot gain or lose hyperparameters"),  # beta1 would go away
        ({"lr": 0.001, "layers": 9}, "dimension 'layers': 9 is not a legal value"),  # all or nothing
        ({}, "at least one dimension"),
        ([["lr", 0.001]], '{"changes": {"<dimension>": value, ...}}'),
    ],
    ids=["out-of-range", "string", "int-as-float", "fixed", "unknown", "switches-off",
         "one-bad-of-two", "empty", "not-an-object"],
)
def test_a_bad_tweak_is_400_with_the_reason_and_nothing_is_stored(
    dash: Client, sqlite_url: str, running, changes: Any, says: str
) -> None:
    status, answer = dash.act(TWEAK, {"changes": changes})
    assert status == 400 and says in answer["error"], answer
    assert stored_changes(sqlite_url, 0) == []
    _, trial = running
    trial.report(0.2, 2)
    assert trial.changes() == {} and trial.config == START


def test_a_tweak_reaches_the_trial_and_its_json_carries_the_change_at_its_step(
    dash: Client, sqlite_url: str, running
) -> None:
    _, trial = running
    status, answer = dash.act(TWEAK, {"changes": {"lr": 0.0003, "layers": 3, "seed": 7}})  # seed unchanged
    assert status == 200, answer
    assert [(c["name"], c["old"], c["new"], c["source"], c["kind"]) for c in answer["changes"]] == [
        ("lr", 0.01, 0.0003, "person", "tweak"), ("layers", 2, 3, "person", "tweak"),
    ]
    pending = dash.get("/api/studies/panda/trials/0")
    assert pending["pending_changes"] == {"lr": 0.0003, "layers": 3}
    assert [c["step"] for c in pending["changes"]] == [None, None]
    assert pending["current_config"] == START and pending["excluded_from_models"] is None

    trial.report(0.3, 2)  # delivers: in force from step 3
    assert trial.changes() == {"lr": (0.01, 0.0003), "layers": (2, 3)}
    assert trial.config == {**START, "lr": 0.0003, "layers": 3}
    # the dashboard reads storage at most every 0.25 s: wait for the read after the report
    detail = wait_for(lambda: (d := dash.get("/api/studies/panda/trials/0"))["pending_changes"] == {} and d,
                      "the delivered tweak in the trial's JSON")
    assert [(c["name"], c["old"], c["new"], c["step"]) for c in detail["changes"]] == [
        ("lr", 0.01, 0.0003, 3), ("layers", 2, 3, 3),
    ]
    assert detail["schedule"] == [[0, START], [3, {"lr": 0.0003, "layers": 3}]]
    assert detail["current_config"] == {**START, "lr": 0.0003, "layers": 3}
    assert detail["config"] == START and detail["pending_changes"] == {}
    assert "hyperparameters changed while it trained (layers, lr)" in detail["excluded_from_models"]
    assert detail["checkpoint_steps"] == [0, 1]


def test_a_tweak_of_a_trial_that_is_not_running_is_refused(dash: Client, sqlite_url: str, running) -> None:
    study, trial = running
    study.tell(trial, 0.5)
    study.enqueue({**START, "lr": 0.1})
    for number, state in ((0, "COMPLETE"), (1, "QUEUED")):
        status, answer = dash.act(f"/api/studies/panda/trials/{number}/tweak", {"changes": {"lr": 0.001}})
        assert status == 409 and f"trial {number} is {state}" in answer["error"], answer
        assert "fork it" in answer["error"]
        assert stored_changes(sqlite_url, number) == []
    status, answer = dash.act("/api/studies/panda/trials/9/tweak", {"changes": {"lr": 0.001}})
    assert status == 404 and "no trial number 9" in answer["error"]


def test_fork_from_a_step_queues_a_trial_with_the_changes(dash: Client, sqlite_url: str, running) -> None:
    status, answer = dash.act("/api/studies/panda/trials/0/fork", {"step": 5, "changes": {"lr": 0.002}})
    assert status == 201, answer
    child = answer["trial"]
    assert child["number"] == 1 and child["state"] == "QUEUED"
    assert child["config"] == {**START, "lr": 0.002}
    detail = dash.get("/api/studies/panda/trials/1")
    # the latest checkpoint at or before step 5 is step 1's: the fork trains from step 2
    assert [(c["name"], c["old"], c["new"], c["step"], c["kind"]) for c in detail["changes"]] == [
        ("lr", 0.01, 0.002, 2, "fork"),
    ]
    assert detail["schedule"] == [[2, {**START, "lr": 0.002}]]
    assert detail["excluded_from_models"] == "it was forked from another trial's checkpoint"
    status, answer = dash.act("/api/studies/panda/trials/0/fork", {"step": 0})  # no changes: a plain copy
    assert status == 201 and answer["trial"]["config"] == START


@pytest.mark.parametrize(
    ("number", "body", "status", "says"),
    [
        (0, {"step": 1, "changes": {"lr": 5.0}}, 400, "fork of trial 0: dimension 'lr': 5.0 is not a legal"),
        (0, {"step": 1, "changes": {"seed": 1}}, 400, "Fixed(7); it cannot change"),
        (0, {"step": "1"}, 400, "step must be an int, got '1'"),
        (0, {"step": 1.0}, 400, "step must be an int, got 1.0"),
        (0, {}, 400, "step must be an int, got None"),
        (0, {"step": -1}, 400, "step must be an int >= 0"),
        (0, {"step": 1, "changes": [1]}, 400, "changes must be an object"),
        (2, {"step": 3}, 400, "trial 2 has no checkpoint at or before step 3 (it saved none)"),
        (3, {"step": 1}, 404, "no trial number 3"),
    ],
    ids=["bad-value", "fixed", "string-step", "float-step", "no-step", "negative", "changes-list",
         "no-checkpoint", "unknown-trial"],
)
def test_a_bad_fork_is_refused_with_the_reason_and_creates_nothing(
    dash: Client, sqlite_url: str, running, number: int, body: dict, status: int, says: str
) -> None:
    study, _ = running
    study.optimize(lambda config: config["lr"], 1, show_progress=False)  # trial 1: saved no checkpoint
    study.enqueue(START)  # trial 2, QUEUED
    got, answer = dash.act(f"/api/studies/panda/trials/{number}/fork", body)
    assert (got, says in answer["error"]) == (status, True), answer
    assert len(shoal.Study.load("panda", sqlite_url).trials) == 3


def test_fork_reads_checkpoints_before_the_step_only(dash: Client, running) -> None:
    status, answer = dash.act("/api/studies/panda/trials/0/fork", {"step": 0, "changes": {"layers": 4}})
    assert status == 201
    detail = dash.get(f"/api/studies/panda/trials/{answer['trial']['number']}")
    assert [(c["name"], c["step"]) for c in detail["changes"]] == [("layers", 1)]  # step 0's checkpoint
