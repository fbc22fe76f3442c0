"""Merging two versions of a record in conflict from what a device may see: the other
version's statistics and the team roster's participants, never its sealed part."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.merge import MergeError, apply, propose
from fieldapp.forms.spec import FormSpec
from fieldapp.forms.validate import check
from fieldapp.forms.values import split_by_sensitivity
from tests.conftest import CANARY, attendance_values, screening_values

FORMS = load_builtin_forms()
SCREENING = FORMS["victim_screening"]
TRAINING = FORMS["training_attendance"]


def their_stats(spec: FormSpec, values: dict[str, Any]) -> dict[str, Any]:
    """What the server holds in clear of a version: exactly what its author's device signed."""
    return split_by_sensitivity(spec, check(spec, values).values)[0]


def person(name: str, **answers: Any) -> dict[str, Any]:
    return {
        "_id": str(uuid.uuid4()),
        "full_name": name,
        "sex": "female",
        "profession": "judge",
        "consent_contact": False,
        "attendance": ["day1"],
        **answers,
    }


def event(*people: dict[str, Any]) -> dict[str, Any]:
    return {**attendance_values(participants=0), "participants": list(people)}


def test_two_versions_that_agree_offer_nothing_and_apply_gives_mine_back() -> None:
    mine = check(SCREENING, screening_values()).values
    proposal = propose(SCREENING, mine, their_stats(SCREENING, mine))

    assert (proposal.differences, proposal.new_instances) == ((), ())
    assert apply(proposal, {}) == mine


def test_statistical_fields_that_differ_are_offered_in_form_order_and_default_to_mine() -> None:
    mine = check(SCREENING, screening_values()).values
    theirs = screening_values(
        sex="male",
        age_band="35_44",
        languages=["en"],  # sensitive: never in their statistics, never offered
        case_notes="only the office can read this",
        exploitation_types=["forced_labour", "sexual_exploitation"],
        ilo_indicators=["debt_bondage", "deception", "withholding_of_wages"],  # same, reordered
    )
    proposal = propose(SCREENING, mine, their_stats(SCREENING, theirs))

    assert [(d.key, d.mine, d.theirs) for d in proposal.differences] == [
        ("sex", "female", "male"),
        ("age_band", "25_34", "35_44"),
        ("exploitation_types", ["forced_labour"], ["forced_labour", "sexual_exploitation"]),
    ]
    assert all(d.repeat is None and d.instance_id is None for d in proposal.differences)
    assert proposal.default_choices() == dict.fromkeys(
        ("sex", "age_band", "exploitation_types"), "mine"
    )
    assert proposal.office_only_details  # their case notes may differ: only the office sees


def test_apply_takes_the_other_side_only_where_chosen_and_keeps_my_sensitive_answers() -> None:
    mine = check(SCREENING, screening_values()).values
    theirs = screening_values(sex="male", nationality="TH", given_name="Someone else")
    proposal = propose(SCREENING, mine, their_stats(SCREENING, theirs))

    merged = apply(proposal, {"nationality": "theirs"})

    assert merged == {**mine, "nationality": "TH"}
    assert merged["given_name"] == CANARY  # theirs is sealed: never seen, never taken
    assert check(SCREENING, merged).ok
    assert apply(proposal, {"nationality": "theirs", "sex": "theirs"})["sex"] == "male"


def test_a_merge_that_mixes_answers_inconsistently_is_caught_by_validation() -> None:
    mine = check(SCREENING, screening_values()).values  # 29 years old, aged 25 to 34
    theirs = screening_values(age_years=40, age_band="35_44")  # the age itself is sealed
    proposal = propose(SCREENING, mine, their_stats(SCREENING, theirs))

    merged = apply(proposal, {"age_band": "theirs"})

    assert [e.code for e in check(SCREENING, merged).errors] == ["constraint"]


def test_an_answer_only_mine_has_is_removed_when_their_empty_side_is_chosen() -> None:
    mine = check(SCREENING, screening_values(recruitment_methods=["online_advertisement"])).values
    theirs = screening_values()  # no recruitment methods
    proposal = propose(SCREENING, mine, their_stats(SCREENING, theirs))

    [difference] = proposal.differences
    assert (difference.key, difference.theirs) == ("recruitment_methods", None)
    assert "recruitment_methods" not in apply(proposal, {"recruitment_methods": "theirs"})


def test_calculations_metadata_and_sensitive_fields_are_never_offered() -> None:
    spec = FormSpec.model_validate(
        {
            "id": "t",
            "version": "1",
            "title": {"en": "T"},
            "children": [
                {"name": "day", "type": "date", "metadata": "today", "sensitivity": "statistical"},
                {"name": "n", "type": "integer", "sensitivity": "statistical"},
                {
                    "name": "twice",
                    "type": "calculate",
                    "calculation": "${n} * 2",
                    "sensitivity": "statistical",
                },
                {"name": "secret", "type": "integer"},
            ],
        }
    )
    mine = {"day": "2026-01-01", "n": 1, "twice": 2, "secret": 1}
    theirs = {"day": "2026-01-02", "n": 2, "twice": 4, "secret": 2}

    proposal = propose(spec, mine, theirs)

    assert [d.key for d in proposal.differences] == ["n"]


@pytest.mark.parametrize(
    ("mine", "theirs", "same"),
    [
        (None, [], True),  # empty, however it is stored
        ("", None, True),
        (True, 1, False),  # a yes is not the number one
        (False, 0, False),
        (3, 3.0, True),
        (["a", "b"], ["b", "a"], True),
        (["a"], ["a", "a"], False),
        (0, None, False),  # zero is an answer
    ],
)
def test_what_counts_as_the_same_answer(mine: Any, theirs: Any, same: bool) -> None:
    spec = FormSpec.model_validate(
        {
            "id": "t",
            "version": "1",
            "title": {"en": "T"},
            "children": [{"name": "x", "type": "integer", "sensitivity": "statistical"}],
        }
    )
    proposal = propose(spec, {"x": mine}, {"x": theirs})
    assert (proposal.differences == ()) is same


def test_repeat_entries_are_matched_by_id_and_compared_field_by_field() -> None:
    sokha = person("Sokha Chan", attendance=["day1", "day2"])
    dara = person("Dara Pich", profession="prosecutor")
    mine = check(TRAINING, event(sokha, dara)).values
    theirs = event(
        {**sokha, "full_name": "renamed on the tablet", "attendance": ["day1"], "pre_score": 40},
        dara,
    )

    proposal = propose(TRAINING, mine, their_stats(TRAINING, theirs))

    assert proposal.new_instances == ()
    found = [
        (d.key, d.name, d.repeat, d.instance_id, d.mine, d.theirs) for d in proposal.differences
    ]
    assert found == [
        (f"participants[{sokha['_id']}].attendance", "attendance", "participants", sokha["_id"],
         ["day1", "day2"], ["day1"]),
        (f"participants[{sokha['_id']}].pre_score", "pre_score", "participants", sokha["_id"],
         None, 40),
    ]  # fmt: skip
    merged = apply(proposal, {f"participants[{sokha['_id']}].pre_score": "theirs"})
    assert merged["participants"][0] == {**mine["participants"][0], "pre_score": 40}
    assert merged["participants"][0]["full_name"] == "Sokha Chan"  # their name is sealed
    assert merged["participants"][1] == mine["participants"][1]


def test_an_entry_only_they_have_is_added_with_the_details_the_team_shares() -> None:
    sokha = person("Sokha Chan")
    maly = person("Maly Sen", sex="male", profession="police", consent_contact=True,
                  phone="+85512345678", attendance=["day1", "day2"])  # fmt: skip
    mine = check(TRAINING, event(sokha)).values
    theirs = event(sokha, maly)
    shared = {k: v for k, v in maly.items() if k != "_id"}
    roster = {maly["_id"]: {**shared, "profession": "judge"}}  # stale: the signed stats win

    proposal = propose(TRAINING, mine, their_stats(TRAINING, theirs), roster=roster)

    [added] = proposal.new_instances
    assert (added.key, added.repeat, added.instance_id, added.details_known) == (
        f"participants[{maly['_id']}]",
        "participants",
        maly["_id"],
        True,
    )
    assert added.values == maly
    assert proposal.default_choices() == {added.key: "theirs"}
    merged = apply(proposal, {})
    assert [p["full_name"] for p in merged["participants"]] == ["Sokha Chan", "Maly Sen"]
    assert check(TRAINING, merged).ok
    assert apply(proposal, {added.key: "mine"}) == mine


def test_an_entry_the_team_roster_does_not_hold_is_flagged_and_left_out_by_default() -> None:
    sokha = person("Sokha Chan")
    stranger = person("Unknown to this device", pre_score=70)
    mine = check(TRAINING, event(sokha)).values
    roster = {str(uuid.uuid4()): {"full_name": "someone else"}}

    proposal = propose(TRAINING, mine, their_stats(TRAINING, event(sokha, stranger)), roster=roster)

    [added] = proposal.new_instances
    assert not added.details_known
    assert added.values == {
        "_id": stranger["_id"],
        "sex": "female",
        "profession": "judge",
        "consent_contact": False,
        "attendance": ["day1"],
        "pre_score": 70,
    }
    assert proposal.default_choices() == {added.key: "mine"}
    assert apply(proposal, {}) == mine
    merged = apply(proposal, {added.key: "theirs"})
    assert merged["participants"][1] == added.values
    # Its name is the office's to know: the merged version cannot be finalised without one.
    assert [e.path for e in check(TRAINING, merged).errors] == ["participants[1].full_name"]


def test_an_entry_only_i_have_stays_and_their_entries_without_an_id_are_ignored() -> None:
    sokha, dara = person("Sokha Chan"), person("Dara Pich")
    mine = check(TRAINING, event(sokha, dara)).values
    stats = their_stats(TRAINING, event(sokha))
    stats["participants"] += [
        {"sex": "male", "profession": "police"},  # no id: cannot be matched
        {**stats["participants"][0], "pre_score": 1},  # the same id twice: the first counts
    ]

    proposal = propose(TRAINING, mine, stats)

    assert (proposal.differences, proposal.new_instances) == ((), ())
    assert apply(proposal, {}) == mine


def test_the_office_note_shows_only_when_the_other_version_has_a_sealed_part() -> None:
    mine = check(SCREENING, screening_values()).values
    stats = their_stats(SCREENING, mine)
    assert propose(SCREENING, mine, stats).office_only_details
    assert not propose(SCREENING, mine, stats, their_sealed=False).office_only_details
    clear_only = FormSpec.model_validate(
        {
            "id": "t",
            "version": "1",
            "title": {"en": "T"},
            "children": [{"name": "n", "type": "integer", "sensitivity": "statistical"}],
        }
    )
    assert not propose(clear_only, {"n": 1}, {"n": 2}).office_only_details


def test_choices_that_do_not_fit_the_proposal_are_refused_by_name() -> None:
    mine = check(SCREENING, screening_values()).values
    proposal = propose(SCREENING, mine, their_stats(SCREENING, screening_values(sex="male")))
    before = copy.deepcopy(proposal)

    with pytest.raises(MergeError, match=r"^given_name: not a difference"):
        apply(proposal, {"given_name": "theirs"})
    with pytest.raises(MergeError, match=r"^sex: choose 'mine' or 'theirs', not 'both'"):
        apply(proposal, {"sex": "both"})
    apply(proposal, {"sex": "theirs"})
    assert proposal == before  # applying never changes the proposal


def test_a_merge_of_their_country_and_my_province_flags_the_province() -> None:
    """Answers are merged one by one; a province left outside the country chosen is kept and
    named by validation (never dropped), as when the country is changed on the form."""
    sokha = person("Sokha Chan")
    mine = check(TRAINING, event(sokha)).values  # Cambodia, Battambang
    theirs = {**event(sokha), "country": "TH", "province": "TH-10"}  # Thailand, Bangkok
    proposal = propose(TRAINING, mine, their_stats(TRAINING, theirs))
    assert sorted(proposal.default_choices()) == ["country", "province"]
    mixed = apply(proposal, {"country": "theirs", "province": "mine"})
    result = check(TRAINING, mixed)
    assert [(e.field, e.code) for e in result.errors] == [("province", "choice")]
    assert result.values["province"] == "KH-2"
    assert check(TRAINING, apply(proposal, {"country": "theirs", "province": "theirs"})).ok


def _split_proposal() -> tuple[Any, dict[str, Any]]:
    sokha = person("Sokha Chan", attendance=["day1", "day2"])
    dara = person("Dara Pich", consent_contact=True, phone="+85511111111")
    maly = person("Maly Sen")
    mine = check(TRAINING, {**event(sokha, dara), "province": None}).values
    theirs = event(
        {**sokha, "attendance": ["day2"], "post_score": 90},
        {**dara, "profession": "police"},
        maly,
    )
    theirs["country"] = "TH"
    theirs.pop("province")  # a province follows its country: see the test below
    roster = {maly["_id"]: {k: v for k, v in maly.items() if k != "_id"}}
    return propose(TRAINING, mine, their_stats(TRAINING, theirs), roster=roster), mine


PROPOSAL, MINE = _split_proposal()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(("mine", "theirs")), min_size=5, max_size=5))
def test_any_merge_keeps_my_sensitive_answers_and_takes_each_side_as_chosen(
    sides: list[str],
) -> None:
    keys = sorted(PROPOSAL.default_choices())
    assert len(keys) == 5
    choices = dict(zip(keys, sides, strict=True))

    merged = apply(PROPOSAL, choices)

    stats, secret = split_by_sensitivity(TRAINING, merged)
    _, my_secret = split_by_sensitivity(TRAINING, MINE)
    assert {k: v for k, v in secret.items() if k != "participants"} == {
        k: v for k, v in my_secret.items() if k != "participants"
    }
    assert secret["participants"][: len(my_secret["participants"])] == my_secret["participants"]
    for difference in PROPOSAL.differences:
        side = difference.theirs if choices[difference.key] == "theirs" else difference.mine
        where = stats
        if difference.repeat is not None:
            where = next(i for i in stats["participants"] if i["_id"] == difference.instance_id)
        assert where.get(difference.name) == side
    [added] = PROPOSAL.new_instances
    assert any(i["_id"] == added.instance_id for i in merged["participants"]) is (
        choices[added.key] == "theirs"
    )
    assert check(TRAINING, merged).ok
