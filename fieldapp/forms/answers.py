"""Answers as a person reads them: a value in words (choice labels in a language, yes or
no), and a whole record as labelled lines in form order, for the review screen, the office's
case files and the command line alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fieldapp.forms.media import MEDIA_TYPES
from fieldapp.forms.spec import FieldSpec, FormSpec, GroupSpec, Node, RepeatSpec
from fieldapp.i18n import words

__all__ = ["AnswerLine", "answer_lines", "answer_text", "display_value"]


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
    _ = words(lang)
    if value is None or value == "" or value == []:
        return "—"
    if node.type == "select_one":
        return spec.choice_label(node.choices or "", str(value), lang)
    if node.type == "select_multiple" and isinstance(value, list):
        return ", ".join(spec.choice_label(node.choices or "", str(v), lang) for v in value)
    if node.type == "boolean":
        return _("Yes") if value else _("No")
    if node.type in MEDIA_TYPES:  # an attachment's id says nothing to a person
        return _("Attached")
    return display_value(value)


@dataclass(frozen=True, slots=True)
class AnswerLine:
    """One answer of a record: the field's `name` (a repeat's path: `group[2]/field`), its
    label in the asked language, the answer in words, and whether it came from the sealed
    (sensitive) part; a repeat instance's heading has `text` None."""

    name: str
    label: str
    text: str | None
    sealed: bool = False


def answer_lines(
    spec: FormSpec,
    values: Mapping[str, Any],
    lang: str,
    *,
    sealed: Mapping[str, Any] | None = None,
    nodes: list[Node] | tuple[Node, ...] | None = None,
) -> list[AnswerLine]:
    """The answers in `values` (a whole record: `fieldapp.forms.values.join_parts` of its
    two parts) in form order, labelled in `lang`; calculations and notes left out. A name in
    `sealed` (the sensitive part, same shape) marks its line as sealed. `nodes`: only these
    (one step's), not the whole form."""
    return _lines(spec, spec.children if nodes is None else nodes, values, sealed or {}, lang, "")


def _lines(
    spec: FormSpec,
    nodes: list[Node] | tuple[Node, ...],
    values: Mapping[str, Any],
    sealed: Mapping[str, Any],
    lang: str,
    prefix: str,
) -> list[AnswerLine]:
    lines: list[AnswerLine] = []
    for node in nodes:
        if isinstance(node, GroupSpec):
            lines.extend(_lines(spec, node.children, values, sealed, lang, prefix))
        elif isinstance(node, RepeatSpec):
            hidden = {i.get("_id"): i for i in sealed.get(node.name) or [] if isinstance(i, dict)}
            label = spec.label(node.label, lang) or node.name
            for n, instance in enumerate(values.get(node.name) or [], start=1):
                path = f"{prefix}{node.name}[{n}]"
                lines.append(AnswerLine(path, f"{label} #{n}", None))
                inner = hidden.get(instance.get("_id"), {})
                lines.extend(_lines(spec, node.children, instance, inner, lang, path + "/"))
        elif node.holds_value and node.type != "calculate" and node.name in values:
            lines.append(
                AnswerLine(
                    prefix + node.name,
                    spec.label(node.label, lang) or node.name,
                    answer_text(spec, node, values[node.name], lang),
                    node.name in sealed,
                )
            )
    return lines
