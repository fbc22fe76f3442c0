"""The team roster and the items the organisation shares: the participants this device shares
with its region's devices (each repeat instance of a `team_roster` repeat, sealed with the team
key enrolment brought), their own outbox, and the reference lists, training events and team
mates' roster entries pulled from the server.

A roster entry names its record, and a team mate can open it: pushed before the server holds
the record, it would let that team mate claim the record's id first. So an entry waits until
its record is `sent` (a withdrawal never waits: it only removes). Entries keep a keyed digest
of their content, so an unchanged entry is never queued again.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping
from typing import Any

from fieldapp import crypto
from fieldapp.forms.spec import FormSpec
from fieldapp.store._core import Core
from fieldapp.store._keyring import Keyring
from fieldapp.store._rows import RecordRows
from fieldapp.store._types import TeamKey

__all__ = ["ROSTER", "Roster"]

ROSTER = "roster"  # the shared-item kind of the team's roster entries
_TEAM_KEY_SECRET = "team_key"  # noqa: S105 (the name under which the secret is kept)


class Roster:
    def __init__(self, core: Core, keyring: Keyring, rows: RecordRows) -> None:
        self._core = core
        self._keyring = keyring
        self._rows = rows

    # -- the team key -----------------------------------------------------------------------
    def team_key(self) -> TeamKey | None:
        """The team key enrolment brought (decrypted: the store must be unlocked), or None."""
        stored = self._keyring.secret(_TEAM_KEY_SECRET)
        if stored is None:
            return None
        data = json.loads(stored)
        return TeamKey(bytes.fromhex(data["key"]), data["org_id"], data["region"])

    @property
    def has_team_key(self) -> bool:
        """Whether enrolment brought a team key (works while locked: nothing is decrypted)."""
        return self._keyring.has_secret(_TEAM_KEY_SECRET)

    def set_team_key(self, team: TeamKey | None) -> int:
        """Keep the team key (encrypted under the data key, like the token), or forget it.

        A new key or scope starts the roster afresh: entries shared or pulled under the old
        one are dropped from this device, and the participants of every finalised record are
        queued again, sealed with the new key. Returns how many entries were queued.
        """
        with self._core.transaction():
            if team == self.team_key():
                return 0
            self._core.db.execute("DELETE FROM roster_entries")
            self._core.db.execute("DELETE FROM shared_items WHERE kind = ?", [ROSTER])
            if team is None:
                self._keyring.forget_secret(_TEAM_KEY_SECRET)
                return 0
            scope = {"key": team.key.hex(), "org_id": team.org_id, "region": team.region}
            self._keyring.set_secret(_TEAM_KEY_SECRET, json.dumps(scope))
            rows = list(
                self._core.db.query(
                    "SELECT * FROM records WHERE status <> 'draft' AND fields IS NOT NULL"
                )
            )
            return sum(self.queue(row, self._rows.values(row), team) for row in rows)

    # -- this device's entries ----------------------------------------------------------------
    def queue(self, row: Mapping[str, Any], values: Mapping[str, Any], team: TeamKey) -> int:
        """Queue the roster entries of a finalised record: each instance of a `team_roster`
        repeat (its answers, the record's title and start date, the record id) sealed with the
        team key, keyed by its `_id`; an instance removed since is withdrawn. An entry whose
        content has not changed is not queued again. Returns how many were queued (the caller
        holds the transaction)."""
        spec = self._rows.form(row)
        entries = _entries(row, spec, values)
        shared = {
            r["entry_key"]: r["digest"]
            for r in self._core.db.query(
                "SELECT entry_key, digest FROM roster_entries WHERE record_id = ?", [row["id"]]
            )
        }
        digest_key = crypto.subkey(team.key, "roster-digest")
        queued = 0
        for entry_id, entry in entries.items():
            plain = crypto.canonical_json(entry)
            digest = crypto.keyed_hash(digest_key, plain)
            if shared.pop(entry_id, None) == digest:
                continue
            aad = crypto.team_aad(ROSTER, team.org_id, team.region, entry_id)
            self._core.db.execute(
                "INSERT INTO roster_entries (entry_key, record_id, digest, sealed, pending)"
                " VALUES (?, ?, ?, ?, 1) ON CONFLICT (entry_key) DO UPDATE SET"
                " record_id = excluded.record_id, digest = excluded.digest,"
                " sealed = excluded.sealed, pending = 1",
                [entry_id, row["id"], digest, crypto.encrypt(team.key, plain, aad)],
            )
            queued += 1
        return queued + self.withdraw(row["id"], list(shared))

    def withdraw(self, record_id: str, keys: Collection[str] | None = None) -> int:
        """Roster entries shared from the record (all, or those of `keys`) are erased here
        and withdrawn from the team; entries already being withdrawn are left. Returns how
        many were withdrawn (the caller holds the transaction)."""
        sql = (
            "UPDATE roster_entries SET digest = '', sealed = NULL, pending = 1"
            " WHERE record_id = ? AND digest <> ''"
        )
        params = [record_id]
        if keys is not None:
            if not keys:
                return 0
            sql += f" AND entry_key IN ({','.join('?' * len(keys))})"
            params += list(keys)
        return int(self._core.db.execute(sql, params).rowcount)

    def pending(self, *, after: str = "", limit: int = 500) -> list[tuple[str, str, bytes | None]]:
        """(entry key, digest, sealed bytes or None to withdraw) of roster entries ready to be
        pushed, by key: withdrawals, and entries of records the server holds (`sent`); the
        others wait for their record. Ciphertext only: the outbox drains while locked."""
        with self._core.lock:
            rows = self._core.db.execute(
                "SELECT entry_key, digest, sealed FROM roster_entries AS e INDEXED BY"
                " roster_entries_pending WHERE pending = 1 AND entry_key > ? AND"
                " (sealed IS NULL OR EXISTS (SELECT 1 FROM records AS r"
                " WHERE r.id = e.record_id AND r.status = 'sent'))"
                " ORDER BY entry_key LIMIT ?",
                [after, limit],
            ).fetchall()
        return [(row[0], row[1], None if row[2] is None else bytes(row[2])) for row in rows]

    def pushed(self, pushed: Mapping[str, str]) -> int:
        """The server holds these entries (key -> the digest pushed): they leave the outbox,
        a withdrawal for good. An entry changed since it was read stays pending (its new
        content goes next time). One durable commit; returns how many left the outbox."""
        done = 0
        with self._core.transaction():
            for key, digest in pushed.items():
                if digest:
                    sql = "UPDATE roster_entries SET pending = 0 WHERE entry_key = ? AND digest = ?"
                else:
                    sql = "DELETE FROM roster_entries WHERE entry_key = ? AND digest = ?"
                done += self._core.db.execute(sql, [key, digest]).rowcount
        return done

    # -- what the team shares ----------------------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        """The team's roster entries pulled from the server, decrypted in memory (the store
        must be unlocked). An entry that does not open with this device's team key (another
        scope, or altered) is left out."""
        team = self.team_key()
        if team is None:
            return []
        entries = []
        for key, data in self.shared(ROSTER).items():
            aad = crypto.team_aad(ROSTER, team.org_id, team.region, key)
            try:
                sealed = base64.b64decode(data["sealed"], validate=True)
                entry = json.loads(crypto.decrypt(team.key, sealed, aad))
            except (KeyError, TypeError, ValueError, binascii.Error, crypto.CryptoError):
                continue
            if isinstance(entry, dict) and entry.get("id") == key:
                entries.append(entry)
        return entries

    def put_shared(self, kind: str, key: str, data: Mapping[str, Any], seq: int) -> None:
        """Keep a reference list, training event or roster entry the organisation shares; an
        older change (a lower seq, replayed) never overwrites a newer one."""
        with self._core.lock:
            self._core.db.execute(
                "INSERT INTO shared_items (kind, key, data, seq) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data, seq = excluded.seq"
                " WHERE excluded.seq > shared_items.seq",
                [kind, key, json.dumps(data, sort_keys=True), seq],
            )

    def delete_shared(self, kind: str, key: str) -> None:
        """A tombstone from the server: the item is gone from the team."""
        with self._core.lock:
            self._core.db.execute(
                "DELETE FROM shared_items WHERE kind = ? AND key = ?", [kind, key]
            )

    def shared(self, kind: str) -> dict[str, dict[str, Any]]:
        with self._core.lock:
            rows = self._core.db.query(
                "SELECT key, data FROM shared_items WHERE kind = ? ORDER BY key", [kind]
            )
            return {row["key"]: json.loads(row["data"]) for row in rows}


def _entries(
    row: Mapping[str, Any], spec: FormSpec, values: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The roster entries a finalised record shares, by entry key (the instance's `_id`)."""
    entries: dict[str, dict[str, Any]] = {}
    for repeat in spec.roster_repeats():
        for instance in values.get(repeat.name) or []:
            entry_id = instance.get("_id")
            if isinstance(entry_id, str):
                entries[entry_id] = {
                    "id": entry_id,
                    "record_id": row["id"],
                    "form_id": spec.id,
                    "repeat": repeat.name,
                    "fields": {k: v for k, v in instance.items() if k != "_id"},
                    "event": {
                        "title": values.get("title"),
                        "start_date": values.get("start_date"),
                    },
                }
    return entries
