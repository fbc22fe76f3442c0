"""Shapes: what an expression can yield, read from its syntax (what statistics may hold in
clear)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from fieldapp.forms.expr.syntax import Absent, Call, Chain, Constant, Negate, Node, Ref
from fieldapp.forms.expr.values import ShapeKind

CLOCK_FUNCTIONS = frozenset({"today", "now"})
_TESTS = frozenset({"or", "and", "=", "!=", "<", "<=", ">", ">="})


@dataclass(frozen=True, slots=True)
class Shape:
    """What an expression can yield, whatever the values: nothing (`empty`), true/false, a
    number, a date, one of a few `values` written in the form (`choice`), or anything
    (`open`: possibly text, so possibly a name). Every value the evaluator returns for the
    expression is empty or of this shape."""

    kind: ShapeKind
    values: frozenset[str | int | float] = frozenset()

    def join(self, other: Shape) -> Shape:
        """The shape of a value that is either one (the branches of `if`)."""
        if self.kind == "empty":
            return other
        if other.kind == "empty":
            return self
        if self.kind != other.kind:
            return Shape("open")
        return Shape(self.kind, self.values | other.values)


def shape_of(node: Node, inputs: Mapping[str, Shape]) -> Shape:
    match node:
        case Constant(value):
            return Shape("empty") if value == "" else Shape("choice", frozenset({value}))
        case Ref(name):
            return inputs.get(name, Shape("open"))
        case Absent():
            return Shape("empty")
        case Negate():
            return Shape("number")
        case Chain(_, steps):  # one precedence level: all tests or all arithmetic
            return Shape("boolean" if steps[0][0] in _TESTS else "number")
        case Call(function, args):
            if isinstance(function.returns, str):
                return Shape(function.returns)
            first, *rest = (shape_of(args[i], inputs) for i in function.returns)
            return functools.reduce(Shape.join, rest, first)
    return Shape("open")  # '.', the value being checked; a choice column
