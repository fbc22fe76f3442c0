"""The change log on the wire: one model per kind of change (`sync.protocol.changes`), the
JSON unchanged. Each line below is what the server sent before the models were typed (from
its change log, sorted keys): it parses into its kind's model and serialises back to the very
same bytes."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from sync.protocol import (
    Change,
    ChangesPage,
    EventChange,
    FormChange,
    RecordChange,
    ReferenceChange,
    RevocationChange,
    RosterChange,
)

CHANGE: TypeAdapter[Change] = TypeAdapter(Change)

SENT: list[tuple[str, type[BaseModel], str]] = [
    (
        "a form published",
        FormChange,
        (
            '{"seq":1,"kind":"form","key":"mini@1","deleted":false,"data":{"form_id":"mini","spec'
            '":{"fields":[{"name":"a","type":"text"}],"id":"mini","title":"Mini","version":"1"},"'
            'version":"1"}}'
        ),
    ),
    (
        "a reference list",
        ReferenceChange,
        (
            '{"seq":2,"kind":"reference","key":"districts","deleted":false,"data":{"items":["a","'
            'b"],"ünï":"çödé"}}'
        ),
    ),
    (
        "a reference list withdrawn",
        ReferenceChange,
        ('{"seq":3,"kind":"reference","key":"districts","deleted":true,"data":{}}'),
    ),
    (
        "a training event",
        EventChange,
        (
            '{"seq":4,"kind":"event","key":"ws-1","deleted":false,"data":{"start_date":"2026-12-0'
            '1","title":"Workshop"}}'
        ),
    ),
    (
        "a training event withdrawn",
        EventChange,
        ('{"seq":5,"kind":"event","key":"ws-1","deleted":true,"data":{}}'),
    ),
    (
        "a new record",
        RecordChange,
        (
            '{"seq":6,"kind":"record","key":"1e80cf35-48d3-4e83-9170-0a27d63bc756","deleted":fals'
            'e,"data":{"base_revision":null,"conflict":false,"device_id":"dev-66ecad30","form_id"'
            ':"attendance","form_version":"1","head_revision":"1-8bd4600cb381443f98b782c942d30c2e'
            '","revision":"1-8bd4600cb381443f98b782c942d30c2e","siblings":[]}}'
        ),
    ),
    (
        "an edit on the head",
        RecordChange,
        (
            '{"seq":7,"kind":"record","key":"1e80cf35-48d3-4e83-9170-0a27d63bc756","deleted":fals'
            'e,"data":{"base_revision":"1-8bd4600cb381443f98b782c942d30c2e","conflict":false,"dev'
            'ice_id":"dev-66ecad30","form_id":"attendance","form_version":"1","head_revision":"2-'
            'c5a92c3818d4482192a052ac751a3645","revision":"2-c5a92c3818d4482192a052ac751a3645","s'
            'iblings":[]}}'
        ),
    ),
    (
        "a conflict",
        RecordChange,
        (
            '{"seq":8,"kind":"record","key":"1e80cf35-48d3-4e83-9170-0a27d63bc756","deleted":fals'
            'e,"data":{"base_revision":"1-8bd4600cb381443f98b782c942d30c2e","conflict":true,"devi'
            'ce_id":"dev-b1d406d4","form_id":"attendance","form_version":"1","head_revision":"2-c'
            '5a92c3818d4482192a052ac751a3645","revision":"2-ff49c1807fda40aa862b9d6cd6d093c3","si'
            'blings":["2-ff49c1807fda40aa862b9d6cd6d093c3"]}}'
        ),
    ),
    (
        "a conflict resolved",
        RecordChange,
        (
            '{"seq":9,"kind":"record","key":"1e80cf35-48d3-4e83-9170-0a27d63bc756","deleted":fals'
            'e,"data":{"base_revision":"1-8bd4600cb381443f98b782c942d30c2e","conflict":false,"dev'
            'ice_id":"dev-b1d406d4","form_id":"attendance","form_version":"1","head_revision":"2-'
            'ff49c1807fda40aa862b9d6cd6d093c3","resolved":true,"revision":"2-ff49c1807fda40aa862b'
            '9d6cd6d093c3","siblings":[],"superseded":["2-c5a92c3818d4482192a052ac751a3645"]}}'
        ),
    ),
    (
        "a tombstone",
        RecordChange,
        (
            '{"seq":10,"kind":"record","key":"1e80cf35-48d3-4e83-9170-0a27d63bc756","deleted":tru'
            'e,"data":{"base_revision":"2-ff49c1807fda40aa862b9d6cd6d093c3","conflict":false,"dev'
            'ice_id":"dev-66ecad30","form_id":"attendance","form_version":"1","head_revision":"3-'
            '8aca84b4a37c4f389e3fd1e15ec39392","revision":"3-8aca84b4a37c4f389e3fd1e15ec39392","s'
            'iblings":[]}}'
        ),
    ),
    (
        "another new record",
        RecordChange,
        (
            '{"seq":11,"kind":"record","key":"0f02f13c-1941-456a-94d0-dc5f1f5f0f72","deleted":fal'
            'se,"data":{"base_revision":null,"conflict":false,"device_id":"dev-66ecad30","form_id'
            '":"attendance","form_version":"1","head_revision":"1-cd3e25753c384d538d6d3c4e86a5928'
            'c","revision":"1-cd3e25753c384d538d6d3c4e86a5928c","siblings":[]}}'
        ),
    ),
    (
        "a consent withdrawal",
        RecordChange,
        (
            '{"seq":12,"kind":"record","key":"0f02f13c-1941-456a-94d0-dc5f1f5f0f72","deleted":fal'
            'se,"data":{"base_revision":"1-cd3e25753c384d538d6d3c4e86a5928c","conflict":false,"co'
            'nsent_withdrawn":true,"device_id":"dev-66ecad30","form_id":"attendance","form_versio'
            'n":"1","head_revision":"2-33c5c4798f844573b74edfeb0aeeaf2a","revision":"2-33c5c4798f'
            '844573b74edfeb0aeeaf2a","siblings":[]}}'
        ),
    ),
    (
        "a device revoked",
        RevocationChange,
        (
            '{"seq":13,"kind":"revocation","key":"dev-66ecad30","deleted":false,"data":{"device_i'
            'd":"dev-66ecad30","revoked_at":"2026-11-28T09:30:00.123456+00:00"}}'
        ),
    ),
    (
        "a roster entry",
        RosterChange,
        (
            '{"seq":14,"kind":"roster","key":"6f1c1a0e-4c7e-4b39-9a53-1f0e7ad2a001","deleted":fal'
            'se,"data":{"sealed":"AHNlYWxlZP8="}}'
        ),
    ),
    (
        "a roster entry withdrawn",
        RosterChange,
        (
            '{"seq":15,"kind":"roster","key":"6f1c1a0e-4c7e-4b39-9a53-1f0e7ad2a001","deleted":tru'
            'e,"data":{}}'
        ),
    ),
]


@pytest.mark.parametrize(
    ("kind", "text"), [(k, t) for _, k, t in SENT], ids=[n for n, _, _ in SENT]
)
def test_each_change_parses_into_its_kind_and_serialises_back_identically(
    kind: type[BaseModel], text: str
) -> None:
    change = CHANGE.validate_json(text)
    assert type(change) is kind
    assert change.model_dump_json() == text


def test_a_page_of_every_kind_serialises_back_identically() -> None:
    text = (
        '{"protocol":1,"changes":['
        + ",".join(t for _, _, t in SENT)
        + '],"next_cursor":15,"has_more":false}'
    )
    page = ChangesPage.model_validate_json(text)
    assert [type(c) for c in page.changes] == [k for _, k, _ in SENT]
    assert page.model_dump_json() == text


def test_the_data_is_typed_by_kind() -> None:
    record = CHANGE.validate_json(SENT[8][2])
    assert isinstance(record, RecordChange)
    assert (record.data.resolved, record.data.conflict, record.data.siblings) == (True, False, ())
    assert record.data.superseded == ("2-c5a92c3818d4482192a052ac751a3645",)
    roster = CHANGE.validate_json(SENT[13][2])
    assert isinstance(roster, RosterChange) and roster.data.sealed == b"\x00sealed\xff"
    revoked = CHANGE.validate_json(SENT[12][2])
    assert isinstance(revoked, RevocationChange)
    assert revoked.data.revoked_at.isoformat() == "2026-11-28T09:30:00.123456+00:00"
    form = CHANGE.validate_json(SENT[0][2])
    assert isinstance(form, FormChange) and form.data.spec["id"] == "mini"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"seq":1,"kind":"form","key":"x@1","data":{"form_id":"x","version":"1"}}', "spec"),
        ('{"seq":1,"kind":"record","key":"r","data":{"conflict":"maybe"}}', "conflict"),
        ('{"seq":1,"kind":"roster","key":"k","data":{"sealed":"not base64!"}}', "sealed"),
        ('{"seq":1,"kind":"gossip","key":"k","data":{}}', "kind"),
    ],
)
def test_data_that_does_not_fit_its_kind_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        CHANGE.validate_json(text)
    assert any(field in map(str, error["loc"]) or field in str(error["msg"])
               for error in refused.value.errors())  # fmt: skip
