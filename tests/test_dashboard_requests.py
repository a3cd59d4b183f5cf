"""The dashboard's server against bad and vanishing clients, over raw sockets on 127.0.0.1.

Each case first hung or answered 500 (issue 12): ``Content-Length: -1`` blocked a request thread,
``Content-Length: abc`` and deeply nested JSON answered 500, and every client that went away early
printed about 61 lines of traceback. After each, the server must still answer a normal request
at once. Every socket has a timeout, so a regression fails instead of hanging.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import shoal
from shoal.dashboard import TOKEN_HEADER, Dashboard
from shoal.dashboard import server as dashboard_server

#: Generous bound for one answer from a server on loopback (a hang is what the tests catch).
ANSWER_WITHIN = 5.0


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'shoal.db'}"
    shoal.Study("s", {"x": shoal.Float(0, 1)}, storage=url)
    return url


@pytest.fixture
def dashboard(url: str):
    dashboard = Dashboard(url, port=0).start()
    yield dashboard
    dashboard.stop()


def _address(dashboard: Dashboard) -> tuple[str, int]:
    host, port = dashboard._server.server_address[:2]
    assert host == "127.0.0.1"
    return host, port


def raw_exchange(address: tuple[str, int], head: bytes, body: bytes = b"") -> tuple[int, dict, float]:
    """Send bytes as they are; the status, the JSON answer and the seconds the answer took."""
    start = time.monotonic()
    with socket.create_connection(address, timeout=ANSWER_WITHIN) as sock:
        sock.sendall(head + b"\r\n" + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        answer = response.read()
    return response.status, json.loads(answer) if answer else {}, time.monotonic() - start


def post_head(dashboard: Dashboard, *headers: str, path: str = "/api/studies/s/pause") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"{TOKEN_HEADER}: {dashboard.token}", *headers]
    return ("\r\n".join(lines) + "\r\n").encode()


def assert_still_answers(dashboard: Dashboard) -> None:
    status, body, took = raw_exchange(
        _address(dashboard), b"GET /api/studies HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    )
    assert status == 200 and [s["name"] for s in body["studies"]] == ["s"]
    assert took < ANSWER_WITHIN


NESTED = b"[" * 100_000 + b"]" * 100_000  # a RecursionError in json.loads
CHUNKED = b"10\r\n" + b'{"paused": true}' + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize(
    ("headers", "body", "status", "says"),
    [
        (["Content-Length: -1"], b'{"paused": true}', 400, "Content-Length must be one non-negative integer"),
        (["Content-Length: abc"], b"", 400, "'abc'"),
        (["Content-Length: +16"], b'{"paused": true}', 400, "Content-Length"),
        (["Content-Length: 16", "Content-Length: 17"], b'{"paused": true}', 400, "Content-Length"),
        ([f"Content-Length: {len(NESTED)}"], NESTED, 400, "nested too deeply"),
        (["Content-Length: 9"], b"not json!", 400, "not JSON"),
        ([f"Content-Length: {(1 << 20) + 1}"], b"", 413, "over the limit"),
        (["Content-Length: 99999999999999999999"], b"", 413, "over the limit"),
        (["Transfer-Encoding: chunked"], CHUNKED, 411, "Content-Length"),
    ],
    ids=[
        "negative", "not-a-number", "signed", "two-lengths", "nested", "not-json",
        "over-1MiB", "huge", "chunked",
    ],
)
def test_a_bad_body_is_answered_at_once_and_the_server_goes_on(
    dashboard: Dashboard, url: str, headers: list[str], body: bytes, status: int, says: str
) -> None:
    got, answer, took = raw_exchange(_address(dashboard), post_head(dashboard, *headers), body)
    assert (got, took < ANSWER_WITHIN) == (status, True), answer
    assert says in answer["error"]
    assert not shoal.Study.load("s", url).paused  # nothing acted on
    assert_still_answers(dashboard)


def test_the_good_body_still_works_and_keeps_the_connection(dashboard: Dashboard, url: str) -> None:
    conn = http.client.HTTPConnection(*_address(dashboard), timeout=ANSWER_WITHIN)
    try:
        for paused in (True, False, True):
            conn.request("POST", "/api/studies/s/pause", body=json.dumps({"paused": paused}),
                         headers={TOKEN_HEADER: dashboard.token})
            response = conn.getresponse()
            assert (response.status, json.loads(response.read())["paused"]) == (200, paused)
        conn.request("POST", "/api/studies/s/pause", headers={TOKEN_HEADER: dashboard.token})  # no body
        response = conn.getresponse()
        assert response.status == 400 and "paused" in json.loads(response.read())["error"]
    finally:
        conn.close()
    assert shoal.Study.load("s", url).paused


def test_an_unread_body_closes_the_connection_instead_of_being_read_as_a_request(
    dashboard: Dashboard,
) -> None:
    """A 403 (no token) leaves the body unread: the connection closes rather than parse it next."""
    conn = http.client.HTTPConnection(*_address(dashboard), timeout=ANSWER_WITHIN)
    try:
        conn.request("POST", "/api/studies/s/pause", body=b'{"paused": true}')
        response = conn.getresponse()
        assert response.status == 403 and response.getheader("Connection") == "close"
        response.read()
        conn.request("GET", "/api/studies")  # http.client opens a new connection
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_a_body_that_never_comes_is_dropped_after_the_timeout(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard_server._Handler, "timeout", 0.5)
    status, answer, took = raw_exchange(
        _address(dashboard), post_head(dashboard, "Content-Length: 100"), b'{"paused": '
    )
    assert status == 408 and "did not arrive" in answer["error"] and took < ANSWER_WITHIN
    assert_still_answers(dashboard)


def disconnect_early(address: tuple[str, int], count: int, path: str = "/api/studies/s") -> None:
    """Clients that send a request and leave before the answer: half close (FIN), half reset (RST)."""
    for i in range(count):
        with socket.create_connection(address, timeout=ANSWER_WITHIN) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            if i % 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_clients_that_leave_early_are_one_debug_line_each(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="shoal.dashboard")
    disconnect_early(_address(dashboard), 100)
    disconnect_early(_address(dashboard), 20, path="/static/app.js")
    assert_still_answers(dashboard)
    deadline = time.monotonic() + ANSWER_WITHIN  # the server's threads may still be logging
    gone = []
    while time.monotonic() < deadline:
        gone = [r for r in caplog.records if "went away" in r.getMessage()]
        if len(gone) >= 60:
            break
        time.sleep(0.05)
    assert 1 <= len(gone) <= 120, len(gone)
    assert all(r.levelno == logging.DEBUG and r.exc_info is None for r in gone)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert "Traceback" not in capfd.readouterr().err


def test_shoal_dashboard_prints_nothing_for_300_early_disconnects(url: str, tmp_path: Path) -> None:
    """As a person runs it: `shoal dashboard` in its own process, its stderr read after."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "shoal", "dashboard", "--storage", url, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        first = proc.stdout.readline() + proc.stdout.readline()
        opened = re.search(r"open\s+http://127\.0\.0\.1:(\d+)/", first)
        assert opened, first
        address = ("127.0.0.1", int(opened.group(1)))
        disconnect_early(address, 300)
        conn = http.client.HTTPConnection(*address, timeout=ANSWER_WITHIN)
        conn.request("GET", "/api/session")
        assert conn.getresponse().status == 200
        conn.close()
        time.sleep(0.5)  # let the last threads finish before the process is stopped
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err and len(err.splitlines()) <= 2, err[-3000:]
