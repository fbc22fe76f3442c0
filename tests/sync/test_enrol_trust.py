"""Enrolment a device can trust: the code carries a check of the organisation's keys and the
server's, so a man in the middle of `POST /v1/enrol` who swaps them is refused before the
device stores anything. The middle is an httpx transport in front of the real server (uvicorn
on loopback) that rewrites the answer on its way back."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fieldapp import crypto
from fieldapp.store import Store
from sync import EnrolmentNotTrusted, enrol
from sync.client import SECRET_TOKEN, STATE_SERVER_PUBLIC_KEY, STATE_SERVER_URL, SyncClient
from sync.protocol import BadEnrolmentCode, EnrolmentCode, parse_fingerprint
from tests.conftest import screening_values
from tests.sync._harness import Deployment

Answer = dict[str, Any]


class Middle(httpx.HTTPTransport):
    """Forwards every request to the real server; rewrites the enrolment answer with
    `tamper`, and counts what it forwarded."""

    def __init__(self, tamper: Callable[[Answer], None] = lambda answer: None) -> None:
        super().__init__()
        self.tamper = tamper
        self.forwarded: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.forwarded.append(request.url.path)
        response = super().handle_request(request)
        if request.url.path != "/v1/enrol" or response.status_code != 200:
            return response
        answer = json.loads(response.read())
        self.tamper(answer)
        return httpx.Response(200, json=answer)


def swap_recipients(attacker: crypto.OrgKeyPair) -> Callable[[Answer], None]:
    def tamper(answer: Answer) -> None:
        answer["recipients"] = [attacker.recipient.model_dump(mode="json")]

    return tamper


def swap_server_key(answer: Answer) -> None:
    answer["server_public_key"] = base64.b64encode(crypto.SigningKey.generate().public_key).decode()


def assert_nothing_kept(store: Store) -> None:
    assert store.keyring.secret(SECRET_TOKEN) is None
    assert store.outbox.recipients() == []
    assert store.settings.get(STATE_SERVER_PUBLIC_KEY) is None
    assert store.settings.get(STATE_SERVER_URL) is None


@pytest.mark.parametrize("swap", ["recipients", "server_public_key"])
def test_a_swapped_key_in_the_enrolment_answer_is_refused_before_anything_is_stored(
    store: Store,
    deployment: Deployment,
    app_url: str,
    app_transport: httpx.BaseTransport,
    org_key: crypto.OrgKeyPair,
    swap: str,
) -> None:
    attacker = crypto.OrgKeyPair.generate("X25519")
    waiting = store.records.create_final(
        "victim_screening", screening_values()
    )  # finalised offline
    code = deployment.code()
    tamper = swap_recipients(attacker) if swap == "recipients" else swap_server_key
    with Middle(tamper) as middle, pytest.raises(EnrolmentNotTrusted) as refused:
        enrol(store, app_url, code, transport=middle)
    message = str(refused.value)
    assert "do not match the code" in message and "Nothing was stored" in message
    assert "ask for a new code" in message
    if swap == "recipients":
        assert attacker.recipient.key_id in message  # names the keys it was given
    assert_nothing_kept(store)
    sealed = store.core.db.execute(
        "SELECT sealed FROM records WHERE id = ?", [waiting.id]
    ).fetchone()
    assert sealed == (None,)  # still waiting for the organisation's keys, sealed to nobody

    # The honest answer (the same code, retried without the middle) is trusted.
    with Middle() as honest:
        result = enrol(store, app_url, code, transport=honest)
    assert result.sealed_waiting == 1
    assert store.outbox.recipients() == [org_key.recipient]
    with SyncClient(store, transport=app_transport) as client:
        assert client.sync().accepted == 1


def test_the_links_full_fingerprint_is_checked_too(
    store: Store, deployment: Deployment, app_url: str
) -> None:
    issued = deployment.issue()
    wrong = bytes(b ^ 1 for b in parse_fingerprint(issued.fingerprint)).hex()
    with Middle() as middle:
        with pytest.raises(EnrolmentNotTrusted, match="the enrolment link's fingerprint"):
            enrol(store, app_url, issued.code, fingerprint=wrong, transport=middle)
        assert_nothing_kept(store)
        enrol(store, app_url, issued.code, fingerprint=issued.fingerprint.upper(), transport=middle)
    assert store.keyring.secret(SECRET_TOKEN)


def test_a_code_is_accepted_however_it_is_typed_and_only_its_secret_is_sent(
    store: Store, deployment: Deployment, app_url: str
) -> None:
    issued = deployment.issue()
    code = EnrolmentCode.parse(issued.code)
    typed = issued.code.lower().replace("-", "  ").replace("0", "o").replace("1", "l")
    sent: list[Answer] = []

    class Watching(Middle):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/v1/enrol":
                sent.append(json.loads(request.content))
            return super().handle_request(request)

    with Watching() as watching:
        enrol(store, app_url, typed, transport=watching)
    assert [body["code"] for body in sent] == [code.secret_text]
    assert code.check not in json.dumps(sent)


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("7KQ2-M9XD-4RTA-0PZH", "earlier, shorter kind"),
        ("7KQ2-M9XD-4RTA-0PZH-Q3WB", "has 32 letters and digits (8 groups of 4); this one has 20"),
        ("7KQ2-M9XD-4RTA-0PZH-Q3WB-8NCE-KV5T-1JGU", "'U' is not used"),
    ],
)
def test_a_code_without_its_whole_check_is_refused_before_anything_is_sent(
    store: Store, app_url: str, code: str, problem: str
) -> None:
    middle = Middle()
    pattern = problem.replace("(", r"\(").replace(")", r"\)")
    with middle, pytest.raises(BadEnrolmentCode, match=pattern):
        enrol(store, app_url, code, transport=middle)
    assert middle.forwarded == []
    assert_nothing_kept(store)


def test_a_code_confirms_only_the_fingerprint_it_was_issued_with() -> None:
    fingerprint = bytes(range(32))
    code = EnrolmentCode.issue("7KQ20M9XD4RTA0PZ", fingerprint)
    text = str(code)
    assert len(text) == 39 and text.count("-") == 7 and text.startswith("7KQ2-0M9X-D4RT-A0PZ-")
    assert EnrolmentCode.parse(text.lower().replace("-", " ")) == code
    assert code.confirms(fingerprint)
    assert not code.confirms(bytes(range(1, 33)))
    # keyed by the secret: another code for the same keys has another check
    assert EnrolmentCode.issue("7KQ20M9XD4RTA0PY", fingerprint).check != code.check
    assert code.secret_text == "7KQ2-0M9X-D4RT-A0PZ"
