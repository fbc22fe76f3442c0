"""Shared fixtures: real stores in real files, real keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldapp import crypto
from fieldapp.store import Store

PASSPHRASE = "correct horse battery staple"
CANARY = "Zorblaxqua"
SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "xlsforms"


class Clock:
    """A clock the test moves by hand (for inactivity locks)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "device" / "fieldapp.db"


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    opened = Store.create(store_path, PASSPHRASE)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def org_key() -> crypto.OrgKeyPair:
    return crypto.OrgKeyPair.generate("X25519")


def screening_values(name: str = CANARY, **overrides: Any) -> dict[str, Any]:
    """A complete, valid victim screening submission (fictional)."""
    values: dict[str, Any] = {
        "consent_record": "yes",
        "consent_refer": "yes",
        "consent_share": "yes",
        "case_code": "KH-2026-0042",
        "given_name": name,
        "family_name": "Sokha",
        "sex": "female",
        "age_years": 29,
        "age_band": "25_34",
        "nationality": "KH",
        "languages": ["km"],
        "identification_country": "TH",
        "identification_place": f"Bus station near {name}'s village",
        "identified_by": "ngo",
        "screening_outcome": "presumed_victim",
        "exploitation_types": ["forced_labour"],
        "ilo_indicators": ["deception", "withholding_of_wages", "debt_bondage"],
        "immediate_needs": ["shelter", "medical"],
        "referral_org_shelter": "Safe House Foundation",
        "referral_org_medical": "District Hospital",
        "case_notes": f"{name} was recruited with a false job offer.",
    }
    values.update(overrides)
    return values


def attendance_values(name: str = CANARY, participants: int = 1) -> dict[str, Any]:
    """A complete, valid training attendance submission (fictional)."""
    return {
        "title": f"Workshop on victim identification with {name}",
        "programme_type": "training_technical_assistance",
        "country": "KH",
        "province": "KH-2",  # Battambang (ISO 3166-2)
        "venue": "Provincial court training room",
        "start_date": "2026-11-02",
        "end_date": "2026-11-04",
        "participants": [
            {
                "full_name": f"{name} {index}",
                "sex": "female" if index % 2 else "male",
                "profession": "judge",
                "consent_contact": False,
                "attendance": ["day1", "day2"],
                "pre_score": 55,
                "post_score": 80,
            }
            for index in range(participants)
        ],
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests in one xdist group, so one Chromium at a time shares the two cores with
    the other worker's tests (two at once made typing under load flakier, not the run
    faster). A browser test whose renderer hung (tests/ui/_watchdog.py) runs once more from
    its start; any other failure is final."""
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.xdist_group("browser"))
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=["RendererHung"]))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """What the browser harness did (renderers killed, apps reopened), passed tests' too, so
    flakiness stays visible."""
    seen: set[tuple[str, str]] = set()
    for reports in terminalreporter.stats.values():
        for report in reports:
            for key, event in getattr(report, "user_properties", ()):
                if key == "browser harness" and (report.nodeid, event) not in seen:
                    seen.add((report.nodeid, event))
    if seen:
        terminalreporter.section("browser harness")
        for nodeid, event in sorted(seen):
            terminalreporter.write_line(f"{nodeid}: {event}")
