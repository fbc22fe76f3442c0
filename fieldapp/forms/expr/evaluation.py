"""Evaluation: the operators, and the walk over the tree (which never raises: a value of
the wrong kind gives None, or False for a test)."""

from __future__ import annotations

import math
import operator
from collections import ChainMap
from collections.abc import Callable, Mapping
from typing import Any

from fieldapp.forms.expr.functions import Context
from fieldapp.forms.expr.syntax import (
    Absent,
    Call,
    Chain,
    Column,
    Constant,
    Current,
    Lookup,
    Negate,
    Node,
    Ref,
    Up,
)
from fieldapp.forms.expr.values import (
    Nodeset,
    boolean,
    finite,
    is_empty,
    is_number,
    loose_boolean,
    numeric,
    to_number,
    to_string,
    to_temporal,
)


def _equals(left: Any, right: Any) -> bool:
    if isinstance(left, Nodeset):
        return any(_equals(item, right) for item in left)
    if isinstance(right, Nodeset):
        return any(_equals(left, item) for item in right)
    if isinstance(left, bool) or isinstance(right, bool):
        return loose_boolean(left) == loose_boolean(right)
    if is_number(left) or is_number(right):  # a date against a number: as days since 1970
        x, y = numeric(left), numeric(right)
        if x is not None and y is not None:
            return x == y
    elif (  # a date against a datetime: as the same instant
        isinstance(left, str)
        and isinstance(right, str)
        and left != right
        and (moment := to_temporal(left)) is not None
        and (other := to_temporal(right)) is not None
        and type(moment) is not type(other)
    ):
        return numeric(left) == numeric(right)
    return to_string(left) == to_string(right)


def _differs(left: Any, right: Any) -> bool:
    """XPath `!=`: with a node-set, whether some value differs (so an empty one differs from
    nothing, as it equals nothing)."""
    if isinstance(left, Nodeset):
        return any(_differs(item, right) for item in left)
    if isinstance(right, Nodeset):
        return any(_differs(left, item) for item in right)
    return not _equals(left, right)


def _ordering(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def ordered(left: Any, right: Any) -> bool:
        if is_empty(left) or is_empty(right):
            return False
        x, y = numeric(left), numeric(right)
        if x is not None and y is not None:
            return compare(x, y)
        return compare(to_string(left), to_string(right))

    return ordered


def _divide(x: int | float, y: int | float) -> int | float | None:
    return None if y == 0 else x / y


def _modulo(x: int | float, y: int | float) -> int | float | None:
    """XPath mod: the remainder of truncating division, with the sign of the dividend."""
    if y == 0:
        return None
    remainder = math.fmod(x, y)
    return int(remainder) if isinstance(x, int) and isinstance(y, int) else remainder


def _arithmetic(
    compute: Callable[[Any, Any], int | float | None],
) -> Callable[[Any, Any], int | float | None]:
    def apply(left: Any, right: Any) -> int | float | None:
        x, y = numeric(left), numeric(right)
        if x is None or y is None:
            return None
        try:
            result = compute(x, y)
        except OverflowError:
            return None
        return None if result is None else finite(result)

    return apply


BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "=": _equals,
    "!=": lambda left, right: _differs(left, right),
    "<": _ordering(operator.lt),
    "<=": _ordering(operator.le),
    ">": _ordering(operator.gt),
    ">=": _ordering(operator.ge),
    "+": _arithmetic(operator.add),
    "-": _arithmetic(operator.sub),
    "*": _arithmetic(operator.mul),
    "div": _arithmetic(_divide),
    "mod": _arithmetic(_modulo),
}


def evaluate_node(node: Node, context: Context) -> Any:
    match node:
        case Constant(value):
            return value
        case Ref(name, _, collect):
            found = context.env.get(name)
            if found is None and collect and name not in context.env:
                return _collect(context.env, name)
            return found
        case Column(name):
            return None if context.item is None else context.item.get(name)
        case Lookup():
            return _lookup(node, context)
        case Up():
            return None
        case Absent():
            return Nodeset()
        case Current():
            return context.current
        case Negate(operand):
            number = numeric(evaluate_node(operand, context))
            return None if number is None else -number
        case Chain(first, steps):
            value = evaluate_node(first, context)
            for op, operand in steps:
                if op == "and":
                    value = boolean(value) and boolean(evaluate_node(operand, context))
                elif op == "or":
                    value = boolean(value) or boolean(evaluate_node(operand, context))
                else:
                    value = BINARY[op](value, evaluate_node(operand, context))
            return value
        case Call(function, args):
            if function.name == "if":
                chosen = args[1] if boolean(evaluate_node(args[0], context)) else args[2]
                return evaluate_node(chosen, context)
            if function.name == "position":
                return _position(context, args)
            if function.name == "indexed-repeat":
                return _indexed_repeat(context, args)
            values = [evaluate_node(arg, context) for arg in args]
            if function.name == "random":
                values.append(node.salt)
            return function.run(context, values)
    raise AssertionError(f"unknown node {node!r}")  # pragma: no cover - the union is closed


def _instances(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        return value
    return []


def _gather(scope: Mapping[str, Any], name: str, found: list[Any]) -> None:
    """Into `found`, the field in every instance of the repeat holding it (None where it is
    unanswered: the node exists, empty, as in XForms)."""
    for value in scope.values():
        instances = _instances(value)
        if any(name in instance for instance in instances):
            found.extend(instance.get(name) for instance in instances)
            continue
        for instance in instances:
            _gather(instance, name, found)


def _collect(env: Mapping[str, Any], name: str) -> Nodeset | None:
    """The values of `name` in every instance of the repeat holding it, searched from the
    innermost scope out (the instances of a nested repeat, inside a repeat, are its own)."""
    scopes = env.maps if isinstance(env, ChainMap) else [env]
    for scope in scopes:
        found: list[Any] = []
        _gather(scope, name, found)
        if found:
            return Nodeset(found)
    return None


def _position(context: Context, args: tuple[Node, ...]) -> int | None:
    """position(): in a predicate, the row's; position(..) (or no argument outside one): the
    repeat instance's (`../..`: the enclosing repeat's)."""
    if not args and context.item is not None:
        return context.item_position
    levels = args[0].levels if args and isinstance(args[0], Up) else 1
    env = context.env
    if isinstance(env, ChainMap):
        instance = env.maps[levels - 1] if levels <= len(env.maps) else None
        for outer in env.maps[levels:]:
            for value in outer.values():
                for index, item in enumerate(_instances(value)):
                    if item is instance or _same_id(item, instance):
                        return index + 1
    return context.position if levels == 1 else None


def _same_id(item: Mapping[str, Any], instance: Any) -> bool:
    """Whether `instance` is a copy of `item`: the same repeat instance id (`_id`)."""
    wanted = item.get("_id")
    return wanted is not None and isinstance(instance, Mapping) and instance.get("_id") == wanted


def _indexed_repeat(context: Context, args: tuple[Node, ...]) -> Any:
    """indexed-repeat(${field}, ${repeat}, n[, ${inner repeat}, m ...]): the field in the n-th
    instance of the repeat (1-based)."""
    scope: Mapping[str, Any] = context.env
    field = args[0]
    for repeat, index_node in zip(args[1::2], args[2::2], strict=False):
        if not isinstance(repeat, Ref):  # pragma: no cover - the parser makes sure
            return None
        index = to_number(evaluate_node(index_node, context))
        instances = _instances(scope.get(repeat.name))
        if index is None or index != int(index) or not 1 <= index <= len(instances):
            return None
        scope = instances[int(index) - 1]
    return scope.get(field.name) if isinstance(field, Ref) else None


def _reads_row(node: Node) -> bool:
    match node:
        case Column() | Lookup():
            return True
        case Call(function, args):
            return function.name == "position" or any(map(_reads_row, args))
        case Chain(first, steps):
            return _reads_row(first) or any(_reads_row(operand) for _, operand in steps)
        case Negate(operand):
            return _reads_row(operand)
    return False


def _match_column(
    predicate: Node, rows: list[Mapping[str, Any]], context: Context
) -> list[Mapping[str, Any]] | None:
    """The fast path of the usual predicate, `column = value` (a choice filter, a CSV key):
    the value is read once and compared as text; None when the predicate is of another kind
    or the value not plain text."""
    if not (isinstance(predicate, Chain) and len(predicate.steps) == 1):
        return None
    (op, right), left = predicate.steps[0], predicate.first
    if op != "=":
        return None
    if isinstance(right, Column) and not isinstance(left, Column):
        left, right = right, left
    if not isinstance(left, Column) or _reads_row(right):
        return None
    key = evaluate_node(right, context)
    if not isinstance(key, str) or key[:1].isdigit():  # numbers and dates compare as such
        return None
    name = left.name
    kept = []
    for row in rows:
        value = row.get(name)
        if value == key if isinstance(value, str) else _equals(value, key):
            kept.append(row)
    return kept


def _lookup(node: Lookup, context: Context) -> Nodeset:
    rows = list(context.instances.get(node.instance) or ())
    saved = context.item, context.item_position
    try:
        for predicate in node.predicates:
            if (matched := _match_column(predicate, rows, context)) is not None:
                rows = matched
                continue
            kept = []
            for index, row in enumerate(rows, start=1):
                context.item, context.item_position = row, index
                value = evaluate_node(predicate, context)
                if (value == index) if is_number(value) else boolean(value):
                    kept.append(row)
            rows = kept
    finally:
        context.item, context.item_position = saved
    if node.column is None:
        return Nodeset(rows)
    return Nodeset(row[node.column] for row in rows if node.column in row)
