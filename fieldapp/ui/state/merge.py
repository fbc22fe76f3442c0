"""The merge screen of a record in conflict: the differences with the other version, in words,
and the side picked for each (see `fieldapp.forms.merge`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flet as ft

from fieldapp.forms.merge import Side
from fieldapp.forms.spec import FieldSpec, FormSpec, RepeatSpec, answer_nodes, roster_name
from fieldapp.i18n import words
from fieldapp.ui.services import MergeOffer
from fieldapp.ui.state.steps import answer_text

__all__ = ["MergeAddition", "MergeRow", "MergeSession"]


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
    """The differences between this device's version of a record in conflict and the other
    one, and the side picked for each."""

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
        _ = words(self.lang)
        found = []
        for instance in self.offer.proposal.new_instances:
            repeat = self.spec.node(instance.repeat)
            assert isinstance(repeat, RepeatSpec)
            name_field = roster_name(repeat)
            name = instance.values.get(name_field or "")
            label = (
                _("Add {name}", name=name)
                if instance.details_known and isinstance(name, str) and name
                else _("Add this entry (its name and contact details are held by the office)")
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
