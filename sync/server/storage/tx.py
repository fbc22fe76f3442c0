"""The transaction every query module works in, whatever the backend, and the SQL text helpers.

SQL in the query modules uses `?` placeholders and no literal `?` or `%`, so PostgreSQL can
rewrite them to `%s`. A backend (sqlite.py, postgres.py) supplies the transaction: how
statements run, how timestamps travel, how concurrent writers are serialised, and which
exception means a constraint refused a row.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar

__all__ = ["CHUNK", "Tx", "chunks", "json_text", "marks", "withdrawn"]

# Ids named in one `IN (...)`: far below both backends' limits on parameters.
CHUNK = 500


class Tx(abc.ABC):
    """One open transaction; rows support `row["column"]` and `row.keys()`."""

    # What a statement raises when a UNIQUE, PRIMARY KEY or FOREIGN KEY constraint refuses it.
    integrity_errors: ClassVar[tuple[type[Exception], ...]]

    @abc.abstractmethod
    def all(self, sql: str, params: Sequence[Any] = (), *, lock: bool = False) -> list[Any]:
        """Rows of a query; `lock` locks them until commit where the backend needs that."""

    @abc.abstractmethod
    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters (nothing if there are none)."""

    @abc.abstractmethod
    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""

    def one(self, sql: str, params: Sequence[Any] = (), *, lock: bool = False) -> Any:
        """The first row of a query, or None."""
        rows = self.all(sql, params, lock=lock)
        return rows[0] if rows else None

    @abc.abstractmethod
    def lock_keys(self, keys: Sequence[str]) -> None:
        """Serialise concurrent transactions writing the same records or roster entries
        until commit (`keys` come sorted, so two batches never wait on each other)."""

    @abc.abstractmethod
    def lock_migrations(self) -> None:
        """Serialise server processes migrating the same database until commit."""

    @abc.abstractmethod
    def ts(self, value: datetime) -> Any:
        """An aware datetime as the backend stores a timestamp column."""

    @abc.abstractmethod
    def dt(self, value: Any) -> datetime:
        """A timestamp column's value as an aware UTC datetime."""

    def dt_or_none(self, value: Any) -> datetime | None:
        return None if value is None else self.dt(value)

    @abc.abstractmethod
    def plan_index_walks(self) -> None:
        """Have this transaction's further queries walk an index in its order, and stop at
        their LIMIT, rather than read every matching row and sort it, whatever statistics the
        planner has (a table filled since its last ANALYZE has none worth the name)."""

    @abc.abstractmethod
    def json_string(self, column: str) -> str:
        """SQL for a text column's value as a JSON string (quoted and escaped)."""

    @abc.abstractmethod
    def joined(self, text: str, order: str) -> str:
        """SQL for the aggregate of `text` joined with commas, in `order` (SQLite: the order
        of the rows it is fed, which the caller's subquery sorts by `order`)."""


def json_text(obj: Any) -> str:
    """JSON as the database keeps it: sorted keys, no whitespace, UTF-8 text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def marks(n: int) -> str:
    """`n` placeholders for an `IN (...)`."""
    return ",".join("?" * n)


def chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """`ids` in slices of at most CHUNK, for one `IN (...)` each."""
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def withdrawn(row: Any) -> bool:
    """A row's consent withdrawal mark (False where migration 4 has not run: none there)."""
    columns = row.keys()  # `in` on an sqlite3.Row itself would look at its values
    return "consent_withdrawn" in columns and bool(row["consent_withdrawn"])
