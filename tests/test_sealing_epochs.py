"""Sealing epochs (fieldapp.crypto.epochs): one encapsulation to the organisation for many
records, each record opened at the office with its epoch header and nothing else; named
errors for a missing, altered or foreign header and for an altered record ciphertext; the
old envelope format still opens; the header's dictionary holds no answer."""

from __future__ import annotations

import uuid

import pytest

from fieldapp import crypto
from fieldapp.crypto import CaseFileKey
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.values import sealing_dictionary, split_by_sensitivity
from tests.conftest import CANARY, screening_values


@pytest.fixture(scope="module")
def pair() -> crypto.OrgKeyPair:
    return crypto.OrgKeyPair.generate()  # the default hybrid ML-KEM-768 + X25519


def _sealed(epoch: crypto.SealingEpoch, secret: dict[str, object]) -> tuple[str, str, bytes]:
    record_id, revision = str(uuid.uuid4()), "1-" + uuid.uuid4().hex
    aad = crypto.record_aad(record_id, revision, "sealed")
    return record_id, revision, epoch.seal(crypto.canonical_json(secret), aad)


def test_each_record_of_an_epoch_opens_alone_with_the_header(pair: crypto.OrgKeyPair) -> None:
    forms = load_builtin_forms()
    spec = forms["victim_screening"]
    _, secret = split_by_sensitivity(spec, screening_values())
    epoch = crypto.SealingEpoch([pair.recipient], sealing_dictionary(forms.values()))
    first, second = _sealed(epoch, secret), _sealed(epoch, secret)
    old = crypto.seal(
        crypto.canonical_json(secret), [pair.recipient], crypto.record_aad("r", "1-a", "sealed")
    )
    # The encapsulation (1,120 bytes for ML-KEM-768 + X25519) is in the header, once.
    assert len(first[2]) < len(old) - 1000 and len(epoch.header) > 1100
    assert crypto.epoch_id_of(epoch.header) == crypto.envelope_epoch_id(first[2]) == epoch.epoch_id
    assert crypto.envelope_key_ids(first[2], epoch.header) == [pair.recipient.key_id]
    key = CaseFileKey(pair, timer=False)
    for record_id, revision, sealed in (second, first):  # any order: no state but the header
        assert key.open(record_id, revision, sealed, epoch.header) == secret
    assert key.open("r", "1-a", old) == secret  # the old format, no header
    assert CANARY.encode() not in epoch.header and CANARY in str(secret)


def test_tampering_and_a_missing_or_foreign_header_are_refused_by_name(
    pair: crypto.OrgKeyPair,
) -> None:
    epoch, other = crypto.SealingEpoch([pair.recipient]), crypto.SealingEpoch([pair.recipient])
    record_id, revision, sealed = _sealed(epoch, {"given_name": CANARY})
    key = CaseFileKey(pair, timer=False)
    with pytest.raises(crypto.EpochHeaderMissing, match=f"record {record_id}: .*header is needed"):
        key.open(record_id, revision, sealed)
    flipped_header = bytearray(epoch.header)
    flipped_header[200] ^= 1
    for header in (bytes(flipped_header), other.header, epoch.header + b"\0"):
        with pytest.raises(crypto.EpochHeaderMismatch, match="not the one of epoch"):
            key.open(record_id, revision, sealed, header)
    with pytest.raises(crypto.EpochHeaderMismatch):
        crypto.envelope_key_ids(sealed, other.header)
    for position in (-3, 36, 40):  # the ciphertext, the index, the first payload byte
        altered = bytearray(sealed)
        altered[position] ^= 1
        with pytest.raises(crypto.IntegrityError, match=f"record {record_id}") as refused:
            key.open(record_id, revision, bytes(altered), epoch.header)
        assert CANARY not in str(refused.value)
    # Replayed onto another record or revision: another key.
    for bad_id, bad_revision in ((str(uuid.uuid4()), revision), (record_id, "2-" + "b" * 32)):
        with pytest.raises(crypto.IntegrityError):
            key.open(bad_id, bad_revision, sealed, epoch.header)
    with pytest.raises(crypto.IntegrityError, match="truncated"):
        key.open(record_id, revision, sealed[:20], epoch.header)
    # Not sealed to this key: named as for the old format.
    stranger = crypto.OrgKeyPair.generate("X25519")
    foreign = crypto.SealingEpoch([stranger.recipient])
    _, _, theirs = _sealed(foreign, {"given_name": CANARY})
    with pytest.raises(crypto.WrongOrganisationKey):
        key.open(record_id, revision, theirs, foreign.header)
    assert key.open(record_id, revision, sealed, epoch.header) == {"given_name": CANARY}


def test_an_epoch_is_spent_when_full_old_or_the_keys_change(pair: crypto.OrgKeyPair) -> None:
    epoch = crypto.SealingEpoch([pair.recipient])
    assert not epoch.spent([pair.recipient])
    assert epoch.spent([pair.recipient, crypto.OrgKeyPair.generate("X25519").recipient])
    for _ in range(crypto.epochs.EPOCH_MAX_RECORDS):
        _sealed(epoch, {})
    assert epoch.spent([pair.recipient])


def test_the_dictionary_names_fields_never_answers() -> None:
    forms = load_builtin_forms()
    dictionary = sealing_dictionary(forms.values())
    assert b'"given_name":' in dictionary and b'"_id":' in dictionary
    assert b'"sex":' not in dictionary  # statistical: never in a sealed part
    assert CANARY.encode() not in dictionary
