"""What expressions read besides the answers, taken from a form: its choice lists as secondary
instances (`instance('list')/root/item[...]`) and the labels of `jr:choice-name()`."""

from __future__ import annotations

from fieldapp.forms.geojson import is_geojson
from fieldapp.forms.spec import FieldSpec, FormSpec, GroupSpec, Node, RepeatSpec


def choice_instances(spec: FormSpec, lang: str) -> dict[str, list[dict[str, str]]]:
    """Each choice list as rows with its extra columns, `name` (the value) and `label` (in
    `lang`), as pyxform makes a list (or an attached CSV: `pulldata`) a secondary instance;
    a GeoJSON file's items hold the feature's children only, as ODK Collect reads them
    (`fieldapp.forms.geojson`: its `name` property, or none, is the item's `name`)."""
    features = {n for n, ref in spec.attachments.items() if is_geojson(ref.file)}
    return {
        list_name: [
            dict(choice.columns)
            if list_name in features
            else {**choice.columns, "name": choice.value, "label": spec.label(choice.label, lang)}
            for choice in choices
        ]
        for list_name, choices in spec.choices.items()
    }


def choice_names(spec: FormSpec, lang: str) -> dict[str, dict[str, str]]:
    """For every select question: its choices' labels in `lang`, by value."""
    names: dict[str, dict[str, str]] = {}
    for field in _fields(spec.children):
        if field.choices:
            names[field.name] = {
                choice.value: spec.label(choice.label, lang)
                for choice in spec.choices.get(field.choices, [])
            }
    return names


def _fields(nodes: list[Node]) -> list[FieldSpec]:
    found: list[FieldSpec] = []
    for node in nodes:
        if isinstance(node, GroupSpec | RepeatSpec):
            found.extend(_fields(node.children))
        elif isinstance(node, FieldSpec):
            found.append(node)
    return found
