"""The server's schema migrations, as numbered SQL files beside this module.

`NNN_name.sql` runs on both backends, then `NNN_name.sqlite.sql` or `NNN_name.postgres.sql`
on that backend only; the name, with spaces for underscores, is what `schema_migrations`
records. In the SQL, `{ts}`, `{blob}`, `{bool}`, `{int8}` and `{identity}` stand for each
backend's types; a statement ends with a semicolon at the end of a line, and lines starting
with `--` are comments. A migration is never edited once released: a change is a new file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Literal

from sync.server.storage.tx import Tx

__all__ = ["Dialect", "Migration", "applied", "apply", "load"]

Dialect = Literal["sqlite", "postgres"]

_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+?)(?:\.(sqlite|postgres))?\.sql$")
_TOKEN = re.compile(r"\{(\w+)\}")
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def load(dialect: Dialect, types: Mapping[str, str]) -> tuple[Migration, ...]:
    """Every migration for `dialect`, by version, its statements with `types` filled in.

    Raises ValueError if the versions are not 1, 2, 3... or a file names a type `types` lacks.
    """
    found: dict[int, tuple[str, list[str]]] = {}
    files = [
        (match, entry)
        for entry in resources.files(__name__).iterdir()
        if (match := _FILE.match(entry.name)) is not None and match[3] in (None, dialect)
    ]
    # By version; within one, the file for both backends first.
    for match, entry in sorted(files, key=lambda item: (item[0][1], item[0][3] is not None)):
        name = match[2].replace("_", " ")
        seen_name, statements = found.setdefault(int(match[1]), (name, []))
        if seen_name != name:
            raise ValueError(f"migration {match[1]} has two names: {seen_name!r}, {name!r}")
        statements += _statements(entry.read_text(encoding="utf-8"), types, entry.name)
    if sorted(found) != list(range(1, len(found) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3...: found {sorted(found)}")
    return tuple(
        Migration(version, name, tuple(statements))
        for version, (name, statements) in sorted(found.items())
    )


def _statements(text: str, types: Mapping[str, str], file: str) -> list[str]:
    def type_of(token: re.Match[str]) -> str:
        if token[1] not in types:
            raise ValueError(f"{file}: no type for {token[0]}")
        return types[token[1]]

    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [
        _TOKEN.sub(type_of, statement).strip()
        for statement in _STATEMENT_END.split(code)
        if statement.strip()
    ]


def apply(tx: Tx, migrations: Sequence[Migration]) -> None:
    """Apply the migrations `schema_migrations` does not record yet, in order, in `tx` (which
    holds the migration lock: server processes starting together migrate one at a time)."""
    tx.lock_migrations()
    tx.run(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    done = set(applied(tx))
    for migration in migrations:
        if migration.version in done:
            continue
        for statement in migration.statements:
            tx.run(statement)
        tx.run(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, datetime.now(UTC).isoformat()),
        )


def applied(tx: Tx) -> list[int]:
    """The versions `schema_migrations` records, ascending."""
    rows = tx.all("SELECT version FROM schema_migrations ORDER BY version")
    return [row["version"] for row in rows]
