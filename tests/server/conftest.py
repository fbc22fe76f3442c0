"""Fixtures for the server tests: a fresh storage on each backend, raw SQL access to it, and
the real server app over it on a loopback port (`world`)."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from fieldapp import crypto
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from sync.server.storage import Storage, open_storage
from tests._services import service_missing
from tests.server._harness import World, running

PG_URL = os.environ.get("FIELDAPP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Backend:
    """A migrated storage plus a side channel to its database for checks the API cannot make."""

    name: str
    url: str
    storage: Storage
    db_error: type[Exception]  # what the raw connection raises when the database refuses

    def raw(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one statement on a separate connection, committed; return its rows."""
        if self.name == "sqlite":
            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            try:
                with conn:
                    return conn.execute(sql).fetchall()
            finally:
                conn.close()
        with psycopg.connect(self.url, autocommit=True) as pg:
            cur = pg.execute(sql)
            return cur.fetchall() if cur.description else []

    def count(self, table: str) -> int:
        return int(self.raw(f"SELECT COUNT(*) FROM {table}")[0][0])


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL whose search_path is a fresh, randomly named schema, dropped afterwards."""
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        service_missing(f"PostgreSQL is not reachable at {PG_URL}: {exc}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in PG_URL else "?"
        try:
            yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Backend]:
    db_error: type[Exception]
    if request.param == "sqlite":
        url, db_error = f"sqlite:///{tmp_path / 'server.db'}", sqlite3.DatabaseError
    else:
        url, db_error = request.getfixturevalue("pg_schema_url"), psycopg.Error
    storage = open_storage(url)
    storage.migrate()
    try:
        yield Backend(request.param, url, storage, db_error)
    finally:
        storage.close()


@pytest.fixture
def storage(backend: Backend) -> Storage:
    return backend.storage


@pytest.fixture
def world(backend: Backend, tmp_path: Path, org_key: crypto.OrgKeyPair) -> Iterator[World]:
    """The real server app over `backend` on uvicorn (a free loopback port), with a client;
    the enrolment guard's burst raised, as the tests enrol many devices from one address."""
    settings = ServerSettings(
        data_dir=tmp_path / "server", database_url=backend.url, rate_limit_burst=10_000
    )
    app = create_app(settings, storage=backend.storage)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield World(app, client, org_key)
