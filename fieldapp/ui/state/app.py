"""The whole app's session: which screen shows, the device's state, home counters, sync,
settings; the records list (`RecordsList`); and the record open in it (`FormSession`), with
its merge screen.

The components only draw this state and call its methods, so the app's behaviour (consent
enforced, live errors, autosave, locking, paging) is tested by driving these objects directly,
with a real store and no Flet session.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

import flet as ft

from fieldapp.errors import FieldappError, StoreError
from fieldapp.forms.spec import FieldSpec, answer_nodes
from fieldapp.forms.values import initial_values
from fieldapp.i18n import Words
from fieldapp.ui.formats import localised_words
from fieldapp.ui.messages import MESSAGES, MessageKey
from fieldapp.ui.services import (
    TRAINING_FORM,
    DeviceState,
    EnrolmentLink,
    FormFileMissing,
    MergeUnavailable,
    Services,
    SetupFailed,
    StatusGroup,
    StoreWiped,
    SyncStatus,
    Theme,
    ValidationFailed,
    WrongPassphrase,
)
from fieldapp.ui.state.case import CaseSession
from fieldapp.ui.state.form import REVIEW, FormSession
from fieldapp.ui.state.merge import MergeSession
from fieldapp.ui.state.office import OfficeState
from fieldapp.ui.state.records import RecordsList
from fieldapp.ui.state.referrals import ReferralsView
from fieldapp.ui.state.training import EventRow, TrainingSession, event_rows

__all__ = ["AppState", "Screen", "SetupStep"]

Screen = Literal[
    "setup",
    "unlock",
    "wiped",
    "unreadable",
    "home",
    "records",
    "training",  # the list of training events
    "form",  # the open record: the wizard, its review, or a training event's hub
    "merge",  # the open record's merge screen
    "case",  # a screening's case and its timeline of services (`case`)
    "sync",
    "settings",
    "office",  # the office workspace (office roles only: see `OfficeState.open`)
    "referrals",  # referrals between organisations: one record's, sent, received
]
SetupStep = Literal["language", "passphrase", "server"]

# Where a device in each state opens (an unlocked one: home).
_START: dict[DeviceState, Screen] = {
    "new": "setup",
    "locked": "unlock",
    "wiped": "wiped",
    "unreadable": "unreadable",
    "unlocked": "home",
}


@ft.observable
@dataclass
class AppState:
    """The whole app: which screen, the device's state, home counters, sync, settings."""

    services: Services
    screen: Screen = "home"
    lang: str = "en"
    theme: Theme = "light"
    device: DeviceState = "new"
    setup_step: SetupStep = "language"
    message_key: MessageKey | None = None
    message_params: dict[str, Any] = field(default_factory=dict)
    counts: dict[StatusGroup, int] = field(default_factory=dict)
    sent_back: dict[str, str] = field(default_factory=dict)  # record id → the office's comment
    sync: SyncStatus = field(default_factory=SyncStatus)  # the device's sync, as it is now
    syncing: bool = False
    sync_message_key: MessageKey | None = None
    sync_message_params: dict[str, Any] = field(default_factory=dict)
    form: FormSession | None = None
    merge: MergeSession | None = None  # the merge screen of the open record in conflict
    case: CaseSession | None = None  # the case screen's (`widgets.case.show_case`)
    records: RecordsList = field(init=False)  # the records list (`state.records`)
    events: list[EventRow] = field(default_factory=list)
    confirm_wipe: bool = False
    confirm_withdraw: bool = False  # the "withdraw consent and erase" dialog shows
    autolock_minutes: int = 5
    office: OfficeState = field(init=False)  # the office workspace (office roles only)
    referrals: ReferralsView = field(init=False)
    _resume_record: str | None = None
    _resume_screen: Screen = "home"

    def __post_init__(self) -> None:
        device = self.services.device
        self.lang = device.language
        self.theme = device.theme
        self.autolock_minutes = device.autolock_minutes
        self.device = device.state
        self.office = OfficeState(services=self.services, lang=self.lang)
        self.referrals = ReferralsView(services=self.services)
        self.records = RecordsList(services=self.services, lang=self.lang)
        self.screen = _START[self.device]
        self.sync = self.services.sync.refresh()
        if self.device == "unlocked":  # a page opened on a device another page unlocked
            self.counts = self.services.records.counts()
            self.sent_back = self.services.records.sent_back_notes()
        failed, left = device.unlock_tries()
        if self.device == "locked" and failed and left is not None:
            self.say("wrong_passphrase_tries", n=left)  # wrong tries before the app restarted

    @property
    def office_available(self) -> bool:
        """Whether the navigation offers the office: an unlocked device enrolled as a
        coordinator, case manager or admin."""
        return self.device == "unlocked" and self.office.available

    @property
    def words(self) -> Words:
        """The app's words in the person's language (`_ = state.words; _("Back")`)."""
        return localised_words(self.lang)

    def text(self, key: MessageKey, **params: object) -> str:
        """The message `key` in the person's language, filled in."""
        return self.words.entry(MESSAGES[key], **params)

    @property
    def message(self) -> str | None:
        return (
            None if self.message_key is None else self.text(self.message_key, **self.message_params)
        )

    @property
    def sync_message(self) -> str | None:
        key = self.sync_message_key
        return None if key is None else self.text(key, **self.sync_message_params)

    def say(self, key: MessageKey | None, **params: Any) -> None:
        self.message_params = params
        self.message_key = key

    # -- activity and locking ---------------------------------------------------------------
    def touch(self) -> None:
        self.services.device.touch()

    def check_lock(self) -> bool:
        """Called on a timer: once the store locked itself, forget every decrypted answer."""
        state = self.services.device.state
        if state in ("locked", "wiped") and self.device == "unlocked":
            self.lock(state)
            return True
        return False

    def lock(self, state: Literal["locked", "wiped"] = "locked") -> None:
        if self.form is not None and self.form.created:  # nothing typed: nothing to resume
            self._resume_record = self.form.record_id
            self._resume_screen = "form" if self.screen == "merge" else self.screen
        self.services.lock()
        self.office.clear()
        self.referrals = ReferralsView(services=self.services)  # incoming ones were opened
        self.form = self.merge = self.case = None
        self.events = []
        self.records.clear()
        self.sent_back = {}
        self.confirm_wipe = False
        self.confirm_withdraw = False
        self.device = state
        self.screen = "unlock" if state == "locked" else "wiped"
        self.say(None)

    def unlock(self, passphrase: str) -> bool:
        try:
            self.services.unlock(passphrase)
        except WrongPassphrase:
            _failed, left = self.services.device.unlock_tries()
            if left is None:
                self.say("wrong_passphrase")
            else:
                self.say("wrong_passphrase_tries", n=left)
            return False
        except StoreWiped:
            self.device = "wiped"
            self.screen = "wiped"
            return False
        self.device = "unlocked"
        self.say(None)
        resume, self._resume_record = self._resume_record, None
        if resume is not None:
            self.open_record(resume, screen=self._resume_screen)
        else:
            self.go("home")
        return True

    # -- first run --------------------------------------------------------------------------
    def set_language(self, lang: str) -> None:
        self.services.device.set_language(lang)
        self.lang = lang
        self.office.set_language(lang)
        self.records.lang = lang
        if self.form is not None:
            self.form.set_language(lang)

    def setup_next(self, step: SetupStep) -> None:
        self.say(None)
        self.setup_step = step

    def create_device(self, passphrase: str, repeated: str) -> bool:
        try:
            self.services.device.create(passphrase, repeated)
        except SetupFailed as failed:
            self.say(failed.key, **failed.params)
            return False
        self.device = "unlocked"
        self.setup_step = "server"
        self.say(None)
        return True

    def enrol(self, server_url: str, code: str, fingerprint: str | None = None) -> bool:
        try:
            self.services.enrolment.enrol(server_url, code, fingerprint)
        except SetupFailed as failed:
            self.say(failed.key, **failed.params)
            return False
        self.say("connected_ok")
        self.go("home", keep_message=True)
        return True

    async def scan_enrolment(self, image: bytes) -> EnrolmentLink | None:
        """The server and code of the enrolment QR code in a picked picture (decoded in a worker
        thread, the screen stays live), or None with the reason said in the user's language."""
        try:
            link = await asyncio.to_thread(self.services.enrolment.read_qr, image)
        except SetupFailed as failed:
            self.say(failed.key, **failed.params)
            return None
        self.say("qr_read")
        return link

    def work_offline(self) -> None:
        self.services.device.work_offline()
        self.go("home")

    def start_again(self) -> None:
        """After a wipe: back to the first-run screens."""
        self.device = "new"
        self.setup_step = "language"
        self.screen = "setup"

    # -- navigation -------------------------------------------------------------------------
    def go(self, screen: Screen, *, keep_message: bool = False) -> None:
        self.touch()
        if not keep_message:
            self.say(None)
        self.confirm_wipe = False
        self.confirm_withdraw = False
        self.merge = None
        if screen != "form":
            self._leave_record()
        if screen == "office" and not self.office.open():
            self.say("office_refused")  # refused by the service, not only hidden
            return
        if screen == "home":
            self.refresh_home()
        elif screen == "records":
            self.refresh_home()  # the tabs' counts
            self.records.reload()
        elif screen == "training":
            self.events = event_rows(self.services)
        elif screen == "sync":
            self.sync = self.services.sync.refresh()
        self.screen = screen

    def open_referrals(self, record_id: str | None = None) -> None:
        """The referrals screen: `record_id` to refer (from its review), else the lists."""
        self.go("referrals")
        self.referrals.open(record_id)

    def _leave_record(self) -> None:
        """Close the open record; a draft opened here whose answers were all taken back goes
        (nothing is left of a form opened and left)."""
        form, self.form = self.form, None
        if form is not None and form.abandoned:
            self.services.records.discard_draft(form.record_id)

    def refresh_home(self) -> None:
        self.counts = self.services.records.counts()
        self.sent_back = self.services.records.sent_back_notes()
        self.sync = self.services.sync.refresh()

    # -- the open record --------------------------------------------------------------------
    def new_record(self, form_id: str, known: dict[str, Any] | None = None) -> None:
        """Start a record of `form_id`, with its defaults and the `known` answers; a form
        whose attached file has not come yet says so instead."""
        try:
            spec = self.services.records.form(form_id)
        except FormFileMissing as missing:
            self.say("form_file_missing", file=", ".join(missing.files))
            return
        session = TrainingSession if spec.id == TRAINING_FORM else FormSession
        # Nothing is written until something is typed: a form opened and left leaves no draft.
        self.form = session(
            services=self.services,
            spec=spec,
            record_id="",
            lang=self.lang,
            values={**initial_values(spec), **(known or {})},
            created=False,
        )
        if isinstance(self.form, TrainingSession) and self.form.values.get("title"):
            self.form.tab = "participants"  # a shared event's details are known already
        self.confirm_withdraw = False
        self.say(None)
        self.screen = "form"

    def open_record(self, record_id: str, *, screen: Screen = "form") -> None:
        record = self.services.records.get(record_id)
        spec = self.services.records.form(record.form_id, record.form_version)
        session = TrainingSession if spec.id == TRAINING_FORM else FormSession
        step = REVIEW
        if record.status == "draft" and not record.consent_withdrawn:
            # a draft goes on where it was left (from its start if that is not known)
            step = 0
            left = self.services.records.remembered_step(record.id)
        else:
            left = None
        self.form = session(
            services=self.services,
            spec=spec,
            record_id=record.id,
            lang=self.lang,
            values=record.values,
            status=record.status,
            problems=record.problems,
            saved_at=record.updated_at,
            # anything but a draft opens on its review (a rejected one with the server's
            # reasons above, each step one "Edit" away)
            step=step,
            on_server=record.server_revision is not None or record.status == "sent",
            mine_is_newest=(
                record.status == "conflict" and record.revision == record.server_revision
            )
            or (record.status == "sent" and record.conflict_settled),
            consent_withdrawn=record.consent_withdrawn,
            sent_back=self.services.records.sent_back_notes().get(record.id),
        )
        index = None if left is None else self.form.step_named(left)
        if index is not None and (index == REVIEW or index in self.form.visible_steps()):
            self.form.step = index
        if isinstance(self.form, TrainingSession) and record.values.get("title"):
            self.form.tab = "participants"  # an event with details opens on its participants
        self.confirm_withdraw = False
        if record.status == "rejected" and record.problems:
            self.form.errors = {
                **self.form.errors,
                **{
                    str(p.get("path") or p.get("field")): str(p.get("message"))
                    for p in record.problems
                },
            }
        self.say(None)
        self.screen = screen

    def close_record(self) -> None:
        back: Screen = "training" if isinstance(self.form, TrainingSession) else "home"
        self.go(back, keep_message=True)

    def finalise(self) -> bool:
        if self.form is None:
            return False
        if self.form.finalise():
            self.say("finalised")
            self.close_record()
            return True
        return False

    def keep_my_version(self) -> bool:
        """Conflict: send this device's version again, as the newest one."""
        if self.form is None:
            return False
        try:
            self.services.records.settle_conflict(self.form.record_id, lang=self.lang)
        except ValidationFailed:
            self.open_record(self.form.record_id)  # now a draft: show what to fix
            self.form.finalise()
            return False
        self.say("kept_mine")
        self.close_record()
        return True

    def open_merge(self) -> bool:
        """Conflict: fetch the other version and show what differs (needs the server; why
        not is said on the record)."""
        if self.form is None:
            return False
        self.touch()
        try:
            offer = self.services.merging.offer(self.form.record_id)
        except MergeUnavailable as failed:
            self.form.message_key = failed.key
            return False
        self.form.message_key = None
        self.merge = MergeSession(offer=offer, spec=self.form.spec, lang=self.lang)
        self.screen = "merge"
        return True

    def close_merge(self) -> None:
        """Back to the record, nothing sent."""
        self.merge = None
        self.screen = "form" if self.form is not None else "home"

    def send_merge(self) -> bool:
        """The merged version goes out at the next sync, as the newest one."""
        merge, form = self.merge, self.form
        if merge is None or form is None:
            return False
        self.touch()
        try:
            self.services.merging.send(merge.offer, merge.choices, self.lang)
        except ValidationFailed:
            self.merge = None
            self.open_record(form.record_id)  # now a draft: show what to fix
            assert self.form is not None
            self.form.finalise()
            return False
        except StoreError:  # a sync settled it meanwhile: show the record as it is now
            self.merge = None
            self.open_record(form.record_id)
            assert self.form is not None
            self.form.message_key = "merge_nothing"
            return False
        self.merge = None
        self.say("merge_sent")
        self.close_record()
        return True

    def leave_for_office(self) -> None:
        """Conflict: keep both versions flagged; a coordinator settles it at the office."""
        self.say("left_for_office")
        self.close_record()

    def ask_withdraw(self, ask: bool = True) -> None:
        """Show (or close) the dialog that says what "Withdraw consent and erase" erases."""
        self.confirm_withdraw = ask and self.form is not None and self.form.can_withdraw_consent

    def withdraw_consent(self) -> bool:
        """Confirmed in the dialog: the person withdrew their consent, so the open record's
        personal details are erased here and, at the next sync, on the server. It stays
        listed, marked withdrawn, its statistics counted."""
        if self.form is None or not self.confirm_withdraw:
            return False
        self.confirm_withdraw = False
        self.services.records.withdraw_consent(self.form.record_id)
        self.say("consent_withdrawn_done")
        self.close_record()
        return True

    def discard(self) -> None:
        form, self.form = self.form, None
        if form is not None and form.created:
            self.services.records.discard_draft(form.record_id)
        self.go("home")

    # -- training ---------------------------------------------------------------------------
    def open_shared_event(self, key: str) -> None:
        """Start the register of an event the office shared, its details filled in."""
        data = self.services.records.shared_events().get(key)
        if data is None:
            self.events = event_rows(self.services)
            return
        spec = self.services.records.form(TRAINING_FORM)
        fields = {n.name for n in answer_nodes(spec.children) if isinstance(n, FieldSpec)}
        self.new_record(TRAINING_FORM, {k: v for k, v in data.items() if k in fields})

    # -- sync -------------------------------------------------------------------------------
    def on_sync_status(self, status: SyncStatus) -> None:
        """A new sync status (from the worker, any page's "Sync now", or a refresh): shown as
        it is; a sync that just ended refreshes the counts and lists."""
        ended = self.sync.running and not status.running
        self.sync = status
        if status.outcome is not None:
            self.sync_message_params = status.outcome.params
            self.sync_message_key = status.outcome.message_key
        if ended and self.device == "unlocked":
            self.counts = self.services.records.counts()
            self.sent_back = self.services.records.sent_back_notes()
            if self.screen == "records":
                self.records.reload()

    def sync_now(self) -> None:
        """Blocking: call from a worker thread. Progress and outcome land in this state."""
        self.touch()
        self.syncing = True
        self.sync_message_key = "syncing"
        try:
            outcome = self.services.sync.sync_now()
        except FieldappError as exc:
            self.sync_message_params = {"detail": str(exc)}
            self.sync_message_key = "sync_problem"
        else:
            self.sync_message_params = outcome.params
            self.sync_message_key = outcome.message_key
        finally:
            self.syncing = False
        self.refresh_after_sync()

    def refresh_after_sync(self) -> None:
        if self.device != "unlocked":
            self.sync = self.services.sync.status
            return
        self.refresh_home()
        if self.screen == "records":
            self.records.reload()

    # -- settings ---------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.services.device.set_theme(theme)
        self.theme = theme

    def set_autolock(self, minutes: int) -> None:
        self.services.device.set_autolock_minutes(minutes)
        self.autolock_minutes = minutes
        self.touch()

    def ask_wipe(self, ask: bool = True) -> None:
        self.confirm_wipe = ask

    def wipe(self) -> None:
        self.services.wipe()
        self.office.clear()
        self.form = self.case = None
        self.records.clear()
        self.events = []
        self.confirm_wipe = False
        self.device = "wiped"
        self.screen = "wiped"
