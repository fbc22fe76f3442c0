"""Enrolment codes and team keys: the code's secret, the fingerprint of what a device must
trust at enrolment, and the team key delivered wrapped by the one-time code."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from fieldapp.crypto._encoding import length_prefixed
from fieldapp.crypto.errors import CryptoError, WrongEnrolCode, WrongPassphrase
from fieldapp.crypto.sealing import RecipientKey
from fieldapp.crypto.symmetric import hkdf, unwrap_key, wrap_key
from sync.protocol import ENROL_SECRET_SYMBOLS, normalise_enrol_code

_ENROL_CODE_SALT = b"fieldapp/enrol-code/v1"


# Crockford's base32 reads O as 0 and I, L as 1: codes never hold those letters.
def enrol_code_secret(code: str) -> str:
    """The secret part of an enrolment code, canonical: its first 16 symbols. What follows is
    a check of the organisation's keys (sync.protocol.EnrolmentCode), public knowledge: the
    server looks a code up, and a team key is wrapped, by the secret alone."""
    return normalise_enrol_code(code)[:ENROL_SECRET_SYMBOLS]


def enrolment_fingerprint(recipients: Sequence[RecipientKey], server_public_key: bytes) -> bytes:
    """SHA-256 over what a device must trust at enrolment: the organisation's recipient keys
    (kem and public key, in key id order) and the server's receipt-signing public key.

    The enrolment code carries it (sync.protocol.EnrolmentCode), so a device recomputes it
    from the server's answer and refuses keys nobody issued the code with.
    """
    ordered = sorted(recipients, key=lambda r: (r.key_id, r.kem, r.public_key))
    parts = [part for r in ordered for part in (r.kem.encode("ascii"), r.public_key)]
    body = length_prefixed(server_public_key, *parts)
    return hashlib.sha256(b"fieldapp/enrolment-fingerprint/v1" + body).digest()


def team_scope(org_id: str, region: str | None) -> bytes:
    """Organisation and region, unambiguously (no region differs from every named one)."""
    marked = b"\x00" if region is None else b"\x01" + region.encode("utf-8")
    return length_prefixed(org_id.encode("utf-8"), marked)


def team_aad(purpose: str, org_id: str, region: str | None, key: str = "") -> bytes:
    """Associated data binding a team ciphertext to its purpose, organisation, region and key:
    a roster entry copied to another region, organisation or entry fails to decrypt."""
    return (
        b"fieldapp/team/v1"
        + length_prefixed(purpose.encode("utf-8"), key.encode("utf-8"))
        + team_scope(org_id, region)
    )


def _enrol_code_key(code: str) -> bytes:
    """A key-encryption key from a one-time enrolment code (HKDF-SHA256 with a fixed salt).

    No slow hash: the code's secret has 80 random bits, beyond any search; the server keeps
    only its sha256, so it cannot derive this key from what it stores.
    """
    secret = enrol_code_secret(code)
    if not secret:
        raise CryptoError("an enrolment code is needed to wrap or unwrap a team key")
    return hkdf(secret.encode("utf-8"), b"fieldapp/enrol-code/v1:team-key-wrap", _ENROL_CODE_SALT)


def _wrap_for_enrolment(
    code: str, key: bytes, purpose: str, org_id: str, region: str | None
) -> bytes:
    return wrap_key(_enrol_code_key(code), key, team_aad(purpose, org_id, region))


def _unwrap_at_enrolment(
    code: str, wrapped: bytes, purpose: str, org_id: str, region: str | None
) -> bytes:
    try:
        return unwrap_key(_enrol_code_key(code), wrapped, team_aad(purpose, org_id, region))
    except WrongPassphrase:
        raise WrongEnrolCode(
            f"the {purpose.replace('-', ' ')} does not open with this enrolment code (or it was"
            " wrapped for another organisation or region)"
        ) from None


def wrap_team_key(code: str, team_key: bytes, org_id: str, region: str | None) -> bytes:
    """The team key encrypted (AES-256-GCM) under a key derived from the enrolment code, bound
    to the organisation and region the code enrols into."""
    return _wrap_for_enrolment(code, team_key, "team-key", org_id, region)


def unwrap_team_key(code: str, wrapped: bytes, org_id: str, region: str | None) -> bytes:
    """The team key `wrap_team_key` wrapped; WrongEnrolCode if the code (or the organisation
    or region it was wrapped for) is not this one."""
    return _unwrap_at_enrolment(code, wrapped, "team-key", org_id, region)


def wrap_match_key(code: str, match_key: bytes, org_id: str) -> bytes:
    """The organisation's match key (`OrgKeyPair.match_key`) wrapped by the enrolment code
    exactly as the team key is, bound to the organisation (the key has no region)."""
    return _wrap_for_enrolment(code, match_key, "match-key", org_id, None)


def unwrap_match_key(code: str, wrapped: bytes, org_id: str) -> bytes:
    """The match key `wrap_match_key` wrapped; WrongEnrolCode for another code or
    organisation."""
    return _unwrap_at_enrolment(code, wrapped, "match-key", org_id, None)
