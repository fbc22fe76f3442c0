"""Fixtures of the bundle tests: the sync tests' real server, deployment and device, and the
server tests' throwaway PostgreSQL schema."""

from tests.server.conftest import pg_schema_url
from tests.sync.conftest import app_transport, app_url, client, deployment, device

__all__ = ["app_transport", "app_url", "client", "deployment", "device", "pg_schema_url"]
