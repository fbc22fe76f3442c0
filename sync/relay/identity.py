"""What a relay knows of its upstream: the address, who it is there (device id, bearer
token), the upstream's receipt-signing key, its organisation and region, and how far it has
forwarded and pulled. One JSON file in the relay's data directory, mode 0600, replaced
atomically (written aside, fsynced, renamed), so a SIGKILL leaves the old or the new one."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from fieldapp.errors import FieldappError

__all__ = ["IDENTITY_FILE", "RelayIdentity", "RelayIdentityError"]

IDENTITY_FILE = "relay-upstream.json"


class RelayIdentityError(FieldappError):
    """The relay's identity file is missing, unreadable or damaged."""


class RelayIdentity(BaseModel):
    """The relay as its upstream knows it. `forwarded`: the seq of the last revision of this
    relay's database the upstream holds (receipted); `roster_forwarded`: the same for the
    roster entries its devices shared; `pulled`: the upstream's change cursor.
    `upstream_capabilities`: the capability headers of the upstream's last push answer (None:
    not heard yet), which the relay's own push answers say no more than."""

    model_config = ConfigDict(extra="forbid")

    upstream: str
    device_id: str
    token: str
    org_id: str
    region: str | None
    upstream_key: str  # base64 of the upstream's receipt-signing public key
    upstream_key_id: str
    forwarded: int = 0
    roster_forwarded: int = 0
    pulled: int = 0
    upstream_capabilities: dict[str, str] | None = None

    @staticmethod
    def path(data_dir: Path) -> Path:
        return data_dir / IDENTITY_FILE

    @classmethod
    def load(cls, data_dir: Path) -> RelayIdentity | None:
        """The identity in `data_dir`, None if the relay has not enrolled upstream yet."""
        path = cls.path(data_dir)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RelayIdentityError(f"{path} cannot be read: {exc.strerror}") from None
        try:
            return cls.model_validate_json(text)
        except ValidationError:
            raise RelayIdentityError(
                f"{path} is damaged: restore it from a backup, or enrol the relay again with"
                " a new code in a new data directory"
            ) from None

    def save(self, data_dir: Path) -> None:
        """Replace the file atomically, mode 0600 (the token is a secret)."""
        path = self.path(data_dir)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        with os.fdopen(os.open(temporary, flags, 0o600), "w", encoding="utf-8") as file:
            os.chmod(temporary, 0o600)
            file.write(self.model_dump_json())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
