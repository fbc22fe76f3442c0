"""The UI's only gateway to the domain: the encrypted store and the sync client.

Plain Python with no Flet in it, so every rule the screens rely on (what is locked, what is
waiting, what a sync said, what an event adds up to) is tested without a browser. UI modules
never touch SQL or HTTP; they call this.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fieldapp import __version__, crypto
from fieldapp._qr import decode_qr
from fieldapp.errors import (
    FieldappError,
    QRNotFound,
    QRUnreadable,
    StorageFull,
    StoreError,
    StoreUnreadable,
)
from fieldapp.forms.merge import MergeProposal, apply, propose
from fieldapp.forms.spec import FormSpec, roster_name
from fieldapp.paths import STORE_FILENAME
from fieldapp.store import Page, Record, RecordSummary, Status, Store, StoreWiped
from sync.client import (
    EnrolmentNotTrusted,
    EnrolRefused,
    MonitorState,
    RecordVersions,
    ServerRefused,
    ServerUnreachable,
    SyncClient,
    SyncError,
    SyncMonitor,
    SyncReport,
    enrol,
)
from sync.protocol import (
    BadEnrolmentCode,
    BadEnrolmentLink,
    EnrolmentLink,
    InsecureServerURL,
    RecordEnvelope,
    check_server_url,
)

__all__ = [
    "AUTOLOCK_CHOICES",
    "DEFAULT_AUTOLOCK_MINUTES",
    "PERSON_FIELDS",
    "STATUS_GROUPS",
    "TRAINING_FORM",
    "VICTIM_FORM",
    "DeviceState",
    "EventSummary",
    "EventSummaryRow",
    "MergeOffer",
    "MergeUnavailable",
    "ParticipantMatch",
    "Services",
    "SetupFailed",
    "SyncOutcome",
    "event_summary",
    "fold",
    "match_participants",
]

log = logging.getLogger(__name__)

TRAINING_FORM = "training_attendance"
VICTIM_FORM = "victim_screening"
DEFAULT_AUTOLOCK_MINUTES = 5
AUTOLOCK_CHOICES = (1, 2, 5, 10, 15, 30)

# What the app calls a status group (a tab, a home counter) -> the store statuses in it.
STATUS_GROUPS: dict[str, tuple[Status, ...]] = {
    "draft": ("draft",),
    "waiting": ("final", "queued"),
    "sent": ("sent",),
    "rejected": ("rejected",),
    "conflict": ("conflict",),
}

# "unreadable": the store file cannot be opened (see `Services.unreadable`); it is left as is.
DeviceState = Literal["new", "locked", "unlocked", "wiped", "unreadable"]
# A participant's own details (not the event's: attendance, scores): what a returning person
# brings to the next event when picked from the team's search.
PERSON_FIELDS = (
    "full_name",
    "sex",
    "profession",
    "profession_other",
    "organisation",
    "consent_contact",
    "phone",
    "email",
)

# Clear UI preferences kept in the store's sync_state table (never anything secret).
_PREF_LANG = "ui_lang"
_PREF_THEME = "ui_theme"
_PREF_AUTOLOCK = "ui_autolock_minutes"
_PREF_OFFLINE = "ui_offline"
_STATE_SERVER_URL = "server_url"
_STATE_SERVER_KEY_ID = "server_key_id"
_STATE_LAST_SYNC = "last_sync_at"


class SetupFailed(FieldappError):
    """First run or enrolment could not finish; `key` names the message the UI shows."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class MergeUnavailable(FieldappError):
    """The other version of a record in conflict could not be fetched to compare with; `key`
    names the message the UI shows."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class MergeOffer:
    """A merge to choose from: the differences between this device's version of a record in
    conflict and the other one, to be sent on top of the server's head (`head_revision`)."""

    record_id: str
    head_revision: str
    proposal: MergeProposal


@dataclass(frozen=True)
class SyncOutcome:
    """What a sync means to the person who tapped "Sync now": a message key and counts."""

    ok: bool
    message_key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventSummaryRow:
    value: str
    count: int


@dataclass(frozen=True)
class EventSummary:
    participants: int
    by_sex: list[EventSummaryRow]
    by_profession: list[EventSummaryRow]
    present_by_day: list[int]  # day 1 first
    average_pre: float | None
    average_post: float | None


@dataclass(frozen=True)
class ParticipantMatch:
    """A person found by `Services.search_participants`, with the event they were registered
    at; `from_team`: registered on another device of the team (else on this one)."""

    id: str  # the repeat instance's `_id`
    name: str
    details: dict[str, Any]
    event_title: str
    event_start: str
    record_id: str
    from_team: bool


def fold(text: str) -> str:
    """Text as a search compares it: case and accents (diacritics) do not matter."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def match_participants(
    people: list[ParticipantMatch], query: str, limit: int
) -> list[ParticipantMatch]:
    """The first `limit` of `people` whose name holds every word of `query`, case and
    accents ignored (Zoé = zoe); none for a query without words."""
    words = fold(query).split()
    if not words or limit < 1:
        return []
    matches = []
    for person in people:
        name = fold(person.name)
        if all(word in name for word in words):
            matches.append(person)
            if len(matches) == limit:
                break
    return matches


def event_summary(values: Mapping[str, Any], days: int) -> EventSummary:
    """Counts a trainer reports: by sex, by profession, present per day, mean scores."""
    people = [p for p in values.get("participants") or [] if isinstance(p, Mapping)]
    sexes = Counter(str(p.get("sex") or "") for p in people)
    jobs = Counter(str(p.get("profession") or "") for p in people)
    present = [
        sum(1 for p in people if f"day{day}" in (p.get("attendance") or []))
        for day in range(1, days + 1)
    ]

    def mean(name: str) -> float | None:
        scores = [p[name] for p in people if isinstance(p.get(name), int | float)]
        return round(sum(scores) / len(scores), 1) if scores else None

    def rows(counts: Counter[str]) -> list[EventSummaryRow]:
        return [EventSummaryRow(k, n) for k, n in sorted(counts.items(), key=lambda i: -i[1])]

    return EventSummary(
        participants=len(people),
        by_sex=rows(sexes),
        by_profession=rows(jobs),
        present_by_day=present,
        average_pre=mean("pre_score"),
        average_post=mean("post_score"),
    )


class Services:
    """One device: its store file under `data_dir`, its server, its background sync.

    Thread-safe where it matters: the store serialises itself, and one SyncClient (with its
    own lock) is shared by "Sync now" and the connectivity monitor, so two syncs never overlap.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        server_url: str | None = None,
        probe_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.store_path = self.data_dir / STORE_FILENAME
        self.default_server_url = server_url
        self.probe_interval = probe_interval
        self._clock = clock
        self._store: Store | None = None
        self._wiped = False
        self._client: SyncClient | None = None
        self._monitor: SyncMonitor | None = None
        self._lock = threading.RLock()
        self.on_progress: Callable[[int, int, int], None] | None = None
        self.on_monitor: Callable[[MonitorState], None] | None = None
        self._prefs: dict[str, str] = {}  # before the store exists (first run)
        # Why the store file cannot be opened (damaged, a folder...), or None. The app says so
        # and offers nothing that would replace the file: someone may still recover it.
        self.unreadable: str | None = None
        if self.store_path.exists():
            try:
                store = Store(self.store_path, clock=clock)
            except StoreUnreadable as exc:
                log.error("%s", exc)
                self.unreadable = str(exc)
            else:
                if store.keyring.initialised:
                    self._store = store
                    store.keyring.autolock_seconds = self.autolock_minutes * 60
                else:
                    store.close()

    # -- device lifecycle -----------------------------------------------------------------
    @property
    def device_state(self) -> DeviceState:
        if self.unreadable is not None:
            return "unreadable"
        if self._wiped:
            return "wiped"
        if self._store is None:
            return "new"
        return "locked" if self._store.keyring.locked else "unlocked"

    @property
    def store(self) -> Store:
        if self._store is None:
            raise StoreError("this device is not set up yet")
        return self._store

    def create(self, passphrase: str, repeated: str) -> None:
        """First run: a new encrypted store protected by `passphrase`, unlocked."""
        if self.unreadable is not None:  # never replace a file someone may recover
            raise SetupFailed("store_unreadable", path=str(self.store_path))
        if passphrase != repeated:
            raise SetupFailed("passphrase_mismatch")
        try:
            crypto.check_passphrase_policy(passphrase)
        except crypto.WeakPassphrase:
            raise SetupFailed("passphrase_weak") from None
        self._remove_store_files()
        self._store = Store.create(self.store_path, passphrase, clock=self._clock)
        self._wiped = False
        for key, value in self._prefs.items():
            self._store.settings.set(key, value)
        self._store.keyring.autolock_seconds = self.autolock_minutes * 60

    def unlock(self, passphrase: str) -> None:
        """Raises crypto.WrongPassphrase, or StoreWiped once too many tries erased the key."""
        try:
            self.store.keyring.unlock(passphrase)
        except StoreWiped:
            self._wiped = True
            self.stop_sync()
            raise
        self._start_sync()

    def lock(self) -> None:
        if self._store is not None:
            self._store.keyring.lock()

    def touch(self) -> None:
        """User activity: postpone the inactivity lock."""
        if self._store is not None:
            self._store.keyring.touch()

    def wipe(self) -> None:
        """Sign out and wipe: keys and records erased; the device must be set up again."""
        self.stop_sync()
        if self._store is not None:
            self._store.wipe()
            self._store.close()
            self._store = None
        self._remove_store_files()
        self._wiped = True

    def close(self) -> None:
        self.stop_sync()
        if self._store is not None:
            self._store.close()
            self._store = None

    def _remove_store_files(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                self.store_path.with_name(self.store_path.name + suffix).unlink()

    # -- preferences (clear, never secret) --------------------------------------------------
    def _pref(self, key: str) -> str | None:
        if self._store is not None:
            return self._store.settings.get(key)
        return self._prefs.get(key)

    def _set_pref(self, key: str, value: str) -> None:
        self._prefs[key] = value
        if self._store is not None:
            self._store.settings.set(key, value)

    @property
    def language(self) -> str:
        return self._pref(_PREF_LANG) or "en"

    def set_language(self, lang: str) -> None:
        self._set_pref(_PREF_LANG, lang)

    @property
    def theme(self) -> str:
        return self._pref(_PREF_THEME) or "light"

    def set_theme(self, theme: str) -> None:
        self._set_pref(_PREF_THEME, theme)

    @property
    def autolock_minutes(self) -> int:
        stored = self._pref(_PREF_AUTOLOCK)
        return int(stored) if stored and stored.isdigit() else DEFAULT_AUTOLOCK_MINUTES

    def set_autolock_minutes(self, minutes: int) -> None:
        self._set_pref(_PREF_AUTOLOCK, str(minutes))
        if self._store is not None:
            self._store.keyring.autolock_seconds = minutes * 60

    @property
    def offline_mode(self) -> bool:
        return self._pref(_PREF_OFFLINE) == "1" and not self.enrolled

    def work_offline(self) -> None:
        self._set_pref(_PREF_OFFLINE, "1")

    @property
    def version(self) -> str:
        return __version__

    # -- server -----------------------------------------------------------------------------
    @property
    def enrolled(self) -> bool:
        if self._store is None:
            return False
        return bool(self._store.settings.get(_STATE_SERVER_URL)) and bool(
            self._store.settings.get(_STATE_SERVER_KEY_ID)
        )

    @property
    def server_url(self) -> str | None:
        return None if self._store is None else self._store.settings.get(_STATE_SERVER_URL)

    @property
    def last_sync_at(self) -> str | None:
        return None if self._store is None else self._store.settings.get(_STATE_LAST_SYNC)

    def enrol(self, server_url: str, code: str, fingerprint: str | None = None) -> None:
        """Enrol this (unlocked) device with a one-time code, and the full fingerprint of the
        enrolment link it came from if any; SetupFailed says why not."""
        try:
            url = check_server_url(server_url)
        except InsecureServerURL:
            raise SetupFailed("insecure_url") from None
        try:
            enrol(self.store, url, code, fingerprint=fingerprint, label="fieldapp", timeout=15.0)
        except BadEnrolmentCode:
            raise SetupFailed("code_malformed") from None
        except EnrolmentNotTrusted:
            raise SetupFailed("enrol_untrusted") from None
        except ServerUnreachable:
            raise SetupFailed("sync_unreachable") from None
        except EnrolRefused as exc:
            raise SetupFailed("code_refused", detail=str(exc)) from None
        except ServerRefused as exc:
            raise SetupFailed("sync_refused", detail=str(exc)) from None
        self._set_pref(_PREF_OFFLINE, "0")
        self.stop_sync()
        self._start_sync()

    def read_enrolment_qr(self, image: bytes) -> EnrolmentLink:
        """The server and code of an enrolment QR code in a picture (any format Pillow reads);
        SetupFailed says why not. CPU-bound (up to about a second): call it off the UI loop."""
        try:
            text = decode_qr(image)
        except QRNotFound:
            raise SetupFailed("qr_not_found") from None
        except QRUnreadable:
            raise SetupFailed("qr_unreadable") from None
        try:
            return EnrolmentLink.parse(text)
        except BadEnrolmentLink:
            raise SetupFailed("qr_not_enrolment") from None

    def _start_sync(self) -> None:
        """A sync client (it reads the token now, while unlocked) and the monitor."""
        with self._lock:
            if self._client is not None or not self.enrolled:
                return
            try:
                self._client = SyncClient(self.store, on_progress=self._progress, timeout=15.0)
            except (SyncError, InsecureServerURL) as exc:
                log.warning("sync not started: %s", exc)
                return
            self._monitor = SyncMonitor(
                self._client,
                probe_interval=self.probe_interval,
                probe_timeout=3.0,
                on_state=self._monitor_state,
            )
            self._monitor.start()

    def stop_sync(self) -> None:
        with self._lock:
            monitor, client = self._monitor, self._client
            self._monitor = self._client = None
        if monitor is not None:
            monitor.stop(timeout=5)
        if client is not None:
            client.close()

    def _sync_client(self) -> SyncClient | None:
        """The sync client, started if need be; None while the device is not enrolled."""
        if not self.enrolled:
            return None
        self._start_sync()
        return self._client

    def _progress(self, done: int, total: int, sent_bytes: int) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total, sent_bytes)

    def _monitor_state(self, state: MonitorState) -> None:
        if self.on_monitor is not None:
            self.on_monitor(state)

    def sync_now(self) -> SyncOutcome:
        """One sync now, in the caller's thread; the outcome in words, never a traceback."""
        client = self._sync_client()
        if client is None:
            return SyncOutcome(False, "not_enrolled")
        health = client.health(timeout=5.0)
        if health is None:
            return SyncOutcome(False, "sync_unreachable")
        if health.status != "ok":
            return SyncOutcome(False, "server_degraded")
        try:
            report = client.sync()
        except StorageFull:
            return SyncOutcome(False, "storage_full")
        return describe_report(report)

    # -- forms and records ------------------------------------------------------------------
    def forms(self) -> list[FormSpec]:
        return self.store.forms.usable()

    def form(self, form_id: str, version: str | None = None) -> FormSpec:
        return self.store.forms.get(form_id, version)

    def new_draft(self, form_id: str, values: Mapping[str, Any] | None = None) -> Record:
        return self.store.records.new_draft(form_id, values)

    def save_draft(self, record_id: str, values: Mapping[str, Any]) -> Record:
        """Raises StorageFull when the device is full: the draft stays as last saved."""
        return self.store.records.save_draft(record_id, values)

    def finalise(self, record_id: str, values: Mapping[str, Any], lang: str) -> Record:
        """Raises fieldapp.store.ValidationFailed with every error (the draft is saved), or
        StorageFull when the device is full (the record stays as it was)."""
        return self.store.records.finalise(record_id, values, lang=lang)

    def get(self, record_id: str) -> Record:
        return self.store.records.get(record_id)

    def discard_draft(self, record_id: str) -> None:
        self.store.records.discard_draft(record_id)

    def keep_my_version(self, record_id: str, lang: str) -> Record:
        """A conflict settled for this device's version: it goes out again on top of the
        server's newest one (raises fieldapp.store.ValidationFailed if it no longer passes).
        The server keeps the record flagged until the office has checked the other version."""
        return self.store.conflicts.settle(record_id, lang=lang)

    def merge_offer(self, record_id: str) -> MergeOffer:
        """What differs between this device's version of a record in conflict and the other
        one, from what this device may see of it: the statistics the server keeps in clear
        and the participants the team roster shares (the other version's sealed part is the
        organisation's). Needs the server; MergeUnavailable says why it cannot be had."""
        record = self.store.records.get(record_id)
        if record.status != "conflict":
            raise MergeUnavailable("merge_nothing")
        client = self._sync_client()
        if client is None:
            raise MergeUnavailable("not_enrolled")
        if not client.probe(timeout=5.0):
            raise MergeUnavailable("merge_offline")
        try:
            versions = client.record_versions(record_id)
        except ServerUnreachable:
            raise MergeUnavailable("merge_offline") from None
        except SyncError as exc:
            log.warning("the server's versions of record %s were refused: %s", record_id, exc)
            raise MergeUnavailable("merge_unavailable") from None
        if versions.form_id != record.form_id:
            log.warning("the server holds record %s under another form", record_id)
            raise MergeUnavailable("merge_unavailable")
        theirs = _other_version(versions, record.revision)
        if theirs is None or not versions.in_conflict:  # the office resolved it meanwhile
            raise MergeUnavailable("merge_nothing")
        proposal = propose(
            self.form(record.form_id, record.form_version),
            record.values,
            theirs.stats,
            roster=self._team_details(record_id),
            their_sealed=theirs.sealed is not None,
        )
        return MergeOffer(record.id, versions.head.revision, proposal)

    def send_merge(self, offer: MergeOffer, choices: Mapping[str, str], lang: str) -> Record:
        """The merged version, finalised on top of the server's head as `offer` found it and
        sent at the next sync as the newest one (raises fieldapp.store.ValidationFailed,
        leaving a draft, if it does not pass; StoreError if the record is no longer in
        conflict). The server keeps the record flagged until the office has checked the
        other version's sealed part."""
        merged = apply(offer.proposal, choices)
        return self.store.conflicts.settle(
            offer.record_id, merged, head=offer.head_revision, lang=lang
        )

    def _team_details(self, record_id: str) -> dict[str, dict[str, Any]]:
        """The answers the team roster shares about the record's repeat instances, by `_id`
        (decrypted in memory: the store must be unlocked)."""
        return {
            str(entry.get("id")): entry["fields"]
            for entry in self.store.roster.entries()
            if entry.get("record_id") == record_id and isinstance(entry.get("fields"), dict)
        }

    def withdraw_consent(self, record_id: str) -> Record:
        """The person withdrew their consent: the record's personal details are erased from
        this device now and from the server at the next sync; its statistics still count."""
        return self.store.consent.withdraw(record_id)

    def counts(self) -> dict[str, int]:
        """Records per status group (works while locked: nothing is decrypted)."""
        by_status = self.store.records.status_counts() if self._store is not None else {}
        return {
            group: sum(by_status.get(s, 0) for s in statuses)
            for group, statuses in STATUS_GROUPS.items()
        }

    def list_records(
        self, group: str, *, after: str | None = None, limit: int = 20, form_id: str | None = None
    ) -> Page:
        """A page of a status group, newest first; `after` is the previous page's cursor.

        A group of several statuses pages through them one after the other; the cursor says
        which one it is in (`<index>:<store cursor>`).
        """
        statuses = STATUS_GROUPS[group]
        index, _, inner = (after or "0:").partition(":")
        position = int(index)
        items: list[RecordSummary] = []
        cursor: str | None = inner or None
        while position < len(statuses) and len(items) < limit:
            page = self.store.records.page(
                status=statuses[position], form_id=form_id, after=cursor, limit=limit - len(items)
            )
            items.extend(page.items)
            if page.next_after is not None:
                return Page(items=items, next_after=f"{position}:{page.next_after}")
            position, cursor = position + 1, None
        more = position < len(statuses) and any(
            self.store.records.count(status=s, form_id=form_id) for s in statuses[position:]
        )
        return Page(items=items, next_after=f"{position}:" if more else None)

    def count(self, group: str, form_id: str | None = None) -> int:
        return sum(
            self.store.records.count(status=s, form_id=form_id) for s in STATUS_GROUPS[group]
        )

    def events(self) -> list[Record]:
        """Every training event on this device (decrypted: the store must be unlocked)."""
        ids: list[str] = []
        after: str | None = None
        while True:
            page = self.store.records.page(form_id=TRAINING_FORM, after=after, limit=200)
            ids.extend(item.id for item in page.items)
            if page.next_after is None:
                break
            after = page.next_after
        return [self.store.records.get(record_id) for record_id in ids]

    def shared_events(self) -> dict[str, dict[str, Any]]:
        """Training events the organisation shares with the team (pulled at each sync)."""
        return self.store.roster.shared("event")

    # -- the team's participants ----------------------------------------------------------
    @property
    def team_search_available(self) -> bool:
        """The device was enrolled with the team key, so it shares and finds participants."""
        return self._store is not None and self._store.roster.has_team_key

    def search_participants(
        self, query: str, limit: int = 20, *, exclude_record: str | None = None
    ) -> list[ParticipantMatch]:
        """People whose name holds every word of `query` (case and accents ignored), from
        this device's attendance records and the team's roster: see `participants` and
        `match_participants`. `exclude_record`: the event being filled."""
        return match_participants(self.participants(exclude_record=exclude_record), query, limit)

    def participants(self, *, exclude_record: str | None = None) -> list[ParticipantMatch]:
        """Everyone this device's attendance records and the team's roster hold, once each
        (by `_id`, this device's copy first), by name then most recent event first.
        Decrypted in memory only: the store must be unlocked."""
        names = {r.name: roster_name(r) for r in self.form(TRAINING_FORM).roster_repeats()}
        candidates: list[tuple[Any, Mapping[str, Any], str | None, Mapping[str, Any], str, bool]]
        candidates = [
            (instance.get("_id"), instance, name_field, record.values, record.id, False)
            for record in self.events()
            if record.id != exclude_record
            for repeat, name_field in names.items()
            for instance in record.values.get(repeat) or []
        ]
        candidates += [
            (entry.get("id"), entry["fields"], names.get(str(entry.get("repeat"))),
             entry["event"] if isinstance(entry.get("event"), dict) else {},
             str(entry.get("record_id") or ""), True)
            for entry in self.store.roster.entries()
            if entry.get("record_id") != exclude_record and isinstance(entry.get("fields"), dict)
        ]  # fmt: skip
        found: dict[str, ParticipantMatch] = {}
        for entry_id, details, name_field, event, record_id, from_team in candidates:
            name = details.get(name_field or "")
            if isinstance(entry_id, str) and isinstance(name, str) and entry_id not in found:
                found[entry_id] = ParticipantMatch(
                    id=entry_id,
                    name=name,
                    details={k: v for k, v in details.items() if k != "_id"},
                    event_title=str(event.get("title") or ""),
                    event_start=str(event.get("start_date") or ""),
                    record_id=record_id,
                    from_team=from_team,
                )
        everyone = sorted(found.values(), key=lambda m: m.event_start, reverse=True)
        everyone.sort(key=lambda m: fold(m.name))
        return everyone


def _other_version(versions: RecordVersions, mine: str) -> RecordEnvelope | None:
    """The version to compare with this device's (`mine`): the server's head, or when the
    head is this device's own, the latest sibling in conflict with it (None if none is)."""
    if versions.head.revision != mine:
        return versions.head
    others = [sibling for sibling in versions.siblings if sibling.revision != mine]
    return others[-1] if others else None


def describe_report(report: SyncReport) -> SyncOutcome:
    counts = {
        "sent": report.sent,
        "rejected": report.rejected,
        "conflict": report.conflict,
        "pulled": report.pulled,
    }
    if report.ok and report.clock_offset is not None and report.clock_skewed:
        minutes = round(abs(report.clock_offset).total_seconds() / 60)
        return SyncOutcome(True, "sync_clock_skew", {**counts, "minutes": minutes})
    if report.ok:
        return SyncOutcome(True, "sync_result", counts)
    return SyncOutcome(False, "sync_problem", {**counts, "detail": report.errors[0]})
