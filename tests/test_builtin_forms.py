"""The built-in forms: every rule exercised both ways, consent, minors, sensitivity, HTCDS."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.choice_sets import choice_set_rows
from fieldapp.forms.expr import parse, parse_choice_filter
from fieldapp.forms.spec import STATISTICAL_TYPES, FieldSpec, FormSpec, RepeatSpec
from fieldapp.forms.validate import Checked, check
from fieldapp.i18n import LANGUAGES
from fieldapp.office.htcds import HtcdsExportError, to_htcds
from tests.conftest import CANARY, SHARED_CORPUS

FORMS_DIR = Path(__file__).resolve().parent.parent / "assets" / "forms"
HTCDS_XLSFORM = SHARED_CORPUS / "htcds_xlsform.xlsx"
TODAY = date(2026, 3, 10)
TRAINING, VICTIM = "training_attendance", "victim_screening"
LANGS = tuple(LANGUAGES)


@pytest.fixture(scope="module")
def forms() -> dict[str, FormSpec]:
    return {
        form_id: FormSpec.model_validate_json((FORMS_DIR / f"{form_id}.json").read_text("utf-8"))
        for form_id in (TRAINING, VICTIM)
    }


# -- submissions ---------------------------------------------------------------------------

PARTICIPANT = {
    "full_name": f"Awa {CANARY} Diop",
    "sex": "female",
    "profession": "other",
    "profession_other": "Child protection officer",
    "organisation": "Ministère de la Famille",
    "consent_contact": True,
    "phone": "+221771234567",
    "email": "awa.diop@example.org",
    "attendance": ["day1", "day2", "day3"],
    "pre_score": 45,
    "post_score": 80,
}
TRAINING_VALID: dict[str, Any] = {
    "title": "Identification of victims of trafficking",
    "programme_type": "training_technical_assistance",
    "topic": "Victim-centred investigation",
    "country": "SN",
    "province": "SN-DK",  # Dakar (ISO 3166-2)
    "venue": "Hôtel Savana",
    "start_date": "2026-03-02",
    "end_date": "2026-03-04",
    "facilitators": "M. Ndiaye, J. Smith",
    "delivery_languages": ["fr", "local"],
    "participants": [
        PARTICIPANT,
        {"full_name": "Moussa Fall", "sex": "male", "profession": "police", "post_score": 70},
    ],
}

# Every field of the victim form answered (so each sensitive field is shown to need consent).
VICTIM_VALID: dict[str, Any] = {
    "consent_record": "yes",
    "consent_refer": "yes",
    "consent_share": "yes",
    "consent_signature": "5" * 32,  # attachment ids: a drawn signature, two photos
    "consent_form_photo": "7" * 32,
    "document_photo": "6" * 32,
    "case_code": "DKR-2026-014",
    "given_name": CANARY,
    "family_name": "Okafor",
    "date_of_birth": "2009-05-01",
    "sex": "female",
    "age_years": 16,
    "age_band": "15_17",
    "child_protection_referral": "not_possible",
    "child_protection_reason": "No child protection service in the district",
    "nationality": "NG",
    "languages": ["en", "yo", "other"],
    "languages_other": "Pidgin",
    "identification_country": "SN",
    "identification_province": "other",
    "identification_province_other": "Île de Carabane",
    "identification_place": "Pikine",
    "identified_by": "other",
    "identified_by_other": "Community health worker",
    "screening_outcome": "presumed_victim",
    "exploitation_types": ["sexual_exploitation", "forced_criminality", "other"],
    "exploitation_other": "Forced to carry drugs across the border",
    "sex_exploitation_types": ["prostitution", "remote_interactive"],
    "exploitation_country": "SN",
    "recruitment_methods": ["online_social_networks", "friends"],
    "ilo_indicators": [
        "deception",
        "isolation",
        "restriction_of_movement",
        "sexual_violence",
        "retention_of_documents",
        "debt_bondage",
    ],
    "immediate_needs": [
        "shelter",
        "medical",
        "psychosocial",
        "legal",
        "repatriation",
        "reintegration",
    ],
    "referral_org_shelter": "Foyer Espoir",
    "referral_org_medical": "Hôpital Roi Baudouin",
    "referral_org_psychosocial": "Centre Ginddi",
    "referral_org_legal": "Association des juristes sénégalaises",
    "referral_org_repatriation": "IOM Dakar",
    "referral_org_reintegration": "NAPTIP Lagos",
    "case_notes": "Arrived by bus; wants to contact her mother.",
}
VICTIM_ADULT: dict[str, Any] = {
    **{k: v for k, v in VICTIM_VALID.items() if not k.startswith("child_protection")},
    "date_of_birth": "1995-02-11",
    "age_years": 31,
    "age_band": "25_34",
}
# Without consent to record: case code and the statistical answers only.
VICTIM_MINIMAL: dict[str, Any] = {
    "consent_record": "no",
    "consent_refer": "no",
    "consent_share": "no",
    "case_code": "DKR-2026-015",
    "sex": "male",
    "age_band": "25_34",
    "nationality": "unknown",
    "identification_country": "SN",
    "identified_by": "labour_inspection",
    "screening_outcome": "presumed_victim",
    "exploitation_types": ["forced_labour"],
    "ilo_indicators": ["withholding_of_wages", "excessive_overtime"],
    "immediate_needs": ["shelter"],
}
VALID = {TRAINING: TRAINING_VALID, VICTIM: VICTIM_VALID}


def training(**top: Any) -> dict[str, Any]:
    return {**copy.deepcopy(TRAINING_VALID), **top}


def participant(**answers: Any) -> dict[str, Any]:
    """The valid training submission with the first participant's answers changed."""
    values = training()
    values["participants"][0].update(answers)
    return values


def victim(**answers: Any) -> dict[str, Any]:
    return {**copy.deepcopy(VICTIM_VALID), **answers}


def adult(**answers: Any) -> dict[str, Any]:
    return {**copy.deepcopy(VICTIM_ADULT), **answers}


def without(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in names}


def run(spec: FormSpec, values: dict[str, Any], lang: str = "en") -> Checked:
    return check(spec, values, lang=lang, today=TODAY)


def at(values: dict[str, Any], path: str) -> Any:
    """The value at `participants[0].phone`-style path, or None."""
    node: Any = values
    for part in path.split("."):
        match = re.fullmatch(r"(\w+)\[(\d+)\]", part)
        if match:
            node = (node.get(match[1]) or [None] * (int(match[2]) + 1))[int(match[2])]
        else:
            node = node.get(part) if isinstance(node, dict) else None
    return node


def where(spec: FormSpec, name: str) -> str:
    """Path of a field in the valid submissions: repeat fields live in the first instance."""
    for repeat in spec.walk():
        if isinstance(repeat, RepeatSpec) and any(
            n.name == name for n in spec.walk(repeat.children)
        ):
            return f"{repeat.name}[0].{name}"
    return name


def summary(result: Checked) -> list[tuple[str, str]]:
    return sorted((e.path, e.code) for e in result.errors)


# -- the rule tables -----------------------------------------------------------------------
# (form, field, [passing submissions], [failing submissions]); each failing one has exactly
# one error: that field's constraint.
CONSTRAINT_CASES = [
    (
        TRAINING,
        "end_date",
        [
            training(end_date="2026-03-02", participants=[{**PARTICIPANT, "attendance": ["day1"]}]),
            training(end_date="2026-03-11"),
        ],
        [
            training(end_date="2026-03-01", participants=[{**PARTICIPANT, "attendance": ["day1"]}]),
            training(end_date="2026-03-12"),
        ],
    ),
    (
        TRAINING,
        "phone",
        [participant(phone="221771234567"), participant(phone="+12025550143")],
        [
            participant(phone="+221 77 123 45 67"),
            participant(phone="12345"),
            participant(phone="+0221771234567"),
        ],
    ),
    (
        TRAINING,
        "email",
        [participant(email="a@b.sn")],
        [
            participant(email="awa.example.org"),
            participant(email="awa@example"),
            participant(email="a b@c.org"),
        ],
    ),
    (
        TRAINING,
        "attendance",
        [
            participant(attendance=["day3"]),
            training(
                end_date="2026-03-11", participants=[{**PARTICIPANT, "attendance": ["day10"]}]
            ),
        ],
        [participant(attendance=["day1", "day4"]), participant(attendance=["day10"])],
    ),
    (
        TRAINING,
        "pre_score",
        [participant(pre_score=0), participant(pre_score=100)],
        [participant(pre_score=-1), participant(pre_score=101)],
    ),
    (
        TRAINING,
        "post_score",
        [participant(post_score=0), participant(post_score=100)],
        [participant(post_score=-5), participant(post_score=150)],
    ),
    (
        VICTIM,
        "case_code",
        [victim(case_code="A1B2"), victim(case_code="ABCDEFGHIJ-123456789")],
        [
            victim(case_code="dkr-2026-014"),
            victim(case_code="AB1"),
            victim(case_code="ABCDEFGHIJ-1234567890"),
            victim(case_code="DKR 2026"),
        ],
    ),
    (
        VICTIM,
        "date_of_birth",
        [victim(date_of_birth="2026-03-10")],
        [victim(date_of_birth="2026-03-11")],
    ),
    (
        VICTIM,
        "age_years",
        [
            adult(age_years=60, age_band="60_plus"),
            adult(age_years=120, age_band="60_plus"),
            victim(age_years=0, age_band="0_11"),
        ],
        [adult(age_years=121, age_band="60_plus"), victim(age_years=-1, age_band="0_11")],
    ),
    (
        VICTIM,
        "age_band",
        [
            adult(age_years=18, age_band="18_24"),
            victim(age_years=14, age_band="12_14"),
            without(adult(age_band="unknown_adult"), "age_years"),
        ],
        [adult(age_band="35_44"), victim(age_band="18_24"), adult(age_band="unknown_adult")],
    ),
]

# (form, field, submission where it is relevant, submission where it is not). Each holds an
# answer for the field; the first keeps it, the second drops it.
RELEVANCE_CASES = [
    (TRAINING, "profession_other", participant(), participant(profession="lawyer")),
    (TRAINING, "phone", participant(), participant(consent_contact=False)),
    (TRAINING, "email", participant(), participant(consent_contact=False)),
    (VICTIM, "given_name", victim(), victim(consent_record="no")),
    (VICTIM, "family_name", victim(), victim(consent_record="no")),
    (VICTIM, "date_of_birth", victim(), victim(consent_record="no")),
    (VICTIM, "consent_signature", victim(), victim(consent_record="no")),
    (VICTIM, "consent_form_photo", victim(), victim(consent_record="no")),
    (VICTIM, "document_photo", victim(), victim(consent_record="no")),
    (VICTIM, "age_years", victim(), victim(consent_record="no")),
    (VICTIM, "child_protection_referral", victim(), adult(child_protection_referral="referred")),
    (
        VICTIM,
        "child_protection_reason",
        victim(),
        victim(child_protection_referral="referred"),
    ),
    (VICTIM, "languages", victim(), victim(consent_record="no")),
    (VICTIM, "languages_other", victim(), victim(languages=["en"])),
    (VICTIM, "identification_place", victim(), victim(consent_record="no")),
    (VICTIM, "identification_province", victim(), victim(consent_record="no")),
    (VICTIM, "identification_province", victim(), victim(identification_country=None)),
    (
        VICTIM,
        "identification_province_other",
        victim(),
        victim(identification_province="SN-DK"),
    ),
    (TRAINING, "province", training(), training(country=None)),
    (
        TRAINING,
        "province_other",
        training(province="other", province_other="Région de Dakar"),
        training(province_other="Région de Dakar"),
    ),
    (VICTIM, "identified_by_other", victim(), victim(identified_by="ngo")),
    (VICTIM, "exploitation_other", victim(), victim(exploitation_types=["forced_begging"])),
    (
        VICTIM,
        "sex_exploitation_types",
        victim(),
        victim(exploitation_types=["forced_labour"]),
    ),
    *[
        (VICTIM, f"referral_org_{need}", victim(), victim(immediate_needs=[]))
        for need in ("shelter", "medical", "psychosocial", "legal", "repatriation", "reintegration")
    ],
    (VICTIM, "referral_org_shelter", victim(), victim(consent_refer="no")),
    (VICTIM, "referral_org_legal", victim(), victim(consent_record="no")),
    (VICTIM, "case_notes", victim(), victim(consent_record="no")),
]

# (form, field, submission without an answer where it is required, one where it is not).
REQUIRED_WHEN_CASES = [
    (
        VICTIM,
        "exploitation_types",
        without(victim(), "exploitation_types", "exploitation_other", "sex_exploitation_types"),
        without(
            victim(screening_outcome="not_victim"),
            "exploitation_types",
            "exploitation_other",
            "sex_exploitation_types",
        ),
    ),
]


# (form, field, a submission whose pick fits the other answers, one where it no longer does)
CHOICE_FILTER_CASES = [
    (TRAINING, "province", training(), training(country="KH")),
    (
        TRAINING,
        "province",
        training(province="other", province_other="X"),
        training(province="KH-2"),
    ),
    (
        VICTIM,
        "identification_province",
        victim(identification_country="KH", identification_province="KH-2"),
        victim(identification_country="KH", identification_province="SN-DK"),
    ),
]


@pytest.mark.parametrize(
    ("form_id", "name", "fits", "stale"),
    CHOICE_FILTER_CASES,
    ids=[f"{f}.{n}-{i}" for i, (f, n, _, _) in enumerate(CHOICE_FILTER_CASES)],
)
def test_choice_filter(
    forms: dict[str, FormSpec], form_id: str, name: str, fits: dict[str, Any], stale: dict[str, Any]
) -> None:
    """A province is one of its country's (or 'other'); a pick left stale by a change of
    country is kept and named as an error, never dropped."""
    spec = forms[form_id]
    assert run(spec, fits).errors == []
    result = run(spec, stale)
    assert [(e.field, e.code) for e in result.errors] == [(name, "choice")]
    assert result.values[name] == stale[name]
    label = spec.label(spec.node(name).label, "en")
    assert result.errors[0].message.startswith(f"{label}: the answer is not one of the choices")


def test_every_rule_has_cases(forms: dict[str, FormSpec]) -> None:
    """A rule added to a form without cases here fails; so does a case for a removed rule."""
    rules = set()
    for form_id, spec in forms.items():
        for node in spec.walk():
            if node.relevant:
                rules.add((form_id, node.name, "relevant"))
            if isinstance(node, FieldSpec) and node.constraint:
                rules.add((form_id, node.name, "constraint"))
            if isinstance(node, FieldSpec) and isinstance(node.required, str):
                rules.add((form_id, node.name, "required"))
            if isinstance(node, FieldSpec) and node.choice_filter:
                rules.add((form_id, node.name, "choice_filter"))
    covered = {(f, n, "constraint") for f, n, _, _ in CONSTRAINT_CASES}
    covered |= {(f, n, "choice_filter") for f, n, _, _ in CHOICE_FILTER_CASES}
    covered |= {(f, n, "relevant") for f, n, _, _ in RELEVANCE_CASES}
    covered |= {(f, n, "required") for f, n, _, _ in REQUIRED_WHEN_CASES}
    assert rules == covered


@pytest.mark.parametrize("form_id", [TRAINING, VICTIM])
def test_complete_valid_submission_passes(forms: dict[str, FormSpec], form_id: str) -> None:
    result = run(forms[form_id], VALID[form_id])
    assert result.errors == []
    for name, value in VALID[form_id].items():
        if name != "participants":
            assert result.values[name] == value, name


def test_calculations(forms: dict[str, FormSpec]) -> None:
    assert run(forms[TRAINING], TRAINING_VALID).values["event_days"] == 3
    one_day = training(
        end_date="2026-03-02",
        participants=[{"full_name": "A", "sex": "male", "profession": "judge"}],
    )
    assert run(forms[TRAINING], one_day).values["event_days"] == 1
    assert run(forms[VICTIM], VICTIM_VALID).values["is_minor"] is True
    assert run(forms[VICTIM], VICTIM_ADULT).values["is_minor"] is False


@pytest.mark.parametrize(
    ("form_id", "name", "passing", "failing"),
    CONSTRAINT_CASES,
    ids=[f"{f}.{n}" for f, n, _, _ in CONSTRAINT_CASES],
)
def test_constraint(
    forms: dict[str, FormSpec],
    form_id: str,
    name: str,
    passing: list[dict[str, Any]],
    failing: list[dict[str, Any]],
) -> None:
    spec = forms[form_id]
    node = spec.node(name)
    assert isinstance(node, FieldSpec)
    path = where(spec, name)
    for values in passing:
        result = run(spec, values)
        assert result.errors == [], values
        assert at(result.values, path) is not None
    for values in failing:
        for lang in LANGS:
            result = run(spec, values, lang)
            assert summary(result) == [(path, "constraint")], at(values, path)
            message = result.errors[0].message
            assert spec.label(node.label, lang) in message
            assert spec.label(node.constraint_message, lang) in message


@pytest.mark.parametrize(
    ("form_id", "name", "relevant", "not_relevant"),
    RELEVANCE_CASES,
    ids=[f"{f}.{n}-{i}" for i, (f, n, _, _) in enumerate(RELEVANCE_CASES)],
)
def test_relevance(
    forms: dict[str, FormSpec],
    form_id: str,
    name: str,
    relevant: dict[str, Any],
    not_relevant: dict[str, Any],
) -> None:
    spec = forms[form_id]
    path = where(spec, name)
    assert at(not_relevant, path) is not None, "the case must hold an answer to drop"
    kept = run(spec, relevant)
    assert kept.errors == []
    assert at(kept.values, path) == at(relevant, path)
    dropped = run(spec, not_relevant)
    assert at(dropped.values, path) is None
    # (a question the case leaves unanswered to make another irrelevant may be required)
    blanked = {
        e.path for e in dropped.errors if e.code == "required" and at(not_relevant, e.path) is None
    }
    assert all(e.code in ("not_relevant", "consent") or e.path in blanked for e in dropped.errors)


@pytest.mark.parametrize(
    ("form_id", "name", "required", "optional"),
    REQUIRED_WHEN_CASES,
    ids=[f"{f}.{n}" for f, n, _, _ in REQUIRED_WHEN_CASES],
)
def test_required_when(
    forms: dict[str, FormSpec],
    form_id: str,
    name: str,
    required: dict[str, Any],
    optional: dict[str, Any],
) -> None:
    spec = forms[form_id]
    for lang in LANGS:
        result = run(spec, required, lang)
        assert summary(result) == [(name, "required")]
        assert spec.label(spec.node(name).label, lang) in result.errors[0].message
    assert run(spec, optional).errors == []


REQUIRED_SOURCES = {TRAINING: [TRAINING_VALID], VICTIM: [VICTIM_VALID, VICTIM_MINIMAL]}


@pytest.mark.parametrize("form_id", [TRAINING, VICTIM])
def test_every_required_field_is_required(forms: dict[str, FormSpec], form_id: str) -> None:
    """Each `required: true` field, removed from a valid submission, is the one error."""
    spec = forms[form_id]
    required = [f for f in spec.fields() if f.required is True]
    assert required
    for node in required:
        path = where(spec, node.name)
        source = next(v for v in REQUIRED_SOURCES[form_id] if at(v, path) is not None)
        values = copy.deepcopy(source)
        if "[0]." in path:
            del values["participants"][0][node.name]
        else:
            del values[node.name]
        for lang in LANGS:
            result = run(spec, values, lang)
            wanted = [e for e in result.errors if e.code not in ("not_relevant", "consent")]
            assert [(e.path, e.code) for e in wanted] == [(path, "required")], node.name
            assert spec.label(node.label, lang) in wanted[0].message


def test_an_event_is_valid_before_anyone_registers(forms: dict[str, FormSpec]) -> None:
    """Trainers create the event first and register participants at the door."""
    result = run(forms[TRAINING], training(participants=[]))
    assert result.ok


# -- every error at once -------------------------------------------------------------------

BAD_TRAINING = training(
    delivery_languages=["fr", "klingon"],
    end_date="2026-02-27",
    participants=[
        {**PARTICIPANT, "phone": "77 123", "email": "nobody", "pre_score": 140},
        {"sex": "male", "profession": "other", "attendance": ["day2"], "post_score": -3},
    ],
)
BAD_TRAINING_ERRORS = [
    ("end_date", "constraint"),
    ("delivery_languages", "choice"),
    ("participants[0].attendance", "constraint"),
    ("participants[0].email", "constraint"),
    ("participants[0].phone", "constraint"),
    ("participants[0].pre_score", "constraint"),
    ("participants[1].attendance", "constraint"),
    ("participants[1].full_name", "required"),
    ("participants[1].post_score", "constraint"),
    ("participants[1].profession_other", "required"),
]
BAD_VICTIM = without(
    adult(case_code="case 14", age_years=130, age_band="60_plus", exploitation_country="XX"),
    "sex",
    "screening_outcome",
)
BAD_VICTIM_ERRORS = [
    ("age_years", "constraint"),
    ("case_code", "constraint"),
    ("exploitation_country", "choice"),
    ("screening_outcome", "required"),
    ("sex", "required"),
]


@pytest.mark.parametrize(
    ("form_id", "values", "expected"),
    [(TRAINING, BAD_TRAINING, BAD_TRAINING_ERRORS), (VICTIM, BAD_VICTIM, BAD_VICTIM_ERRORS)],
    ids=[TRAINING, VICTIM],
)
@pytest.mark.parametrize("lang", LANGS)
def test_bad_submission_reports_every_error(
    forms: dict[str, FormSpec],
    form_id: str,
    values: dict[str, Any],
    expected: list[tuple[str, str]],
    lang: str,
) -> None:
    spec = forms[form_id]
    result = run(spec, values, lang)
    assert summary(result) == sorted(expected)
    for error in result.errors:
        label = spec.label(spec.node(error.field).label, lang)
        assert error.label == label
        assert label in error.message


def test_bad_age_band_is_not_reported_for_an_impossible_age(forms: dict[str, FormSpec]) -> None:
    """130 breaks the age range; 60+ is then the right band, so only the age is wrong."""
    errors = run(forms[VICTIM], BAD_VICTIM).errors
    assert "age_band" not in {e.field for e in errors}


# -- consent and minors --------------------------------------------------------------------


def test_minimal_statistical_record_is_valid(forms: dict[str, FormSpec]) -> None:
    spec = forms[VICTIM]
    result = run(spec, VICTIM_MINIMAL)
    assert result.errors == []
    sensitive = {f.name for f in spec.fields() if f.sensitivity == "sensitive"}
    assert set(result.values) & sensitive == {"case_code"}


def test_without_consent_to_record_nothing_identifying_is_kept(
    forms: dict[str, FormSpec],
) -> None:
    spec = forms[VICTIM]
    sensitive = {f.name for f in spec.fields() if f.sensitivity == "sensitive" and f.holds_value}
    # VICTIM_VALID answers every sensitive field, so a new one must be added there to pass.
    assert sensitive <= set(VICTIM_VALID)
    kept = run(spec, VICTIM_VALID).values
    assert sensitive <= set(kept)
    for refusal in ("no", None):
        values = victim(consent_record=refusal)
        stripped = run(spec, values).values
        assert set(stripped) & sensitive == {"case_code"}
        statistical = {f.name for f in spec.fields() if f.sensitivity == "statistical"}
        assert statistical & set(values) - {"consent_record"} <= set(stripped)


@pytest.mark.parametrize(
    ("answers", "minor"),
    [
        ({"age_years": 17, "age_band": "15_17"}, True),
        ({"age_years": 5, "age_band": "0_11"}, True),
        ({"age_band": "12_14"}, True),
        ({"age_band": "unknown_may_be_child"}, True),
        ({"age_band": "unknown_adult", "date_of_birth": "2012-06-01"}, True),
        ({"age_years": 18, "age_band": "18_24"}, False),
        ({"age_band": "unknown_adult"}, False),
    ],
)
def test_minor_triggers_child_protection_referral(
    forms: dict[str, FormSpec], answers: dict[str, Any], minor: bool
) -> None:
    spec = forms[VICTIM]
    values = {
        **without(VICTIM_ADULT, "age_years", "date_of_birth", "age_band"),
        **answers,
    }
    result = run(spec, values)
    assert result.values["is_minor"] is minor
    if minor:
        node = spec.node("child_protection_referral")
        assert isinstance(node, FieldSpec)
        for lang in LANGS:
            missing = run(spec, values, lang)
            assert summary(missing) == [("child_protection_referral", "required")]
            assert spec.label(node.required_message, lang) in missing.errors[0].message
        assert run(spec, {**values, "child_protection_referral": "referred"}).errors == []
    else:
        assert result.errors == []
        dropped = run(spec, {**values, "child_protection_referral": "referred"})
        assert "child_protection_referral" not in dropped.values


def test_a_child_is_referred_even_without_consent(forms: dict[str, FormSpec]) -> None:
    spec = forms[VICTIM]
    values = {**VICTIM_MINIMAL, "age_band": "15_17"}
    assert summary(run(spec, values)) == [("child_protection_referral", "required")]
    result = run(spec, {**values, "child_protection_referral": "not_possible"})
    assert result.errors == []
    assert result.values["is_minor"] is True


# -- sensitivity and languages -------------------------------------------------------------

IDENTIFYING = re.compile(r"name|phone|email|dob|birth|notes|address|place|venue|reason")


@pytest.mark.parametrize("form_id", [TRAINING, VICTIM])
def test_every_field_has_a_deliberate_sensitivity(forms: dict[str, FormSpec], form_id: str) -> None:
    for node in forms[form_id].walk():
        if isinstance(node, FieldSpec | RepeatSpec):
            assert "sensitivity" in node.model_fields_set, f"{node.name}: no decision"
        if isinstance(node, FieldSpec) and node.sensitivity == "statistical":
            assert node.type in STATISTICAL_TYPES and node.type != "text", node.name
            assert not IDENTIFYING.search(node.name), f"{node.name} looks identifying"


def test_identifying_names_are_recognised() -> None:
    for name in ("full_name", "given_name", "date_of_birth", "dob", "phone", "email", "case_notes"):
        assert IDENTIFYING.search(name)
    for name in ("sex", "age_band", "nationality", "profession", "pre_score", "is_minor"):
        assert not IDENTIFYING.search(name)


# Texts every node, choice and form must have; other texts (hints, messages) are optional.
ALWAYS_TEXTS = frozenset({"title", "description", "label"})
# A text in one of these languages must be written in its script (not English left over).
SCRIPTS = {"ar": re.compile(r"[\u0600-\u06FF]")}


def form_texts(value: Any, where: str) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(where, attribute, texts) for every per-language text in a form, found through the
    models' annotations: a text attribute added to the FormSpec models is checked too."""
    if isinstance(value, BaseModel):
        here = getattr(value, "name", None) or getattr(value, "value", None) or where
        for attribute, info in type(value).model_fields.items():
            item = getattr(value, attribute)
            if attribute in ("columns", "choice_sets"):  # a choice's data, a set's name
                continue
            if info.annotation == dict[str, str]:
                yield f"{here}.{attribute}", attribute, item
            else:
                yield from form_texts(item, here)
    elif isinstance(value, list):
        for item in value:
            yield from form_texts(item, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from form_texts(item, f"{where}.{key}")


def translation_gaps(spec: FormSpec) -> list[str]:
    """Every text not in exactly the form's languages, empty, or not in its language's script.
    A choice set's names are data (ISO 3166-2 subdivisions, in the languages pycountry has),
    not the form's texts: the form's own choices beside them are checked."""
    gaps = []
    from_sets = {
        row["value"] for name in spec.choice_sets.values() for row in choice_set_rows(name)
    }
    for where, attribute, texts in form_texts(spec, spec.id):
        if where.removesuffix(".label") in from_sets:
            continue
        if not texts and attribute not in ALWAYS_TEXTS:
            continue
        if sorted(texts) != sorted(spec.languages):
            gaps.append(f"{where}: in {sorted(texts)}")
        for lang, text in texts.items():
            script = SCRIPTS.get(lang)
            if not text.strip() or (script and not script.search(text)):
                gaps.append(f"{where}: {lang} is {text!r}")
    gaps += [
        f"{f.name}: no constraint message"
        for f in spec.fields()
        if f.constraint and not f.constraint_message
    ]
    return gaps


@pytest.mark.parametrize("spec", load_builtin_forms().values(), ids=lambda spec: spec.id)
def test_every_text_is_in_every_language(spec: FormSpec) -> None:
    """A built-in form speaks every language the app offers, in every text it has."""
    assert sorted(spec.languages) == sorted(LANGUAGES)
    assert spec.default_language in spec.languages
    assert translation_gaps(spec) == []


def test_a_text_missing_a_language_is_found() -> None:
    """Gaps deep in the form show: a new repeat field, a choice label, English left in Arabic."""
    data = load_builtin_forms()[TRAINING].model_dump(mode="json")
    participants = next(n for n in data["children"] if n["name"] == "participants")
    participants["children"].append(
        {"name": "badge", "type": "text", "label": {"en": "Badge", "fr": "Badge", "es": "Gafete"}}
    )
    del data["choices"]["professions"][0]["label"]["ar"]
    phone = next(n for n in participants["children"] if n["name"] == "phone")
    phone["hint"]["ar"] = phone["hint"]["en"]
    phone["constraint_message"] = {}
    assert translation_gaps(FormSpec.model_validate(data)) == [
        "judge.label: in ['en', 'es', 'fr']",
        f"phone.hint: ar is {phone['hint']['en']!r}",
        "badge.label: in ['en', 'es', 'fr']",
        "phone: no constraint message",
    ]


def test_victim_wizard_steps(forms: dict[str, FormSpec]) -> None:
    steps = [node.name for node in forms[VICTIM].children]
    assert steps == [
        "consent",
        "identity",
        "profile",
        "identification",
        "exploitation",
        "indicators",
        "needs",
        "notes",
    ]


# -- HTCDS ---------------------------------------------------------------------------------


def test_to_htcds_maps_a_full_submission(forms: dict[str, FormSpec]) -> None:
    spec = forms[VICTIM]
    assert spec.htcds_version
    assert to_htcds(spec, run(spec, VICTIM_VALID).values) == {
        "con_Consent": "TRUE",
        "prs_First_Name": CANARY,
        "prs_Second_Name": "Okafor",
        "prs_Birthdate": "2009-05-01",
        "prs_Gender": "Feminine",
        "prs_Citizenship": "NG",
        "vic_TraffickingStatus": "PossibleVictimOfTrafficking",
        "vic_TypeOfExploitation": "SexualExploitation Other",
        "vic_TypeOfSexExploitation": "Prostitution RemoteInteractiveServices",
        "vic_LocationOfExploitation": "SN",
        "vic_MethodOfRecruitment": "ThroughOnlineSocialNetworks ThroughFriendsOrSocialEvents",
        "vic_Methods_of_Control": "FalsePromises Other SexualAbuse WithholdsDocuments DebtBondage",
    }


def test_to_htcds_leaves_out_what_has_no_code(forms: dict[str, FormSpec]) -> None:
    spec = forms[VICTIM]
    exported = to_htcds(spec, run(spec, {**VICTIM_MINIMAL, "nationality": "stateless"}).values)
    assert exported == {
        "con_Consent": "FALSE",
        "prs_Gender": "Masculine",
        "vic_TraffickingStatus": "PossibleVictimOfTrafficking",
        "vic_TypeOfExploitation": "ForcedLabour",
        "vic_Methods_of_Control": "TakesEarnings ExcessiveWorkingHours",
    }
    assert to_htcds(forms[TRAINING], run(forms[TRAINING], TRAINING_VALID).values) == {}


def test_to_htcds_refuses_a_value_outside_the_choices(forms: dict[str, FormSpec]) -> None:
    with pytest.raises(HtcdsExportError, match="nationality"):
        to_htcds(forms[VICTIM], {"nationality": "Narnia"})


def test_htcds_names_and_codes_exist_in_the_standard(forms: dict[str, FormSpec]) -> None:
    """Every mapped field and code is one the HTCDS XLSForm defines, for its field's list."""
    openpyxl = pytest.importorskip("openpyxl")
    if not HTCDS_XLSFORM.exists():
        pytest.skip(f"HTCDS XLSForm not present at {HTCDS_XLSFORM}")
    book = openpyxl.load_workbook(HTCDS_XLSFORM, read_only=True)
    lists: dict[str, set[str]] = {}
    for list_name, code, *_ in book["choices"].iter_rows(min_row=2, values_only=True):
        if list_name and code:
            lists.setdefault(list_name, set()).add(str(code).strip())
    fields: dict[str, str | None] = {}
    for kind, name, *_ in book["survey"].iter_rows(min_row=2, values_only=True):
        if kind and name:
            parts = str(kind).split()
            fields[name] = parts[1] if parts[0] in ("select_one", "select_multiple") else None
    spec = forms[VICTIM]
    mapped = [f for f in spec.fields() if f.htcds]
    assert len(mapped) == 12
    for node in mapped:
        assert node.htcds in fields, node.name
        htcds_list = fields[node.htcds]
        if htcds_list is None:
            continue
        codes = {c.htcds for c in spec.choices[node.choices or ""] if c.htcds}
        assert codes, node.name
        assert codes <= lists[htcds_list], (node.name, codes - lists[htcds_list])


def test_no_builtin_expression_reads_a_bare_name(forms: dict[str, FormSpec]) -> None:
    """A bare name is an empty XPath path (as in ODK), not an error any more: a `consent`
    written for `${consent}` would silently be empty, so the built-in forms have none."""
    for spec in forms.values():
        for node in spec.walk():
            for key in ("relevant", "constraint", "calculation", "required", "count"):
                source = getattr(node, key, None)
                if isinstance(source, str):
                    assert not parse(source).absent, (spec.id, node.name, key, source)
            choice_filter = getattr(node, "choice_filter", None)
            if choice_filter:
                assert not parse_choice_filter(choice_filter).absent, (spec.id, node.name)
