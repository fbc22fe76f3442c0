"""The services some tests need from the machine (PostgreSQL, Debian's Chromium). Where one
is missing, those tests skip and say why; under CI (CI=true) they fail instead, so a run whose
service setup broke cannot pass green with whole suites left out."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def service_missing(problem: str) -> NoReturn:
    """Skip the test for `problem`, or fail it when running under CI (called where the
    service's own error is being handled: that error is in `problem`, not chained on)."""
    if under_ci():
        message = f"{problem} (CI=true: a missing service fails the run)"
        raise pytest.fail.Exception(message, pytrace=False) from None
    raise pytest.skip.Exception(problem) from None
