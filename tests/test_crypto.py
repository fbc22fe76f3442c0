"""fieldapp.crypto with real cryptography: round trips, tampering, policy, known answers."""

from __future__ import annotations

import base64
import json
import math
import os
import stat
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fieldapp import crypto
from fieldapp.crypto import (
    KEY_BYTES,
    CryptoError,
    IntegrityError,
    KdfParams,
    OrgKeyPair,
    RecipientKey,
    SignatureError,
    SigningKey,
    WeakPassphrase,
    WrongPassphrase,
    canonical_json,
    check_passphrase_policy,
    decrypt,
    derive_key,
    encrypt,
    keyed_hash,
    random_key,
    record_aad,
    seal,
    subkey,
    unwrap_key,
    verify,
    wrap_key,
)
from fieldapp.errors import FieldappError

GOOD_PASSPHRASE = "correct horse battery staple"
AAD = record_aad("rec-1", "rev-1")


@pytest.fixture(scope="module")
def hybrid_pair() -> OrgKeyPair:
    return OrgKeyPair.generate()


@pytest.fixture(scope="module")
def classic_pair() -> OrgKeyPair:
    return OrgKeyPair.generate("X25519")


@pytest.fixture(scope="module")
def outsider_pair() -> OrgKeyPair:
    return OrgKeyPair.generate()


def flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


# --- field encryption -----------------------------------------------------------------------


def test_encrypt_round_trip_and_format() -> None:
    key = random_key()
    blob = encrypt(key, b"Zorblaxqua", AAD)
    assert blob[0] == 1
    assert len(blob) == 1 + 12 + len(b"Zorblaxqua") + 16
    assert b"Zorblaxqua" not in blob
    assert decrypt(key, blob, AAD) == b"Zorblaxqua"
    assert decrypt(key, encrypt(key, b"", AAD), AAD) == b""


CIPHERTEXT_LENGTH = 1 + 12 + 20 + 16


@pytest.mark.parametrize(
    "position",
    range(CIPHERTEXT_LENGTH),
    ids=lambda i: (
        "version"
        if i == 0
        else f"nonce{i - 1}"
        if i < 13
        else f"body{i - 13}"
        if i < 33
        else f"tag{i - 33}"
    ),
)
def test_any_flipped_ciphertext_byte_is_an_integrity_error(position: int) -> None:
    key = random_key()
    blob = encrypt(key, b"twenty bytes of data", AAD)
    assert len(blob) == CIPHERTEXT_LENGTH
    with pytest.raises(IntegrityError):
        decrypt(key, flip(blob, position), AAD)


@pytest.mark.parametrize("length", [0, 1, 13, 28, CIPHERTEXT_LENGTH - 1])
def test_truncated_ciphertext_is_an_integrity_error(length: int) -> None:
    key = random_key()
    blob = encrypt(key, b"twenty bytes of data", AAD)
    with pytest.raises(IntegrityError):
        decrypt(key, blob[:length], AAD)


@pytest.mark.parametrize(
    "other_aad",
    [
        record_aad("rec-2", "rev-1"),
        record_aad("rec-1", "rev-2"),
        record_aad("rec-1", "rev-1", purpose="draft"),
        b"",
    ],
    ids=["other record", "other revision", "other purpose", "empty"],
)
def test_ciphertext_is_bound_to_record_and_revision(other_aad: bytes) -> None:
    key = random_key()
    blob = encrypt(key, b"Zorblaxqua", AAD)
    with pytest.raises(IntegrityError, match="another record/revision"):
        decrypt(key, blob, other_aad)


def test_wrong_key_is_an_integrity_error_and_a_crypto_error() -> None:
    blob = encrypt(random_key(), b"x", AAD)
    with pytest.raises(IntegrityError) as raised:
        decrypt(random_key(), blob, AAD)
    assert isinstance(raised.value, CryptoError)
    assert isinstance(raised.value, FieldappError)


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_keys_of_the_wrong_length_are_refused(length: int) -> None:
    with pytest.raises(CryptoError, match="32 bytes"):
        encrypt(b"k" * length, b"x", AAD)


def test_record_aad_is_unambiguous() -> None:
    assert record_aad("ab", "c") != record_aad("a", "bc")
    assert record_aad("a", "b", "c") != record_aad("a", "c", "b")
    assert record_aad("a\x00", "b") != record_aad("a", "\x00b")
    assert record_aad("rec", "rev") == record_aad("rec", "rev", "fields")


def test_no_repeated_nonce_in_100000_encryptions() -> None:
    key = random_key()
    nonces = {encrypt(key, b"", b"")[1:13] for _ in range(100_000)}
    assert len(nonces) == 100_000


@settings(max_examples=60, deadline=None)
@given(plaintext=st.binary(max_size=2048), aad=st.binary(max_size=64))
def test_encrypt_decrypt_round_trip_property(plaintext: bytes, aad: bytes) -> None:
    key = random_key()
    assert decrypt(key, encrypt(key, plaintext, aad), aad) == plaintext


# --- passphrases, key derivation and wrapping ------------------------------------------------


def test_kdf_params_are_at_least_owasp_and_salted_randomly() -> None:
    first, second = KdfParams.new(), KdfParams.new()
    assert first.algorithm == "argon2id"
    assert first.memory_kib >= 19456
    assert first.iterations >= 2
    assert first.lanes == 1
    assert len(first.salt) >= 16
    assert first.salt != second.salt


def test_kdf_params_json_round_trip_with_base64_salt() -> None:
    params = KdfParams.new()
    as_json = params.model_dump_json()
    assert json.loads(as_json)["salt"] == base64.b64encode(params.salt).decode()
    assert KdfParams.model_validate_json(as_json) == params
    with pytest.raises(ValidationError):
        KdfParams(salt=b"x" * 16, pepper="unknown fields are refused")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        params.salt = b"frozen"  # type: ignore[misc]


def test_derive_key_is_deterministic_per_salt_and_normalised() -> None:
    params = KdfParams.new()
    key = derive_key(GOOD_PASSPHRASE, params)
    assert len(key) == KEY_BYTES
    assert derive_key(GOOD_PASSPHRASE, params) == key
    assert derive_key(GOOD_PASSPHRASE, KdfParams.new()) != key
    assert derive_key(GOOD_PASSPHRASE + "!", params) != key
    composed = "café crème brûlée"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert derive_key(composed, params) == derive_key(decomposed, params)


@pytest.mark.parametrize(
    "downgrade",
    [
        {"memory_kib": 19455},
        {"memory_kib": 8},
        {"iterations": 1},
        {"salt": b"short salt"},
        {"lanes": 0},
        {"memory_kib": 4 * 1024 * 1024},
    ],
    ids=["memory just below", "memory tiny", "one iteration", "short salt", "no lanes", "huge"],
)
def test_derive_key_refuses_tampered_parameters(downgrade: dict[str, object]) -> None:
    params = KdfParams.new().model_copy(update=downgrade)
    with pytest.raises(CryptoError, match="key derivation"):
        derive_key(GOOD_PASSPHRASE, params)


@pytest.mark.parametrize(
    ("passphrase", "second_factor", "problem"),
    [
        ("short", False, "at least 10"),
        ("abcabcabcabc", False, "5 different"),
        ("aaaaaaaaaaaaaaaa", False, "5 different"),
        ("123456", False, "PIN"),
        ("12345678901234", False, "PIN"),
        ("١٢٣٤٥٦٧٨٩٠١٢", False, "PIN"),  # Arabic-Indic digits are a PIN too
        ("12345", True, "6 digits"),
        ("123456", True, None),
        ("20260101", True, None),
        (GOOD_PASSPHRASE, False, None),
        ("tr0ub4dor&3", False, None),
        ("mot de passe sûr", False, None),
    ],
)
def test_passphrase_policy(passphrase: str, second_factor: bool, problem: str | None) -> None:
    if problem is None:
        check_passphrase_policy(passphrase, keystore_second_factor=second_factor)
    else:
        with pytest.raises(WeakPassphrase, match=problem):
            check_passphrase_policy(passphrase, keystore_second_factor=second_factor)


def test_wrap_unwrap_and_wrong_passphrase() -> None:
    params = KdfParams.new()
    data_key = random_key()
    wrapped = wrap_key(derive_key(GOOD_PASSPHRASE, params), data_key, b"keyring")
    assert data_key not in wrapped
    assert unwrap_key(derive_key(GOOD_PASSPHRASE, params), wrapped, b"keyring") == data_key
    for wrong in ["correct horse battery stapl", "Correct horse battery staple", ""]:
        with pytest.raises(WrongPassphrase):
            unwrap_key(derive_key(wrong, params), wrapped, b"keyring")
    with pytest.raises(WrongPassphrase):
        unwrap_key(random_key(), wrapped, b"keyring")
    with pytest.raises(IntegrityError):
        unwrap_key(random_key(), wrapped[:20], b"keyring")


def test_wrap_key_only_wraps_keys() -> None:
    with pytest.raises(CryptoError):
        wrap_key(random_key(), b"not a key", b"")


# --- derived keys, hashes, canonical JSON -----------------------------------------------------


def test_subkeys_are_separated_by_purpose() -> None:
    key = random_key()
    revision, dedup = subkey(key, "revision"), subkey(key, "dedup")
    assert len(revision) == KEY_BYTES
    assert len({revision, dedup, key}) == 3
    assert subkey(key, "revision") == revision
    assert subkey(random_key(), "revision") != revision
    with pytest.raises(CryptoError):
        subkey(key, "")


def test_keyed_hash_matches_rfc4231_known_answer() -> None:
    # RFC 4231, test case 2 (HMAC-SHA256).
    assert keyed_hash(b"Jefe", b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_canonical_json_is_stable_under_key_order() -> None:
    one = {"b": [1, 2, {"z": None, "y": True}], "a": "é", "c": 1.5}
    other = {"c": 1.5, "a": "é", "b": [1, 2, {"y": True, "z": None}]}
    assert canonical_json(one) == canonical_json(other)
    assert canonical_json(one) == '{"a":"é","b":[1,2,{"y":true,"z":null}],"c":1.5}'.encode()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_canonical_json_rejects_non_finite_numbers(value: float) -> None:
    with pytest.raises(ValueError, match="canonical JSON"):
        canonical_json({"x": [value]})


# --- sealing to the organisation --------------------------------------------------------------


def test_seal_to_two_recipients_each_opens(
    hybrid_pair: OrgKeyPair, classic_pair: OrgKeyPair
) -> None:
    envelope = seal(b"Zorblaxqua", [hybrid_pair.recipient, classic_pair.recipient], AAD)
    assert b"Zorblaxqua" not in envelope
    assert hybrid_pair.open(envelope, AAD) == b"Zorblaxqua"
    assert classic_pair.open(envelope, AAD) == b"Zorblaxqua"


def test_non_recipient_cannot_open(
    hybrid_pair: OrgKeyPair, classic_pair: OrgKeyPair, outsider_pair: OrgKeyPair
) -> None:
    envelope = seal(b"Zorblaxqua", [hybrid_pair.recipient, classic_pair.recipient], AAD)
    with pytest.raises(IntegrityError, match="not sealed to key"):
        outsider_pair.open(envelope, AAD)


@pytest.mark.parametrize(
    "other_aad",
    [record_aad("rec-2", "rev-1"), record_aad("rec-1", "rev-2"), b""],
    ids=["other record", "other revision", "empty"],
)
def test_envelope_is_bound_to_aad(
    hybrid_pair: OrgKeyPair, classic_pair: OrgKeyPair, other_aad: bytes
) -> None:
    envelope = seal(b"Zorblaxqua", [hybrid_pair.recipient, classic_pair.recipient], AAD)
    for pair in (hybrid_pair, classic_pair):
        with pytest.raises(IntegrityError):
            pair.open(envelope, other_aad)


def test_any_flipped_envelope_byte_is_an_integrity_error_for_every_recipient(
    hybrid_pair: OrgKeyPair, classic_pair: OrgKeyPair
) -> None:
    envelope = seal(b"a small record", [classic_pair.recipient, hybrid_pair.recipient], AAD)
    survivors = []
    for position in range(len(envelope)):
        tampered = flip(envelope, position)
        for pair in (hybrid_pair, classic_pair):
            try:
                pair.open(tampered, AAD)
            except IntegrityError:
                continue
            survivors.append((position, pair.recipient.kem))
    assert survivors == []


@pytest.mark.parametrize("length", [0, 1, 2, 10, 100, -1])
def test_truncated_envelope_is_an_integrity_error(hybrid_pair: OrgKeyPair, length: int) -> None:
    envelope = seal(b"a small record", [hybrid_pair.recipient], AAD)
    with pytest.raises(IntegrityError):
        hybrid_pair.open(envelope[:length], AAD)


def test_seal_needs_a_recipient_and_ignores_duplicates(hybrid_pair: OrgKeyPair) -> None:
    with pytest.raises(CryptoError, match="at least one recipient"):
        seal(b"x", [], AAD)
    once = seal(b"x", [hybrid_pair.recipient], AAD)
    twice = seal(b"x", [hybrid_pair.recipient, hybrid_pair.recipient], AAD)
    assert twice[1] == once[1] == 1
    assert hybrid_pair.open(twice, AAD) == b"x"


def _sample_record_json() -> bytes:
    record = {
        "form": "victim_identification",
        "answers": [
            {"field": f"question_{i}", "value": "not recorded", "status": "skipped"}
            for i in range(16)
        ],
    }
    return json.dumps(record).encode()


def test_compression_happens_before_encryption(
    hybrid_pair: OrgKeyPair, classic_pair: OrgKeyPair
) -> None:
    record = _sample_record_json()
    assert 1100 <= len(record) <= 1400
    assert len(seal(record, [classic_pair.recipient], AAD)) < len(record)
    # The hybrid KEM adds ~1.1 KB per recipient; the payload itself still shrinks.
    overhead = len(seal(b"", [hybrid_pair.recipient], AAD))
    assert len(seal(record, [hybrid_pair.recipient], AAD)) - overhead < len(record) / 2


def test_decompression_is_bounded(hybrid_pair: OrgKeyPair, monkeypatch: pytest.MonkeyPatch) -> None:
    envelope = seal(b"\x00" * 5000, [hybrid_pair.recipient], AAD)
    monkeypatch.setattr(crypto.sealing, "MAX_SEALED_PLAINTEXT", 4096)
    with pytest.raises(IntegrityError, match="oversized"):
        hybrid_pair.open(envelope, AAD)


@settings(max_examples=25, deadline=None)
@given(plaintext=st.binary(max_size=4096), aad=st.binary(max_size=64))
def test_seal_open_round_trip_property(
    hybrid_pair: OrgKeyPair, classic_pair: OrgKeyPair, plaintext: bytes, aad: bytes
) -> None:
    envelope = seal(plaintext, [hybrid_pair.recipient, classic_pair.recipient], aad)
    assert hybrid_pair.open(envelope, aad) == plaintext
    assert classic_pair.open(envelope, aad) == plaintext


def test_recipient_key_json_round_trip_and_consistency(hybrid_pair: OrgKeyPair) -> None:
    recipient = hybrid_pair.recipient
    assert len(recipient.key_id) == 16
    assert len(recipient.public_key) == 1216
    assert RecipientKey.model_validate_json(recipient.model_dump_json()) == recipient
    assert RecipientKey.model_validate(recipient.model_dump(mode="json")) == recipient
    with pytest.raises(ValidationError, match="key_id"):
        RecipientKey(key_id="0" * 16, kem=recipient.kem, public_key=recipient.public_key)
    with pytest.raises(ValidationError, match="1216 bytes"):
        RecipientKey.from_public_key("MLKEM768_X25519", recipient.public_key[:32])


# --- organisation key file --------------------------------------------------------------------


@pytest.mark.parametrize("kem", ["X25519", "MLKEM768_X25519"], ids=["X25519", "MLKEM768_X25519"])
def test_org_key_pair_save_and_load(tmp_path: Path, kem: crypto.KemName) -> None:
    private_bytes = os.urandom(32 if kem == "X25519" else 96)
    pair = OrgKeyPair(kem, private_bytes)
    path = tmp_path / "org.key"
    pair.save(path, GOOD_PASSPHRASE)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_bytes()
    json.loads(content)
    secret_parts = [private_bytes, private_bytes[:32], private_bytes[-32:]]
    for secret in secret_parts:
        for encoded in (secret, secret.hex().encode(), base64.b64encode(secret)):
            assert encoded not in content
    assert list(tmp_path.iterdir()) == [path]

    loaded = OrgKeyPair.load(path, GOOD_PASSPHRASE)
    assert loaded.recipient == pair.recipient
    assert loaded.open(seal(b"Zorblaxqua", [pair.recipient], AAD), AAD) == b"Zorblaxqua"

    with pytest.raises(WrongPassphrase):
        OrgKeyPair.load(path, "correct horse battery stapler")


def test_org_key_save_applies_the_passphrase_policy(
    tmp_path: Path, classic_pair: OrgKeyPair
) -> None:
    with pytest.raises(WeakPassphrase):
        classic_pair.save(tmp_path / "org.key", "123456")
    assert list(tmp_path.iterdir()) == []


def test_org_key_file_tampering_is_refused(tmp_path: Path, classic_pair: OrgKeyPair) -> None:
    path = tmp_path / "org.key"
    classic_pair.save(path, GOOD_PASSPHRASE)
    document = json.loads(path.read_text())

    downgraded = json.loads(json.dumps(document))
    downgraded["kdf"]["memory_kib"] = 1024
    path.write_text(json.dumps(downgraded))
    with pytest.raises(CryptoError, match="below the minimum"):
        OrgKeyPair.load(path, GOOD_PASSPHRASE)

    swapped = json.loads(json.dumps(document))
    swapped["recipient"] = OrgKeyPair.generate("X25519").recipient.model_dump(mode="json")
    path.write_text(json.dumps(swapped))
    with pytest.raises(CryptoError):
        OrgKeyPair.load(path, GOOD_PASSPHRASE)

    path.write_text('{"format": "something else"}')
    with pytest.raises(CryptoError, match="not a valid organisation key file"):
        OrgKeyPair.load(path, GOOD_PASSPHRASE)


# --- device signatures ------------------------------------------------------------------------


def test_ed25519_matches_rfc8032_known_answer() -> None:
    # RFC 8032 section 7.1, TEST 1 (empty message).
    key = SigningKey.from_bytes(
        bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    )
    assert key.public_key == bytes.fromhex(
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    assert key.sign(b"") == bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )


def test_signing_key_round_trip() -> None:
    key = SigningKey.generate()
    assert len(key.to_bytes()) == 32
    assert len(key.public_key) == 32
    assert SigningKey.from_bytes(key.to_bytes()).public_key == key.public_key
    with pytest.raises(CryptoError):
        SigningKey.from_bytes(b"too short")


def test_signature_fails_on_any_flipped_byte() -> None:
    key = SigningKey.generate()
    data = canonical_json({"record": "rec-1", "revision": "rev-1"})
    signature = key.sign(data)
    verify(key.public_key, signature, data)
    for position in range(len(signature)):
        with pytest.raises(SignatureError):
            verify(key.public_key, flip(signature, position), data)
    for position in range(len(data)):
        with pytest.raises(SignatureError):
            verify(key.public_key, signature, flip(data, position))
    for position in range(len(key.public_key)):
        with pytest.raises(SignatureError):
            verify(flip(key.public_key, position), signature, data)
    with pytest.raises(SignatureError):
        verify(SigningKey.generate().public_key, signature, data)
    with pytest.raises(SignatureError):
        verify(key.public_key[:31], signature, data)


# -- the team key: derived from the organisation key, delivered wrapped by the code ------------

ENROL_CODE = "7KQ2-M9XD-4RTA-0PZH"


def test_the_team_key_is_derived_from_the_org_key_per_organisation_and_region(
    tmp_path: Path, hybrid_pair: OrgKeyPair, classic_pair: OrgKeyPair
) -> None:
    path = tmp_path / "org-key.json"
    hybrid_pair.save(path, GOOD_PASSPHRASE)
    north = hybrid_pair.team_key("org-1", "north")
    assert len(north) == KEY_BYTES
    assert OrgKeyPair.load(path, GOOD_PASSPHRASE).team_key("org-1", "north") == north
    others = {
        hybrid_pair.team_key("org-1", "south"),
        hybrid_pair.team_key("org-1", None),  # the devices without a region
        hybrid_pair.team_key("org-1", ""),
        hybrid_pair.team_key("org-2", "north"),
        classic_pair.team_key("org-1", "north"),
    }
    assert len(others) == 5 and north not in others


def test_the_team_key_unwraps_with_its_code_however_it_is_typed() -> None:
    team_key = random_key()
    wrapped = crypto.wrap_team_key(ENROL_CODE, team_key, "org-1", "north")
    assert team_key not in wrapped
    assert crypto.unwrap_team_key(" 7kq2 m9xd-4rta 0PZH\n", wrapped, "org-1", "north") == team_key
    again = crypto.wrap_team_key(ENROL_CODE, team_key, "org-1", "north")
    assert again != wrapped  # a fresh nonce each time


def test_a_wrong_code_or_another_scope_fails_clearly() -> None:
    wrapped = crypto.wrap_team_key(ENROL_CODE, random_key(), "org-1", "north")
    for code, org, region in [
        ("7KQ2-M9XD-4RTA-0PZJ", "org-1", "north"),  # one symbol off
        (ENROL_CODE, "org-2", "north"),
        (ENROL_CODE, "org-1", "south"),
        (ENROL_CODE, "org-1", None),
    ]:
        with pytest.raises(crypto.WrongEnrolCode, match="does not open with this enrolment code"):
            crypto.unwrap_team_key(code, wrapped, org, region)
    tampered = bytearray(wrapped)
    tampered[-1] ^= 1
    with pytest.raises(crypto.WrongEnrolCode):
        crypto.unwrap_team_key(ENROL_CODE, bytes(tampered), "org-1", "north")
    with pytest.raises(IntegrityError, match="truncated"):
        crypto.unwrap_team_key(ENROL_CODE, wrapped[:20], "org-1", "north")
    assert issubclass(crypto.WrongEnrolCode, FieldappError)
    with pytest.raises(CryptoError, match="enrolment code is needed"):
        crypto.wrap_team_key(" - ", random_key(), "org-1", "north")


def test_a_roster_entry_opens_only_for_its_scope_and_key() -> None:
    team_key = random_key()
    blob = encrypt(
        team_key, b'{"full_name": "x"}', crypto.team_aad("roster", "org-1", "north", "e1")
    )
    assert decrypt(team_key, blob, crypto.team_aad("roster", "org-1", "north", "e1"))
    for aad in (
        crypto.team_aad("roster", "org-1", "north", "e2"),
        crypto.team_aad("roster", "org-1", "south", "e1"),
        crypto.team_aad("roster", "org-1", None, "e1"),
        crypto.team_aad("roster", "org-2", "north", "e1"),
        crypto.team_aad("team-key", "org-1", "north", "e1"),
    ):
        with pytest.raises(IntegrityError):
            decrypt(team_key, blob, aad)


def test_the_key_ids_an_envelope_is_sealed_to_are_read_without_opening_it(
    hybrid_pair: OrgKeyPair, classic_pair: OrgKeyPair
) -> None:
    envelope = seal(b"Zorblaxqua", [classic_pair.recipient, hybrid_pair.recipient], AAD)
    ids = crypto.envelope_key_ids(envelope)
    assert ids == [classic_pair.recipient.key_id, hybrid_pair.recipient.key_id]
    for broken in (envelope[:5], b"\x02" + envelope[1:], b"\x01\x00"):
        with pytest.raises(IntegrityError):
            crypto.envelope_key_ids(broken)


def test_the_enrolment_fingerprint_covers_every_key_in_any_order(
    hybrid_pair: OrgKeyPair, classic_pair: OrgKeyPair
) -> None:
    server = SigningKey.generate().public_key
    both = crypto.enrolment_fingerprint([hybrid_pair.recipient, classic_pair.recipient], server)
    assert len(both) == 32
    assert (
        crypto.enrolment_fingerprint([classic_pair.recipient, hybrid_pair.recipient], server)
        == both
    )
    others = {
        crypto.enrolment_fingerprint([hybrid_pair.recipient], server),
        crypto.enrolment_fingerprint([classic_pair.recipient], server),
        crypto.enrolment_fingerprint([], server),
        crypto.enrolment_fingerprint(
            [hybrid_pair.recipient, classic_pair.recipient], SigningKey.generate().public_key
        ),
        crypto.enrolment_fingerprint(
            [hybrid_pair.recipient, OrgKeyPair.generate("X25519").recipient], server
        ),
    }
    assert len(others) == 5 and both not in others
