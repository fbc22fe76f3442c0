"""schemathesis against the real server over HTTP (uvicorn on 127.0.0.1): every operation of
`/openapi.json` with every check (incl. ignored_auth, positive_data_acceptance and
negative_data_rejection), positive and negative data, the coverage and fuzzing phases, then
stateful sequences that follow the schema's OpenAPI links. Zero failures, zero 5xx.

The schema is loaded from the app's own OpenAPI document at import (schemathesis's lazy
`from_fixture` loader does not run under pytest 9); a test checks that it is byte-for-byte the
document the running server publishes. Requests carry real enrolled devices' bearer tokens: an
admin's for `/v1/admin/...`, a collector's elsewhere. Tokens exist only once the server runs,
while schemathesis builds its coverage cases at collection, so cases carry a placeholder that
is swapped for the live token just before each request.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from schemathesis.core.failures import FailureGroup

from fieldapp import crypto
from sync.server.app import create_app
from sync.server.settings import ServerSettings
from sync.server.storage import open_storage
from tests.server._harness import World, running

pytestmark = pytest.mark.slow  # schemathesis over every operation: the full run only

_PLACEHOLDER = "Bearer placeholder-token-of:"
_FUZZ_EXAMPLES = 100  # per operation and generation mode (positive, negative)
_STATEFUL_SCENARIOS = 80
_STATEFUL_STEPS = 10
_STATEFUL_RESTARTS = 20
_STATEFUL_SETTINGS = settings(
    max_examples=_STATEFUL_SCENARIOS,
    stateful_step_count=_STATEFUL_STEPS,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    # The server's state moves on, so a replayed scenario is not the same scenario: generate
    # only (schemathesis's own default for state machines), and keep no example database.
    phases=[Phase.generate],
    database=None,
)


def _published_document() -> dict[str, Any]:
    """The app's OpenAPI document, built without serving anything."""
    with tempfile.TemporaryDirectory() as data_dir:
        server_settings = ServerSettings(data_dir=Path(data_dir))
        storage = open_storage(server_settings.database_url)
        try:
            return create_app(server_settings, storage=storage).openapi()
        finally:
            storage.close()


DOCUMENT = _published_document()
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "cache": {"enabled": False},
            "generation": {"mode": "all", "max-examples": _FUZZ_EXAMPLES},
            "checks": {"enabled": True},
            "phases": {"stateful": {"max-steps": _STATEFUL_STEPS}},
        }
    ),
)


def _role_for(path: str) -> str:
    return "admin" if path.startswith("/v1/admin/") else "collector"


@schema.auth(cache_by_key=lambda case, _: _role_for(case.operation.path))
class _DeviceToken:
    """Marks each case as explicitly authenticated (so ignored_auth probes without it);
    cached per role, since schemathesis otherwise reuses one answer for every operation."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        return _role_for(case.operation.path)

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = _PLACEHOLDER + data


@dataclass
class LiveApi:
    """The running server, its devices' tokens, and every answer it gave, by status."""

    url: str
    tokens: dict[str, str]
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)

    def authorise(self, case: schemathesis.Case) -> None:
        value = (case.headers or {}).get("Authorization", "")
        if isinstance(value, str) and value.startswith(_PLACEHOLDER):
            case.headers["Authorization"] = "Bearer " + self.tokens[value[len(_PLACEHOLDER) :]]

    def record(self, case: schemathesis.Case, status: int) -> None:
        self.statuses[(case.operation.label, status)] += 1


@pytest.fixture(scope="module")
def live_api(
    tmp_path_factory: pytest.TempPathFactory, org_key: crypto.OrgKeyPair
) -> Iterator[LiveApi]:
    server_settings = ServerSettings(
        data_dir=tmp_path_factory.mktemp("schemathesis") / "server",
        rate_limit_per_minute=1_000_000,
        rate_limit_burst=100_000,
        enrol_address_burst=100_000,  # the fuzzer's made-up codes are failed attempts
        enrol_prefix_burst=100_000,
    )
    app = create_app(server_settings)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        world = World(app, client, org_key)
        org = world.org("Schemathesis Org")
        tokens = {role: world.enrol(org, role).token for role in ("admin", "collector")}
        yield LiveApi(url, tokens)


def test_the_tested_schema_is_the_one_the_server_publishes(live_api: LiveApi) -> None:
    served = httpx.get(f"{live_api.url}/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == DOCUMENT
    links = {
        name
        for operations in DOCUMENT["paths"].values()
        for operation in operations.values()
        for name in operation["responses"].get("200", {}).get("links", {})
    }
    assert links == {
        "EnrolWithCode",
        "RevokeEnrolledDevice",
        "ReadPushedRecord",
        "NextPage",
        "FirstChangedForm",
        "NextOfficePage",
        "ReviewFirstRecord",
    }


@schema.parametrize()
def test_every_operation_passes_every_check(case: schemathesis.Case, live_api: LiveApi) -> None:
    live_api.authorise(case)
    response = case.call_and_validate(base_url=live_api.url, timeout=30)
    live_api.record(case, response.status_code)


def test_stateful_sequences_pass_every_check(live_api: LiveApi) -> None:
    """Scenarios chain calls along the links: issue a code, enrol with it, revoke that
    device; push, then read what was pushed; page through changes, fetch a changed form."""
    failures: list[FailureGroup] = []
    scenarios: list[int] = []

    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            live_api.authorise(case)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": live_api.url, "timeout": 30}

        def after_call(self, response: schemathesis.Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            live_api.record(case, response.status_code)

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case, **kwargs: Any
        ) -> None:
            try:
                super().validate_response(response, case, **kwargs)
            except FailureGroup as failure:
                failures.append(failure)  # kept even if Hypothesis later calls the run flaky
                raise

        def teardown(self) -> None:
            scenarios.append(1)
            super().teardown()

    before = Counter(live_api.statuses)
    # The links were followed into the calls that only they make succeed: with every route
    # the API has, a run of scenarios may miss one, so more run until each was reached.
    linked = (
        "POST /v1/enrol",
        "POST /v1/admin/devices/{device_id}:revoke",
        "GET /v1/forms/{form_id}/{version}",
    )

    def reached_every_link() -> bool:
        seen = live_api.statuses - before
        return all(seen[(label, 200)] > 0 for label in linked)

    for _ in range(_STATEFUL_RESTARTS):
        # A replayed prefix may meet a server whose state moved on (a code already used, a
        # device already revoked): Hypothesis calls that flaky, and schemathesis's own runner
        # restarts the suite then too. Check failures are collected above either way.
        with contextlib.suppress(Flaky):
            Scenario.run(settings=_STATEFUL_SETTINGS)
        if failures or (len(scenarios) >= _STATEFUL_SCENARIOS and reached_every_link()):
            break
    assert not failures, failures[0]
    assert len(scenarios) >= _STATEFUL_SCENARIOS
    seen = live_api.statuses - before
    assert not [key for key in seen if key[1] >= 500]
    for label in linked:
        assert seen[(label, 200)] > 0, (label, sorted(seen.items()))
