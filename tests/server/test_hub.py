"""The data collaborative end to end on loopback: a hub (`serve --hub`, the real app on
uvicorn) and two member organisations over real HTTP, the steward releasing a quarter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fieldapp.crypto import OrgKeyPair, SigningKey
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.office.aggregates import DisclosurePolicy, ReleaseRefused
from fieldapp.office.collaborative import (
    contribute,
    hub_info_of,
    latest_release,
    release_csv,
    release_period,
)
from sync.client import HubClient, ServerRefused
from sync.protocol.hub import HubReleaseUpload
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from tests.office.test_collaborative import RARE, common_victims
from tests.server._harness import running
from tests.server.conftest import Backend

VICTIMS = load_builtin_forms()["victim_screening"]
PERIOD = "2026Q3"
CANARY = "CANARY-hub-3f9a1c"


@dataclass
class Collaborative:
    url: str
    steward_keys: OrgKeyPair
    steward: HubClient
    a: HubClient
    b: HubClient
    keys: dict[str, OrgKeyPair]


@pytest.fixture
def collaborative(backend: Backend, tmp_path: Path) -> Iterator[Collaborative]:
    steward_keys = OrgKeyPair.generate()
    key_file = tmp_path / "hub-public.json"
    key_file.write_text(hub_info_of(steward_keys, 11).model_dump_json())
    settings = ServerSettings(
        data_dir=tmp_path / "hub", database_url=backend.url, hub_keys=key_file
    )
    app = create_app(settings, storage=backend.storage)
    keys = {"a": OrgKeyPair.generate("X25519"), "b": OrgKeyPair.generate("X25519")}
    with (
        running(app) as url,
        HubClient(url, steward_keys.hub_signing_key()) as steward,
        HubClient(url, keys["a"].hub_signing_key()) as a,
        HubClient(url, keys["b"].hub_signing_key()) as b,
    ):
        steward.admit(a.key.public_key, "Org A")
        steward.admit(b.key.public_key, "Org B")
        yield Collaborative(url, steward_keys, steward, a, b, keys)


def _b_rows(extra: int = 0) -> list[dict[str, object]]:
    rows = [*common_victims(160), {**RARE, "identified_by": CANARY}]
    return rows + [{**common_victims(1)[0], "nationality": "RO"}] * extra


def test_two_members_contribute_and_the_rare_victim_stays_hidden(
    collaborative: Collaborative, backend: Backend
) -> None:
    c = collaborative
    steward_key = c.steward.info().steward_key
    with pytest.raises(ServerRefused, match="consent first"):
        contribute(c.a, VICTIMS, common_victims(200), PERIOD, c.keys["a"])
    assert c.a.consent(True, steward_key).sharing
    assert c.b.consent(True, steward_key).sharing
    contribute(c.a, VICTIMS, common_victims(200), PERIOD, c.keys["a"])
    contribute(c.b, VICTIMS, _b_rows(), PERIOD, c.keys["b"])
    release_period(c.steward, c.steward_keys, VICTIMS, PERIOD, DisclosurePolicy())
    # A member downloads the release, signed by the steward; her figures are all hidden.
    release = latest_release(c.a, PERIOD)
    assert release.version == 1 and release.sealed_counts is None
    assert sorted(release.contributors) == sorted([c.a.key.public_key, c.b.key.public_key])
    eritrean = [
        cell
        for table in release.tables
        for cell in [*table["cells"], *table["margins"]]
        if cell["values"].get("nationality") == "ER"
    ]
    assert eritrean and all(cell["count"] is None for cell in eritrean)
    csv_text = release_csv(release.tables)
    assert "nationality=NG," in csv_text and CANARY not in csv_text
    # The hub's database holds counts sealed to the steward, never a record or a canary.
    dump = _database_text(backend)
    assert CANARY not in dump and "identified_victim" not in dump
    assert backend.count("records") == 0


def test_a_late_survivor_is_refused_and_a_withdrawal_marks_the_release(
    collaborative: Collaborative,
) -> None:
    c = collaborative
    steward_key = c.steward.info().steward_key
    for member in (c.a, c.b):
        member.consent(True, steward_key)
    contribute(c.a, VICTIMS, common_victims(200), PERIOD, c.keys["a"])
    contribute(c.b, VICTIMS, _b_rows(), PERIOD, c.keys["b"])
    policy = DisclosurePolicy()
    release_period(c.steward, c.steward_keys, VICTIMS, PERIOD, policy)
    # One survivor synced late at org B: the re-release would give her away, so it is refused.
    contribute(c.b, VICTIMS, _b_rows(extra=1), PERIOD, c.keys["b"])
    with pytest.raises(ReleaseRefused, match="nationality=RO differs by 1 from release '2026Q3v1'"):
        release_period(c.steward, c.steward_keys, VICTIMS, PERIOD, policy)
    assert [r.version for r in c.a.releases(PERIOD)] == [1]
    # Org B withdraws: its contributions go, the release that counted it is marked.
    assert not c.b.consent(False, steward_key).sharing
    assert c.a.releases(PERIOD)[0].withdrawn == [c.b.key.public_key]
    with pytest.raises(ServerRefused, match="consent first"):
        contribute(c.b, VICTIMS, _b_rows(), PERIOD, c.keys["b"])
    assert [x.org_key for x in c.steward.contributions(PERIOD)] == [c.a.key.public_key]


def test_only_the_steward_and_members_are_served(collaborative: Collaborative) -> None:
    c = collaborative
    with HubClient(c.url, SigningKey.generate()) as outsider:
        with pytest.raises(ServerRefused, match="not a member"):
            outsider.releases(PERIOD)
        with pytest.raises(ServerRefused, match="not a member"):
            outsider.consent(True, c.steward.info().steward_key)
    with pytest.raises(ServerRefused, match="only the hub's steward"):
        c.a.contributions(PERIOD)
    with pytest.raises(ServerRefused, match="only the hub's steward"):
        c.a.admit(SigningKey.generate().public_key, "Org C")
    with pytest.raises(ServerRefused, match="not this hub's steward"):
        c.a.consent(True, SigningKey.generate().public_key)
    # A release whose tables are not the ones the steward signed is refused.
    forged = HubReleaseUpload(
        period=PERIOD, version=1, tables=[{"by": ["sex"], "total": 40}], contributors=[],
        signature=c.steward.key.sign(b"other tables"), sealed_counts=b"sealed",
    )  # fmt: skip
    with pytest.raises(ServerRefused, match="does not match the tables"):
        c.steward.publish(forged)
    # Another key claiming to be org A is refused.
    impostor = HubClient(c.url, _Impostor(c.a.key.public_key))  # type: ignore[arg-type]
    with impostor, pytest.raises(ServerRefused, match="signature does not match"):
        impostor.releases(PERIOD)


class _Impostor:
    """Claims a member's public key, signs with another."""

    def __init__(self, claimed: bytes) -> None:
        self.public_key = claimed
        self._other = SigningKey.generate()

    def sign(self, data: bytes) -> bytes:
        return self._other.sign(data)


def _database_text(backend: Backend) -> str:
    """Every hub table's rows as text (sealed bytes included, as they are stored)."""
    rows = []
    for table in ("hub_members", "hub_contributions", "hub_releases"):
        rows += [repr(row) for row in backend.raw(f"SELECT * FROM {table}")]
    return "\n".join(rows)
