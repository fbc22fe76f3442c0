"""The store's keyring on a real SQLite file: the passphrase, unlocking and its failures,
the inactivity lock, a new passphrase, the wipe, secrets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fieldapp import crypto
from fieldapp.store import Store, StoreLocked, StoreWiped
from tests.conftest import CANARY, PASSPHRASE, Clock, screening_values
from tests.test_store import canary_hits


def test_create_refuses_weak_passphrases(store_path: Path) -> None:
    with pytest.raises(crypto.WeakPassphrase):
        Store.create(store_path, "123456")
    with pytest.raises(crypto.WeakPassphrase):
        Store.create(store_path, "short")
    Store.create(store_path, "123456", keystore_second_factor=True).close()


def test_wrong_passphrase_never_opens_the_store(store: Store, store_path: Path) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    store.close()
    reopened = Store(store_path)
    assert reopened.keyring.locked
    with pytest.raises(StoreLocked):
        reopened.records.get(record.id)
    for guess in ("correct horse battery stapl", "Correct horse battery staple", ""):
        with pytest.raises(crypto.WrongPassphrase):
            reopened.keyring.unlock(guess)
        assert reopened.keyring.locked
    reopened.keyring.unlock(PASSPHRASE)
    assert reopened.records.get(record.id).values["given_name"] == CANARY
    reopened.close()


def test_failed_unlocks_erase_the_key_by_policy(store_path: Path) -> None:
    store = Store.create(store_path, PASSPHRASE, max_failed_unlocks=3)
    record = store.records.create_final("victim_screening", screening_values())
    store.close()
    store = Store(store_path)
    for _ in range(2):
        with pytest.raises(crypto.WrongPassphrase):
            store.keyring.unlock("not the passphrase at all")
    with pytest.raises(StoreWiped):
        store.keyring.unlock("not the passphrase at all")
    # Even the right passphrase cannot open it now: the wrapped key is gone from the file.
    with pytest.raises(StoreWiped):
        store.keyring.unlock(PASSPHRASE)
    with pytest.raises(StoreLocked):
        store.records.get(record.id)
    store.close()
    with sqlite3.connect(store_path) as conn:
        assert conn.execute("SELECT wrapped_key FROM keyring").fetchone() == (None,)


def test_a_successful_unlock_resets_the_failure_count(store_path: Path) -> None:
    store = Store.create(store_path, PASSPHRASE, max_failed_unlocks=3)
    store.close()
    store = Store(store_path)
    for _ in range(5):
        with pytest.raises(crypto.WrongPassphrase):
            store.keyring.unlock("not the passphrase at all")
        with pytest.raises(crypto.WrongPassphrase):
            store.keyring.unlock("not the passphrase either")
        store.keyring.unlock(PASSPHRASE)
    store.close()


def test_inactivity_locks_the_store(store_path: Path, clock: Clock) -> None:
    store = Store.create(store_path, PASSPHRASE, autolock_seconds=60, clock=clock)
    record = store.records.new_draft("victim_screening", {"case_code": "AB-1234"})
    clock.now += 59
    assert store.records.get(record.id).values["case_code"] == "AB-1234"
    clock.now += 59  # activity above postponed the lock
    assert not store.keyring.locked
    clock.now += 61
    assert store.keyring.locked
    with pytest.raises(StoreLocked):
        store.records.get(record.id)
    # Listing needs no key: the home screen can still count what waits.
    assert store.records.count(status="draft") == 1
    store.keyring.unlock(PASSPHRASE)
    assert store.records.get(record.id).values["case_code"] == "AB-1234"
    store.close()


def test_change_passphrase(store: Store, store_path: Path) -> None:
    record = store.records.create_final("victim_screening", screening_values())
    store.keyring.change_passphrase(PASSPHRASE, "a much better passphrase")
    store.close()
    reopened = Store(store_path)
    with pytest.raises(crypto.WrongPassphrase):
        reopened.keyring.unlock(PASSPHRASE)
    reopened.keyring.unlock("a much better passphrase")
    assert reopened.records.get(record.id).values["given_name"] == CANARY
    reopened.close()


def test_wipe_leaves_nothing_readable(store: Store, store_path: Path) -> None:
    store.records.create_final("victim_screening", screening_values())
    store.keyring.set_secret("token", "secret-token-value")
    store.wipe()
    assert store.records.count() == 0
    with pytest.raises(StoreWiped):
        store.keyring.unlock(PASSPHRASE)
    store.close()
    assert canary_hits(store_path.parent) == []


def test_secrets_are_encrypted(store: Store, store_path: Path) -> None:
    store.keyring.set_secret("token", "bearer-Zorblaxqua-token")
    assert store.keyring.secret("token") == "bearer-Zorblaxqua-token"
    assert canary_hits(store_path.parent) == []


def test_the_keyring_says_how_many_tries_are_left(store_path: Path) -> None:
    store = Store.create(store_path, PASSPHRASE, max_failed_unlocks=3)
    store.keyring.lock()
    assert (store.keyring.failed_unlocks, store.keyring.unlocks_left) == (0, 3)
    with pytest.raises(crypto.WrongPassphrase):
        store.keyring.unlock("not the passphrase at all")
    assert (store.keyring.failed_unlocks, store.keyring.unlocks_left) == (1, 2)
    store.keyring.unlock(PASSPHRASE)
    assert (store.keyring.failed_unlocks, store.keyring.unlocks_left) == (0, 3)
    for _ in range(2):
        with pytest.raises(crypto.WrongPassphrase):
            store.keyring.unlock("not the passphrase at all")
    assert store.keyring.unlocks_left == 1  # the next wrong one erases the key
    with pytest.raises(StoreWiped):
        store.keyring.unlock("not the passphrase at all")
    store.close()
