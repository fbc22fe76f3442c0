"""Releases: every published report is logged, and a new one that overlaps an earlier one is
refused when their difference would describe fewer than k people (the recipe's step 7).

Two releases overlap when they count the same form over periods that meet and filters that do
not contradict each other (all victims, and those the police referred; a quarter, and the same
quarter again after late offline syncs). Subtracting one from the other gives a table of its
own: if any cell or total of it has 0 < |d| < k, the new release is refused and the error names
those cells. Suppressing only the cells that changed would still show where the new person
falls, so the gate looks at every cell, hidden or not. Fixed, non-overlapping periods with a
closing lag never trip it.

The log keeps each release's true counts, hidden cells included (the gate needs them), so it
is as confidential as the records: `JsonLinesReleaseLog` writes a file only its owner can
read. The office will back `ReleaseLog` by the server later.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fieldapp.office.aggregates.errors import AggregateError, ReleaseRefused
from fieldapp.office.aggregates.report import Report
from fieldapp.office.aggregates.tables import Key, describe_key

__all__ = [
    "JsonLinesReleaseLog",
    "MemoryReleaseLog",
    "Release",
    "ReleaseLog",
    "Scope",
    "check_release",
    "publish",
    "release_of",
]


@dataclass(frozen=True)
class Scope:
    """Whom a release counts: a form's records in a period (either end open) under filters
    (field → value: a region, an identifying agency)."""

    form_id: str
    start: datetime.date | None = None
    end: datetime.date | None = None
    filters: Mapping[str, Any] = field(default_factory=dict)

    def overlaps(self, other: Scope) -> bool:
        if self.form_id != other.form_id:
            return False
        if self.start and other.end and self.start > other.end:
            return False
        if other.start and self.end and other.start > self.end:
            return False
        shared = self.filters.keys() & other.filters.keys()
        return all(self.filters[name] == other.filters[name] for name in shared)

    def as_json(self) -> dict[str, Any]:
        return {
            "form_id": self.form_id,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "filters": dict(self.filters),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scope:
        def day(value: str | None) -> datetime.date | None:
            return datetime.date.fromisoformat(value) if value else None

        return cls(data["form_id"], day(data["start"]), day(data["end"]), data["filters"])


@dataclass(frozen=True)
class Release:
    """One published report: its scope, the true count of every cell of its tables (hidden
    ones too), and which fields each table counted by (so a cell it never showed, such as a
    category nobody fell in, is known to have been 0)."""

    id: str
    scope: Scope
    counts: Mapping[Key, int]
    tables: tuple[tuple[str | None, frozenset[str]], ...]

    def speaks_of(self, key: Key) -> bool:
        unit, values = key
        names = {name for name, _ in values}
        return any(unit == u and names <= fields for u, fields in self.tables)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope.as_json(),
            "tables": [[unit, sorted(fields)] for unit, fields in self.tables],
            "counts": [
                [unit, [list(v) for v in values], n] for (unit, values), n in self.counts.items()
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Release:
        counts = {(unit, tuple(tuple(v) for v in values)): n for unit, values, n in data["counts"]}
        tables = tuple((unit, frozenset(fields)) for unit, fields in data["tables"])
        return cls(data["id"], Scope.from_json(data["scope"]), counts, tables)


def release_of(report: Report, release_id: str, scope: Scope) -> Release:
    """The release a report would make."""
    if scope.form_id != report.form_id:
        raise AggregateError(
            f"scope: form {scope.form_id!r} is not the report's {report.form_id!r}"
        )
    counts: dict[Key, int] = {}
    for published in report.tables:
        table = published.table
        for index in table.indices():
            counts[table.key(index)] = table.counts[index]
    tables = tuple((t.table.unit, frozenset(t.table.fields)) for t in report.tables)
    return Release(release_id, scope, counts, tables)


class ReleaseLog(Protocol):
    """Where releases are remembered: a file on the coordinator's laptop, later the server."""

    def releases(self) -> Iterator[Release]: ...

    def append(self, release: Release) -> None: ...


class MemoryReleaseLog:
    """A log held in memory (tests, a preview that publishes nothing)."""

    def __init__(self) -> None:
        self._releases: list[Release] = []

    def releases(self) -> Iterator[Release]:
        return iter(list(self._releases))

    def append(self, release: Release) -> None:
        self._releases.append(release)


class JsonLinesReleaseLog:
    """One JSON object a line, appended; created readable by its owner only."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def releases(self) -> Iterator[Release]:
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    yield Release.from_json(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    raise AggregateError(
                        f"{self.path} line {number}: not a release ({exc})"
                    ) from exc

    def append(self, release: Release) -> None:
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as log:
            log.write(json.dumps(release.as_json(), ensure_ascii=False, sort_keys=True) + "\n")
            log.flush()
            os.fsync(log.fileno())


def check_release(new: Release, log: ReleaseLog, k: int) -> None:
    """Refuse `new` if its difference with an overlapping earlier release has a cell or total
    of 0 < |d| < k (`ReleaseRefused` lists them all)."""
    problems: list[tuple[str, str, int]] = []
    for old in log.releases():
        if old.id == new.id:
            raise AggregateError(f"release {new.id!r} is already in the log")
        if not old.scope.overlaps(new.scope):
            continue
        for key in sorted(new.counts.keys() | old.counts.keys(), key=repr):
            if not (new.speaks_of(key) and old.speaks_of(key)):
                continue
            difference = new.counts.get(key, 0) - old.counts.get(key, 0)
            if 0 < abs(difference) < k:
                problems.append((old.id, describe_key(key), difference))
    if problems:
        raise ReleaseRefused(new.id, problems, k)


def publish(new: Release, log: ReleaseLog, k: int) -> None:
    """Log `new` if the gate lets it through; the caller shows the report only then."""
    check_release(new, log, k)
    log.append(new)
