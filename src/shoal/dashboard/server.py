"""The dashboard's HTTP server: the standard library's ``ThreadingHTTPServer``, JSON and four files.

No web framework: the API is a dozen routes and polls, which ``http.server`` serves in a thread per
request with no dependency to install or keep up to date. Actions that change a study (POST) need
the token printed at start in the ``X-Shoal-Token`` header (403 without it). Bound to 127.0.0.1 by
default, the server also refuses requests whose ``Host`` is not a loopback name (DNS rebinding).

One client cannot stall it: a request body needs a plain ``Content-Length`` (400 for a negative or
non-numeric one, 411 for a chunked body, 413 over ``_MAX_BODY``), a body that does not arrive within
``_Handler.timeout`` seconds is dropped, and a client that goes away early is one debug line.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import mimetypes
import re
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..storage import Storage, get_storage
from .app import DashboardApp
from .data import ApiError
from .studylist import DEFAULT_LIMIT

__all__ = ["Dashboard", "TOKEN_HEADER"]

logger = logging.getLogger("shoal.dashboard")

TOKEN_HEADER = "X-Shoal-Token"
_MAX_BODY = 1 << 20
_STATIC = (
    "index.html", "app.js", "steer.js", "studies.js", "compare.js", "table.js", "notes.js", "style.css",
)
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_DIGITS = re.compile(r"[0-9]+")


class _ClientGone(Exception):
    """The client closed or reset its connection (or stopped reading) before the answer was sent."""


def _gone(exc: BaseException) -> bool:
    """Whether an error while talking to a client means only that it went away."""
    return isinstance(exc, (ConnectionError, TimeoutError, _ClientGone))


def _plotly_js() -> Path | None:
    """plotly.js as the installed ``plotly`` package ships it (never from a CDN)."""
    try:
        import plotly
    except ImportError:
        return None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return path if path.is_file() else None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    #: Seconds a connection may sit without sending (or taking) a byte before it is closed: bounds a
    #: body shorter than its Content-Length and idle keep-alive connections.
    timeout = 30

    # -- plumbing ------------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.debug("%s %s", self.address_string(), format % args)

    def _client_gone(self, exc: BaseException, during: str) -> None:
        """One debug line, no traceback: a closed tab or a cancelled poll is not the server's fault."""
        self.close_connection = True
        cause = exc.__cause__ if isinstance(exc, _ClientGone) else exc
        reason = "closed early" if cause is None else type(cause).__name__
        logger.debug("dashboard: client %s went away during %s (%s)", self.address_string(), during, reason)

    def handle(self) -> None:
        try:
            super().handle()
        except Exception as exc:
            if not _gone(exc):
                raise
            self._client_gone(exc, "its request")  # reset while its request line or headers came

    def _unread_body(self) -> bool:
        """Whether the request came with a body that no route has read (so the stream is not at the
        next request: the connection must close after this answer)."""
        if self._body_read:
            return False
        length = (self.headers.get("Content-Length") or "0").strip()
        return bool(self.headers.get("Transfer-Encoding")) or length != "0"

    def _send(self, status: int, body: bytes, content_type: str, cache: bool = False) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            if self.close_connection or self._unread_body():
                self.send_header("Connection", "close")  # also sets close_connection
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (ConnectionError, TimeoutError) as exc:
            raise _ClientGone() from exc

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, allow_nan=False, default=str).encode()
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _host_allowed(self) -> bool:
        if not self.server.loopback_only:
            return True
        host = (self.headers.get("Host") or "").strip()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in _LOOPBACK_NAMES

    def _body(self) -> Any:
        """The JSON body, read exactly: never a read to the end of the stream, never over the cap."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # the chunks stay unread: the connection cannot be reused
            raise ApiError(411, "send the request body with a Content-Length, not in chunks")
        given = {v.strip() for v in self.headers.get_all("Content-Length") or ()}
        if not given:
            return {}  # no Content-Length, no Transfer-Encoding: no body (RFC 9112 6.3)
        text = given.pop()
        if given or not _DIGITS.fullmatch(text):
            self.close_connection = True  # where the body ends is unknown
            shown = ", ".join(sorted({text, *given}))[:40]
            raise ApiError(400, f"Content-Length must be one non-negative integer, got {shown!r}")
        length = int(text)
        if length > _MAX_BODY:
            self.close_connection = True
            raise ApiError(413, f"request body of {length} bytes is over the limit of {_MAX_BODY}")
        try:
            raw = self.rfile.read(length) if length else b""
        except TimeoutError:
            self.close_connection = True
            raise ApiError(408, f"the request body did not arrive within {self.timeout} s") from None
        except ConnectionError as exc:
            raise _ClientGone() from exc
        if len(raw) < length:
            raise _ClientGone()  # closed before the whole body came: nobody is there to answer
        self._body_read = True
        try:
            return json.loads(raw or b"{}")
        except RecursionError:
            raise ApiError(400, "the request body is JSON nested too deeply") from None
        except ValueError:
            raise ApiError(400, "the request body is not JSON") from None

    # -- methods -------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch(self._get)

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch(self._post)

    def _dispatch(self, route) -> None:
        self._body_read = False
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        try:
            try:
                if not self._host_allowed():
                    raise ApiError(403, "this dashboard answers only requests addressed to localhost")
                route(parts, {k: v[-1] for k, v in parse_qs(url.query).items()})
            except ApiError as exc:
                self._error(exc.status, exc.message)
            except _ClientGone:
                raise
            except Exception as exc:  # noqa: BLE001 - a broken request must not take the server down
                logger.exception("dashboard: %s %s failed", self.command, self.path)
                self._error(500, f"{type(exc).__name__}: {exc}")
        except _ClientGone as exc:
            self._client_gone(exc, f"{self.command} {self.path}")

    def _get(self, parts: list[str], query: dict[str, str]) -> None:
        app = self.server.app
        if not parts or parts == ["index.html"]:
            return self._static("index.html")
        if parts[0] == "static" and len(parts) == 2:
            return self._static(parts[1])
        if parts[0] != "api":
            raise ApiError(404, f"no page at {self.path}")
        api = parts[1:]
        if api == ["session"]:
            return self._json(200, {"epoch": app.epoch, "storage": self.server.storage_label})
        if api == ["studies"]:
            return self._json(200, app.run(app.studies, *_list_query(query)))
        if api[:1] == ["compare"]:
            return self._json(200, app.run(app.compare, api[1:], query.get("since")))
        if len(api) == 2 and api[0] == "studies":
            return self._json(200, app.run(app.study, api[1]))
        if len(api) == 3 and api[0] == "studies" and api[2] == "trials":
            since = _int(query.get("since", "-1"), "since")
            return self._json(200, app.run(app.trials, api[1], since, query.get("epoch")))
        if len(api) == 4 and api[0] == "studies" and api[2] == "trials":
            return self._json(200, app.run(app.trial, api[1], _int(api[3], "trial number")))
        if len(api) == 3 and api[0] == "studies" and api[2] == "note":
            return self._json(200, app.run(app.study_note, api[1]))
        if len(api) == 3 and api[0] == "studies" and api[2] == "figures":
            return self._json(200, app.run(app.figures, api[1]))
        if len(api) == 4 and api[0] == "studies" and api[2] == "figures":
            return self._json(200, app.run(app.figure, api[1], api[3]))
        raise ApiError(404, f"no API route {self.path}")

    def _post(self, parts: list[str], query: dict[str, str]) -> None:
        given = self.headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            raise ApiError(
                403,
                f"this action needs the token `shoal dashboard` printed at start, in the {TOKEN_HEADER} "
                "header (the page asks for it)",
            )
        app, body = self.server.app, self._body()
        field = body.get if isinstance(body, dict) else (lambda key: None)
        api = parts[1:] if parts[:1] == ["api"] else []
        if len(api) == 3 and api[0] == "studies" and api[2] == "enqueue":
            return self._json(201, app.run(app.enqueue, api[1], field("config")))
        if len(api) == 3 and api[0] == "studies" and api[2] == "pause":
            return self._json(200, app.run(app.pause, api[1], field("paused")))
        if len(api) == 3 and api[0] == "studies" and api[2] == "note":
            return self._json(200, app.run(app.set_note, api[1], None, field("text")))
        if len(api) == 3 and api[0] == "studies" and api[2] == "delete":
            return self._json(200, app.run(app.delete, api[1], field("confirm")))
        if len(api) == 5 and api[0] == "studies" and api[2] == "trials":
            number = _int(api[3], "trial number")
            if api[4] == "stop":
                return self._json(200, app.run(app.stop, api[1], number))
            if api[4] == "tweak":
                return self._json(200, app.run(app.tweak, api[1], number, field("changes")))
            if api[4] == "note":
                return self._json(200, app.run(app.set_note, api[1], number, field("text")))
            if api[4] == "fork":
                return self._json(201, app.run(app.fork, api[1], number, field("step"), field("changes")))
        raise ApiError(404, f"no action at {self.path}")

    def _static(self, name: str) -> None:
        if name == "plotly.min.js":
            path = _plotly_js()
            if path is None:
                raise ApiError(404, "plotly is not installed (pip install plotly)")
            return self._send(200, path.read_bytes(), "text/javascript; charset=utf-8", cache=True)
        if name not in _STATIC:
            raise ApiError(404, f"no file {name!r}")
        body = resources.files(__package__).joinpath("static", name).read_bytes()
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self._send(200, body, f"{kind}; charset=utf-8")


def _list_query(query: dict[str, str]) -> tuple[int, str | None, str, str, str, int, int]:
    """``since``, ``epoch``, ``q``, ``sort``, ``order``, ``offset`` and ``limit`` of a study list request."""
    return (_int(query.get("since", "-1"), "since"), query.get("epoch"), query.get("q", ""),
            query.get("sort", "activity"), query.get("order", ""), _int(query.get("offset", "0"), "offset"),
            _int(query.get("limit", str(DEFAULT_LIMIT)), "limit"))


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, f"{what} must be an integer, got {text!r}") from None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    #: Connections the kernel holds while the accept loop is busy (socketserver's default, 5, makes a
    #: burst of clients, such as pages reloading, wait a second or more for SYN retransmits).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: DashboardApp, token: str, label: str) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.token = token
        self.storage_label = label
        self.loopback_only = _is_loopback(address[0])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Through logging, not printed: a client gone is a debug line, anything else a traceback."""
        exc = sys.exc_info()[1]
        if exc is not None and _gone(exc):
            logger.debug("dashboard: client %s went away (%s)", client_address, type(exc).__name__)
        else:
            logger.error("dashboard: error while serving %s", client_address, exc_info=True)


def _label(storage: Storage) -> str:
    try:
        import sqlalchemy as sa

        return sa.engine.make_url(storage.url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - memory, or a URL SQLAlchemy does not parse
        return storage.url


class Dashboard:
    """A live dashboard over a storage: ``Dashboard("sqlite:///shoal.db").start()`` then open ``.url``.

    ``port=0`` picks a free port. ``token`` (random by default) is what POST actions need; the page
    takes it from ``url_with_token`` once and keeps it for the browser tab.
    """

    def __init__(
        self,
        storage: str | Storage,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        token: str | None = None,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in [0, 65535] (0 picks a free one), got {port!r}")
        if token is not None and (not isinstance(token, str) or len(token) < 8):
            raise ValueError("token must be a string of at least 8 characters (or None for a random one)")
        self.storage = get_storage(storage)
        self.token = token or secrets.token_urlsafe(18)
        self.app = DashboardApp(self.storage)
        try:
            self._server = _Server((host, port), self.app, self.token, _label(self.storage))
        except OSError as exc:
            raise ValueError(
                f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port"
            ) from None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/"

    @property
    def url_with_token(self) -> str:
        return f"{self.url}?token={self.token}"

    def start(self) -> Dashboard:
        """Serve in a background thread (for notebooks and tests); ``stop()`` ends it."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
            name="shoal-dashboard",
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until ``KeyboardInterrupt``."""
        try:
            self._server.serve_forever(poll_interval=0.5)
        finally:
            self._server.server_close()
            self.app.close()

    def stop(self) -> None:
        """Stop serving (a ``start()``-ed dashboard) and close the listening socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()
        self.app.close()

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Dashboard({self._server.storage_label!r}, url={self.url!r})"

