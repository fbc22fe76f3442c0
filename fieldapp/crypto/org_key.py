"""The organisation's key pair: generated, saved wrapped by a passphrase, opening the
envelopes sealed to it, and deriving its regions' team keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from pydantic import BaseModel, ConfigDict, ValidationError

from fieldapp.crypto._encoding import B64Bytes, length_prefixed
from fieldapp.crypto.errors import CryptoError, IntegrityError, NotAKeyFile, WrongPassphrase
from fieldapp.crypto.passphrase import KdfParams, check_passphrase_policy, derive_key
from fieldapp.crypto.sealing import (
    MLKEM768_SEED_BYTES,
    X25519_BYTES,
    KemName,
    PrivateKey,
    RecipientKey,
    decompress_bounded,
    envelope_info,
    parse_envelope,
    suite,
)
from fieldapp.crypto.signatures import SigningKey
from fieldapp.crypto.symmetric import KEY_BYTES, decrypt, encrypt, hkdf, unwrap_bytes
from fieldapp.crypto.team import team_scope

_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)


class _OrgKeyFile(BaseModel):
    """The on-disk form of an organisation key pair: the private key only ever wrapped."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["fieldapp-org-key"] = "fieldapp-org-key"
    version: Literal[1] = 1
    recipient: RecipientKey
    kdf: KdfParams
    wrapped_private_key: B64Bytes


def _org_key_aad(recipient: RecipientKey) -> bytes:
    return b"fieldapp/org-key/v1" + length_prefixed(
        recipient.kem.encode("ascii"), recipient.public_key
    )


class OrgKeyPair:
    """An organisation's HPKE key pair: opens envelopes sealed to its `recipient` key."""

    def __init__(self, kem: KemName, private_bytes: bytes) -> None:
        """Load from raw private bytes (X25519: 32; MLKEM768_X25519: 64-byte seed + 32)."""
        self._kem: KemName = kem
        self._private_bytes = private_bytes
        self._private_key, public_bytes = self._load_private(kem, private_bytes)
        self._recipient = RecipientKey.from_public_key(kem, public_bytes)

    @staticmethod
    def _load_private(kem: KemName, raw: bytes) -> tuple[PrivateKey, bytes]:
        try:
            if kem == "X25519":
                key = x25519.X25519PrivateKey.from_private_bytes(raw)
                return key, key.public_key().public_bytes_raw()
            if len(raw) != MLKEM768_SEED_BYTES + X25519_BYTES:
                raise ValueError("wrong length")
            pq = mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:MLKEM768_SEED_BYTES])
            classic = x25519.X25519PrivateKey.from_private_bytes(raw[MLKEM768_SEED_BYTES:])
        except ValueError:
            raise CryptoError(f"not a valid {kem} private key") from None
        public_bytes = pq.public_key().public_bytes_raw() + classic.public_key().public_bytes_raw()
        return hpke.MLKEM768X25519PrivateKey(pq, classic), public_bytes

    @classmethod
    def generate(cls, kem: KemName = "MLKEM768_X25519") -> OrgKeyPair:
        """A new key pair; the default hybrid KEM stays safe against a future quantum computer."""
        classic = x25519.X25519PrivateKey.generate().private_bytes_raw()
        if kem == "X25519":
            return cls(kem, classic)
        return cls(kem, mlkem.MLKEM768PrivateKey.generate().private_bytes_raw() + classic)

    @property
    def recipient(self) -> RecipientKey:
        return self._recipient

    def __repr__(self) -> str:
        return f"OrgKeyPair(kem={self._kem!r}, key_id={self._recipient.key_id!r})"

    def save(self, path: Path, passphrase: str) -> None:
        """Write the key pair as JSON, private key wrapped by the passphrase, mode 0o600.

        The file is written to a temporary name and renamed, so a crash leaves the old file.
        """
        check_passphrase_policy(passphrase)
        params = KdfParams.new()
        wrapped = encrypt(
            derive_key(passphrase, params), self._private_bytes, _org_key_aad(self._recipient)
        )
        document = _OrgKeyFile(recipient=self._recipient, kdf=params, wrapped_private_key=wrapped)
        temporary = path.with_name(path.name + ".tmp")
        try:
            with os.fdopen(os.open(temporary, _NEW_FILE_FLAGS, 0o600), "wb") as file:
                os.chmod(temporary, 0o600)  # the umask may have cleared bits of 0o600
                file.write(document.model_dump_json(indent=2).encode("utf-8"))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, passphrase: str) -> OrgKeyPair:
        """Read a key pair written by `save`; WrongPassphrase if the passphrase is wrong."""
        return cls.from_file_bytes(path.read_bytes(), passphrase, str(path))

    @classmethod
    def from_file_bytes(
        cls, data: bytes, passphrase: str, source: str = "the key file"
    ) -> OrgKeyPair:
        """The key pair in the bytes of a file `save` wrote (a web page gets bytes, not a
        path): NotAKeyFile if they are not one, WrongPassphrase if the passphrase is wrong."""
        try:
            document = _OrgKeyFile.model_validate_json(data)
        except ValidationError:
            raise NotAKeyFile(f"{source} is not a valid organisation key file") from None
        kek = derive_key(passphrase, document.kdf)
        try:
            private_bytes = unwrap_bytes(
                kek, document.wrapped_private_key, _org_key_aad(document.recipient)
            )
        except WrongPassphrase:
            raise WrongPassphrase(f"wrong passphrase for {source}") from None
        pair = cls(document.recipient.kem, private_bytes)
        if pair.recipient != document.recipient:
            raise IntegrityError(f"{source}: the private key does not match its public key")
        return pair

    def team_key(self, org_id: str, region: str | None) -> bytes:
        """The team key of one region of the organisation (region None: its devices without a
        region), derived from the private key: whoever guards the key file can issue it again
        for every enrolment code of that region, and nothing else needs to be kept."""
        return hkdf(self._private_bytes, b"fieldapp/team-key/v1" + team_scope(org_id, region))

    def match_key(self, org_id: str) -> bytes:
        """The organisation's match key (`fieldapp.crypto.matching`): one for all its regions,
        so a person recorded in two regions still matches; derived like the team keys."""
        return hkdf(self._private_bytes, b"fieldapp/match-key/v1" + team_scope(org_id, None))

    def hub_signing_key(self) -> SigningKey:
        """The organisation's signature in a data collaborative (consent, contributions; a
        hub steward's releases), derived like the team keys: the organisation is its key."""
        return SigningKey.from_bytes(hkdf(self._private_bytes, b"fieldapp/hub-signing-key/v1"))

    def open(self, envelope: bytes, aad: bytes) -> bytes:
        """The plaintext of an envelope sealed to this key pair with the same `aad`."""
        header, entries, payload = parse_envelope(envelope)
        info = envelope_info(aad)
        hpke_suite = suite(self._kem)
        for key_id, kem, sealed in entries:
            if key_id != self._recipient.key_id or kem != self._kem:
                continue
            try:
                content_key = hpke_suite.decrypt(sealed, self._private_key, info=info)
            except (InvalidTag, ValueError):
                raise IntegrityError(
                    "envelope was altered, or belongs to another record/revision"
                ) from None
            if len(content_key) != KEY_BYTES:
                raise IntegrityError("envelope holds a malformed content key")
            return decompress_bounded(decrypt(content_key, payload, info + header))
        raise IntegrityError(f"envelope is not sealed to key {self._recipient.key_id}")
