"""The files attached to form versions (`fieldapp.forms.files`), cached on the device: by
SHA-256, so a file several versions name is fetched and kept once; encrypted under the data
key (AES-256-GCM bound to the digest) like every other content of the store. Knowing whether
a file is here needs no key."""

from __future__ import annotations

from fieldapp import crypto
from fieldapp.errors import StoreError
from fieldapp.forms.attachments import file_sha256
from fieldapp.forms.files import MAX_FILE_BYTES
from fieldapp.forms.spec import FormSpec
from fieldapp.store._core import Core
from fieldapp.store._keyring import Keyring

__all__ = ["FormFiles"]


class FormFiles:
    def __init__(self, core: Core, keyring: Keyring) -> None:
        self._core = core
        self._keyring = keyring

    def has(self, sha256: str) -> bool:
        with self._core.lock:
            found = self._core.db.execute(
                "SELECT 1 FROM form_files WHERE sha256 = ?", [sha256]
            ).fetchone()
            return found is not None

    def missing(self, spec: FormSpec) -> list[str]:
        """The SHA-256 of every file the form version names that is not on the device."""
        return [ref.sha256 for ref in spec.attachments.values() if not self.has(ref.sha256)]

    def put(self, sha256: str, content: bytes) -> None:
        """Keep a file (needs the key); one already here is left as it is. Raises StoreError
        when the content is too large or is not what its digest says."""
        if len(content) > MAX_FILE_BYTES:
            raise StoreError(f"form file {sha256[:12]}...: over {MAX_FILE_BYTES:,} bytes")
        if file_sha256(content) != sha256:
            raise StoreError(f"form file {sha256[:12]}...: content does not match its sha256")
        with self._core.lock:
            if self.has(sha256):
                return
            blob = crypto.encrypt(self._keyring.require_key(), content, _aad(sha256))
            self._core.db.execute(
                "INSERT INTO form_files (sha256, size, content, added_at) VALUES (?, ?, ?, ?)",
                [sha256, len(content), blob, self._core.now()],
            )

    def get(self, sha256: str) -> bytes:
        """A file's content (needs the key). Raises StoreError when it is not here."""
        with self._core.lock:
            found = self._core.db.execute(
                "SELECT content FROM form_files WHERE sha256 = ?", [sha256]
            ).fetchone()
            if found is None:
                raise StoreError(f"form file {sha256[:12]}... is not on this device")
            return crypto.decrypt(self._keyring.require_key(), bytes(found[0]), _aad(sha256))


def _aad(sha256: str) -> bytes:
    return b"fieldapp/store/form-file/" + sha256.encode()
