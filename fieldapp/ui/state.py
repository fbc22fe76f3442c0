"""Observable state: everything the screens show and every action a person can take.

The components only draw this state and call its methods, so the app's behaviour (consent
enforced, live errors, autosave, locking, paging) is tested by driving these objects directly,
with a real store and no Flet session.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import flet as ft

from fieldapp import crypto
from fieldapp.errors import FieldappError, StorageFull, StoreError
from fieldapp.forms.expr import ExpressionError, parse
from fieldapp.forms.merge import Side
from fieldapp.forms.spec import (
    FieldSpec,
    FormSpec,
    GroupSpec,
    Labels,
    Node,
    RepeatSpec,
    answer_nodes,
    roster_name,
)
from fieldapp.forms.validate import FieldError, check
from fieldapp.forms.values import initial_values
from fieldapp.store import RecordSummary, StoreWiped, ValidationFailed
from fieldapp.ui.services import (
    PERSON_FIELDS,
    TRAINING_FORM,
    VICTIM_FORM,
    MergeOffer,
    MergeUnavailable,
    ParticipantMatch,
    Services,
    SetupFailed,
    event_summary,
    match_participants,
)
from fieldapp.ui.strings import t
from sync.protocol import EnrolmentLink

__all__ = [
    "REVIEW",
    "SUPERSEDED",
    "AppState",
    "EventRow",
    "FormSession",
    "MergeAddition",
    "MergeRow",
    "MergeSession",
    "Step",
    "answer_text",
    "build_steps",
    "display_value",
]

REVIEW = -1  # FormSession.step while the review screen shows
SUPERSEDED = "superseded"  # the problem code the store gives a copy the office set aside
PAGE_SIZE = 20


@dataclass(frozen=True)
class Step:
    """One wizard step: a top-level group, a top-level repeat, or a run of loose fields."""

    name: str
    label: Labels
    nodes: tuple[Node, ...]
    relevant: str | None = None


def build_steps(spec: FormSpec) -> list[Step]:
    steps: list[Step] = []
    loose: list[Node] = []

    def flush() -> None:
        if loose:
            steps.append(Step(f"_fields{len(steps)}", spec.title, tuple(loose)))
            loose.clear()

    for node in spec.children:
        if isinstance(node, GroupSpec):
            flush()
            steps.append(Step(node.name, node.label, tuple(node.children), node.relevant))
        elif isinstance(node, RepeatSpec):
            flush()
            steps.append(Step(node.name, node.label, (node,), node.relevant))
        else:
            loose.append(node)
    flush()
    return steps


def _answer_names(nodes: tuple[Node, ...] | list[Node]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        names.add(node.name)
        if isinstance(node, GroupSpec):
            names |= _answer_names(node.children)
    return names


def _root_name(path: str) -> str:
    return path.split("[", 1)[0].split(".", 1)[0]


def is_relevant(expression: str | None, env: Mapping[str, Any]) -> bool:
    """The same rule as validation: an expression that cannot be evaluated is false."""
    if not expression:
        return True
    try:
        return parse(expression).truth(env)
    except ExpressionError:
        return False


def display_value(value: Any) -> str:
    """What a text box shows for a stored answer."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):  # a geopoint
        return f"{value.get('lat', '')} {value.get('lon', '')}".strip()
    return str(value)


def answer_text(spec: FormSpec, node: FieldSpec, value: Any, lang: str) -> str:
    """An answer as a person reads it: choice labels in `lang`, yes or no, "—" for none."""
    if value is None or value == "" or value == []:
        return t("none", lang)
    if node.type == "select_one":
        return spec.choice_label(node.choices or "", str(value), lang)
    if node.type == "select_multiple" and isinstance(value, list):
        return ", ".join(spec.choice_label(node.choices or "", str(v), lang) for v in value)
    if node.type == "boolean":
        return t("yes" if value else "no", lang)
    return display_value(value)


@ft.observable
@dataclass
class FormSession:
    """One record being filled: raw answers as typed, live errors, steps, autosave."""

    services: Services
    spec: FormSpec
    record_id: str
    lang: str
    values: dict[str, Any]
    status: str = "draft"
    step: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    message_key: str | None = None
    editing: tuple[str, int] | None = None  # (repeat name, instance index) being edited
    problems: list[dict[str, Any]] = field(default_factory=list)  # the server's, if rejected
    saved_at: str | None = None
    finalised: bool = False
    tab: str = ""  # training hub: which tab shows ("" = the step)
    # This version is the server's newest, another one is kept for the office to check: a
    # conflict flagged elsewhere, or one settled here (kept or merged) and sent.
    mine_is_newest: bool = False
    consent_withdrawn: bool = False  # personal details erased: shown, never edited again
    team_query: str = ""  # the search of the team's participants, as typed
    team_matches: list[ParticipantMatch] = field(default_factory=list)
    _team_people: list[ParticipantMatch] | None = None  # decrypted once per search
    _clean: dict[str, Any] = field(default_factory=dict)
    _strict_steps: set[int] = field(default_factory=set)  # steps where Next was tried
    _strict_instances: set[tuple[str, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._steps = build_steps(self.spec)
        self._recheck()

    # -- reading ----------------------------------------------------------------------------
    @property
    def steps(self) -> list[Step]:
        return self._steps

    @property
    def clean(self) -> dict[str, Any]:
        """Answers as validation reads them: typed, calculated, irrelevant ones dropped."""
        return self._clean

    def visible_steps(self) -> list[int]:
        env = ChainMap(self._clean)
        return [i for i, s in enumerate(self._steps) if is_relevant(s.relevant, env)]

    def relevant(self, node: Node, instance: Mapping[str, Any] | None = None) -> bool:
        env = ChainMap(self._clean) if instance is None else ChainMap(dict(instance), self._clean)
        return is_relevant(node.relevant, env)

    def clean_instance(self, repeat: str, index: int) -> dict[str, Any]:
        """The clean values of one repeat instance, matched by `_id`."""
        raw = self.instances(repeat)
        if index >= len(raw):
            return {}
        wanted = raw[index].get("_id")
        for instance in self._clean.get(repeat) or []:
            if instance.get("_id") == wanted:
                return dict(instance)
        return {}

    def instances(self, repeat: str) -> list[dict[str, Any]]:
        return list(self.values.get(repeat) or [])

    def label(self, labels: Labels, fallback: str = "") -> str:
        return self.spec.label(labels, self.lang) or fallback

    @property
    def child_alert(self) -> bool:
        """A calculated `is_minor` is true: the child-protection referral prompt shows."""
        return self._clean.get("is_minor") is True

    @property
    def reviewing(self) -> bool:
        return self.step == REVIEW

    @property
    def title(self) -> str:
        return self.label(self.spec.title, self.spec.id)

    @property
    def editable(self) -> bool:
        """A conflict is settled, not edited; a record whose consent was withdrawn is gone."""
        return self.status != "conflict" and not self.consent_withdrawn

    @property
    def can_withdraw_consent(self) -> bool:
        """A victim record offers "Withdraw consent and erase" until it is done."""
        return self.spec.id == VICTIM_FORM and not self.consent_withdrawn

    @property
    def superseded_note(self) -> str | None:
        """Why this record is no longer the one the office holds, in the user's language:
        the office settled a conflict for another device's version (see
        `Store.conflict_resolved`); None when it did not."""
        if any(p.get("code") == SUPERSEDED for p in self.problems):
            return t("superseded_note", self.lang)
        return None

    # -- answering --------------------------------------------------------------------------
    def set_value(
        self, name: str, value: Any, *, repeat: str | None = None, index: int | None = None
    ) -> None:
        """Record one answer, re-judge the form as the person types, autosave the draft."""
        if value == "" or value == []:
            value = None
        if repeat is None:
            values = dict(self.values)
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
        else:
            assert index is not None
            instances = [dict(i) for i in self.instances(repeat)]
            if value is None:
                instances[index].pop(name, None)
            else:
                instances[index][name] = value
            values = {**self.values, repeat: instances}
        self.values = values
        self._autosave()

    def toggle_choice(
        self, name: str, choice: str, *, repeat: str | None = None, index: int | None = None
    ) -> None:
        """Tick or untick one choice of a select_multiple."""
        source = self.values if repeat is None else self.instances(repeat)[index or 0]
        picked = list(source.get(name) or [])
        if choice in picked:
            picked.remove(choice)
        else:
            picked.append(choice)
        self.set_value(name, picked, repeat=repeat, index=index)

    def _autosave(self) -> None:
        """Every change is written at once as an encrypted draft: a dead battery loses nothing.

        On a full device the change stays on screen (the draft as last saved) and the next
        change after space is freed saves it all."""
        try:
            record = self.services.save_draft(self.record_id, self.values)
        except StorageFull:
            self.message_key = "storage_full"
            return
        if self.message_key == "storage_full":
            self.message_key = None
        self.status = record.status
        self.saved_at = record.updated_at
        self.finalised = False
        self._recheck()

    def _recheck(self) -> None:
        partial = check(self.spec, self.values, lang=self.lang, partial=True)
        self._clean = partial.values
        errors = [e for e in partial.errors if e.code != "unknown_field"]
        if self._strict_steps or self._strict_instances:
            full = check(self.spec, self.values, lang=self.lang)
            errors += [e for e in full.errors if self._is_strict(e)]
        self.errors = {e.path: e.message for e in errors}

    def _is_strict(self, error: FieldError) -> bool:
        for repeat, index in self._strict_instances:
            if error.path.startswith(f"{repeat}[{index}]."):
                return True
        root = _root_name(error.path)
        return any(
            root in _answer_names(self._steps[i].nodes)
            and (
                "[" not in error.path
                or not isinstance(self.spec.node(root), RepeatSpec)
                or self.editing is None
            )
            for i in self._strict_steps
        )

    def step_errors(self, index: int) -> dict[str, str]:
        names = _answer_names(self._steps[index].nodes)
        return {p: m for p, m in self.errors.items() if _root_name(p) in names}

    # -- moving -----------------------------------------------------------------------------
    def next(self) -> bool:
        """Go on if this step is complete; otherwise show every problem next to its field."""
        if self.reviewing:
            return False
        self._strict_steps.add(self.step)
        self._recheck()
        if self.step_errors(self.step):
            first = self._steps[self.step].name
            self.message_key = "consent_first" if first == "consent" else "fix_errors"
            return False
        self.message_key = None
        later = [i for i in self.visible_steps() if i > self.step]
        self.step = later[0] if later else REVIEW
        return True

    def back(self) -> None:
        self.message_key = None
        visible = self.visible_steps()
        if self.reviewing:
            self.step = visible[-1] if visible else 0
            return
        earlier = [i for i in visible if i < self.step]
        if earlier:
            self.step = earlier[-1]

    def go_to(self, index: int) -> None:
        self.message_key = None
        self.editing = None
        self.step = index

    def finalise(self) -> bool:
        """Validate everything and finalise; on problems jump to the first step that has one."""
        try:
            record = self.services.finalise(self.record_id, self.values, self.lang)
        except StorageFull:
            self.message_key = "storage_full"
            return False
        except ValidationFailed as failed:
            self._strict_steps |= set(range(len(self._steps)))
            self._recheck()
            self.errors = {**self.errors, **{e.path: e.message for e in failed.errors}}
            roots = {_root_name(e.path) for e in failed.errors}
            for index in self.visible_steps():
                if roots & _answer_names(self._steps[index].nodes):
                    self.step = index
                    break
            self.message_key = "fix_errors"
            return False
        self.status = record.status
        self.finalised = True
        self.problems = []
        self.message_key = "finalised"
        return True

    # -- repeats ----------------------------------------------------------------------------
    def add_instance(self, repeat: str) -> int:
        instances = [*self.instances(repeat), {"_id": str(uuid.uuid4())}]
        self.values = {**self.values, repeat: instances}
        self.editing = (repeat, len(instances) - 1)
        self._autosave()
        return len(instances) - 1

    def edit_instance(self, repeat: str, index: int) -> None:
        self.editing = (repeat, index)

    def remove_instance(self, repeat: str, index: int) -> None:
        instances = self.instances(repeat)
        del instances[index]
        values = {**self.values, repeat: instances}
        if not instances:
            values.pop(repeat)
        self._strict_instances.clear()
        self.editing = None
        self.values = values
        self._autosave()

    def close_instance(self) -> bool:
        """ "Done": keep the instance if it is complete (an untouched new one is dropped)."""
        if self.editing is None:
            return True
        repeat, index = self.editing
        instance = self.instances(repeat)[index]
        if not [k for k in instance if not k.startswith("_")]:
            self.remove_instance(repeat, index)
            return True
        self._strict_instances.add((repeat, index))
        self._recheck()
        if any(p.startswith(f"{repeat}[{index}].") for p in self.errors):
            self.message_key = "fix_errors"
            return False
        self._strict_instances.discard((repeat, index))
        self.message_key = None
        self.editing = None
        self._recheck()
        return True

    def save_and_next(self) -> bool:
        """Keep this entry and start a blank one straight away (registering at a door)."""
        if self.editing is None:
            return False
        repeat, _ = self.editing
        if not self.close_instance():
            return False
        self.add_instance(repeat)
        return True

    # -- the team's participants ------------------------------------------------------------
    @property
    def team_search_available(self) -> bool:
        return self.services.team_search_available

    def search_team(self, query: str) -> None:
        """Find people registered by anyone in the team (and on this device), as typed; two
        characters at least, so a single letter does not list everyone. Everyone is
        decrypted once when a search starts, then each keystroke only filters."""
        self.team_query = query
        if len(query.strip()) < 2:  # a new search decrypts afresh (a sync may have added some)
            self._team_people = None
            self.team_matches = []
            return
        if self._team_people is None:
            self._team_people = self.services.participants(exclude_record=self.record_id)
        self.team_matches = match_participants(self._team_people, query, limit=8)

    def add_from_team(self, match_id: str) -> bool:
        """Register a person found by `search_team` at this event: a new entry (its own
        `_id`) with their details copied, so a returning participant is not typed again."""
        match = next((m for m in self.team_matches if m.id == match_id), None)
        repeats = self.spec.roster_repeats()
        if match is None or not repeats:
            return False
        repeat = repeats[0]
        fields = {n.name for n in answer_nodes(repeat.children) if isinstance(n, FieldSpec)}
        copied = {
            name: value
            for name, value in match.details.items()
            if name in PERSON_FIELDS and name in fields and value not in (None, "", [])
        }
        instances = [*self.instances(repeat.name), {"_id": str(uuid.uuid4()), **copied}]
        self.values = {**self.values, repeat.name: instances}
        self.team_query = ""
        self.team_matches = []
        self._team_people = None
        self.message_key = "participant_added"
        self._autosave()
        return True

    # -- training ---------------------------------------------------------------------------
    @property
    def event_days(self) -> int:
        days = self._clean.get("event_days")
        return max(1, min(10, int(days))) if isinstance(days, int | float) else 1

    def toggle_attendance(self, index: int, day: int) -> None:
        self.toggle_choice("attendance", f"day{day}", repeat="participants", index=index)

    def summary(self) -> Any:
        return event_summary(self._clean, self.event_days)


@dataclass(frozen=True)
class MergeRow:
    """One difference to choose on: what it is and both answers, in words."""

    key: str
    label: str
    mine: str
    theirs: str


@dataclass(frozen=True)
class MergeAddition:
    """A repeat entry only the other version has: who (when the team shares it) and its
    statistical answers, in words."""

    key: str
    label: str
    summary: str


@ft.observable
@dataclass
class MergeSession:
    """The merge screen of a record in conflict: the differences with the other version and
    the side picked for each (see `fieldapp.forms.merge`)."""

    offer: MergeOffer
    spec: FormSpec
    lang: str
    choices: dict[str, Side] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.choices = {**self.offer.proposal.default_choices(), **self.choices}

    @property
    def office_only_details(self) -> bool:
        return self.offer.proposal.office_only_details

    def choose(self, key: str, side: str) -> None:
        if key not in self.choices:
            raise ValueError(f"{key}: not a difference between these two versions")
        if side not in ("mine", "theirs"):
            raise ValueError(f"{key}: choose 'mine' or 'theirs', not {side!r}")
        self.choices = {**self.choices, key: "mine" if side == "mine" else "theirs"}

    def toggle(self, key: str) -> None:
        """Add an entry only the other version has, or leave it out again."""
        self.choose(key, "mine" if self.choices.get(key) == "theirs" else "theirs")

    def rows(self) -> list[MergeRow]:
        """Every difference: the field's label (a repeat entry's: its section and who), and
        both answers as choice labels in the person's language."""
        rows = []
        for difference in self.offer.proposal.differences:
            node = self.spec.node(difference.name)
            assert isinstance(node, FieldSpec)
            label = self.spec.label(node.label, self.lang) or node.name
            if difference.repeat is not None:
                label = f"{self._entry_label(difference.repeat, difference.instance_id)} · {label}"
            rows.append(
                MergeRow(
                    difference.key,
                    label,
                    answer_text(self.spec, node, difference.mine, self.lang),
                    answer_text(self.spec, node, difference.theirs, self.lang),
                )
            )
        return rows

    def additions(self) -> list[MergeAddition]:
        """The entries only the other version has, named where the team roster shares them."""
        found = []
        for instance in self.offer.proposal.new_instances:
            repeat = self.spec.node(instance.repeat)
            assert isinstance(repeat, RepeatSpec)
            name_field = roster_name(repeat)
            name = instance.values.get(name_field or "")
            label = (
                t("merge_add", self.lang, name=name)
                if instance.details_known and isinstance(name, str) and name
                else t("merge_add_unknown", self.lang)
            )
            summary = [
                self._answer(node, instance.values[node.name])
                for node in answer_nodes(repeat.children)
                if isinstance(node, FieldSpec)
                and node.sensitivity == "statistical"
                and node.type != "calculate"
                and node.name in instance.values
            ]
            found.append(MergeAddition(instance.key, label, " · ".join(summary)))
        return found

    def _answer(self, node: FieldSpec, value: Any) -> str:
        """A choice speaks for itself; a yes, a no or a number says what it answers."""
        text = answer_text(self.spec, node, value, self.lang)
        if node.type in ("select_one", "select_multiple"):
            return text
        return f"{self.spec.label(node.label, self.lang) or node.name}: {text}"

    def _entry_label(self, repeat_name: str, instance_id: str | None) -> str:
        """A repeat entry as a person tells it apart: its section and name (or number)."""
        repeat = self.spec.node(repeat_name)
        assert isinstance(repeat, RepeatSpec)
        section = self.spec.label(repeat.label, self.lang) or repeat.name
        instances = self.offer.proposal.mine.get(repeat_name) or []
        for number, instance in enumerate(instances, start=1):
            if isinstance(instance, dict) and instance.get("_id") == instance_id:
                name = instance.get(roster_name(repeat) or "")
                return f"{section} · {name if isinstance(name, str) and name else f'#{number}'}"
        return section


@dataclass(frozen=True)
class EventRow:
    record_id: str
    title: str
    start_date: str
    participants: int
    status: str  # a record's status, or "shared" for an event not yet started here
    shared_key: str | None = None


@ft.observable
@dataclass
class AppState:
    """The whole app: which screen, the device's state, home counters, sync, settings."""

    services: Services
    screen: str = "home"
    lang: str = "en"
    theme: str = "light"
    device: str = "new"
    setup_step: str = "language"
    message_key: str | None = None
    message_params: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    online: bool | None = None
    syncing: bool = False
    progress: tuple[int, int, int] = (0, 0, 0)
    sync_message_key: str | None = None
    sync_message_params: dict[str, Any] = field(default_factory=dict)
    last_sync: str | None = None
    form: FormSession | None = None
    merge: MergeSession | None = None  # the merge screen of the open record in conflict
    records_group: str = "draft"
    records: list[RecordSummary] = field(default_factory=list)
    records_cursors: list[str | None] = field(default_factory=list)
    records_next: str | None = None
    records_total: int = 0
    events: list[EventRow] = field(default_factory=list)
    confirm_wipe: bool = False
    confirm_withdraw: bool = False  # the "withdraw consent and erase" dialog shows
    autolock_minutes: int = 5
    _resume_record: str | None = None
    _resume_screen: str = "home"

    def __post_init__(self) -> None:
        self.lang = self.services.language
        self.theme = self.services.theme
        self.autolock_minutes = self.services.autolock_minutes
        self.device = self.services.device_state
        self.screen = self._start_screen()

    def _start_screen(self) -> str:
        screens = {"new": "setup", "locked": "unlock", "wiped": "wiped", "unreadable": "unreadable"}
        return screens.get(self.device, "home")

    def text(self, key: str, **params: object) -> str:
        return t(key, self.lang, **params)

    @property
    def message(self) -> str | None:
        return (
            None if self.message_key is None else self.text(self.message_key, **self.message_params)
        )

    def say(self, key: str | None, **params: Any) -> None:
        self.message_params = params
        self.message_key = key

    # -- activity and locking ---------------------------------------------------------------
    def touch(self) -> None:
        self.services.touch()

    def check_lock(self) -> bool:
        """Called on a timer: once the store locked itself, forget every decrypted answer."""
        state = self.services.device_state
        if state in ("locked", "wiped") and self.device == "unlocked":
            self.lock(state)
            return True
        return False

    def lock(self, state: str = "locked") -> None:
        if self.form is not None:
            self._resume_record = self.form.record_id
            self._resume_screen = "form" if self.screen == "merge" else self.screen
        self.services.lock()
        self.form = None
        self.merge = None
        self.events = []
        self.records = []
        self.confirm_wipe = False
        self.confirm_withdraw = False
        self.device = state
        self.screen = "unlock" if state == "locked" else "wiped"
        self.say(None)

    def unlock(self, passphrase: str) -> bool:
        try:
            self.services.unlock(passphrase)
        except crypto.WrongPassphrase:
            self.say("wrong_passphrase")
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
        self.services.set_language(lang)
        self.lang = lang
        if self.form is not None:
            self.form.lang = lang
            self.form._recheck()

    def setup_next(self, step: str) -> None:
        self.say(None)
        self.setup_step = step

    def create_device(self, passphrase: str, repeated: str) -> bool:
        try:
            self.services.create(passphrase, repeated)
        except SetupFailed as failed:
            self.say(failed.key, **failed.params)
            return False
        self.device = "unlocked"
        self.setup_step = "server"
        self.say(None)
        return True

    def enrol(self, server_url: str, code: str, fingerprint: str | None = None) -> bool:
        try:
            self.services.enrol(server_url, code, fingerprint)
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
            link = await asyncio.to_thread(self.services.read_enrolment_qr, image)
        except SetupFailed as failed:
            self.say(failed.key, **failed.params)
            return None
        self.say("qr_read")
        return link

    def work_offline(self) -> None:
        self.services.work_offline()
        self.go("home")

    def start_again(self) -> None:
        """After a wipe: back to the first-run screens."""
        self.device = "new"
        self.setup_step = "language"
        self.screen = "setup"

    # -- navigation -------------------------------------------------------------------------
    def go(self, screen: str, *, keep_message: bool = False) -> None:
        self.touch()
        if not keep_message:
            self.say(None)
        self.confirm_wipe = False
        self.confirm_withdraw = False
        self.merge = None
        if screen != "form":
            self.form = None
        if screen == "home":
            self.refresh_home()
        elif screen == "records":
            self.load_records(self.records_group)
        elif screen == "training":
            self.load_events()
        self.screen = screen

    def refresh_home(self) -> None:
        self.counts = self.services.counts()
        self.last_sync = self.services.last_sync_at

    # -- records ----------------------------------------------------------------------------
    def new_record(self, form_id: str) -> None:
        spec = self.services.form(form_id)
        try:
            record = self.services.new_draft(form_id, initial_values(spec))
        except StorageFull:
            self.say("storage_full")
            return
        self.open_record(record.id)

    def open_record(self, record_id: str, *, screen: str = "form") -> None:
        record = self.services.get(record_id)
        spec = self.services.form(record.form_id, record.form_version)
        self.form = FormSession(
            services=self.services,
            spec=spec,
            record_id=record.id,
            lang=self.lang,
            values=record.values,
            status=record.status,
            problems=record.problems,
            saved_at=record.updated_at,
            # a draft goes on from its start; anything else opens on its review (a rejected
            # one with the server's reasons above, each step one "Edit" away)
            step=0 if record.status == "draft" and not record.consent_withdrawn else REVIEW,
            # an event with details opens on its participants, a new one on its details
            tab="participants" if spec.id == TRAINING_FORM and record.values.get("title") else "",
            mine_is_newest=(
                record.status == "conflict" and record.revision == record.server_revision
            )
            or (record.status == "sent" and record.conflict_settled),
            consent_withdrawn=record.consent_withdrawn,
        )
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
        back = "training" if self.form and self.form.spec.id == TRAINING_FORM else "home"
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
            self.services.keep_my_version(self.form.record_id, self.lang)
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
            offer = self.services.merge_offer(self.form.record_id)
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
            self.services.send_merge(merge.offer, merge.choices, self.lang)
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
        self.services.withdraw_consent(self.form.record_id)
        self.say("consent_withdrawn_done")
        self.close_record()
        return True

    def discard(self) -> None:
        if self.form is not None:
            self.services.discard_draft(self.form.record_id)
        self.go("home")

    def load_records(self, group: str, *, after: str | None = None, back: bool = False) -> None:
        if group != self.records_group or (after is None and not back):
            self.records_cursors = []
        self.records_group = group
        page = self.services.list_records(group, after=after, limit=PAGE_SIZE)
        self.records = page.items
        self.records_next = page.next_after
        self.records_total = self.services.count(group)

    def next_records_page(self) -> None:
        if self.records_next is None:
            return
        cursors = [*self.records_cursors, self.records_next]
        self.load_records(self.records_group, after=self.records_next, back=True)
        self.records_cursors = cursors

    def first_records_page(self) -> None:
        self.load_records(self.records_group)

    @property
    def records_offset(self) -> int:
        return len(self.records_cursors) * PAGE_SIZE

    @staticmethod
    def is_superseded(item: RecordSummary) -> bool:
        """A sent record listed with problems is one the office set aside for another
        device's version: the store clears a record's problems when it is finalised or
        accepted, and only `Store.conflict_resolved` leaves one on a `sent` record."""
        return item.status == "sent" and item.problem_count > 0

    def form_title(self, form_id: str) -> str:
        try:
            spec = self.services.form(form_id)
        except FieldappError:
            return form_id
        return spec.label(spec.title, self.lang)

    def record_line(self, item: RecordSummary, limit: int = 3) -> str:
        """A few of a record's clear (statistical) answers in words, in form order: enough
        to tell records apart in a list without decrypting anything."""
        try:
            spec = self.services.form(item.form_id, item.form_version)
        except FieldappError:
            return ""
        words: list[str] = []
        for node in answer_nodes(spec.children):
            value = item.stats.get(node.name)
            if not isinstance(node, FieldSpec) or value in (None, "", []):
                continue
            if node.type == "select_one":
                words.append(spec.choice_label(node.choices or "", str(value), self.lang))
            elif node.type in ("date", "integer"):
                words.append(str(value))
            if len(words) == limit:
                break
        return " · ".join(words)

    # -- training ---------------------------------------------------------------------------
    def load_events(self) -> None:
        rows = []
        for record in self.services.events():
            values = record.values
            rows.append(
                EventRow(
                    record_id=record.id,
                    title=str(values.get("title") or "—"),
                    start_date=str(values.get("start_date") or ""),
                    participants=len(values.get("participants") or []),
                    status=record.status,
                )
            )
        started = {(row.title, row.start_date) for row in rows}
        for key, data in sorted(self.services.shared_events().items()):
            title = str(data.get("title") or key)
            start_date = str(data.get("start_date") or "")
            if (title, start_date) not in started:  # already being registered here
                rows.append(EventRow("", title, start_date, 0, "shared", shared_key=key))
        self.events = rows

    def open_shared_event(self, key: str) -> None:
        """Start the register of an event the office shared, its details filled in."""
        data = self.services.shared_events().get(key)
        if data is None:
            self.load_events()
            return
        spec = self.services.form(TRAINING_FORM)
        fields = {n.name for n in answer_nodes(spec.children) if isinstance(n, FieldSpec)}
        known = {name: value for name, value in data.items() if name in fields}
        try:
            record = self.services.new_draft(TRAINING_FORM, {**initial_values(spec), **known})
        except StorageFull:
            self.say("storage_full")
            return
        self.open_record(record.id)

    # -- sync -------------------------------------------------------------------------------
    def on_progress(self, done: int, total: int, sent_bytes: int) -> None:
        self.progress = (done, total, sent_bytes)

    def on_monitor(self, online: bool | None, running: bool, last_sync: datetime | None) -> None:
        self.online = online
        if running != self.syncing and not running:
            self.refresh_after_sync()
        self.syncing = running
        if last_sync is not None:
            self.last_sync = last_sync.isoformat()

    def sync_now(self) -> None:
        """Blocking: call from a worker thread. Progress and outcome land in this state."""
        self.touch()
        self.syncing = True
        self.progress = (0, 0, 0)
        self.sync_message_key = "syncing"
        try:
            outcome = self.services.sync_now()
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
            return
        self.refresh_home()
        if self.screen == "records":
            self.load_records(self.records_group)

    # -- settings ---------------------------------------------------------------------------
    def set_theme(self, theme: str) -> None:
        self.services.set_theme(theme)
        self.theme = theme

    def set_autolock(self, minutes: int) -> None:
        self.services.set_autolock_minutes(minutes)
        self.autolock_minutes = minutes
        self.touch()

    def ask_wipe(self, ask: bool = True) -> None:
        self.confirm_wipe = ask

    def wipe(self) -> None:
        self.services.wipe()
        self.form = None
        self.records = []
        self.events = []
        self.confirm_wipe = False
        self.device = "wiped"
        self.screen = "wiped"
