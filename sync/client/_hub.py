"""A data collaborative hub's client: every request signed with the organisation's (or the
steward's) hub key, as `sync/server/routes/hub.py` checks."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from fieldapp.crypto import SigningKey
from sync.client._errors import ServerRefused, ServerUnreachable
from sync.client._exchange import refusal
from sync.protocol.hub import (
    HUB_KEY_HEADER,
    HUB_SIGNATURE_HEADER,
    HUB_TIME_HEADER,
    ConsentStatement,
    HubConsent,
    HubInfo,
    HubMember,
    HubMemberRequest,
    HubRelease,
    HubReleases,
    HubReleaseUpload,
    HubSealedContribution,
    HubSealedContributions,
    consent_signed_bytes,
    hub_request_bytes,
)

__all__ = ["HubClient"]

_Answer = TypeVar("_Answer", bound=BaseModel)


class HubClient:
    """Signed calls to one hub; `transport` lets tests run the app in process."""

    def __init__(
        self,
        url: str,
        key: SigningKey,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.key = key
        self._http = httpx.Client(base_url=url.rstrip("/"), transport=transport, timeout=timeout)

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def info(self) -> HubInfo:
        return self._call("GET", "/v1/hub", HubInfo, "key answer")

    def admit(self, org_key: bytes, name: str) -> HubMember:
        body = HubMemberRequest(org_key=org_key, name=name)
        return self._call("POST", "/v1/hub/members", HubMember, "member answer", body)

    def consent(self, share: bool, steward_key: bytes, now: datetime | None = None) -> HubMember:
        """Opt in (or out): a statement signed by this key, kept by the hub as signed."""
        statement = ConsentStatement(
            org_key=self.key.public_key,
            hub_steward_key=steward_key,
            share=share,
            at=now or datetime.now(UTC),
        )
        body = HubConsent(
            statement=statement, signature=self.key.sign(consent_signed_bytes(statement))
        )
        return self._call("POST", "/v1/hub/consent", HubMember, "consent answer", body)

    def contribute(self, period: str, sealed: bytes) -> None:
        body = HubSealedContribution(period=period, sealed=sealed)
        self._call("POST", "/v1/hub/contributions", None, "contribution answer", body)

    def contributions(self, period: str) -> list[HubSealedContribution]:
        path = f"/v1/hub/contributions?period={period}"
        return self._call("GET", path, HubSealedContributions, "contributions").contributions

    def publish(self, upload: HubReleaseUpload) -> HubRelease:
        return self._call("POST", "/v1/hub/releases", HubRelease, "release answer", upload)

    def releases(self, period: str | None = None) -> list[HubRelease]:
        path = "/v1/hub/releases" + (f"?period={period}" if period else "")
        return self._call("GET", path, HubReleases, "releases").releases

    def _call(
        self,
        method: str,
        path: str,
        model: type[_Answer] | None,
        what: str,
        body: BaseModel | None = None,
    ) -> Any:
        content = body.model_dump_json().encode() if body is not None else b""
        sent = datetime.now(UTC).isoformat()
        signature = self.key.sign(hub_request_bytes(method, path, sent, content))
        headers = {
            HUB_KEY_HEADER: base64.b64encode(self.key.public_key).decode(),
            HUB_TIME_HEADER: sent,
            HUB_SIGNATURE_HEADER: base64.b64encode(signature).decode(),
            "Content-Type": "application/json",
        }
        try:
            response = self._http.request(method, path, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"the hub did not answer ({type(exc).__name__})") from None
        if response.status_code >= 300:
            raise ServerRefused(refusal(response))
        if model is None:
            return None
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise ServerRefused(f"the hub's {what} was not understood") from None
