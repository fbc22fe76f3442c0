"""Realistic, entirely fictional sample records for demos and benchmarks.

Every name here is invented; no record describes a real person.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

__all__ = ["sample_event", "sample_screening", "sample_shared_event"]

_GIVEN = [
    "Sokha",
    "Dara",
    "Malika",
    "Thida",
    "Vannak",
    "Amina",
    "Nour",
    "Lina",
    "Chenda",
    "Rathana",
    "Sophea",
    "Kiri",
    "Leakena",
    "Bopha",
    "Veasna",
    "Farida",
    "Mariam",
    "Anh",
    "Linh",
    "Mai",
]
_FAMILY = [
    "Chan",
    "Sok",
    "Keo",
    "Ly",
    "Nguyen",
    "Tran",
    "Pich",
    "Meas",
    "Heng",
    "Diallo",
    "Traoré",
    "Benali",
    "Haddad",
    "Seng",
    "Touré",
    "Ouedraogo",
    "Phan",
    "Hoang",
]
_ORGS = [
    "Provincial Court",
    "Anti-Human Trafficking Police",
    "Labour Inspectorate",
    "Department of Social Affairs",
    "Legal Aid Association",
    "Hope Shelter",
]
_PROFESSIONS = [
    "judge",
    "prosecutor",
    "police",
    "labour_inspector",
    "social_worker",
    "lawyer",
    "ngo_staff",
    "immigration",
    "magistrate",
]
_ADULT_BANDS = ["18_24", "25_34", "35_44", "45_59"]
_BAND_AGE = {"12_14": 13, "15_17": 16, "18_24": 21, "25_34": 29, "35_44": 40, "45_59": 50}
_PLACES = [
    "bus station",
    "fishing port",
    "garment factory",
    "construction site",
    "border checkpoint",
    "karaoke bar",
    "private household",
    "brick kiln",
]
_EXPLOITATION = {
    "forced_labour": ["deception", "withholding_of_wages", "debt_bondage", "excessive_overtime"],
    "sexual_exploitation": ["deception", "restriction_of_movement", "intimidation_threats"],
    "domestic_servitude": ["isolation", "retention_of_documents", "abusive_conditions"],
    "forced_begging": ["abuse_of_vulnerability", "physical_violence", "restriction_of_movement"],
}


def _name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(_GIVEN), rng.choice(_FAMILY)


def sample_event(
    rng: random.Random, participants: int = 12, start: date | None = None
) -> dict[str, Any]:
    """A three-day training for judges, prosecutors, police and social workers."""
    first = start or date(2026, 11, 2)
    people = []
    for _ in range(participants):
        given, family = _name(rng)
        consent = rng.random() < 0.6
        person: dict[str, Any] = {
            "full_name": f"{given} {family}",
            "sex": rng.choice(["female", "male"]),
            "profession": rng.choice(_PROFESSIONS),
            "organisation": rng.choice(_ORGS),
            "consent_contact": consent,
            "attendance": rng.sample(["day1", "day2", "day3"], rng.randint(2, 3)),
            "pre_score": rng.randint(30, 70),
            "post_score": rng.randint(60, 100),
        }
        if consent:
            person["phone"] = f"+855{rng.randint(10_000_000, 99_999_999)}"
        people.append(person)
    return {
        "title": "Identifying and referring victims of trafficking",
        "programme_type": "training_technical_assistance",
        "topic": "Victim identification, referral and non-punishment",
        "country": "KH",
        "province": "KH-2",  # Battambang (ISO 3166-2)
        "venue": "Provincial court training room",
        "start_date": first.isoformat(),
        "end_date": (first + timedelta(days=2)).isoformat(),
        "facilitators": "Regional training team",
        "delivery_languages": ["en", "local"],
        "participants": people,
    }


def sample_shared_event(rng: random.Random, start: date | None = None) -> dict[str, Any]:
    """An upcoming workshop the office shares with trainers (no participants: those are
    registered, and sealed, on the devices)."""
    first = start or date(2026, 12, 7)
    province, code = rng.choice(
        [("Kampot", "KH-7"), ("Siem Reap", "KH-17"), ("Kampong Cham", "KH-3")]
    )
    return {
        "title": f"Non-punishment of victims: workshop for prosecutors, {province}",
        "programme_type": "training_technical_assistance",
        "country": "KH",
        "province": code,  # ISO 3166-2
        "start_date": first.isoformat(),
        "end_date": (first + timedelta(days=1)).isoformat(),
        "delivery_languages": ["en", "local"],
    }


def sample_screening(
    rng: random.Random, *, minor: bool = False, consent: bool = True, code: str | None = None
) -> dict[str, Any]:
    """A victim screening: an adult by default, a child with `minor`, minimal without consent."""
    exploitation = rng.choice(list(_EXPLOITATION))
    band = rng.choice(["15_17", "12_14"]) if minor else rng.choice(_ADULT_BANDS)
    values: dict[str, Any] = {
        "consent_record": "yes" if consent else "no",
        "consent_refer": "yes" if consent else "no",
        "consent_share": "yes" if consent and rng.random() < 0.7 else "no",
        "case_code": code or f"KH-{rng.randint(2024, 2026)}-{rng.randint(1, 9999):04d}",
        "sex": rng.choice(["female", "male"]),
        "age_band": band,
        "nationality": rng.choice(["KH", "VN", "MM", "LA", "TH"]),
        "identification_country": "TH",
        "identified_by": rng.choice(["police", "ngo", "labour_inspection", "hotline"]),
        "screening_outcome": rng.choice(["presumed_victim", "identified_victim"]),
        "exploitation_types": [exploitation],
        "ilo_indicators": _EXPLOITATION[exploitation],
        "immediate_needs": ["shelter", "medical"] if consent else ["shelter"],
    }
    if minor:
        values["child_protection_referral"] = "referred"
    if consent:
        given, family = _name(rng)
        values |= {
            "given_name": given,
            "family_name": family,
            "age_years": _BAND_AGE[band],
            "languages": ["km"],
            "identification_place": f"{rng.choice(_PLACES)} near the border",
            "referral_org_shelter": "Hope Shelter",
            "referral_org_medical": "Provincial Referral Hospital",
            "case_notes": "Recruited with a false job offer; documents kept by the employer.",
        }
    return values
