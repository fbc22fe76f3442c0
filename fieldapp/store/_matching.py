"""Match digests of a finalised record: which answers identify the person a record is about
(a victim's names and date of birth) or each participant of a team roster (name,
organisation, phone), hashed with the organisation's match key (fieldapp.crypto.matching) so
the office finds the same person twice without decrypting anything. The key, delivered at
enrolment, is kept encrypted under the data key like the team key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fieldapp import crypto
from fieldapp.forms.spec import FieldSpec, FormSpec, answer_nodes, roster_name
from fieldapp.store._keyring import Keyring

__all__ = ["MATCH_KEY_SECRET", "match_keys", "stored_match_key"]

MATCH_KEY_SECRET = "match_key"  # noqa: S105 (the name under which the secret is kept)
# The answers that identify a victim, by field name (the built-in screening form's; an
# imported form that names its fields so is matched the same way).
_VICTIM_FIELDS = ("given_name", "family_name", "date_of_birth")
_PARTICIPANT_ORGANISATION = "organisation"
_PARTICIPANT_PHONE = "phone"
_SUBJECT = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what the wire takes (sync.protocol.MatchKey)


def stored_match_key(keyring: Keyring) -> bytes | None:
    """The match key enrolment brought (decrypted: the store must be unlocked), or None."""
    stored = keyring.secret(MATCH_KEY_SECRET)
    return None if stored is None else bytes.fromhex(stored)


def match_keys(key: bytes, spec: FormSpec, values: Mapping[str, Any]) -> list[dict[str, str]]:
    """The `MatchKey`s (as dicts) of a record's answers: the record's own person (subject
    "") when the form has a victim's identifying fields at its top level, and each instance
    of a team roster repeat (subject its `_id`)."""
    top = {n.name for n in answer_nodes(spec.children) if isinstance(n, FieldSpec)}
    out: list[dict[str, str]] = []
    if all(name in top for name in _VICTIM_FIELDS):
        digests = crypto.victim_match_keys(key, *(values.get(name) for name in _VICTIM_FIELDS))
        out += _as_keys("", digests)
    for repeat in spec.roster_repeats():
        name_field = roster_name(repeat)
        for instance in values.get(repeat.name) or []:
            subject = instance.get("_id") if isinstance(instance, Mapping) else None
            if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject) or not name_field:
                continue
            digests = crypto.participant_match_keys(
                key,
                instance.get(name_field),
                instance.get(_PARTICIPANT_ORGANISATION),
                instance.get(_PARTICIPANT_PHONE),
            )
            out += _as_keys(subject, digests)
    return out


def _as_keys(subject: str, digests: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        {"subject": subject, "kind": kind, "digest": digest}
        for kind, digest in sorted(digests.items())
    ]
