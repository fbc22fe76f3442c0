"""Canonical JSON: the one byte form of a JSON value that is signed and hashed everywhere."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json"]


def canonical_json(obj: Any) -> bytes:
    """The one byte form of a JSON value that is signed and hashed everywhere.

    Sorted keys, no whitespace, UTF-8 without escapes. NaN and infinities are refused (ValueError)
    because they are not JSON and would not survive a round trip.
    """
    try:
        text = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError as exc:
        raise ValueError(f"cannot be canonical JSON: {exc}") from exc
    return text.encode("utf-8")
