"""Match hashes: keyed digests of a person's normalised identifiers, so the office finds the
same person recorded twice (a victim met by two social workers, a participant at two
trainings) without anyone decrypting a record, and a server that lacks the key learns nothing.

The match key belongs to the organisation: derived from its private key file
(`OrgKeyPair.match_key`), delivered to each device wrapped by its one-time enrolment code
like the team key (`wrap_match_key` / `unwrap_match_key`, through the same code-key
machinery in `team`), kept encrypted in the device store. Every device of the organisation,
whatever its region, hashes with the same key, so duplicates are found across regions.

A digest is HMAC-SHA256 over the kind of blocking key and its length-prefixed parts,
truncated to 16 bytes (32 hex digits): 128 bits keep accidental collisions out of reach
(birthday bound 2^64, against at most millions of people an organisation records), and a
longer digest would add nothing: without the key nobody can test a guess at any length.
Several blocking keys per person (each leaving out one identifier) let a typo in one field
still match on the others.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from datetime import date

from fieldapp.crypto._encoding import length_prefixed

__all__ = [
    "MATCH_DIGEST_BYTES",
    "fold_name",
    "match_digest",
    "participant_match_keys",
    "phone_digits",
    "victim_match_keys",
]

MATCH_DIGEST_BYTES = 16
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
# The last digits of a phone number: "+855 12 345 678" and "012 345 678", or "+33 6 12 34 56
# 78" and "06 12 34 56 78", are one number whatever prefix (country code, trunk 0) was typed.
# Eight: the shortest national numbers (Cambodia's, Thailand's fixed lines) have eight digits
# after the trunk 0; a digest always pairs them with the name, so the rare clash is harmless.
_PHONE_DIGITS = 8
_MIN_PHONE_DIGITS = 6


def fold_name(text: object) -> str:
    """A name folded for matching: accents and case dropped, punctuation and runs of spaces
    made one space, words sorted (so "GARCÍA, María" and "maria garcia" agree); "" for none."""
    if not isinstance(text, str):
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    bare = bare.replace("ß", "ss").replace("ø", "o").replace("đ", "d").replace("ł", "l")
    return " ".join(sorted(_NOT_ALNUM.sub(" ", bare).split()))


def phone_digits(text: object) -> str:
    """The last 8 digits of a phone number, "" when it has fewer than 6 digits."""
    if not isinstance(text, str | int):
        return ""
    digits = "".join(c for c in str(text) if c.isdigit())
    return digits[-_PHONE_DIGITS:] if len(digits) >= _MIN_PHONE_DIGITS else ""


def _birth_date(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            return ""
    return ""


def match_digest(key: bytes, kind: str, *parts: str) -> str:
    """HMAC-SHA256 of the blocking key's kind and parts under the match key, truncated to
    `MATCH_DIGEST_BYTES`, as hex."""
    body = length_prefixed(kind.encode("utf-8"), *(p.encode("utf-8") for p in parts))
    mac = hmac.new(key, b"fieldapp/match/v1" + body, hashlib.sha256).digest()
    return mac[:MATCH_DIGEST_BYTES].hex()


def _keys(key: bytes, combos: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """A digest per blocking key whose every part is known."""
    return {kind: match_digest(key, kind, *parts) for kind, parts in combos.items() if all(parts)}


def victim_match_keys(
    key: bytes, given_name: object, family_name: object, birth_date: object
) -> dict[str, str]:
    """Blocking keys of a victim: the whole name (a typo in the date of birth still
    matches), and the date of birth with each name alone (a typo in the other name still
    matches). Names are folded (`fold_name`); nothing is computed from a missing part."""
    given, family, born = fold_name(given_name), fold_name(family_name), _birth_date(birth_date)
    return _keys(
        key,
        {
            "name": (fold_name(f"{given} {family}"),) if given and family else ("",),
            "given_dob": (given, born),
            "family_dob": (family, born),
        },
    )


def participant_match_keys(
    key: bytes, name: object, organisation: object, phone: object
) -> dict[str, str]:
    """Blocking keys of a training participant: the name alone (a fuzzy match a coordinator
    confirms), the name with the organisation, the name with the phone's digits (either is
    the same person: a typo or a new phone on the other still matches)."""
    folded = fold_name(name)
    return _keys(
        key,
        {
            "name": (folded,),
            "name_org": (folded, fold_name(organisation)),
            "name_phone": (folded, phone_digits(phone)),
        },
    )
