"""One record being filled: raw answers as typed, live errors, wizard steps, autosave, repeat
entries, and the team's participants for a roster repeat.

A change is judged once (`fieldapp.forms.validate.check`, fully, in the person's language):
its clean values are what the store saves as the draft, and its errors what the screen
shows, a missing answer only where the person already tried to go on.
"""

from __future__ import annotations

import uuid
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import flet as ft

from fieldapp.errors import StorageFull
from fieldapp.forms.ages import derived_ages
from fieldapp.forms.expr import ExpressionError, Options, parse
from fieldapp.forms.lookups import choice_instances, choice_names
from fieldapp.forms.repeat_counts import evaluate, fit_counted_repeats
from fieldapp.forms.spec import (
    FieldSpec,
    FormSpec,
    Labels,
    Node,
    answer_nodes,
)
from fieldapp.forms.titles import record_title
from fieldapp.forms.validate import Checked, check
from fieldapp.i18n import Words
from fieldapp.ui.formats import localised_words
from fieldapp.ui.messages import MessageKey
from fieldapp.ui.services import (
    PERSON_FIELDS,
    VICTIM_FORM,
    ParticipantMatch,
    Services,
    Status,
    ValidationFailed,
    match_participants,
)
from fieldapp.ui.state.shown_errors import ShownErrors
from fieldapp.ui.state.steps import (
    JumpQuestion,
    JumpStep,
    Step,
    answer_names,
    build_steps,
    is_relevant,
    questions,
    root_name,
)

__all__ = ["REVIEW", "SUPERSEDED", "FormSession"]

REVIEW = -1  # FormSession.step while the review screen shows
SUPERSEDED = "superseded"  # the problem code the store gives a copy the office set aside
CONSENT_FIELD = "consent_record"  # the answer that says consent to record was given
MINOR_FIELD = "is_minor"  # the calculation that raises the child-protection prompt


@ft.observable
@dataclass
class FormSession:
    """One record being filled: raw answers as typed, live errors, steps, autosave."""

    services: Services
    spec: FormSpec
    record_id: str
    lang: str
    values: dict[str, Any]
    status: Status = "draft"
    step: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    message_key: MessageKey | None = None
    editing: tuple[str, int] | None = None  # (repeat name, instance index) being edited
    problems: list[dict[str, Any]] = field(default_factory=list)  # the server's, if rejected
    saved_at: str | None = None
    finalised: bool = False
    # This version is the server's newest, another one is kept for the office to check: a
    # conflict flagged elsewhere, or one settled here (kept or merged) and sent.
    mine_is_newest: bool = False
    consent_withdrawn: bool = False  # personal details erased: shown, never edited again
    sent_back: str | None = None  # the office's comment, when it sent this record back
    team_query: str = ""  # the search of the team's participants, as typed
    team_matches: list[ParticipantMatch] = field(default_factory=list)
    # False until the first answer is typed: only then is the draft written (an opened and
    # abandoned form leaves nothing behind); `record_id` is "" until then.
    created: bool = True
    made_here: bool = False  # this session wrote the draft's first version
    on_server: bool = False  # the server holds a version of it (sent, receipted)
    back_to_review: bool = False  # this step was opened by "Edit" on the review
    jumping: bool = False  # the jump list (every step and question) shows
    key: str = field(default_factory=lambda: str(uuid.uuid4()))  # this session, for the UI
    _opened_with: dict[str, Any] = field(default_factory=dict)  # the answers it opened with
    _team_people: list[ParticipantMatch] | None = None  # decrypted once per search
    _checked: Checked = field(default_factory=lambda: Checked(values={}, errors=[]))
    _shown: ShownErrors = field(init=False)  # which of the judged errors show
    _lookups_cache: tuple[str, Options] | None = None

    def __post_init__(self) -> None:
        self._steps = build_steps(self.spec)
        self._shown = ShownErrors(self.spec, self._steps)
        self._opened_with = dict(self.values)
        self._recheck()
        if self.step != REVIEW and self.step not in self.visible_steps():
            later = [i for i in self.visible_steps() if i > self.step]
            self.step = later[0] if later else REVIEW

    # -- reading ----------------------------------------------------------------------------
    @property
    def steps(self) -> list[Step]:
        return self._steps

    @property
    def clean(self) -> dict[str, Any]:
        """Answers as validation reads them: typed, calculated, irrelevant ones dropped."""
        return self._checked.values

    def visible_steps(self) -> list[int]:
        """The steps to go through: relevant, and with at least one relevant question (a step
        whose every question is skipped, or that holds only notes, is not shown)."""
        env = ChainMap(self.clean)
        options = self._lookups()
        return [
            i
            for i, s in enumerate(self._steps)
            if is_relevant(s.relevant, env, **options) and questions(s.nodes, env, options)
        ]

    def relevant(self, node: Node, instance: Mapping[str, Any] | None = None) -> bool:
        env = ChainMap(self.clean) if instance is None else ChainMap(dict(instance), self.clean)
        return is_relevant(node.relevant, env, **self._lookups())

    def _lookups(self) -> Options:
        """The form's choice lists (instance('list')/...) and labels (jr:choice-name), in
        the person's language, as validation gives them; built once per language."""
        if self._lookups_cache is None or self._lookups_cache[0] != self.lang:
            options: Options = {
                "instances": choice_instances(self.spec, self.lang),
                "choice_names": choice_names(self.spec, self.lang),
            }
            self._lookups_cache = (self.lang, options)
        return self._lookups_cache[1]

    def clean_instance(self, repeat: str, index: int) -> dict[str, Any]:
        """The clean values of one repeat instance, matched by `_id`."""
        raw = self.instances(repeat)
        if index >= len(raw):
            return {}
        wanted = raw[index].get("_id")
        for instance in self.clean.get(repeat) or []:
            if instance.get("_id") == wanted:
                return dict(instance)
        return {}

    def instances(self, repeat: str) -> list[dict[str, Any]]:
        return list(self.values.get(repeat) or [])

    @property
    def words(self) -> Words:
        """The app's words in the person's language, numbers in its digits
        (`_ = form.words; _("Step {n} of {total}", n=2, total=8)` -> "الخطوة ٢ من ٨")."""
        return localised_words(self.lang)

    def label(self, labels: Labels, fallback: str = "") -> str:
        return self.spec.label(labels, self.lang) or fallback

    @property
    def child_alert(self) -> bool:
        """A calculated `is_minor` is true from answers that are right: the child-protection
        referral prompt shows. A wrong answer it reads (a date of birth in the future) is an
        error of its own, never a child."""
        if self.clean.get(MINOR_FIELD) is not True:
            return False
        try:
            node = self.spec.node(MINOR_FIELD)
            reads = parse(node.calculation or "").references if isinstance(node, FieldSpec) else ()
        except (KeyError, ExpressionError):
            reads = frozenset()
        return not any(root_name(path) in reads for path in self._shown.wrong(self._checked))

    @property
    def derived(self) -> set[str]:
        """The answers that follow from others (an age from the date of birth, an age band
        from the age): shown, not asked."""
        return set(derived_ages(self.spec, self.clean, date.today()))

    @property
    def record_title(self) -> str:
        """The record's name: its case code or the form's `instance_name`, else the form's."""
        return record_title(self.spec, self.clean) or self.title

    @property
    def abandoned(self) -> bool:
        """A draft this session started and whose every answer was taken back: leaving it
        leaves nothing behind."""
        return self.made_here and self.status == "draft" and not self.answered

    @property
    def answered(self) -> bool:
        """Something was typed beyond what the form opened with (defaults, known details)."""
        return _answers(self.spec, self.values) != _answers(self.spec, self._opened_with)

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
        """A victim record whose consent was given, and of which the server holds a version,
        offers "Withdraw consent and erase" (until it is done). A record that never left the
        device is simply not sent (or discarded); one without consent holds nothing to erase."""
        return (
            self.spec.id == VICTIM_FORM
            and not self.consent_withdrawn
            and self.on_server
            and "yes" in (self.clean.get(CONSENT_FIELD), self._opened_with.get(CONSENT_FIELD))
        )

    @property
    def superseded_note(self) -> str | None:
        """Why this record is no longer the one the office holds, in the user's language:
        the office settled a conflict for another device's version (see
        `Conflicts.resolved` in the store); None when it did not."""
        if any(p.get("code") == SUPERSEDED for p in self.problems):
            _ = self.words
            return _(
                "The office kept another version of this record. Yours is kept on this"
                " device; any edit you make now builds on the office's version."
            )
        return None

    def step_errors(self, index: int) -> dict[str, str]:
        names = answer_names(self._steps[index].nodes)
        return {p: m for p, m in self.errors.items() if root_name(p) in names}

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
        if repeat is None:
            self._derive()

    def _derive(self) -> None:
        """Put in the answers that follow from the others (the age from the date of birth,
        the age band from the age): they can never disagree."""
        derived = derived_ages(self.spec, self.clean, date.today())
        changed = {k: v for k, v in derived.items() if self.values.get(k) != v}
        if changed:
            self.values = {**self.values, **changed}
            self._autosave()
        # a repeat counted by an answer gets that many entries (repeat_counts.py)
        lookups = self._lookups()
        fitted = fit_counted_repeats(
            self.spec, self.values, self.clean, lambda src, env: evaluate(src, env, **lookups)
        )
        if fitted is not None:
            self.values = fitted
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

    def set_language(self, lang: str) -> None:
        """The person chose another language: the errors are said in it."""
        self.lang = lang
        self._recheck()

    def ensure_draft(self) -> str:
        """The record's id, its draft written first if nothing was typed yet: a photo is
        kept under its record from the moment it is taken. "" when the device is full."""
        self._autosave(force=True)
        return self.record_id

    def _autosave(self, *, force: bool = False) -> None:
        """Every change is judged, then written at once as an encrypted draft (the store
        saves the judged values as they are): a dead battery loses nothing.

        On a full device the change stays on screen (the draft as last saved) and the next
        change after space is freed saves it all."""
        self._recheck()
        if not self.created and not self.answered and not force:
            return  # nothing typed yet: no draft
        try:
            if self.created:
                record = self.services.records.save_draft(self.record_id, self._checked)
            else:
                record = self.services.records.new_draft(self.spec.id, self._checked.values)
                self.record_id, self.created, self.made_here = record.id, True, True
                # the metadata the store stamped (when it was opened) joins the answers
                stamped = {k: v for k, v in record.values.items() if _is_metadata(self.spec, k)}
                self.values = {**stamped, **self.values}
                self._checked = Checked(
                    values={**stamped, **self._checked.values}, errors=self._checked.errors
                )
        except StorageFull:
            self.message_key = "storage_full"
            return
        if self.message_key == "storage_full":
            self.message_key = None
        self.status = record.status
        self.saved_at = record.updated_at
        self.finalised = False

    def _recheck(self) -> None:
        """One validation of the answers: their clean values, and the errors to show."""
        self._checked = check(self.spec, self.values, lang=self.lang)
        self.errors = self._shown.shown(self._checked, self.editing)

    # -- moving -----------------------------------------------------------------------------
    def next(self) -> bool:
        """Go on if this step is complete; otherwise show every problem next to its field."""
        if self.reviewing:
            return False
        self._shown.tried_steps.add(self.step)
        self._recheck()
        if self.step_errors(self.step):
            first = self._steps[self.step].name
            self.message_key = "consent_first" if first == "consent" else "fix_errors"
            return False
        self.message_key = None
        later = [i for i in self.visible_steps() if i > self.step]
        self._move(later[0] if later else REVIEW)
        return True

    def back(self) -> None:
        self.message_key = None
        visible = self.visible_steps()
        if self.reviewing:
            self._move(visible[-1] if visible else 0)
            return
        earlier = [i for i in visible if i < self.step]
        if earlier:
            self._move(earlier[-1])

    def go_to(self, index: int) -> None:
        """Open a step (or the review, `REVIEW`); from the review, "Edit" comes back to it
        with one tap ("Back to review")."""
        self.message_key = None
        self.editing = None
        came_from_review = self.reviewing and index != REVIEW
        self._move(index)
        self.back_to_review = came_from_review

    def edit_step(self, index: int) -> None:
        """ "Edit" on the review: that step, and a button straight back to the review."""
        self.go_to(index)
        self.back_to_review = True

    def go_to_end(self) -> None:
        """Straight to the review (ODK Collect's "Go to end"): what is missing shows there."""
        self.go_to(REVIEW)

    def show_jumps(self, show: bool = True) -> None:
        self.jumping = show

    def jump(self, index: int) -> None:
        """A step picked in the jump list."""
        self.jumping = False
        self.go_to(index)

    def _move(self, step: int) -> None:
        self.step = step
        self.jumping = False
        if step == REVIEW:
            self.back_to_review = False
        if self.created and self.status == "draft":
            self.services.records.remember_step(self.record_id, self._step_name(step))

    def _step_name(self, step: int) -> str:
        return "" if step == REVIEW else self._steps[step].name

    def step_named(self, name: str | None) -> int | None:
        """The index of the step called `name` (a remembered one), if the form has it."""
        if name == "":
            return REVIEW
        return next((i for i, s in enumerate(self._steps) if s.name == name), None)

    def jump_list(self) -> list[JumpStep]:
        """Every step shown and its questions, each answered, unanswered or wrong (ODK
        Collect's hierarchy view): a tap goes to the step."""
        env = ChainMap(self.clean)
        wrong = {root_name(p) for p in [*self._shown.wrong(self._checked), *self.errors]}
        out: list[JumpStep] = []
        for index in self.visible_steps():
            step = self._steps[index]
            listed = tuple(
                JumpQuestion(
                    node.name,
                    self.label(node.label, node.name),
                    "error"
                    if node.name in wrong
                    else "answered"
                    if self.clean.get(node.name) not in (None, "", [])
                    else "unanswered",
                )
                for node in questions(step.nodes, env, self._lookups())
            )
            out.append(
                JumpStep(index, self.label(step.label, step.name), listed, index == self.step)
            )
        return out

    def finalise(self) -> bool:
        """Validate everything and finalise; on problems jump to the first step that has one."""
        if not self.created:  # "Go to end" and "Finalise" before typing: say what is missing
            try:
                record = self.services.records.new_draft(self.spec.id, self._checked.values)
            except StorageFull:
                self.message_key = "storage_full"
                return False
            self.record_id, self.created, self.made_here = record.id, True, True
        try:
            record = self.services.records.finalise(self.record_id, self.values, self.lang)
        except StorageFull:
            self.message_key = "storage_full"
            return False
        except ValidationFailed as failed:
            self._shown.tried_steps |= set(range(len(self._steps)))
            self._recheck()
            self.errors = {**self.errors, **{e.path: e.message for e in failed.errors}}
            roots = {root_name(e.path) for e in failed.errors}
            for index in self.visible_steps():
                if roots & answer_names(self._steps[index].nodes):
                    self._move(index)
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
        self._shown.tried_instances.clear()
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
        self._shown.tried_instances.add((repeat, index))
        self._recheck()
        if any(p.startswith(f"{repeat}[{index}].") for p in self.errors):
            self.message_key = "fix_errors"
            return False
        self._shown.tried_instances.discard((repeat, index))
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
        return self.services.team.search_available

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
            self._team_people = self.services.team.participants(exclude_record=self.record_id)
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


def _is_metadata(spec: FormSpec, name: str) -> bool:
    try:
        node = spec.node(name)
    except KeyError:
        return False
    return isinstance(node, FieldSpec) and node.metadata is not None


def _answers(spec: FormSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """The answers a person gave: without the metadata the app stamps itself."""
    return {k: v for k, v in values.items() if not _is_metadata(spec, k)}
