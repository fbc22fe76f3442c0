"""Evaluation: the operators, and the walk over the tree (which never raises: a value of
the wrong kind gives None, or False for a test)."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from fieldapp.forms.expr.functions import Context
from fieldapp.forms.expr.syntax import (
    Call,
    Chain,
    Column,
    Constant,
    Current,
    Negate,
    Node,
    Ref,
)
from fieldapp.forms.expr.values import (
    boolean,
    finite,
    is_empty,
    is_number,
    loose_boolean,
    numeric,
    to_number,
    to_string,
)


def _equals(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return loose_boolean(left) == loose_boolean(right)
    if is_number(left) or is_number(right):
        x, y = to_number(left), to_number(right)
        if x is not None and y is not None:
            return x == y
    return to_string(left) == to_string(right)


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
    "!=": lambda left, right: not _equals(left, right),
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
        case Ref(name):
            return context.env.get(name)
        case Current():
            return context.current
        case Column(name):
            return context.choice.get(name)
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
            return function.run(context, [evaluate_node(arg, context) for arg in args])
    raise AssertionError(f"unknown node {node!r}")  # pragma: no cover - the union is closed
