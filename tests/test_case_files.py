"""Case files: the organisation's key unlocked from its file's bytes with the passphrase, held
in memory for one session, opening sealed records as the device seals them; named errors for
a wrong passphrase, another file, another organisation's key and a tampered envelope; forgotten
on close and after idle minutes; the opened answers labelled in a language."""

from __future__ import annotations

import uuid

import pytest

from fieldapp import crypto
from fieldapp.crypto import CaseFileKey
from fieldapp.forms.answers import answer_lines
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.values import join_parts, split_by_sensitivity
from tests._wait import wait_until
from tests.conftest import CANARY, Clock, screening_values

KEY_PASSPHRASE = "organisation key passphrase"


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[crypto.OrgKeyPair, bytes]:
    pair = crypto.OrgKeyPair.generate()  # the default hybrid ML-KEM-768 + X25519
    path = tmp_path_factory.mktemp("keys") / "org.key"
    pair.save(path, KEY_PASSPHRASE)
    return pair, path.read_bytes()


def sealed_record(
    recipients: list[crypto.RecipientKey], secret: dict[str, object]
) -> tuple[str, str, bytes]:
    """A record's sealed part as the device's outbox seals it."""
    record_id, revision = str(uuid.uuid4()), "1-" + "a" * 32
    aad = crypto.record_aad(record_id, revision, "sealed")
    return record_id, revision, crypto.seal(crypto.canonical_json(secret), recipients, aad)


def test_unlock_open_and_label_in_a_language(key_file: tuple[crypto.OrgKeyPair, bytes]) -> None:
    pair, data = key_file
    spec = load_builtin_forms()["victim_screening"]
    stats, secret = split_by_sensitivity(spec, screening_values())
    record_id, revision, sealed = sealed_record([pair.recipient], secret)
    with CaseFileKey.unlock(data, KEY_PASSPHRASE, organisation=[pair.recipient]) as key:
        assert key.key_id == pair.recipient.key_id and not key.locked
        opened = key.open(record_id, revision, sealed)
        assert opened["given_name"] == CANARY
    assert key.locked
    lines = {line.name: line for line in answer_lines(spec, join_parts(spec, stats, opened), "fr",
                                                      sealed=opened)}  # fmt: skip
    assert (lines["given_name"].label, lines["given_name"].text) == ("Prénom(s)", CANARY)
    assert lines["given_name"].sealed and not lines["sex"].sealed
    assert lines["sex"].label == "Sexe / genre"


def test_named_errors(key_file: tuple[crypto.OrgKeyPair, bytes]) -> None:
    pair, data = key_file
    with pytest.raises(crypto.WrongPassphrase, match=r"wrong passphrase for org\.key"):
        CaseFileKey.unlock(data, "not the passphrase at all", source="org.key")
    for garbage in (b"", b"\xff\xfe not json", b'{"format": "something else"}'):
        with pytest.raises(crypto.NotAKeyFile, match="is not a valid organisation key file"):
            CaseFileKey.unlock(garbage, KEY_PASSPHRASE)
    other = crypto.OrgKeyPair.generate("X25519")
    with pytest.raises(crypto.WrongOrganisationKey, match="not one of this organisation's keys"):
        CaseFileKey.unlock(data, KEY_PASSPHRASE, organisation=[other.recipient])
    key = CaseFileKey.unlock(data, KEY_PASSPHRASE, organisation=[pair.recipient, other.recipient])
    # Sealed to another organisation's key only.
    record_id, revision, sealed = sealed_record([other.recipient], {"given_name": CANARY})
    with pytest.raises(crypto.WrongOrganisationKey, match=f"record {record_id} is not sealed"):
        key.open(record_id, revision, sealed)
    # Tampered: a flipped byte, a truncated envelope, another record's or revision's aad.
    record_id, revision, sealed = sealed_record([pair.recipient], {"given_name": CANARY})
    flipped = bytearray(sealed)
    flipped[-5] ^= 1
    for bad_id, bad_rev, bad in (
        (record_id, revision, bytes(flipped)),
        (record_id, revision, sealed[:-40]),
        (str(uuid.uuid4()), revision, sealed),
        (record_id, "2-" + "b" * 32, sealed),
    ):
        with pytest.raises(crypto.IntegrityError) as refused:
            key.open(bad_id, bad_rev, bad)
        assert bad_id in str(refused.value) and CANARY not in str(refused.value)
    with pytest.raises(crypto.IntegrityError, match="truncated or corrupt"):
        key.open(record_id, revision, b"\x01")
    assert key.open(record_id, revision, sealed) == {"given_name": CANARY}
    key.close()
    with pytest.raises(crypto.CaseFilesLocked, match="the case files are locked"):
        key.open(record_id, revision, sealed)
    assert CANARY not in repr(key) and "locked" in repr(key)


def test_forgotten_after_idle_minutes(
    key_file: tuple[crypto.OrgKeyPair, bytes], clock: Clock
) -> None:
    pair, data = key_file
    record_id, revision, sealed = sealed_record([pair.recipient], {"given_name": CANARY})
    key = CaseFileKey.unlock(data, KEY_PASSPHRASE, idle_minutes=10, clock=clock, timer=False)
    clock.now += 9 * 60
    key.open(record_id, revision, sealed)  # a use restarts the idle time
    clock.now += 9 * 60
    assert not key.locked
    clock.now += 60
    assert key.locked
    with pytest.raises(crypto.CaseFilesLocked):
        key.open(record_id, revision, sealed)


def test_the_timer_forgets_an_idle_key_without_being_asked(
    key_file: tuple[crypto.OrgKeyPair, bytes], clock: Clock
) -> None:
    _, data = key_file
    key = CaseFileKey.unlock(data, KEY_PASSPHRASE, idle_minutes=0.001, clock=clock)
    clock.now += 1
    # repr reads the state without checking idle time: only the timer can have locked it.
    wait_until(lambda: "locked" in repr(key), 10, "the idle timer to forget the key")
