"""The relay tests' fixtures: a fresh PostgreSQL schema for a centre on PostgreSQL."""

from __future__ import annotations

from tests.server.conftest import pg_schema_url

__all__ = ["pg_schema_url"]
