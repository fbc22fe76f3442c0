"""`begin loop over LIST`: the group pyxform repeats once per choice of a list.

pyxform expands it (builder.py `_create_loop_from_dict`) into a group named as the loop
holding, for every choice but `none`, a group named and labelled as the choice, holding a copy
of the loop's questions in which `%(name)s` and `%(label)s` (and any column of the choice)
are replaced by the choice's. The expansion here is the same, names made unique the way the
engine needs them: the copy of `number` for choice `pit` of loop `toilets` is
`toilets_pit_number` (pyxform's path /toilets/pit/number). (A `${number}` inside the loop
is ambiguous for pyxform, which refuses it.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from fieldapp.forms.spec import Choice, GroupSpec, Node, RepeatSpec
from fieldapp.office.xlsform.names import unique_name
from fieldapp.office.xlsform.workbook import Row

__all__ = ["expand_loop", "expanded_loop", "loop_list"]

_BEGIN_LOOP = re.compile(r"^begin[\s_]loop(?: (?:over )?(?P<list>\S+))?$")
_SUBSTITUTION = re.compile(r"%\((\w+)\)s|%%")
_LABELS = ("label", "hint", "constraint_message", "required_message")
_EXPRESSIONS = ("relevant", "constraint", "calculation", "required", "choice_filter", "count")


class _Importer(Protocol):
    names: dict[str, int]
    choices: dict[str, list[Choice]]
    default_language: str

    def add(
        self, sheet: str, row: int | None, column: str | None, feature: str, msg: str
    ) -> None: ...

    def warn(
        self, sheet: str, row: int | None, column: str | None, feature: str, msg: str
    ) -> None: ...


def loop_list(importer: _Importer, row: Row) -> str | None:
    """The list a `begin loop over LIST` row repeats over; None (after a problem, as pyxform
    refuses it) when the row names no list of the choices sheet."""
    match = _BEGIN_LOOP.match(" ".join(row.text("type").split()))
    list_name = match["list"] if match else None
    if list_name not in importer.choices:
        msg = f"'begin loop over LIST' needs a list of the choices sheet, not {list_name!r}"
        importer.add("survey", row.number, row.column("type"), "type:loop", msg)
        return None
    return list_name


def expanded_loop(importer: _Importer, loop: Node, list_name: str, number: int) -> GroupSpec:
    """The loop closed at `number` expanded, its names reserved, with a warning saying so."""

    def reserve(name: str) -> str:
        final = unique_name(name, importer.names)
        importer.names[final] = number
        return final

    assert isinstance(loop, GroupSpec)
    expanded = expand_loop(loop, importer.choices[list_name], reserve, importer.default_language)
    importer.warn("survey", number, "type", "type:loop", _expansion_warning(expanded, list_name))
    return expanded


def expand_loop(
    loop: GroupSpec, choices: list[Choice], unique: Callable[[str], str], default_language: str
) -> GroupSpec:
    """The loop (a group of its template questions) as pyxform expands it; `unique` makes a
    proposed name unique in the form (and reserves it)."""
    groups: list[Node] = []
    for choice in choices:
        if choice.value == "none":  # pyxform skips the "none" of a select_multiple's list
            continue
        prefix = unique(_name_part(f"{loop.name}_{choice.value}"))
        label = choice.label.get(default_language, choice.value)
        columns = {**choice.columns, "name": choice.value, "label": label}
        labels = {language: {**columns, "label": text} for language, text in choice.label.items()}
        children = [
            _substituted(_renamed(child, prefix, unique), labels, columns)
            for child in loop.children
        ]
        groups.append(GroupSpec(name=prefix, label=dict(choice.label), children=children))
    return loop.model_copy(update={"children": groups})


def _expansion_warning(expanded: GroupSpec, list_name: str) -> str:
    """What the user sees of the expansion: a group per choice, and the stored names."""
    first = next((group for group in expanded.children if isinstance(group, GroupSpec)), None)
    example = first.children[0].name if first and first.children else expanded.name
    return (
        f"'begin loop over {list_name}' is expanded as pyxform expands it: one group per choice"
        f" ({len(expanded.children)}), its questions stored under names such as {example!r}"
    )


def _name_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _renamed(node: Node, prefix: str, unique: Callable[[str], str]) -> Node:
    """A copy of `node` (and its descendants) with names made unique under `prefix`."""
    name = unique(f"{prefix}_{node.name}")
    if isinstance(node, GroupSpec | RepeatSpec):
        children = [_renamed(child, prefix, unique) for child in node.children]
        return node.model_copy(update={"name": name, "children": children})
    return node.model_copy(update={"name": name})


def _substituted(
    node: Node, labels: Mapping[str, Mapping[str, str]], columns: Mapping[str, str]
) -> Node:
    """The loop's own question (not its descendants: pyxform substitutes only there) with
    the choice's columns in its texts and expressions."""
    update: dict[str, Any] = {}
    for key in _LABELS:
        texts = getattr(node, key, None)
        if texts:
            update[key] = {
                language: _format(text, labels.get(language, columns))
                for language, text in texts.items()
            }
    for key in _EXPRESSIONS:
        source = getattr(node, key, None)
        if isinstance(source, str):
            update[key] = _format(source, columns)
    return node.model_copy(update=update)


def _format(text: str, values: Mapping[str, str]) -> str:
    """pyxform's `text % choice`: `%(name)s` replaced (a key the choice lacks kept), `%%`
    read as `%`."""
    return _SUBSTITUTION.sub(lambda m: "%" if m[0] == "%%" else str(values.get(m[1], m[0])), text)
