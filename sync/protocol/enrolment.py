"""Enrolment: a device joins with a one-time code (`POST /v1/enrol`); the code, typed or read
from a QR link, and the rule for which server addresses a device accepts."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AfterValidator, Field, StrictBool, WithJsonSchema

from sync.protocol.errors import BadEnrolmentCode, BadEnrolmentLink, InsecureServerURL
from sync.protocol.wire import B64Bytes, Role, WireModel

__all__ = [
    "ENROL_CHECK_SYMBOLS",
    "ENROL_CODE_ALPHABET",
    "ENROL_SECRET_SYMBOLS",
    "DevicePublicKey",
    "EnrolRequest",
    "EnrolResponse",
    "EnrolmentCode",
    "EnrolmentLink",
    "check_server_url",
    "normalise_enrol_code",
    "parse_fingerprint",
]


def _ed25519(value: bytes) -> bytes:
    if len(value) != 32:
        raise ValueError("device_public_key must be a 32-byte Ed25519 public key")
    return value


# A device's Ed25519 public key: exactly the base64 texts of 32 bytes.
DevicePublicKey = Annotated[
    B64Bytes,
    AfterValidator(_ed25519),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9+/]{43}=$"}),
]


class EnrolRequest(WireModel):
    """A device asks to join with a one-time code, presenting its Ed25519 public key."""

    code: str = Field(min_length=6, max_length=64)
    device_id: str = Field(min_length=1, max_length=64)
    device_public_key: DevicePublicKey
    device_label: str = Field(default="", max_length=100)


class EnrolResponse(WireModel):
    """`recipients` and `server_public_key` are what the device trusts from then on: it
    accepts them only if their fingerprint (fieldapp.crypto.enrolment_fingerprint) is the one
    its enrolment code was issued with (`EnrolmentCode.confirms`).

    `wrapped_team_key`: the team key of the device's organisation and region, wrapped by
    the enrolment code (fieldapp.crypto.wrap_team_key) when the code was issued with one; the
    server cannot open it. Left out of the JSON when absent, as version 1 had it.
    `wrapped_match_key`: the organisation's match key (duplicate detection), wrapped the same
    way (fieldapp.crypto.wrap_match_key); left out when absent.
    `sealing_epochs`: the server takes epoch envelopes with their headers (fieldapp.crypto.
    epochs), so the device seals in epochs from the start; left out by older servers."""

    device_id: str
    token: str
    organisation_id: str
    region: str | None
    role: Role
    server_public_key: B64Bytes
    server_key_id: str
    recipients: list[dict[str, Any]]  # fieldapp.crypto.RecipientKey dumps: whom to seal to
    wrapped_team_key: B64Bytes | None = Field(
        default=None, exclude_if=lambda wrapped: wrapped is None
    )
    wrapped_match_key: B64Bytes | None = Field(
        default=None, exclude_if=lambda wrapped: wrapped is None
    )
    sealing_epochs: StrictBool = Field(default=False, exclude_if=lambda said: not said)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_server_url(url: str) -> str:
    """The URL without a trailing slash, scheme and host in lower case and without the default
    port; InsecureServerURL unless https:// or loopback http://. Devices and the server
    (which prints it into enrolment links) apply this one rule."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InsecureServerURL(f"{url!r} is not a server address: {exc}") from None
    if not host:
        raise InsecureServerURL(f"{url!r} is not a server address: it names no host")
    if parts.scheme == "http" and not _is_loopback(host):
        raise InsecureServerURL(
            f"{url} would send records unencrypted over the network: use https://"
        )
    if parts.scheme not in _DEFAULT_PORTS:
        raise InsecureServerURL(f"{url}: only https:// server addresses are supported")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")  # as the HTTP client will send it
        except UnicodeError as exc:
            raise InsecureServerURL(f"{url!r} is not a server address: {exc}") from None
    user, at, _ = parts.netloc.rpartition("@")
    address = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        address += f":{port}"
    netloc = f"{user}{at}{address}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)).rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_MISREAD_SYMBOLS = str.maketrans("OIL", "011")
# An enrolment code starts with its secret: 16 symbols of 5 bits, 80 random bits.
ENROL_SECRET_SYMBOLS = 16


def normalise_enrol_code(code: str) -> str:
    """An enrolment code as typed, made canonical: case, spaces and dashes do not matter, and
    the letters O, I and L read as the digits they look like."""
    return "".join(code.split()).replace("-", "").upper().translate(_MISREAD_SYMBOLS)


# Crockford's base32 without I, L, O, U: nothing to misread when a code is typed from paper.
ENROL_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# The check that follows the secret: 16 symbols, 80 bits of the fingerprint (see below).
ENROL_CHECK_SYMBOLS = 16
_CODE_GROUP = 4
_CHECK_INFO = b"fieldapp/enrol-code-check/v1"
_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{64}$")


def _base32(value: int, symbols: int) -> str:
    return "".join(
        ENROL_CODE_ALPHABET[(value >> (5 * (symbols - 1 - i))) & 31] for i in range(symbols)
    )


@dataclass(frozen=True)
class EnrolmentCode:
    """A one-time enrolment code: an 80-bit random `secret` (16 symbols), then a `check` of
    the keys the device will trust (16 symbols), typed as 8 groups of 4, e.g.
    `7KQ2-M9XD-4RTA-0PZH-Q3WB-8NCE-KV5T-1JGY`.

    `check` is the first 80 bits of HMAC-SHA256 keyed by the secret over the enrolment
    fingerprint (fieldapp.crypto.enrolment_fingerprint: the organisation's recipient keys and
    the server's receipt-signing key, when the code was issued). Only the secret is sent to
    the server; the device recomputes the check from the keys the server answers with and
    refuses them if it differs. Keys that pass for the organisation's cost a second preimage:
    2^80 hashes for each code (keyed by its secret, nothing can be computed in advance), after
    the secret is seen on the wire and before the code expires (30 days at most).
    """

    secret: str
    check: str

    @classmethod
    def issue(cls, secret: str, fingerprint: bytes) -> EnrolmentCode:
        """The code for a new random `secret` (16 symbols) and the keys' fingerprint."""
        return cls(secret, cls._check_of(secret, fingerprint))

    @classmethod
    def parse(cls, text: str) -> EnrolmentCode:
        """A code as typed: case, spaces and dashes do not matter, O reads 0 and I, L read 1."""
        symbols = normalise_enrol_code(text)
        strange = sorted(set(symbols) - set(ENROL_CODE_ALPHABET))
        if strange:
            raise BadEnrolmentCode(
                f"an enrolment code holds only letters and digits ({''.join(strange)!r} is not"
                " used in codes)"
            )
        whole = ENROL_SECRET_SYMBOLS + ENROL_CHECK_SYMBOLS
        if len(symbols) == ENROL_SECRET_SYMBOLS:
            raise BadEnrolmentCode(
                "this enrolment code is of the earlier, shorter kind, which cannot prove the"
                " server's keys to this device: ask your coordinator for a new code"
            )
        if len(symbols) != whole:
            raise BadEnrolmentCode(
                f"an enrolment code has {whole} letters and digits ({whole // _CODE_GROUP}"
                f" groups of {_CODE_GROUP}); this one has {len(symbols)}"
            )
        return cls(symbols[:ENROL_SECRET_SYMBOLS], symbols[ENROL_SECRET_SYMBOLS:])

    @staticmethod
    def _check_of(secret: str, fingerprint: bytes) -> str:
        mac = hmac.new(secret.encode("ascii"), _CHECK_INFO + fingerprint, hashlib.sha256)
        return _base32(int.from_bytes(mac.digest()[:10], "big"), ENROL_CHECK_SYMBOLS)

    def confirms(self, fingerprint: bytes) -> bool:
        """Whether the code was issued with keys of this fingerprint."""
        return hmac.compare_digest(self.check, self._check_of(self.secret, fingerprint))

    @property
    def secret_text(self) -> str:
        """The secret as the device sends it to the server (the check never leaves it)."""
        return _grouped(self.secret)

    def __str__(self) -> str:
        return _grouped(self.secret + self.check)


def _grouped(symbols: str) -> str:
    return "-".join(symbols[i : i + _CODE_GROUP] for i in range(0, len(symbols), _CODE_GROUP))


def parse_fingerprint(text: str) -> bytes:
    """The enrolment fingerprint written as 64 hex digits (as links carry it), as bytes."""
    if not _FINGERPRINT_RE.match(text.strip().lower()):
        raise BadEnrolmentCode("an enrolment fingerprint is 64 hexadecimal digits")
    return bytes.fromhex(text.strip())


_ENROL_CODE_RE = re.compile(r"^[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*$")
_ENROL_LINK_PREFIX = "fieldapp://enrol?"
_MAX_ENROL_LINK = 2048


@dataclass(frozen=True)
class EnrolmentLink:
    """What an enrolment QR code holds: `fieldapp://enrol?server=<url>&code=<code>` and, from
    codes of this version, `&fingerprint=<64 hex digits>` (the full SHA-256 enrolment
    fingerprint, fieldapp.crypto.enrolment_fingerprint), values URL-encoded. It carries the
    one-time code, so it is a secret until used or expired.

    The server address must be http(s) with a host and nothing after its path; whether the
    device accepts it (https, or http on loopback) is `check_server_url`'s rule, at enrolment.
    """

    server: str
    code: str
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        try:
            parts = urlsplit(self.server)
            web_address = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # such as an unclosed [IPv6 address
            web_address = False
        if not web_address:
            raise BadEnrolmentLink(
                f"the enrolment link's server {self.server!r} is not an http(s) address"
            )
        if parts.username is not None or parts.query or parts.fragment:
            raise BadEnrolmentLink(
                "the enrolment link's server address must not hold a user name, query or fragment"
            )
        if not (6 <= len(self.code) <= 64 and _ENROL_CODE_RE.match(self.code)):
            raise BadEnrolmentLink(
                "the enrolment link's code must be 6 to 64 letters and digits, in groups"
                " joined by dashes"
            )
        if self.fingerprint is not None and not _FINGERPRINT_RE.match(self.fingerprint):
            raise BadEnrolmentLink(
                "the enrolment link's fingerprint must be 64 lowercase hexadecimal digits"
            )

    def uri(self) -> str:
        values = {"server": self.server, "code": self.code}
        if self.fingerprint is not None:
            values["fingerprint"] = self.fingerprint
        return _ENROL_LINK_PREFIX + urlencode(values)

    @classmethod
    def parse(cls, text: str) -> EnrolmentLink:
        """The link in `text`: exactly one `server` and one `code`, at most one `fingerprint`,
        nothing else."""
        if len(text) > _MAX_ENROL_LINK:
            raise BadEnrolmentLink("the text is too long to be an enrolment link")
        if not text.strip().lower().startswith(_ENROL_LINK_PREFIX):
            raise BadEnrolmentLink(
                f"this is not a fieldapp enrolment link (it should start {_ENROL_LINK_PREFIX})"
            )
        query = text.strip()[len(_ENROL_LINK_PREFIX) :]
        if "#" in query:
            raise BadEnrolmentLink("the enrolment link must not end with a #fragment")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            raise BadEnrolmentLink("the enrolment link's parameters are malformed") from None
        names = [name for name, _ in pairs]
        for name in names:
            if name not in ("server", "code", "fingerprint"):
                raise BadEnrolmentLink(f"the enrolment link has an unknown parameter {name!r}")
        for name in ("server", "code"):
            if names.count(name) != 1:
                raise BadEnrolmentLink(f"the enrolment link must have exactly one {name!r}")
        if names.count("fingerprint") > 1:
            raise BadEnrolmentLink("the enrolment link must have at most one 'fingerprint'")
        values = dict(pairs)
        return cls(
            server=values["server"], code=values["code"], fingerprint=values.get("fingerprint")
        )
