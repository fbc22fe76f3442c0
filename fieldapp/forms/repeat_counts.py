"""Repeats counted by an answer (XLSForm's `repeat_count` = `${n}`): the form holds exactly
that many instances. The app adds blank ones as the count grows and drops the last ones as it
shrinks (`fit_counted_repeats`); validation refuses any other number (`counted_instances`).
A count that is not a whole number from 0 to MAX_COUNTED leaves the instances as they are."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from fieldapp.forms.expr import ExpressionError, parse
from fieldapp.forms.spec import FormSpec, GroupSpec, Node, RepeatSpec

__all__ = ["MAX_COUNTED", "counted_instances", "evaluate", "fit_counted_repeats"]

MAX_COUNTED = 200  # a typo (1000 for 10) must not make a thousand blank entries


def evaluate(source: str, env: Mapping[str, Any], **options: Any) -> Any:
    """The expression's value, None when it cannot be evaluated (as validation does)."""
    try:
        return parse(source).evaluate(env, **options)
    except ExpressionError:
        return None


def counted_instances(
    repeat: RepeatSpec, env: Mapping[str, Any], evaluate: Callable[..., Any]
) -> int | None:
    """The number of instances the repeat's count asks for, or None (no count, or none a
    whole number from 0 to MAX_COUNTED). `evaluate(source, env)` evaluates an expression."""
    if not repeat.count:
        return None
    value = evaluate(repeat.count, env)
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not number.is_integer() or not 0 <= number <= MAX_COUNTED:
        return None
    return int(number)


def fit_counted_repeats(
    spec: FormSpec,
    values: Mapping[str, Any],
    clean: Mapping[str, Any],
    evaluate: Callable[..., Any],
) -> dict[str, Any] | None:
    """`values` with each counted repeat (at the top level, through groups) holding exactly
    its count of instances, the count read from `clean`; None when nothing changes."""
    changed = dict(values)
    for repeat in _top_repeats(spec.children):
        wanted = counted_instances(repeat, clean, evaluate)
        if wanted is None:
            continue
        instances = list(values.get(repeat.name) or [])
        if len(instances) == wanted:
            continue
        instances = instances[:wanted] + [
            {"_id": str(uuid.uuid4())} for _ in range(wanted - len(instances))
        ]
        if instances:
            changed[repeat.name] = instances
        else:
            changed.pop(repeat.name, None)
    return None if changed == dict(values) else changed


def _top_repeats(nodes: list[Node]) -> list[RepeatSpec]:
    found: list[RepeatSpec] = []
    for node in nodes:
        if isinstance(node, RepeatSpec):
            found.append(node)
        elif isinstance(node, GroupSpec):
            found.extend(_top_repeats(node.children))
    return found
