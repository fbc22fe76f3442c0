"""Crypto primitives: passphrase keys, field encryption, sealing to the organisation, signatures.

Everything here is built on `cryptography` (>= 47: Argon2id and HPKE) and the standard library
only, so it ships inside a Flet mobile build. Callers use the names below
(`from fieldapp import crypto; crypto.seal(...)`); each lives in one module of one job:

- A passphrase becomes a key-encryption key with Argon2id (`derive_key`, `passphrase`); the
  random data key is stored only wrapped by it (`wrap_key` / `unwrap_key`, `symmetric`).
- Field values are AES-256-GCM ciphertexts bound to their record id and revision
  (`encrypt(key, plaintext, record_aad(record_id, revision))`, `symmetric`).
- Records travel sealed to the organisation's key pairs with HPKE (RFC 9180), by default with the
  hybrid post-quantum KEM ML-KEM-768 + X25519, because victim data must stay secret for decades
  (`seal`, `sealing`; `OrgKeyPair`, `org_key`).
- Devices sign with Ed25519 (`signatures`).
- A case manager's session holds the organisation's private key, unlocked from its key file
  in memory only, to open sealed records, and forgets it on `close()` or when idle
  (`CaseFileKey`, `case_files`).
- A team key (per organisation and region, derived from the organisation's private key) lets
  a region's devices share participant rosters the server cannot read; it reaches a device
  wrapped by its one-time enrolment code (`wrap_team_key` / `unwrap_team_key`, `team`).
- A match key (per organisation, delivered the same way: `wrap_match_key`) gives keyed
  digests of a person's normalised identifiers, so the office finds the same person recorded
  twice without decrypting anything (`victim_match_keys`, `participant_match_keys`, `matching`).

Every failure a person or an attacker can cause raises a `CryptoError` subclass with a clear
message (`errors`): tampering is an `IntegrityError`, never a crash and never a silent
acceptance.
"""

from fieldapp.crypto.attachments import (
    EncryptedAttachment,
    chunk_digest,
    decrypt_attachment,
    decrypt_chunk,
    encrypt_attachment,
    new_attachment_id,
)
from fieldapp.crypto.case_files import DEFAULT_IDLE_MINUTES, CaseFileKey
from fieldapp.crypto.errors import (
    AttachmentDamaged,
    CaseFilesLocked,
    CryptoError,
    IntegrityError,
    NotAKeyFile,
    SignatureError,
    WeakPassphrase,
    WrongEnrolCode,
    WrongOrganisationKey,
    WrongPassphrase,
)
from fieldapp.crypto.matching import (
    fold_name,
    match_digest,
    participant_match_keys,
    phone_digits,
    victim_match_keys,
)
from fieldapp.crypto.org_key import OrgKeyPair
from fieldapp.crypto.passphrase import KdfParams, check_passphrase_policy, derive_key
from fieldapp.crypto.sealing import (
    MAX_SEALED_PLAINTEXT,
    KemName,
    RecipientKey,
    envelope_key_ids,
    seal,
)
from fieldapp.crypto.signatures import SigningKey, verify
from fieldapp.crypto.symmetric import (
    KEY_BYTES,
    decrypt,
    encrypt,
    keyed_hash,
    random_key,
    record_aad,
    subkey,
    unwrap_key,
    wrap_key,
)
from fieldapp.crypto.team import (
    enrol_code_secret,
    enrolment_fingerprint,
    team_aad,
    unwrap_match_key,
    unwrap_team_key,
    wrap_match_key,
    wrap_team_key,
)
from sync.protocol import canonical_json  # signed bytes: defined by the protocol

__all__ = [
    "DEFAULT_IDLE_MINUTES",
    "KEY_BYTES",
    "MAX_SEALED_PLAINTEXT",
    "AttachmentDamaged",
    "CaseFileKey",
    "CaseFilesLocked",
    "CryptoError",
    "EncryptedAttachment",
    "IntegrityError",
    "KdfParams",
    "KemName",
    "NotAKeyFile",
    "OrgKeyPair",
    "RecipientKey",
    "SignatureError",
    "SigningKey",
    "WeakPassphrase",
    "WrongEnrolCode",
    "WrongOrganisationKey",
    "WrongPassphrase",
    "canonical_json",
    "check_passphrase_policy",
    "chunk_digest",
    "decrypt",
    "decrypt_attachment",
    "decrypt_chunk",
    "derive_key",
    "encrypt",
    "encrypt_attachment",
    "enrol_code_secret",
    "enrolment_fingerprint",
    "envelope_key_ids",
    "fold_name",
    "keyed_hash",
    "match_digest",
    "new_attachment_id",
    "participant_match_keys",
    "phone_digits",
    "random_key",
    "record_aad",
    "seal",
    "subkey",
    "team_aad",
    "unwrap_key",
    "unwrap_match_key",
    "unwrap_team_key",
    "verify",
    "victim_match_keys",
    "wrap_key",
    "wrap_match_key",
    "wrap_team_key",
]
