"""Merging two versions of a record in conflict from what a field device may see.

The other version's sensitive part is sealed to the organisation: a device cannot open it and
must not try. What it may legitimately see is that version's statistical answers (kept in
clear by the server, as its author signed them) and, for a team roster, the people a team
mate shared under the team key. `propose` lists every difference visible there; the person
picks a side for each; `apply` builds the merged submission, which is then validated like any
other when it is finalised. Whatever else the other version holds stays for the office.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fieldapp.errors import FieldappError
from fieldapp.forms.spec import FieldSpec, FormSpec, RepeatSpec, answer_nodes

__all__ = [
    "FieldDifference",
    "MergeError",
    "MergeProposal",
    "NewInstance",
    "Side",
    "apply",
    "propose",
]

Side = Literal["mine", "theirs"]
_SIDES: tuple[Side, ...] = ("mine", "theirs")


class MergeError(FieldappError):
    """Choices that do not fit the proposal; the message names the choice and the problem."""


@dataclass(frozen=True)
class FieldDifference:
    """A statistical answer that differs between the two versions: a top-level field, or a
    field of the repeat instance `instance_id` that both versions hold."""

    key: str  # the choice's key: `name`, or `repeat[instance id].name`
    name: str
    mine: Any
    theirs: Any
    repeat: str | None = None
    instance_id: str | None = None


@dataclass(frozen=True)
class NewInstance:
    """A repeat instance only the other version holds. `values` has its statistical answers
    and, when the team roster shares this `_id` (`details_known`), the rest of its answers;
    otherwise who it is stays with the office, which can open the other version."""

    key: str  # the choice's key: `repeat[instance id]`
    repeat: str
    instance_id: str
    values: dict[str, Any]
    details_known: bool


@dataclass(frozen=True)
class MergeProposal:
    """Everything a person chooses between; `office_only_details`: the other version has a
    sealed part this device cannot read, so it may differ in ways only the office sees."""

    mine: dict[str, Any]
    differences: tuple[FieldDifference, ...]
    new_instances: tuple[NewInstance, ...]
    office_only_details: bool

    def default_choices(self) -> dict[str, Side]:
        """Keep my answers; add the other version's people whose details the team shares
        (a merge is both versions' participants), not those only the office could name."""
        choices: dict[str, Side] = {d.key: "mine" for d in self.differences}
        for instance in self.new_instances:
            choices[instance.key] = "theirs" if instance.details_known else "mine"
        return choices


def propose(
    spec: FormSpec,
    mine: Mapping[str, Any],
    their_stats: Mapping[str, Any],
    *,
    roster: Mapping[str, Mapping[str, Any]] | None = None,
    their_sealed: bool = True,
) -> MergeProposal:
    """Compare my submission with the other version's statistical answers (`their_stats`, as
    the server holds them) under `spec`, my version's form.

    Top-level statistical fields are compared one by one; repeat instances are matched by
    `_id`: one in both versions is compared field by field, one only in theirs is offered
    for adding, with its other answers from `roster` (instance `_id` -> answers shared by the
    team) when it holds them. Calculated and metadata fields are not offered: the app computes
    them. An instance only in mine stays (the other version may have removed it, or mine
    added it: that is not guessed). `their_sealed`: the other version carries a sealed part.
    """
    team = roster or {}
    differences: list[FieldDifference] = []
    new_instances: list[NewInstance] = []
    for node in answer_nodes(spec.children):
        if isinstance(node, RepeatSpec):
            found, added = _compare_repeat(
                node, mine.get(node.name), their_stats.get(node.name), team
            )
            differences += found
            new_instances += added
        elif _offered(node) and not _same(mine.get(node.name), their_stats.get(node.name)):
            differences.append(
                FieldDifference(
                    node.name, node.name, mine.get(node.name), their_stats.get(node.name)
                )
            )
    sensitive = any(
        isinstance(node, FieldSpec) and node.holds_value and node.sensitivity != "statistical"
        for node in spec.walk()
    )
    return MergeProposal(
        mine=copy.deepcopy(dict(mine)),
        differences=tuple(differences),
        new_instances=tuple(new_instances),
        office_only_details=their_sealed and sensitive,
    )


def apply(proposal: MergeProposal, choices: Mapping[str, str]) -> dict[str, Any]:
    """My submission with the other version's side taken wherever `choices` says `theirs`
    (a new instance is added, after mine). Keys left out keep their default choice; an
    unknown key or side raises MergeError naming it. `proposal` is left as it was."""
    defaults = proposal.default_choices()
    for key, side in choices.items():
        if key not in defaults:
            raise MergeError(f"{key}: not a difference between these two versions")
        if side not in _SIDES:
            raise MergeError(f"{key}: choose 'mine' or 'theirs', not {side!r}")
    picked = {**defaults, **choices}
    merged = copy.deepcopy(proposal.mine)
    for difference in proposal.differences:
        if picked[difference.key] != "theirs":
            continue
        target = merged
        if difference.repeat is not None:
            target = next(
                i
                for i in merged[difference.repeat]
                if isinstance(i, dict) and i.get("_id") == difference.instance_id
            )
        if _empty(difference.theirs):
            target.pop(difference.name, None)
        else:
            target[difference.name] = copy.deepcopy(difference.theirs)
    for instance in proposal.new_instances:
        if picked[instance.key] == "theirs":
            merged[instance.repeat] = [
                *_instances(merged.get(instance.repeat)),
                copy.deepcopy(instance.values),
            ]
    return merged


def _compare_repeat(
    repeat: RepeatSpec,
    mine: Any,
    theirs: Any,
    roster: Mapping[str, Mapping[str, Any]],
) -> tuple[list[FieldDifference], list[NewInstance]]:
    mine_by_id: dict[str, Mapping[str, Any]] = {}
    for instance in _instances(mine):
        if isinstance(instance.get("_id"), str):
            mine_by_id.setdefault(instance["_id"], instance)
    children = answer_nodes(repeat.children)
    differences: list[FieldDifference] = []
    added: list[NewInstance] = []
    seen: set[str] = set()
    for other in _instances(theirs):
        instance_id = other.get("_id")
        if not isinstance(instance_id, str) or instance_id in seen:
            continue  # without an id (or twice) it cannot be matched
        seen.add(instance_id)
        key = f"{repeat.name}[{instance_id}]"
        own = mine_by_id.get(instance_id)
        if own is not None:
            differences += [
                FieldDifference(
                    f"{key}.{child.name}",
                    child.name,
                    own.get(child.name),
                    other.get(child.name),
                    repeat.name,
                    instance_id,
                )
                for child in children
                if isinstance(child, FieldSpec)
                and _offered(child)
                and not _same(own.get(child.name), other.get(child.name))
            ]
            continue
        details = roster.get(instance_id)
        values: dict[str, Any] = {"_id": instance_id}
        for child in children:
            statistical = isinstance(child, FieldSpec) and child.sensitivity == "statistical"
            # The signed statistics are the other version's own; the roster has the rest.
            source = other if statistical or details is None else details
            if not _empty(source.get(child.name)):
                values[child.name] = copy.deepcopy(source[child.name])
        added.append(NewInstance(key, repeat.name, instance_id, values, details is not None))
    return differences, added


def _offered(node: FieldSpec) -> bool:
    """A statistical answer a person gave (the app computes calculations and metadata)."""
    return (
        node.sensitivity == "statistical"
        and node.holds_value
        and node.type != "calculate"
        and node.metadata is None
    )


def _instances(value: Any) -> list[dict[str, Any]]:
    return [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []


def _empty(value: Any) -> bool:
    """An empty answer, however it is stored (absent, None, "", [])."""
    return value is None or (isinstance(value, str | list | dict) and not value)


def _same(mine: Any, theirs: Any) -> bool:
    """The same answer: empty either way, a multiple choice in any order, True never 1."""
    if _empty(mine) or _empty(theirs):
        return _empty(mine) and _empty(theirs)
    if isinstance(mine, bool) or isinstance(theirs, bool):
        return mine is theirs
    if isinstance(mine, list) and isinstance(theirs, list):
        try:
            return sorted(mine) == sorted(theirs)
        except TypeError:
            return bool(mine == theirs)
    return bool(mine == theirs)
