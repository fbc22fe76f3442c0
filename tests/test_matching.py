"""Match digests (fieldapp.crypto.matching): normalisation of names and phones, blocking keys
that survive a typo in one field, a match key derived per organisation and delivered wrapped
by the enrolment code, and digests nobody without the key can test a guess against."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from fieldapp import crypto
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.store._matching import match_keys
from tests.conftest import CANARY, attendance_values, screening_values

CODE = "ABCD-EFGH-JKMN-PQRS"


def test_names_fold_case_accents_spaces_and_order() -> None:
    assert crypto.fold_name("  GARCÍA,   María ") == crypto.fold_name("maria garcia")
    assert crypto.fold_name("Đặng Thị Ngọc") == "dang ngoc thi"
    assert crypto.fold_name("Jean-Luc O'Neil") == "jean luc neil o"
    assert crypto.fold_name(None) == crypto.fold_name("  ") == ""


def test_phones_keep_their_last_eight_digits() -> None:
    assert crypto.phone_digits("+33 6 12 34 56 78") == crypto.phone_digits("06.12.34.56.78")
    assert crypto.phone_digits("+855 12 345 678") == crypto.phone_digits("012345678")
    assert crypto.phone_digits("612345678") == "12345678"
    assert crypto.phone_digits("12-34") == "" and crypto.phone_digits(None) == ""


def test_a_typo_in_one_field_still_matches_on_the_others() -> None:
    key = crypto.random_key()
    base = crypto.victim_match_keys(key, "María", "García", "2001-02-03")
    assert set(base) == {"name", "given_dob", "family_dob"}
    assert crypto.victim_match_keys(key, "maria ", "GARCIA", "2001-02-03") == base
    typo_family = crypto.victim_match_keys(key, "Maria", "Garsia", "2001-02-03")
    assert typo_family["given_dob"] == base["given_dob"]
    assert typo_family["name"] != base["name"] and typo_family["family_dob"] != base["family_dob"]
    typo_dob = crypto.victim_match_keys(key, "Maria", "Garcia", "2001-03-02")
    assert typo_dob["name"] == base["name"] and typo_dob["given_dob"] != base["given_dob"]
    # Nothing is hashed from a missing part.
    assert set(crypto.victim_match_keys(key, "Maria", "", None)) == set()
    assert set(crypto.victim_match_keys(key, "Maria", "Garcia", "not a date")) == {"name"}

    person = crypto.participant_match_keys(key, "Ana Lima", "Court of Appeal", "+855 12 345 678")
    moved = crypto.participant_match_keys(key, "ana  lima", "Ministry", "012 345 678")
    assert moved["name_phone"] == person["name_phone"] and moved["name_org"] != person["name_org"]


def test_digests_are_truncated_keyed_hashes_no_one_without_the_key_can_test() -> None:
    key, other = crypto.random_key(), crypto.random_key()
    digests = crypto.victim_match_keys(key, CANARY, "Sokha", "1997-05-01")
    assert all(
        len(bytes.fromhex(d)) == crypto.matching.MATCH_DIGEST_BYTES == 16 for d in digests.values()
    )
    guesses = [CANARY, CANARY.lower(), f"{CANARY} Sokha", "sokha zorblaxqua", "1997-05-01"]
    unkeyed = {
        h(g.encode()).hexdigest()[:32] for g in guesses for h in (hashlib.sha256, hashlib.md5)
    } | {hmac.new(b"", g.encode(), hashlib.sha256).hexdigest()[:32] for g in guesses}
    assert not unkeyed & set(digests.values())
    # A server's guess, hashed with any key but the organisation's, never matches.
    guessed = crypto.victim_match_keys(other, CANARY, "Sokha", "1997-05-01")
    assert not set(guessed.values()) & set(digests.values())
    # The kind is part of what is hashed: two blocking keys never collide by construction.
    assert crypto.match_digest(key, "name", "a b") != crypto.match_digest(key, "given_dob", "a b")


def test_the_match_key_is_the_organisations_and_travels_wrapped_by_the_code(
    org_key: crypto.OrgKeyPair,
) -> None:
    match = org_key.match_key("org-1")
    assert match == org_key.match_key("org-1") != org_key.match_key("org-2")
    assert match not in (org_key.team_key("org-1", None), org_key.team_key("org-1", "north"))
    assert match != crypto.OrgKeyPair.generate("X25519").match_key("org-1")
    wrapped = crypto.wrap_match_key(CODE, match, "org-1")
    assert match not in wrapped
    assert crypto.unwrap_match_key(CODE.lower().replace("-", ""), wrapped, "org-1") == match
    with pytest.raises(crypto.WrongEnrolCode, match="match key"):
        crypto.unwrap_match_key("ZZZZ-EFGH-JKMN-PQRS", wrapped, "org-1")
    with pytest.raises(crypto.WrongEnrolCode):
        crypto.unwrap_match_key(CODE, wrapped, "org-2")
    # A team key's wrapping is bound to its purpose: it does not pass for a match key.
    team = crypto.wrap_team_key(CODE, match, "org-1", None)
    with pytest.raises(crypto.WrongEnrolCode):
        crypto.unwrap_match_key(CODE, team, "org-1")


def test_the_built_in_forms_name_a_victim_and_each_participant() -> None:
    forms = load_builtin_forms()
    key = crypto.random_key()
    victim = match_keys(
        key, forms["victim_screening"], {**screening_values(), "date_of_birth": "1997-05-01"}
    )
    assert {(k["subject"], k["kind"]) for k in victim} == {
        ("", "name"),
        ("", "given_dob"),
        ("", "family_dob"),
    }
    values = attendance_values(participants=2)
    for index, person in enumerate(values["participants"]):
        person.update(_id=f"p{index}", organisation="Court", phone="+855 12 345 678")
    roster = match_keys(key, forms["training_attendance"], values)
    assert {(k["subject"], k["kind"]) for k in roster} == {
        (p, kind) for p in ("p0", "p1") for kind in ("name", "name_org", "name_phone")
    }
    assert all(CANARY.lower() not in str(k).lower() for k in victim + roster)
