"""The relay's work with its upstream: enrolling there, passing up the enrolments of its own
devices, forwarding every revision its devices pushed exactly as they signed it, and pulling
down what its devices need (forms, shared events and reference lists, reviews, revocations,
conflict flags, resolutions and consent withdrawals of their records).

Forwarding reads the relay's own database after a cursor (`RelayIdentity.forwarded`, the seq
of the last revision the upstream has receipted) and moves the cursor only once the upstream
has answered with receipts that verify with its key: a SIGKILL at any byte sends the batch
again, and the upstream answers `duplicate` for what it already held. Nothing is decrypted:
the relay holds no key that opens a sealed part.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from anyio import to_thread
from pydantic import ValidationError

from fieldapp import crypto
from fieldapp.crypto import SigningKey
from fieldapp.errors import FieldappError
from sync.client import (
    Exchange,
    Outgoing,
    ReceiptVerifier,
    RetryPolicy,
    ServerRefused,
    ServerUnreachable,
    SyncError,
    answer,
    jitter_source,
    refusal,
)
from sync.protocol import (
    MAX_ROSTER_ENTRIES,
    EnrolmentCode,
    EnrolRequest,
    EnrolResponse,
    ErrorBody,
    EventChange,
    FormChange,
    LenientChangesPage,
    MissingChunks,
    MissingChunksRequest,
    PushRequest,
    PushResponse,
    RecordChange,
    ReferenceChange,
    RelayHop,
    ReviewChange,
    RevocationChange,
    Role,
    RosterChange,
    RosterEntry,
    RosterPush,
    RosterPushResponse,
)
from sync.relay.enrolments import pass_enrolments_up, take_codes
from sync.relay.identity import RelayIdentity
from sync.server.ingest import epoch_id_or_none
from sync.server.routes.common import PUSH_CAPABILITIES, ApiError
from sync.server.settings import ServerSettings
from sync.server.storage import AlreadyExists, Device, NotFound, Storage, StoredRecord

__all__ = ["FORWARD_PAGE", "RelayEnrolError", "RelayNode", "enrol_relay", "relay_device_id"]

_log = logging.getLogger(__name__)

# Revisions per forwarded batch: well under the upstream's 500 and its body limit.
FORWARD_PAGE = 200
_PULL_PAGE = 500
# Chunks per question to the upstream (each up to 256 KiB of ciphertext).
_CHUNK_PAGE = 32


class RelayEnrolError(FieldappError):
    """The relay could not enrol with its upstream: the message says why and what to do."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def relay_device_id(public_key: bytes) -> str:
    """The relay's device id upstream, derived from its key: enrolling again after a cut
    connection sends the same id and key, which the upstream accepts again."""
    digest = hashlib.sha256(b"fieldapp-relay-device:" + public_key).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def enrol_relay(
    settings: ServerSettings,
    storage: Storage,
    key: SigningKey,
    upstream: str,
    code: str,
    *,
    label: str = "relay",
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> RelayIdentity:
    """Enrol this relay with its upstream with a `relay` code, as a device whose key is the
    relay's own receipt-signing key (so the upstream can issue codes that its devices check
    against that key); take the upstream's organisation and keys; save the identity.

    Raises RelayEnrolError (the code is of the earlier kind or not a relay's, refused, or
    the answer's keys do not match it: nothing is stored then), ServerUnreachable."""
    try:
        typed = EnrolmentCode.parse(code)
    except ValueError as exc:
        raise RelayEnrolError(f"--enrol-code: {exc}") from None
    exchange = Exchange(
        upstream, transport=transport, retry=RetryPolicy(), sleep=time.sleep,
        rng=jitter_source(), timeout=30.0, clock=clock,
    )  # fmt: skip
    try:
        request = EnrolRequest(
            code=typed.secret_text,
            device_id=relay_device_id(key.public_key),
            device_public_key=key.public_key,
            device_label=label,
        )
        response = exchange.request(
            "POST", "/v1/enrol", content=request.model_dump_json().encode("utf-8")
        )
        if response.status_code != 200:
            raise RelayEnrolError(f"the upstream refused the relay's code: {refusal(response)}")
        enrolled = answer(response, EnrolResponse, "enrolment answer")
        probe = exchange.send_json(
            "POST", "/v1/records:push", PushRequest(records=[]), token=enrolled.token
        )
    finally:
        exchange.close()
    recipients = [crypto.RecipientKey.model_validate(r) for r in enrolled.recipients]
    if not typed.confirms(crypto.enrolment_fingerprint(recipients, enrolled.server_public_key)):
        raise RelayEnrolError(
            "the upstream answered with keys that do not match the code: nothing was stored;"
            " someone may be intercepting the connection: ask for a new code"
        )
    if enrolled.role != "relay":
        raise RelayEnrolError(
            f"this code enrols a {enrolled.role}, not a relay: ask for a code with role relay"
        )
    now = clock()
    try:
        storage.get_organisation(enrolled.organisation_id)
    except NotFound:
        storage.create_organisation(
            f"organisation {enrolled.organisation_id}", now, org_id=enrolled.organisation_id
        )
    storage.set_recipients(enrolled.organisation_id, enrolled.recipients)
    identity = RelayIdentity(
        upstream=exchange.base_url,
        device_id=enrolled.device_id,
        token=enrolled.token,
        org_id=enrolled.organisation_id,
        region=enrolled.region,
        upstream_key=base64.b64encode(enrolled.server_public_key).decode("ascii"),
        upstream_key_id=enrolled.server_key_id,
        upstream_capabilities=capabilities_said(probe) if probe.status_code == 200 else None,
    )
    identity.save(settings.data_dir)
    return identity


def capabilities_said(response: httpx.Response) -> dict[str, str]:
    """What an upstream's push answer says it takes, of what this version knows: the relay
    says no more to its own devices (it forwards their envelopes unchanged)."""
    return {
        name: value for name, value in PUSH_CAPABILITIES.items()
        if response.headers.get(name) == value
    }  # fmt: skip


@dataclass
class _Cycle:
    enrolled: int = 0
    forwarded: int = 0
    chunks: int = 0
    shared: int = 0
    pulled: int = 0


class RelayNode:
    """Forwards, pulls and passes enrolments up for one relay (see the module docstring).

    `forward_every`: seconds between rounds while the upstream answers; while it does not,
    rounds are spaced by `retry`'s backoff (full jitter, doubling up to its `max_delay`)."""

    def __init__(
        self,
        settings: ServerSettings,
        storage: Storage,
        identity: RelayIdentity,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        forward_every: float = 2.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.identity = identity
        self.forward_every = forward_every
        self.retry = retry or RetryPolicy(base_delay=1.0, max_delay=60.0, attempts=3)
        self._clock = clock
        self._rng = jitter_source()
        self._exchange = Exchange(
            identity.upstream, transport=transport, retry=self.retry, sleep=time.sleep,
            rng=self._rng, timeout=30.0, clock=clock,
        )  # fmt: skip
        self._receipts = ReceiptVerifier(
            base64.b64decode(identity.upstream_key), identity.upstream_key_id
        )
        self._lock = threading.Lock()  # one round at a time

    def close(self) -> None:
        self._exchange.close()

    # -- enrolments ------------------------------------------------------------------------

    def enrol_upstream(self, body: EnrolRequest) -> EnrolResponse:
        """Redeem a device's enrolment at the upstream (`POST /v1/relay/enrol`); its refusal
        as an ApiError with the upstream's status and code, 503 if it cannot be reached."""
        try:
            response = self._exchange.request(
                "POST", "/v1/relay/enrol", token=self.identity.token,
                content=body.model_dump_json().encode("utf-8"),
            )  # fmt: skip
        except ServerUnreachable:
            raise ApiError(
                503,
                "upstream_unreachable",
                "this regional office cannot reach the central server to check the code"
                " now: try again once its line is back",
            ) from None
        if response.status_code != 200:
            try:
                error = ErrorBody.model_validate_json(response.content)
            except ValidationError:
                raise ApiError(502, "upstream_refused", refusal(response)) from None
            raise ApiError(response.status_code, error.error, error.message)
        try:
            return EnrolResponse.model_validate_json(response.content)
        except ValidationError:
            raise ApiError(
                502, "upstream_refused", "the central server's answer was not understood"
            ) from None

    # -- rounds ----------------------------------------------------------------------------

    def round(self) -> _Cycle:
        """Pass up the enrolments made offline (before their devices' records), forward
        every revision and roster entry waiting, take the codes pre-issued for this relay,
        then pull every change; ServerUnreachable, ServerRefused if the upstream cannot be
        reached or is not understood."""
        with self._lock:
            cycle = _Cycle()
            if self.identity.upstream_capabilities is None:  # enrolled by an older version
                self._push([])
            cycle.enrolled = pass_enrolments_up(
                self._exchange, self.storage, self.identity, self._clock()
            )
            cycle.forwarded = self._forward()
            cycle.chunks = self._forward_chunks()
            cycle.shared = self._forward_roster()
            take_codes(self._exchange, self.storage, self.identity, self._clock())
            cycle.pulled = self._pull()
            return cycle

    async def run(self) -> None:
        """Rounds until cancelled: every `forward_every` seconds, or after the backoff's
        delay while the upstream is away."""
        failures = 0
        while True:
            try:
                cycle = await to_thread.run_sync(self.round)
            except SyncError as exc:
                failures += 1
                wait = max(self.forward_every, self.retry.delay(failures, self._rng))
                _log.warning("relay: upstream round failed (%s); next try in %.1f s", exc, wait)
            else:
                failures = 0
                wait = self.forward_every
                if any(vars(cycle).values()):
                    _log.info(
                        "relay: passed up %d enrolments, forwarded %d revisions, %d chunks and"
                        " %d roster entries, pulled %d changes",
                        cycle.enrolled, cycle.forwarded, cycle.chunks, cycle.shared, cycle.pulled,
                    )  # fmt: skip
            await asyncio.sleep(wait)

    def _forward(self) -> int:
        identity, forwarded = self.identity, 0
        while True:
            page = self.storage.revisions_after(identity.org_id, identity.forwarded, FORWARD_PAGE)
            if not page:
                return forwarded
            # A revision whose sealed part a consent withdrawal erased here no longer verifies:
            # the signed withdrawal that follows it erases it upstream too.
            sendable = [r for r in page if r.sealed is not None or r.deleted or r.consent_withdrawn]
            if sendable:
                self._push(sendable)
                forwarded += len(sendable)
            identity.forwarded = page[-1].seq
            identity.save(self.settings.data_dir)

    def _push(self, revisions: list[StoredRecord]) -> None:
        identity = self.identity
        envelopes = [revision.to_envelope() for revision in revisions]
        hops = [
            [
                *(RelayHop.model_validate(hop) for hop in revision.hops),
                RelayHop(node=identity.device_id, received_at=revision.received_at),
            ]
            for revision in revisions
        ]
        named = {epoch_id_or_none(envelope.sealed) for envelope in envelopes}
        epochs = self.storage.epoch_headers(identity.org_id, (key for key in named if key))
        request = PushRequest(records=envelopes, hops=hops, epochs=list(epochs.values()))
        response = self._exchange.send_json(
            "POST", "/v1/records:push", request, token=identity.token
        )
        if response.status_code != 200:
            raise ServerRefused(f"the upstream refused the forwarded batch: {refusal(response)}")
        said = capabilities_said(response)
        if said != identity.upstream_capabilities:
            identity.upstream_capabilities = said
            identity.save(self.settings.data_dir)
        pushed = answer(response, PushResponse, "push answer")
        if len(pushed.outcomes) != len(envelopes):
            raise ServerRefused("the upstream answered another number of outcomes")
        self._receipts.read_answer(o.receipt for o in pushed.outcomes if o.receipt is not None)
        for envelope, revision, outcome in zip(envelopes, revisions, pushed.outcomes, strict=True):
            if (outcome.id, outcome.revision) != (envelope.id, envelope.revision):
                raise ServerRefused("the upstream's outcomes are not in the batch's order")
            if outcome.status == "rejected":
                # Kept here, and said: the upstream refuses what the relay took (a form it
                # withdrew, a device it revoked meanwhile). Ids and codes only.
                codes = ",".join(error.code for error in outcome.errors) or "unknown"
                _log.error(
                    "relay: upstream rejected %s %s: %s", envelope.id, envelope.revision, codes
                )
                self.storage.append_audit(
                    f"relay:{identity.device_id}", "forward", f"rejected:{codes}",
                    self._clock(), org_id=identity.org_id, device_id=envelope.device_id,
                    record_id=str(envelope.id),
                )  # fmt: skip
                continue
            item = Outgoing(str(envelope.id), envelope.revision, revision.content_digest, b"")
            problem = self._receipts.problem(item, outcome.receipt)
            if problem is not None:
                raise ServerRefused(f"the upstream's receipt for {envelope.id}: {problem}")

    def _forward_chunks(self) -> int:
        """The attachment chunks this relay holds (ciphertext, as its devices sent them) that
        a forwarded revision names, those the upstream lacks sent (`PUT`), each once: after
        its revision, so the upstream knows it is named. One the upstream does not take (its
        revision was rejected there) is logged and audited, not sent again. Chunks sent."""
        identity, sent = self.identity, 0
        while page := self.storage.chunks_to_forward(
            identity.org_id, identity.forwarded, _CHUNK_PAGE
        ):
            asked = MissingChunksRequest(chunks=[digest for digest, _ in page])
            response = self._exchange.send_json(
                "POST", "/v1/attachments:missing", asked, token=identity.token
            )
            lacking = set(answer(response, MissingChunks, "answer about missing chunks").chunks)
            for digest, data in page:
                if digest not in lacking:
                    continue
                response = self._exchange.request(
                    "PUT", f"/v1/attachments/chunks/{digest}", token=identity.token,
                    content=data, content_type="application/octet-stream",
                )  # fmt: skip
                if response.status_code == 404:
                    _log.error("relay: upstream does not take chunk %s", digest)
                    self.storage.append_audit(
                        f"relay:{identity.device_id}", "forward_chunk", "refused:not_named",
                        self._clock(), org_id=identity.org_id,
                    )  # fmt: skip
                elif response.status_code != 204:
                    raise ServerRefused(f"the upstream refused a chunk: {refusal(response)}")
                else:
                    sent += 1
            self.storage.mark_chunks_forwarded(
                identity.org_id, [digest for digest, _ in page], self._clock()
            )
        return sent

    def _forward_roster(self) -> int:
        """The roster entries this relay's devices shared (sealed: the relay cannot read
        them), each named as its device's, after the roster cursor; an entry the upstream
        refuses (another device's key there) is logged by key and audited, not sent again."""
        identity, forwarded = self.identity, 0
        while True:
            page = self.storage.roster_writes_after(
                identity.org_id, identity.roster_forwarded, MAX_ROSTER_ENTRIES
            )
            if not page:
                return forwarded
            ours = [write for write in page if write.author != identity.device_id]
            if ours:
                body = RosterPush(
                    entries=[
                        RosterEntry(key=uuid.UUID(w.key), sealed=w.sealed, device_id=w.author)
                        for w in ours
                    ]
                )
                response = self._exchange.send_json(
                    "PUT", "/v1/team/roster", body, token=identity.token
                )
                if response.status_code != 200:
                    raise ServerRefused(f"the upstream refused the roster: {refusal(response)}")
                pushed = answer(response, RosterPushResponse, "roster answer")
                if len(pushed.outcomes) != len(ours):
                    raise ServerRefused("the upstream answered another number of outcomes")
                for write, outcome in zip(ours, pushed.outcomes, strict=True):
                    if outcome.status == "refused":
                        _log.error("relay: upstream refused roster entry %s", write.key)
                        self.storage.append_audit(
                            f"relay:{identity.device_id}", "forward_roster", "refused",
                            self._clock(), org_id=identity.org_id, device_id=write.author,
                        )  # fmt: skip
                forwarded += len(ours)
            identity.roster_forwarded = page[-1].seq
            identity.save(self.settings.data_dir)

    def _pull(self) -> int:
        identity, pulled = self.identity, 0
        while True:
            response = self._exchange.request(
                "GET", "/v1/changes", token=identity.token,
                params={"cursor": identity.pulled, "limit": _PULL_PAGE},
            )  # fmt: skip
            if response.status_code != 200:
                raise ServerRefused(f"the upstream refused the pull: {refusal(response)}")
            page = answer(response, LenientChangesPage, "page of changes")
            for change in page.changes:
                self._apply(change)
            pulled += len(page.changes)
            identity.pulled = page.next_cursor
            identity.save(self.settings.data_dir)
            if not page.has_more:
                return pulled

    def _apply(self, change: object) -> None:
        """Pass one upstream change down to this relay's devices, through this relay's own
        change log (the same writes an admin's command makes here)."""
        storage, org, now = self.storage, self.identity.org_id, self._clock()
        if isinstance(change, FormChange):
            data = change.data
            try:
                storage.publish_form(org, data.form_id, data.version, data.spec, now)
            except AlreadyExists:
                _log.error(
                    "relay: form %s@%s differs from the one here", data.form_id, data.version
                )
        elif isinstance(change, EventChange | ReferenceChange):
            if change.deleted:
                storage.delete_shared(org, change.kind, change.key, now)
            else:
                storage.put_shared(
                    org, change.kind, change.key, change.data, self.identity.region, now
                )
        elif isinstance(change, RevocationChange):
            with contextlib.suppress(NotFound):  # a device of another relay or of the centre
                storage.revoke_device(change.key, now)
        elif isinstance(change, ReviewChange):
            self._review(change)
        elif isinstance(change, RecordChange):
            self._record_change(change)
        elif isinstance(change, RosterChange):
            # Written as the relay's: its own devices may not replace it, it is not forwarded
            # back, and an entry of one of its devices stays theirs (refused: kept as is).
            sealed = None if change.deleted else change.data.sealed
            storage.put_roster(self._as_relay("relay"), [(change.key, sealed)], now)

    def _as_relay(self, role: Role) -> Device:
        """The relay as a writer in its own database, for what it passes down."""
        identity = self.identity
        return Device(
            id=identity.device_id, org_id=identity.org_id, role=role, region=identity.region,
            public_key=b"", label="relay", enrolled_at=self._clock(),
        )  # fmt: skip

    def _review(self, change: ReviewChange) -> None:
        """The office's review of a record one of this relay's devices wrote, passed on to
        that device (the review is the office's: the relay acts as its messenger)."""
        office = self._as_relay("admin")
        with contextlib.suppress(NotFound, ValueError):  # not a record of this relay's devices
            self.storage.review_record(
                office, uuid.UUID(change.key), change.data.state, change.data.comment, self._clock()
            )

    def _record_change(self, change: RecordChange) -> None:
        """A conflict flag, resolution or consent withdrawal decided upstream, passed on to the
        devices here that wrote or pushed the record: ids and states only, and a withdrawal
        erases the sealed parts here too. Any other record change asks nothing of a device."""
        data = change.data
        if not (data.conflict or data.resolved or data.consent_withdrawn):
            return
        with contextlib.suppress(ValueError):  # not a record id: not one of this relay's
            self.storage.pass_record_change_down(
                self.identity.org_id, change.seq, uuid.UUID(change.key), change.deleted, data,
                self._clock(), f"relay:{self.identity.device_id}",
            )  # fmt: skip
