"""The server's Ed25519 receipt-signing key: one per deployment, shared by every process.

The key is kept in the database (so every `fieldapp serve` process on one PostgreSQL signs
receipts with the same key: the first to start creates it, the others adopt it), wrapped
(AES-256-GCM) by a random secret in the data directory, so a copy of the database alone
cannot forge receipts. Servers on several machines share that secret file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from datetime import datetime
from pathlib import Path

from fieldapp.crypto import KEY_BYTES, CryptoError, SigningKey, random_key, unwrap_key, wrap_key
from fieldapp.errors import FieldappError
from sync.server.settings import ServerSettings
from sync.server.storage import Storage

__all__ = ["ServerKeyError", "load_server_key", "server_key_id"]

_WRAP_AAD = b"fieldapp/server-signing-key/v1"
_KEY_ID_HEX = 16


class ServerKeyError(FieldappError):
    """The server's signing key cannot be opened with this data directory's secret."""


def server_key_id(public_key: bytes) -> str:
    """A short stable name for a server public key, carried by every receipt it signs."""
    return hashlib.sha256(b"fieldapp-server-key:" + public_key).hexdigest()[:_KEY_ID_HEX]


def _load_or_create_secret(path: Path) -> bytes:
    """A random 32-byte secret in a mode-0o600 file, created once even by racing processes.

    The file is written under a temporary name and published with a hard link, which fails
    if another process published first; then that process's secret is read.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        try:
            with os.fdopen(os.open(temporary, flags, 0o600), "wb") as file:
                os.chmod(temporary, 0o600)  # the umask may have cleared bits of 0o600
                file.write(random_key())
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    secret = path.read_bytes()
    if len(secret) != KEY_BYTES:
        raise ServerKeyError(f"{path} is damaged: expected {KEY_BYTES} bytes")
    return secret


def load_server_key(settings: ServerSettings, storage: Storage, now: datetime) -> SigningKey:
    """The deployment's signing key, created on first start."""
    secret = _load_or_create_secret(settings.server_secret_path)
    candidate = SigningKey.generate()
    key_id, blob = storage.ensure_server_key(
        server_key_id(candidate.public_key),
        wrap_key(secret, candidate.to_bytes(), _WRAP_AAD),
        now,
    )
    try:
        key = SigningKey.from_bytes(unwrap_key(secret, blob, _WRAP_AAD))
    except CryptoError:
        raise ServerKeyError(
            f"the server signing key in the database does not open with "
            f"{settings.server_secret_path}: copy that file from the first server of this "
            "deployment"
        ) from None
    if server_key_id(key.public_key) != key_id:
        raise ServerKeyError("the stored server key id does not match its key")
    return key
