"""Counting records (or a repeat's instances) by one to a few statistical fields.

Rows are records' statistics as the server keeps them: field → value, a repeat a list of
instance dicts. Counting by a field of a repeat counts its instances (participants by
profession and sex), each with its record's top-level values. Categories come from the form,
so empty ones appear as 0 cells: a choice list in its order (one narrowed by a
`choice_filter`, provinces by country, to what it offered the rows counted), yes/no for a
boolean; numbers as counted, dates by month (every month from the first to the last). A
value the form no longer lists is counted under its own value; a missing answer is the
category `None` ("not answered"), so that every margin counts the whole population and two
tables of one report have the same totals.

A select_multiple record counts once in each chosen value and once in each margin over that
field, so those margins are not sums (see `tables`).

*Pooling* (the recipe's redesign step): for the fields named in `pool`, every category counted
fewer than k times over the whole population (zeros included, so that pooling says no more than
"fewer than k") is merged into `OTHER`.
"""

from __future__ import annotations

import datetime
import itertools
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from fieldapp.forms.choices import visible_choices
from fieldapp.forms.spec import FieldSpec, FormSpec, RepeatSpec, answer_nodes
from fieldapp.office.aggregates.errors import AggregateError
from fieldapp.office.aggregates.tables import Category, Dimension, Table

__all__ = ["OTHER", "SPECIAL_LABELS", "count_tables"]

OTHER = "_other"

SPECIAL_LABELS: dict[Any, dict[str, str]] = {
    True: {"en": "Yes", "fr": "Oui", "es": "Sí", "ar": "نعم"},
    False: {"en": "No", "fr": "Non", "es": "No", "ar": "لا"},
    None: {"en": "Not answered", "fr": "Sans réponse", "es": "Sin respuesta", "ar": "بلا إجابة"},
    OTHER: {"en": "Other", "fr": "Autres", "es": "Otros", "ar": "أخرى"},
}
MAX_FIELDS = 3

Reader = Callable[[Any], frozenset[Any]]


def count_tables(
    spec: FormSpec,
    rows: Iterable[Mapping[str, Any]],
    tables: Sequence[Sequence[str]],
    *,
    pool: Collection[str] = (),
    k: int = 11,
) -> list[Table]:
    """One count table per list of fields, over the same rows (read once)."""
    rows = list(rows)
    places = _places(spec)
    unknown_pool = sorted(set(pool) - {name for fields in tables for name in fields})
    if unknown_pool:
        raise AggregateError(f"pool: {', '.join(unknown_pool)} is not a field the report counts by")
    return [_count(spec, rows, list(fields), places, set(pool), k) for fields in tables]


def _count(
    spec: FormSpec,
    rows: list[Mapping[str, Any]],
    names: list[str],
    places: Mapping[str, str | None],
    pool: set[str],
    k: int,
) -> Table:
    if not 1 <= len(names) <= MAX_FIELDS:
        raise AggregateError(f"by: count by 1 to {MAX_FIELDS} fields, not {len(names)}")
    if len(set(names)) != len(names):
        raise AggregateError(f"by: {', '.join(names)} names a field twice")
    fields = [_statistical_field(spec, name, places) for name in names]
    repeats = sorted({r for name in names if (r := places[name]) is not None})
    if len(repeats) > 1:
        raise AggregateError(f"by: {', '.join(names)} mixes the repeats {', '.join(repeats)}")
    unit = repeats[0] if repeats else None
    readers = [_reader(spec, f) for f in fields]
    signatures: Counter[tuple[frozenset[Any], ...]] = Counter()
    for item in _units(rows, unit):
        signatures[
            tuple(read(item.get(f.name)) for read, f in zip(readers, fields, strict=True))
        ] += 1
    seen = [set().union(*(s[a] for s in signatures)) for a in range(len(fields))]
    offered = [_offered(spec, f, rows, unit) for f in fields]
    dims = [_dimension(spec, f, seen[a], offered[a]) for a, f in enumerate(fields)]
    recode: list[dict[Any, Any]] = [{} for _ in dims]
    for a, dim in enumerate(dims):
        if dim.field in pool:
            dims[a], recode[a] = _pooled(dim, signatures, a, k)
    return Table(tuple(dims), _extended_counts(dims, signatures, recode), unit)


def _extended_counts(
    dims: list[Dimension],
    signatures: Counter[tuple[frozenset[Any], ...]],
    recode: list[dict[Any, Any]],
) -> dict[tuple[int, ...], int]:
    positions = [{c.value: i for i, c in enumerate(d.categories)} for d in dims]
    counts = dict.fromkeys(itertools.product(*(range(d.size + 1) for d in dims)), 0)
    for signature, n in signatures.items():
        axes = [
            [*sorted({positions[a][recode[a].get(v, v)] for v in values}), dims[a].size]
            for a, values in enumerate(signature)
        ]
        for index in itertools.product(*axes):
            counts[index] += n
    return counts


def _pooled(
    dim: Dimension, signatures: Counter[tuple[frozenset[Any], ...]], axis: int, k: int
) -> tuple[Dimension, dict[Any, Any]]:
    """The dimension with every category counted fewer than k times merged into OTHER (when at
    least two are: merging one would only rename it)."""
    totals: Counter[Any] = Counter()
    for signature, n in signatures.items():
        for value in signature[axis]:
            totals[value] += n
    small = [c for c in dim.categories if totals[c.value] < k]
    if len(small) < 2:
        return dim, {}
    kept = tuple(c for c in dim.categories if totals[c.value] >= k)
    merged = Category(OTHER, SPECIAL_LABELS[OTHER])
    pooled = tuple(c.value for c in small)
    return (
        Dimension(dim.field, dim.label, (*kept, merged), dim.multiple, pooled),
        dict.fromkeys(pooled, OTHER),
    )


def _places(spec: FormSpec) -> dict[str, str | None]:
    """Each field's repeat (None at the top level); a nested repeat's fields are left out."""
    places: dict[str, str | None] = {}
    for node in answer_nodes(spec.children):
        if isinstance(node, RepeatSpec):
            for child in answer_nodes(node.children):
                if isinstance(child, FieldSpec):
                    places[child.name] = node.name
        else:
            places[node.name] = None
    return places


def _statistical_field(spec: FormSpec, name: str, places: Mapping[str, str | None]) -> FieldSpec:
    if name not in places:
        try:
            node = spec.node(name)
        except KeyError:
            raise AggregateError(f"by: form {spec.id!r} has no field {name!r}") from None
        what = "a repeat" if isinstance(node, RepeatSpec) else "inside a nested repeat"
        raise AggregateError(f"by: {name!r} is {what}; count by one of its fields")
    node = spec.node(name)
    assert isinstance(node, FieldSpec)
    if node.sensitivity != "statistical" or not node.holds_value:
        raise AggregateError(f"by: {name!r} is not a statistical field; reports count only those")
    return node


def _units(rows: Iterable[Mapping[str, Any]], unit: str | None) -> Iterator[Mapping[str, Any]]:
    """The records, or every instance of the repeat `unit` with its record's values."""
    for row in rows:
        if unit is None:
            yield row
            continue
        instances = row.get(unit) or []
        if not isinstance(instances, list):
            raise AggregateError(f"{unit}: a repeat must be a list of instances")
        for instance in instances:
            yield {**row, **instance}


def _reader(spec: FormSpec, field: FieldSpec) -> Reader:
    """How to read the field's stored value as the categories it counts in."""
    kind: str = field.type
    if kind == "calculate":
        kind = {"boolean": "boolean", "number": "integer", "date": "date"}.get(
            spec.statistics().shape(field).kind, "value"
        )
    name = field.name

    def one(value: Any) -> frozenset[Any]:
        if value is None or value == "":
            return frozenset({None})
        return frozenset({_checked(name, kind, value)})

    def several(value: Any) -> frozenset[Any]:
        if value is None:
            return frozenset({None})
        chosen = value.split() if isinstance(value, str) else value
        if not isinstance(chosen, list | tuple):
            raise AggregateError(f"{name}: {value!r} is not a list of choices")
        return frozenset(_checked(name, "select_one", v) for v in chosen) or frozenset({None})

    return several if kind == "select_multiple" else one


def _checked(name: str, kind: str, value: Any) -> Any:
    if kind == "boolean" and isinstance(value, bool):
        return value
    if (
        kind in ("integer", "decimal")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return value
    if kind == "date" and isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value[:10]).isoformat()[:7]
        except ValueError:
            pass
    if kind == "select_one" and isinstance(value, str):
        return value
    if kind == "value" and isinstance(value, str | int | float | bool):
        return value
    raise AggregateError(f"{name}: {value!r} is not a {kind} value")


def _offered(
    spec: FormSpec, field: FieldSpec, rows: list[Mapping[str, Any]], unit: str | None
) -> set[str] | None:
    """The choices a filtered select offered to the rows counted (a province list narrowed
    by country: the provinces of the countries counted, not the world's 5,000), None for a
    list without a `choice_filter`."""
    if not field.choice_filter:
        return None
    offered: set[str] = set()
    for item in _units(rows, unit):
        offered.update(c.value for c in visible_choices(spec, field, item))
    return offered


def _dimension(
    spec: FormSpec, field: FieldSpec, seen: set[Any], offered: set[str] | None = None
) -> Dimension:
    listed: list[Category] = []
    if field.choices:
        listed = [
            Category(c.value, c.label)
            for c in spec.choices[field.choices]
            if offered is None or c.value in offered or c.value in seen
        ]
    elif field.type == "boolean" or (
        field.type == "calculate" and spec.statistics().shape(field).kind == "boolean"
    ):
        listed = [Category(v, SPECIAL_LABELS[v]) for v in (True, False)]
    elif field.type == "calculate" and spec.statistics().shape(field).kind == "choice":
        values = sorted(spec.statistics().shape(field).values, key=str)
        listed = [Category(v, {}) for v in values]
    known = {c.value for c in listed}
    extra = sorted((v for v in seen if v is not None and v not in known), key=_order)
    if field.type == "date" or (
        field.type == "calculate" and spec.statistics().shape(field).kind == "date"
    ):
        extra = _months(extra[0], extra[-1]) if extra else []
    categories = listed + [Category(v, {}) for v in extra]
    if None in seen:
        categories.append(Category(None, SPECIAL_LABELS[None]))
    return Dimension(
        field.name, field.label, tuple(categories), multiple=field.type == "select_multiple"
    )


def _order(value: Any) -> tuple[int, Any]:
    """Numbers in numeric order, then text: values of one field may mix after a form change."""
    if isinstance(value, int | float):
        return (0, value)
    return (1, str(value))


def _months(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
