"""The smallest honest data files for a draft form (one whose CSV/GeoJSON files its source
never published), read from the form itself, and a submission that chooses from them.

Each awaited file gets three rows (or Point features) valued `<list>_1`...: a GeoJSON feature
carries `id`, `title` and every property the form's `instance('list')/root/item[...]/prop`
expressions read (the item's own value for a column a predicate matches, the first choice of
the question a property is calculated into when that question is a select); a CSV carries
`name`, `label`, the columns its `choice_filter`s and `pulldata()` calls read (a filter's
`column = ${question}` holding that question's first choice on the first two rows and its
second on the third, so the filter really filters) and the columns `instance(...)` reads.
Shared by tests/office/test_corpus_drafts.py and bench/xlsform_corpus.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fieldapp.forms.attachments import bind
from fieldapp.forms.choices import visible_choices
from fieldapp.forms.expr import parse_choice_filter
from fieldapp.forms.geojson import is_geojson
from fieldapp.forms.spec import FieldSpec, FormSpec, GroupSpec, Node, RepeatSpec
from fieldapp.forms.validate import Checked, check
from fieldapp.office.xlsform.drafts import attach_files

__all__ = [
    "ROWS",
    "file_lookups",
    "file_selects",
    "filter_pairs",
    "first_choice_submission",
    "given_synthetic_files",
    "synthesise_files",
]

ROWS = 3
_INSTANCE_READ = re.compile(
    r"""instance\(\s*["']([\w.-]+)["']\s*\)/root/item\[([^\]]*)\]/([\w:.-]+)"""
)
_PREDICATE_COLUMN = re.compile(r"([\w:.-]+)\s*=\s*\$\{")
_PULLDATA = re.compile(
    r"""pulldata\(\s*["']([\w.-]+)["']\s*,\s*["']([\w:.-]+)["']\s*,\s*["']([\w:.-]+)["']"""
)
_EQUALS_ANSWER = re.compile(r"([\w:.-]+)\s*=\s*\$\{(\w+)\}|\$\{(\w+)\}\s*=\s*([\w:.-]+)")
_CANDIDATES: dict[str, list[Any]] = {
    "text": ["a", "555 123 4567", "1"],
    "integer": [1, 0, 10, 100, 1000, -1],
    "decimal": [1.0, 0.5, 0.0, 10.0, 100.0, 1000.0],
    "date": ["2026-01-15", "2020-01-15", "2030-01-15"],
    "datetime": ["2026-01-15T10:00:00+00:00"],
    "boolean": [True, False],
    "geopoint": ["-1.28 36.82 0 5"],
}


def _fields(nodes: list[Node]) -> Iterator[FieldSpec]:
    for node in nodes:
        if isinstance(node, GroupSpec | RepeatSpec):
            yield from _fields(node.children)
        else:
            yield node


def file_selects(spec: FormSpec, lists: set[str] | None = None) -> list[FieldSpec]:
    """The select questions whose choices come from a data file (awaited or attached)."""
    lists = lists if lists is not None else set(spec.awaiting_files) | set(spec.attachments)
    return [f for f in _fields(spec.children) if f.choices in lists]


def file_lookups(spec: FormSpec, lists: set[str]) -> list[FieldSpec]:
    """The questions calculated from a row of one of `lists` (`instance('x')/root/item[...]/p`)."""
    return [
        field
        for field in _fields(spec.children)
        if field.calculation
        and any(found[0] in lists for found in _INSTANCE_READ.findall(field.calculation))
    ]


def synthesise_files(spec: FormSpec, folder: Path) -> list[Path]:
    """Write each file `spec` awaits into `folder`, as the form reads it; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, awaited in spec.awaiting_files.items():
        columns = _columns_read(spec, name)
        path = folder / awaited.file
        if is_geojson(awaited.file):
            path.write_text(json.dumps(_collection(name, columns)))
        else:
            path.write_text(_csv(name, columns))
        paths.append(path)
    return paths


def given_synthetic_files(draft: FormSpec, folder: Path) -> FormSpec:
    """The draft made ready with synthesised files, attached as `fieldapp forms attach` does
    (AttachRefused if the checks refuse them) and read as a device reads them; raises
    AssertionError if a file is still awaited."""
    ready, contents = attach_files(draft, synthesise_files(draft, folder))
    assert not ready.awaiting_files, ready.awaiting_files
    return bind(ready, contents)


def _value(name: str, row: int) -> str:
    return f"{name}_{row}"


def _columns_read(spec: FormSpec, name: str) -> dict[str, list[str]]:
    """Each column the form reads of list `name`, with its value on each of the ROWS."""
    values = {row: _value(name, row) for row in range(1, ROWS + 1)}
    columns: dict[str, list[str]] = {}
    for field in _fields(spec.children):
        for source in _expressions(field):
            for instance, predicate, column in _INSTANCE_READ.findall(source):
                if instance != name:
                    continue
                for matched in _PREDICATE_COLUMN.findall(predicate):
                    columns[matched] = list(values.values())  # the item the answer names
                if column not in columns:
                    columns[column] = _calculated_into(spec, field, column)
            for instance, column, key in _PULLDATA.findall(source):
                if instance == name:
                    columns.setdefault(key, list(values.values()))
                    columns.setdefault(column, [f"{column} {row}" for row in values])
        if field.choices == name and field.choice_filter:
            for column, answer in filter_pairs(field.choice_filter):
                columns[column] = _filtered_by(spec, answer)
    # written by the file's own shape: a GeoJSON item has no `name` or `label` but its
    # properties (hotosm's forms match `item[name=...]`), a CSV row has no `id` but its own
    geojson = is_geojson(spec.awaiting_files[name].file)
    for column in ("id", "title", "geometry") if geojson else ("name", "label"):
        columns.pop(column, None)
    return columns


def _expressions(field: FieldSpec) -> list[str]:
    texts = [field.calculation, field.relevant, field.constraint, field.choice_filter]
    texts += [field.required] if isinstance(field.required, str) else []
    texts += list(field.label.values())
    return [t for t in texts if t]


def _calculated_into(spec: FormSpec, field: FieldSpec, column: str) -> list[str]:
    """A read column's values: a choice of the select it is calculated into, else text (a
    number for a number question)."""
    if field.choices and field.calculation and column in field.calculation:
        choices = spec.choices.get(field.choices) or []
        if choices:
            return [choices[0].value] * ROWS
    if field.type in ("integer", "decimal"):
        return [str(row) for row in range(1, ROWS + 1)]
    return [f"{column} {row}" for row in range(1, ROWS + 1)]


def filter_pairs(choice_filter: str) -> list[tuple[str, str]]:
    """(column, question) for each `column = ${question}` of a choice filter."""
    columns = parse_choice_filter(choice_filter).columns
    pairs = []
    for left, answer, answer_first, right in _EQUALS_ANSWER.findall(choice_filter):
        column, question = (left, answer) if left else (right, answer_first)
        if column in columns:
            pairs.append((column, question))
    return pairs


def _filtered_by(spec: FormSpec, question: str) -> list[str]:
    """The rows' values of a column a filter matches to `question`: its first choice twice,
    then its second (its list's values, a synthesised list's included)."""
    node = spec.node(question)
    list_name = node.choices if isinstance(node, FieldSpec) else None
    if list_name in spec.awaiting_files:
        first, second = _value(list_name, 1), _value(list_name, 2)
    else:
        choices = spec.choices.get(list_name or "") or []
        first = choices[0].value if choices else "x"
        second = choices[1].value if len(choices) > 1 else first
    return [first, first, second]


def _collection(name: str, columns: dict[str, list[str]]) -> dict[str, Any]:
    features = []
    for row in range(1, ROWS + 1):
        properties = {"title": f"{name} feature {row}"}
        properties |= {column: values[row - 1] for column, values in columns.items()}
        geometry = {"type": "Point", "coordinates": [36.8 + row / 100, -1.2 - row / 100]}
        features.append(
            {
                "type": "Feature",
                "id": _value(name, row),
                "geometry": geometry,
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _csv(name: str, columns: dict[str, list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "label", *columns])
    for row in range(1, ROWS + 1):
        cells = [values[row - 1] for values in columns.values()]
        writer.writerow([_value(name, row), f"{name} {row}", *cells])
    return out.getvalue()


def first_choice_submission(spec: FormSpec, rounds: int = 200) -> tuple[dict[str, Any], Checked]:
    """Values choosing the first offered choice of every select reading a data file, plus the
    fewest answers the form requires: each question the check refuses (required, constraint,
    choice) gets its type's next candidate until the check passes or candidates run out.
    Returns the values and the last check."""
    selects = {f.name for f in file_selects(spec)}
    values: dict[str, Any] = {}
    tried: dict[str, int] = {}
    _pick_files(spec, spec.children, values, values, selects)
    checked = check(spec, values)
    for _ in range(rounds):
        if checked.ok:
            break
        progressed = False
        for error in checked.errors:
            level, env = _level(values, error.path)
            candidates = _candidates(spec, spec.node(error.field), env)
            index = tried.get(error.path, -1) + 1
            if index < len(candidates):
                tried[error.path] = index
                level[error.field] = candidates[index]
                progressed = True
        if not progressed:
            break
        checked = check(spec, values)
    return values, checked


def _pick_files(
    spec: FormSpec, nodes: list[Node], level: dict[str, Any], env: dict[str, Any], selects: set[str]
) -> None:
    for node in nodes:
        if isinstance(node, GroupSpec):
            _pick_files(spec, node.children, level, env, selects)
        elif isinstance(node, RepeatSpec):
            if any(f.name in selects for f in _fields(node.children)):
                instance: dict[str, Any] = {}
                level[node.name] = [instance]
                _pick_files(spec, node.children, instance, {**env, **instance}, selects)
        elif node.name in selects:
            offered = visible_choices(spec, node, {**env, **level})
            if offered:
                first = offered[0].value
                level[node.name] = [first] if node.type == "select_multiple" else first


def _level(values: dict[str, Any], path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dict holding the answer at `path` (`trees[0].cbh`), and the answers it sees."""
    level, env = values, dict(values)
    for step in path.split(".")[:-1]:
        repeat, index = step[:-1].split("[")
        instances = level.setdefault(repeat, [])
        while len(instances) <= int(index):
            instances.append({})
        level = instances[int(index)]
        env |= level
    return level, env


def _candidates(spec: FormSpec, node: Node, env: dict[str, Any]) -> list[Any]:
    if not isinstance(node, FieldSpec):
        return [[{}]] if isinstance(node, RepeatSpec) else []
    if node.choices:
        offered = [c.value for c in visible_choices(spec, node, env)]
        return [[v] for v in offered] if node.type == "select_multiple" else offered
    return _CANDIDATES.get(node.type, [])
