"""Device signatures with Ed25519."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from fieldapp.crypto.errors import CryptoError, SignatureError


class SigningKey:
    """A device's Ed25519 signing key."""

    def __init__(self, private_key: ed25519.Ed25519PrivateKey) -> None:
        self._private_key = private_key

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, raw: bytes) -> SigningKey:
        """From the 32-byte raw private key (as returned by `to_bytes`)."""
        try:
            return cls(ed25519.Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError:
            raise CryptoError(f"an Ed25519 private key is 32 bytes, got {len(raw)}") from None

    def to_bytes(self) -> bytes:
        """The raw private key: store it only wrapped (`wrap_key`)."""
        return self._private_key.private_bytes_raw()

    @property
    def public_key(self) -> bytes:
        return self._private_key.public_key().public_bytes_raw()

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)


def verify(public_key: bytes, signature: bytes, data: bytes) -> None:
    """Raise SignatureError unless `signature` is the Ed25519 signature of `data` by the key."""
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        raise SignatureError("signature does not match the data and public key") from None
