"""Find a canary (a made-up personal name) in files and captured text, in the encodings a
leak would take: the plain UTF-8 bytes, UTF-16 (both byte orders, as SQLite or Windows tools
may write text) and base64 of the plaintext (as a JSON body, a log line or a blob column
would carry it), at each of the three alignments base64 can give it."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["CanaryHit", "canary_forms", "scan_bytes", "scan_paths", "temporary_files_in"]


def _base64_cores(data: bytes) -> list[tuple[str, bytes]]:
    """The base64 characters fixed by `data` alone, wherever in a stream it starts."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data)
        first = -(-offset // 3)  # the first 3-byte group wholly inside `data`
        last = (offset + len(data)) // 3  # groups ending at or before its end
        core = encoded[first * 4 : last * 4]
        cores.append((f"base64@{offset}", core))
        cores.append((f"base64url@{offset}", core.replace(b"+", b"-").replace(b"/", b"_")))
    return cores


def canary_forms(canary: str) -> list[tuple[str, bytes]]:
    """(name, bytes) for every form of the canary the scan looks for."""
    plain = canary.encode("utf-8")
    return [
        ("utf-8", plain),
        ("utf-16-le", canary.encode("utf-16-le")),
        ("utf-16-be", canary.encode("utf-16-be")),
        *_base64_cores(plain),
    ]


@dataclass(frozen=True)
class CanaryHit:
    where: str
    form: str
    offset: int

    def __str__(self) -> str:
        return f"{self.where}: {self.form} at byte {self.offset}"


def scan_bytes(where: str, data: bytes, canary: str) -> list[CanaryHit]:
    return [
        CanaryHit(where, name, data.find(form))
        for name, form in canary_forms(canary)
        if form and form in data
    ]


def scan_paths(paths: Iterable[Path], canary: str) -> tuple[list[CanaryHit], int]:
    """Every hit in every file under `paths` (folders are walked); and how many bytes were read."""
    hits: list[CanaryHit] = []
    scanned = 0
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            data = path.read_bytes()
            scanned += len(data)
            hits.extend(scan_bytes(str(path), data, canary))
    return hits, scanned


def temporary_files_in(directory: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Send every temporary file of this process (and its children) to `directory`, made
    empty here, so a scan can read them all and a test can say there were none."""
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory
