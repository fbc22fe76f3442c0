"""The imported FormSpec side by side with pyxform's own conversion of the same workbook
(`convert(...)._pyxform`, the JSON pyxform builds its XForm from): every difference found in
fields, types, required, relevant, constraints, labels and hints in every language, constraint
messages, defaults and choices, as one line each. Explained, so not counted: a type the app
has no widget for imported as typed text (typed_text.py), its format check joined to the
form's constraint. Explained too, each only with the importer's warning for it where
something differs for the user: pyxform's old type spellings (`string`, `int`); the note and
header select pyxform generates for a `table-list` group (drawn here as a plain group); the
calculate pyxform generates for a constant repeat_count (a fixed number of instances here);
a select default that is none of its list's choices (the question starts empty here)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from fieldapp.forms.spec import METADATA_TYPES, FieldSpec, FormSpec, GroupSpec, Node, RepeatSpec
from fieldapp.office.xlsform.question_types import MEDIA_QUESTION_TYPES, METADATA_ALIASES
from fieldapp.office.xlsform.typed_text import TYPED_TEXT
from fieldapp.office.xlsform.workbook import language_code

_TYPES = {
    **METADATA_TYPES,  # pyxform's type for a metadata is its name: ours is text, date...
    **{alias: METADATA_TYPES[name] for alias, name in METADATA_ALIASES.items()},  # uri:deviceid
    **MEDIA_QUESTION_TYPES,  # a photo is an image here; a video is picked as a file
    "select one": "select_one",
    "select all that apply": "select_multiple",
    "acknowledge": "boolean",
    "trigger": "boolean",
    "dateTime": "datetime",
    "phone number": "text",
    "string": "text",  # pyxform's old spellings, the same question
    "int": "integer",
}
_TABLE_LIST = ("generated_table_list_label_", "reserved_name_for_field_list_labels_")
_TABLE_LIST_WARNING = "appearance 'table-list' is not drawn"
_TRUE = {"yes", "true", "true()", "1"}
_CURLY = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})  # pyxform straightens them
_OR_OTHER = re.compile(r"selected\(\.\./([\w.-]+),")


def pyxform_json(path: Path) -> dict[str, Any]:
    from pyxform.xls2xform import convert

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert(xlsform=str(path), validate=False, warnings=[])._pyxform  # type: ignore[no-any-return]


def differences(path: Path, spec: FormSpec) -> list[str]:
    data = pyxform_json(path)
    out: list[str] = []
    _compare_children(data.get("children", []), spec.children, spec, "", out)
    for list_name, choices in (data.get("choices") or {}).items():
        ours = spec.choices.get(list_name)
        if ours is None:
            out.append(f"choices {list_name}: missing")
            continue
        if [c["name"] for c in choices] != [c.value for c in ours]:
            out.append(f"choices {list_name}: values differ")
            continue
        for theirs, mine in zip(choices, ours, strict=True):
            where = f"choices {list_name}/{mine.value}"
            _labels(where, "label", theirs.get("label"), mine.label, spec, out)
    return out


def _compare_children(
    theirs: list[dict[str, Any]], ours: list[Node], spec: FormSpec, path: str, out: list[str]
) -> None:
    theirs = [t for t in theirs if not (t.get("name") == "meta" and t.get("type") == "group")]
    theirs = _without_repeat_counts(theirs, ours, out)
    if len(theirs) != len(ours):
        names = [t.get("name") for t in theirs], [n.name for n in ours]
        out.append(f"{path or '/'}: {len(theirs)} children in pyxform, {len(ours)} here {names}")
        return
    for element, node in zip(map(_loop_expanded, theirs), ours, strict=True):
        where = f"{path}/{node.name}"
        if isinstance(node, GroupSpec | RepeatSpec):
            kind = "repeat" if isinstance(node, RepeatSpec) else "group"
            if element.get("type") != kind:
                out.append(f"{where}: {element.get('type')} in pyxform, {kind} here")
            _expression(
                where, "relevant", element.get("bind", {}).get("relevant"), node.relevant, out
            )
            children = element.get("children", [])
            label = element.get("label")
            generated = _table_list_generated(children)
            if generated and _TABLE_LIST_WARNING in " ".join(spec.import_warnings):
                # pyxform moves the group's label to a generated note, above a select drawing
                # the choices' header: here a plain group, its label kept, with a warning
                label = children[0].get("label") if generated == 2 else label
                children = children[generated:]
            _labels(where, "label", label, node.label, spec, out)
            _compare_children(children, node.children, spec, where, out)
        else:
            _compare_field(element, node, spec, where, out)


def _compare_field(
    element: dict[str, Any], node: FieldSpec, spec: FormSpec, where: str, out: list[str]
) -> None:
    kind = _TYPES.get(element.get("type", ""), element.get("type"))
    bind = element.get("bind", {})
    constraint = node.constraint
    if kind in TYPED_TEXT and node.type == "text":  # explained: typed text, its format checked
        check = TYPED_TEXT[kind][0]
        if check and constraint and constraint.startswith(check):
            constraint = constraint.removeprefix(check).removeprefix(" and ") or None
            constraint = constraint[1:-1] if constraint else None  # "(the form's own)"
    elif kind != node.type and not (kind == "image" and node.type == "signature"):
        # a photo with a signature appearance is a signature pad here
        out.append(f"{where}: type {element.get('type')!r} in pyxform, {node.type!r} here")
    required = str(bind.get("required", "")).strip()
    theirs: bool | str = (
        required.lower() in _TRUE
        if required.lower() in _TRUE | {"", "no", "false", "false()", "0"}
        else required
    )
    if theirs != node.required and not (isinstance(theirs, str) and isinstance(node.required, str)):
        out.append(f"{where}: required {theirs!r} in pyxform, {node.required!r} here")
    _expression(where, "relevant", bind.get("relevant"), node.relevant, out)
    _expression(where, "constraint", bind.get("constraint"), constraint, out)
    if node.type == "calculate" or node.calculation:  # a trigger's is warned, not kept
        _expression(where, "calculation", bind.get("calculate"), node.calculation, out)
    _labels(where, "label", element.get("label"), node.label, spec, out)
    _labels(where, "hint", element.get("hint"), node.hint, spec, out)
    _labels(
        where,
        "constraint message",
        bind.get("jr:constraintMsg"),
        node.constraint_message,
        spec,
        out,
    )
    default = element.get("default")
    if default is not None and node.default is not None:
        mine = " ".join(node.default) if isinstance(node.default, list) else str(node.default)
        if str(default) != mine and _number(default) != _number(mine):
            out.append(f"{where}: default {default!r} in pyxform, {node.default!r} here")
    elif default is not None and node.default is None and not _unknown_default(node, spec, default):
        out.append(f"{where}: default {default!r} in pyxform, none here")
    if node.choices and element.get("list_name") and element["list_name"] != node.choices:
        out.append(f"{where}: choices {element['list_name']!r} in pyxform, {node.choices!r} here")


def _loop_expanded(element: dict[str, Any]) -> dict[str, Any]:
    """A `begin loop` as pyxform's builder expands it into the XForm: a group, and in it a
    group per choice (but `none`) holding the loop's questions, substituted by pyxform's own
    `_name_and_label_substitutions`."""
    if element.get("type") != "loop":
        return element
    from pyxform.builder import SurveyElementBuilder

    substitute = SurveyElementBuilder._name_and_label_substitutions
    groups = [
        {
            "type": "group",
            "name": column["name"],
            "label": column.get("label"),
            "children": [substitute(child, column) for child in element.get("children", [])],
        }
        for column in element.get("columns", [])
        if column["name"] != "none"
    ]
    return {**element, "type": "group", "children": groups}


def _table_list_generated(children: list[dict[str, Any]]) -> int:
    """How many children pyxform generated for a table-list group: the note holding the
    group's label (when it has one) and the select drawing the choices' header."""
    names = [str(c.get("name", "")) for c in children[:2]]
    if names[:1] and names[0].startswith(_TABLE_LIST[1]):
        return 1
    if len(names) == 2 and all(n.startswith(p) for n, p in zip(names, _TABLE_LIST, strict=True)):
        return 2
    return 0


def _without_repeat_counts(
    theirs: list[dict[str, Any]], ours: list[Node], out: list[str]
) -> list[dict[str, Any]]:
    """Without the calculate pyxform generates for a repeat_count that is a number: it is
    that repeat's fixed number of instances here (min_count = max_count), compared."""
    repeats = {n.name: n for n in ours if isinstance(n, RepeatSpec)}
    counted = {
        str(t.get("control", {}).get("jr:count")): repeats.get(str(t.get("name")))
        for t in theirs
        if t.get("type") == "repeat"
    }
    kept = []
    for element in theirs:
        repeat = counted.get(f"${{{element.get('name')}}}")
        count = _number(element.get("bind", {}).get("calculate"))
        if element.get("type") != "calculate" or repeat is None or count is None:
            kept.append(element)
        elif not repeat.min_count == repeat.max_count == count:
            out.append(f"/{repeat.name}: count {count:g} in pyxform, {repeat.min_count} here")
    return kept


def _unknown_default(node: FieldSpec, spec: FormSpec, default: Any) -> bool:
    """A select's default that is none of its list's choices, dropped with the warning."""
    if node.type not in ("select_one", "select_multiple") or not node.choices:
        return False
    values = str(default).split() if node.type == "select_multiple" else [str(default)]
    known = {c.value for c in spec.choices.get(node.choices, [])}
    unknown = " ".join(v for v in values if v not in known)
    warning = f"default {unknown!r} is not a choice of list {node.choices!r}"
    return bool(unknown) and any(warning in w for w in spec.import_warnings)


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _expression(where: str, what: str, theirs: Any, ours: str | None, out: list[str]) -> None:
    # pyxform's or_other question refers to its select by a relative path
    theirs = _OR_OTHER.sub(r"selected(${\1},", str(theirs)) if theirs else None
    theirs = theirs.translate(_CURLY).strip() if theirs else None
    mine = ours.strip() if ours else None
    if theirs != mine and not (
        theirs and mine and " ".join(theirs.split()) == " ".join(mine.split())
    ):
        out.append(f"{where}: {what} {theirs!r} in pyxform, {mine!r} here")


def _labels(
    where: str, what: str, theirs: Any, ours: dict[str, str], spec: FormSpec, out: list[str]
) -> None:
    if theirs is None:
        texts: dict[str, str] = {}
    elif isinstance(theirs, dict):
        texts = {
            spec.default_language if lang == "default" else language_code(lang): str(text)
            for lang, text in theirs.items()
            if str(text).strip()
        }
    else:
        texts = {spec.default_language: str(theirs)}
    mine = {lang: text for lang, text in ours.items() if text.strip()}
    if {k: v.strip() for k, v in texts.items()} != {k: v.strip() for k, v in mine.items()}:
        out.append(f"{where}: {what} {texts!r} in pyxform, {mine!r} here")
