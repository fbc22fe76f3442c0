"""Authorisation matrix over every endpoint of the app (real HTTP, SQLite).

The endpoints are parametrised from the app's own routers (sync.server.routes.ROUTERS), so
an endpoint added without a matrix entry fails here. For each: no token, a garbage token and a
revoked token get 401; organisation B's admin on organisation A's data gets 403/404 (or its
own data only) and zero bytes of A's data; each role of A gets exactly what its role and
region allow. Who may write and read A's record itself: test_records.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from sync.protocol import Role
from sync.server.app import create_app
from sync.server.auth import token_hash
from sync.server.settings import ServerSettings
from sync.server.storage import ORG_WIDE_ROLES
from tests.server._harness import (
    CANARY,
)
from tests.server.authz._matrix import (
    ENDPOINTS,
    MATRIX,
    PRIVATE,
    ROLES,
    Matrix,
    bearer,
    check_receipts,
)


def test_the_matrix_covers_exactly_the_apps_routes(tmp_path: Path) -> None:
    """What the app serves, as FastAPI resolves its routes (an included router is one entry
    of `app.routes`, its routes behind it): exactly the routers' routes, each in MATRIX."""
    app = create_app(ServerSettings(data_dir=tmp_path))
    served = {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
    }
    assert served == set(ENDPOINTS)
    assert served == set(MATRIX), "every endpoint needs an authorisation matrix entry"
    app.state.fieldapp.storage.close()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_without_a_valid_token_every_private_endpoint_is_401(
    matrix: Matrix, endpoint: tuple[str, str]
) -> None:
    entry = MATRIX[endpoint]
    for headers in (
        {},
        bearer("not-a-token"),
        bearer(matrix.revoked.token),
        {"Authorization": "Basic eDp5"},
    ):
        response = entry.call(matrix, None, headers)
        if entry.public:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 401, (headers, response.text)
            assert response.json()["error"] == "unauthenticated"
            assert response.headers["WWW-Authenticate"] == "Bearer"
            for secret in matrix.a_secrets():
                assert secret not in response.text


@pytest.mark.parametrize("endpoint", PRIVATE, ids=[f"{m} {p}" for m, p in PRIVATE])
def test_another_organisation_gets_zero_bytes_of_its_data(
    matrix: Matrix, endpoint: tuple[str, str]
) -> None:
    entry = MATRIX[endpoint]
    response = entry.call(matrix, matrix.b_admin, bearer(matrix.b_admin.token))
    if entry.other_org_gets_own_data:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code in (403, 404), response.text
    for secret in matrix.a_secrets():
        if endpoint == ("POST", "/v1/records:push") and secret == str(matrix.record_id):
            continue  # B named A's record id itself; the answer may repeat B's own input
        assert secret not in response.text, f"{endpoint} leaked {secret!r} to organisation B"
    head = matrix.world.storage.get_record(matrix.org_a.id, matrix.record_id)
    assert head.head_revision == matrix.revision
    assert matrix.world.storage.device_by_token(token_hash(matrix.author.token)) is not None


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_each_role_gets_exactly_what_it_may(
    matrix: Matrix, endpoint: tuple[str, str], role: Role
) -> None:
    entry = MATRIX[endpoint]
    caller = matrix.by_role[role]
    response = entry.call(matrix, caller, bearer(caller.token))
    if role in entry.allowed:
        assert response.status_code in (200, 204), response.text
    else:
        assert response.status_code in (403, 404), response.text
        assert str(matrix.record_id) not in response.text or endpoint[1] == "/v1/records:push"


@pytest.mark.parametrize("role", ROLES)
def test_a_receipt_check_confirms_only_records_the_caller_may_read(
    matrix: Matrix, role: Role
) -> None:
    for caller, may_read in (
        (matrix.by_role[role], role in ORG_WIDE_ROLES),
        (matrix.author, True),
        (matrix.b_admin, False),
    ):
        response = check_receipts(matrix, caller, bearer(caller.token))
        assert response.status_code == 200, response.text
        held = [(ref["id"], ref["revision"]) for ref in response.json()["held"]]
        assert held == ([(str(matrix.record_id), matrix.revision)] if may_read else [])


def test_a_regional_admin_manages_only_its_region(matrix: Matrix) -> None:
    world = matrix.world
    north_admin = world.enrol(matrix.org_a, "admin", "north")
    south_phone = world.enrol(matrix.org_a, "collector", "south")
    headers = bearer(north_admin.token)
    south_code = world.client.post(
        "/v1/admin/enrol-codes", json={"role": "collector", "region": "south"}, headers=headers
    )
    assert (south_code.status_code, south_code.json()["error"]) == (403, "region_forbidden")
    org_wide_code = world.client.post(
        "/v1/admin/enrol-codes", json={"role": "collector"}, headers=headers
    )
    assert org_wide_code.status_code == 403
    north_code = world.client.post(
        "/v1/admin/enrol-codes", json={"role": "collector", "region": "north"}, headers=headers
    )
    assert north_code.status_code == 200
    revoke_south = world.client.post(
        f"/v1/admin/devices/{south_phone.device_id}:revoke", headers=headers
    )
    assert revoke_south.status_code == 403
    assert world.client.get("/v1/changes", headers=south_phone.auth).status_code == 200


def test_collectors_read_only_records_they_took_part_in(matrix: Matrix) -> None:
    world = matrix.world
    other_north = world.enrol(matrix.org_a, "collector", "north")
    south = world.enrol(matrix.org_a, "collector", "south")
    path = f"/v1/records/{matrix.record_id}"
    assert world.client.get(path, headers=matrix.author.auth).status_code == 200
    for phone in (other_north, south):
        response = world.client.get(path, headers=phone.auth)
        assert response.status_code == 404
        assert CANARY not in response.text and matrix.revision not in response.text


def test_a_revoked_device_stays_out_and_learns_nothing(matrix: Matrix) -> None:
    response = matrix.world.client.get("/v1/changes", headers=matrix.revoked.auth)
    assert response.status_code == 401
    pushed = matrix.world.push(matrix.revoked, matrix.revoked.envelope())
    assert pushed.status_code == 401
