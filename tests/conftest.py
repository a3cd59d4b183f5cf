"""Shared fixtures: a ``storage`` for every backend (memory, SQLite, PostgreSQL), each test on a fresh one.

PostgreSQL runs when ``SHOAL_TEST_POSTGRES_URL`` names a server (``make test`` starts one with
``scripts/postgres.sh`` and sets it). Unset, the PostgreSQL cases are skipped and say how to enable
them; set but unreachable, they fail: a configured backend that cannot be tested is an error.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from shoal.storage import InMemoryStorage, Storage

# The Ctrl-C tests send SIGINT to the drivers they start. A suite launched as a background job
# inherits SIGINT ignored, and so would those drivers (an ignored signal survives exec), so they
# would never see it; give them the disposition a terminal gives.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

POSTGRES_ENV = "SHOAL_TEST_POSTGRES_URL"
BACKENDS = ("memory", "sqlite", "postgresql")
SQL_BACKENDS = ("sqlite", "postgresql")

T = TypeVar("T")


# -- helpers, imported by the test modules (``from conftest import ...``) ------------------------


def sqlite_url_for(path: str | os.PathLike[str]) -> str:
    """The storage URL of the SQLite file at ``path`` (for tests that need several files, a
    module-scoped one, or a URL to hand to another process; otherwise take ``sqlite_url``)."""
    return f"sqlite:///{path}"


def wait_for(
    condition: Callable[[], T],
    what: str,
    *,
    timeout: float = 60.0,
    check: Callable[[], Any] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    ``timeout`` bounds a hang; it is not a timing assertion, so keep it generous. ``check`` runs
    before every look and may fail the wait early (say, when a process it depends on has died).
    Gives up with ``gave up waiting for <what>``.
    """
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        got = condition()
        if got:
            return got
        if time.monotonic() >= deadline:
            pytest.fail(f"gave up waiting for {what} ({timeout:g} s)")
        time.sleep(0.02)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL for a fresh SQLite file, ``shoal.db`` in the test's ``tmp_path`` (not created yet)."""
    return sqlite_url_for(tmp_path / "shoal.db")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """An AUTOCOMMIT engine on the server named by $SHOAL_TEST_POSTGRES_URL (skip when unset)."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if not url:
        pytest.skip(
            f"PostgreSQL backend not tested: {POSTGRES_ENV} is unset. `make test` starts a local "
            f"server and sets it; or run `export {POSTGRES_ENV}=$(bash scripts/postgres.sh | tail -n 1)`"
        )
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server is reported as is
        engine.dispose()
        pytest.fail(
            f"{POSTGRES_ENV}={url!r} is set but the server cannot be reached: {exc}\n"
            f"Start one with `bash scripts/postgres.sh`, or unset {POSTGRES_ENV} to skip PostgreSQL.",
            pytrace=False,
        )
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """A URL on the test server whose tables live in a fresh schema, dropped after the test.

    The schema rides in the URL (``options=-csearch_path=...``), so other processes opening the
    same URL see the same tables.
    """
    import sqlalchemy as sa

    schema = f"shoal_test_{uuid.uuid4().hex[:12]}"
    with postgres_server.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = postgres_server.url.update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with postgres_server.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


def _sql_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "sqlite":
        return sqlite_url_for(tmp_path / "shoal.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=SQL_BACKENDS)
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for a fresh, empty SQL storage: a SQLite file, then a PostgreSQL schema."""
    return _sql_url(request.param, request, tmp_path)


@pytest.fixture(params=BACKENDS)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """A fresh, empty storage of each backend."""
    if request.param == "memory":
        backend: Storage = InMemoryStorage()
    else:
        from shoal.storage import SQLStorage

        backend = SQLStorage(_sql_url(request.param, request, tmp_path))
    yield backend
    backend.close()


@pytest.fixture
def backend(storage: Storage) -> str:
    """The name of the ``storage`` fixture's backend: memory, sqlite or postgresql."""
    if isinstance(storage, InMemoryStorage):
        return "memory"
    return "sqlite" if storage.url.startswith("sqlite") else "postgresql"
