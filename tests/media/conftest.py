"""Fixtures of the attachment tests: the sync tests' real server, deployment and device."""

from tests.sync.conftest import app_transport, app_url, client, deployment, device

__all__ = ["app_transport", "app_url", "client", "deployment", "device"]
