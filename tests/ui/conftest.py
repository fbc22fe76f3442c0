"""Fixtures of the UI tests: the sync tests' real server (`deployment`, `app_url`) and
Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.sync.conftest import app_url, deployment  # noqa: F401 (shared fixtures)
from tests.ui._browser import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (where it is absent the browser tests skip, saying so, or
    fail under CI)."""
    with chromium() as launched:
        yield launched
