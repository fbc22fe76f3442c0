"""What a form lets through in clear: the shape of each field's value and whether a
statistical calculation is coarse enough to travel unsealed (see `Statistics`)."""

from __future__ import annotations

from collections.abc import Mapping

from fieldapp.forms.expr import CLOCK_FUNCTIONS, Expression, ExpressionError, Shape, parse
from fieldapp.forms.spec import Choice, FieldSpec, Node, RepeatSpec, walk_nodes

__all__ = ["Statistics"]

_TYPE_SHAPES: dict[str, Shape] = {
    "boolean": Shape("boolean"),
    "integer": Shape("number"),
    "decimal": Shape("number"),
    "date": Shape("date"),
}
_COARSE_RULE = (
    "a statistical calculation must give true/false, one of the quoted values of an if(), "
    "or a number or date computed from statistical fields only; otherwise keep it sensitive"
)


def _parsed(source: str | None) -> Expression | None:
    try:
        return parse(source or "")
    except ExpressionError:
        return None


def _shown(source: str | None) -> str:
    text = source or ""
    return repr(text if len(text) <= 100 else text[:100] + "…")


class Statistics:
    """What a form lets through in clear, worked out from its nodes: the shape of each field's
    value (see `fieldapp.forms.expr.Shape`) and which expressions read statistical fields only.

    A statistical calculation is coarse when it yields true/false, one of the values written in
    the form (the quoted branches of an `if()`, a choice list), or a number or date whose every
    input is a statistical field (no clock): it then reveals nothing the statistics do not, and
    the server, which holds the statistics, can compute it again. Anything else could carry a
    name (`${name}`) or an exact value read from a sealed field (an exact age from a sealed date
    of birth), so `problems` names it and the form is refused.
    """

    def __init__(self, nodes: list[Node], choices: Mapping[str, list[Choice]]) -> None:
        self._nodes = {node.name: node for node in walk_nodes(nodes)}
        self._choices = {
            name: frozenset(choice.value for choice in listed) for name, listed in choices.items()
        }
        self._shapes: dict[str, Shape] = {}  # calculations, by field name

    def shape(self, field: FieldSpec) -> Shape:
        """What the field's value can be."""
        if field.type == "select_one":
            return Shape("choice", self._choices.get(field.choices or "", frozenset()))
        if field.type != "calculate":
            return _TYPE_SHAPES.get(field.type, Shape("open"))
        if field.name not in self._shapes:
            self._shape_calculations(field)
        return self._shapes[field.name]

    def reads_statistics_only(self, expression: Expression) -> bool:
        """Whether the expression reads nothing but statistical fields (a repeat: its instances,
        whose ids are in clear) and no clock: its value is then the same over a record's
        statistics as over the whole record, on any day."""
        return not expression.functions & CLOCK_FUNCTIONS and all(
            self._is_statistic(name) for name in expression.references
        )

    def problems(self) -> dict[str, str]:
        """Why each statistical calculation that is not coarse could reveal what is sealed,
        by field name."""
        problems: dict[str, str] = {}
        for node in self._nodes.values():
            if not isinstance(node, FieldSpec) or node.type != "calculate":
                continue
            if node.sensitivity != "statistical":
                continue
            problem = self._calculation_problem(node)
            if problem:
                problems[node.name] = (
                    f"field {node.name!r} is statistical (kept in clear), but its calculation "
                    f"{_shown(node.calculation)} {problem}"
                )
        return problems

    def _calculation_problem(self, field: FieldSpec) -> str | None:
        try:
            expression = parse(field.calculation or "")
        except ExpressionError as error:
            return f"cannot be read: {error}"
        shape = self.shape(field)
        if shape.kind in ("empty", "boolean", "choice"):
            return None
        if shape.kind == "open":
            sources = [
                name
                for name in sorted(expression.references)
                if (node := self._nodes.get(name)) is None
                or not isinstance(node, FieldSpec)
                or self.shape(node).kind == "open"
            ]
            origin = f" (from {_listed(sources)})" if sources else ""
            return f"can yield any text, such as a name{origin}: {_COARSE_RULE}"
        if self.reads_statistics_only(expression):
            return None
        sources = [name for name in sorted(expression.references) if not self._is_statistic(name)]
        clock = [f"{name}()" for name in sorted(expression.functions & CLOCK_FUNCTIONS)]
        what = _listed(sources) + (" and " if sources and clock else "") + ", ".join(clock)
        return f"gives an exact {shape.kind} read from {what}, not from statistics: {_COARSE_RULE}"

    def _is_statistic(self, name: str) -> bool:
        node = self._nodes.get(name)
        if isinstance(node, RepeatSpec):
            return True
        return isinstance(node, FieldSpec) and node.sensitivity == "statistical"

    def _calculations_read(self, field: FieldSpec) -> list[FieldSpec]:
        expression = _parsed(field.calculation)
        references = sorted(expression.references) if expression else []
        return [
            node
            for name in references
            if isinstance(node := self._nodes.get(name), FieldSpec) and node.type == "calculate"
        ]

    def _shape_calculations(self, start: FieldSpec) -> None:
        """Shape `start` and the calculations it reads, depth first with a stack of its own
        (a form may chain thousands of calculations); one that reads itself back, through a
        cycle, is read as `open`."""
        visiting: set[str] = set()
        stack = [start]
        while stack:
            field = stack[-1]
            if field.name in self._shapes:
                stack.pop()
                continue
            visiting.add(field.name)
            waiting = [
                node
                for node in self._calculations_read(field)
                if node.name not in self._shapes and node.name not in visiting
            ]
            if waiting:
                stack.extend(waiting)
                continue
            stack.pop()
            visiting.discard(field.name)
            expression = _parsed(field.calculation)
            if expression is None:
                self._shapes[field.name] = Shape("open")
                continue
            inputs = {
                name: self._shapes.get(name, Shape("open"))
                if node.type == "calculate"
                else self.shape(node)
                for name in expression.references
                if isinstance(node := self._nodes.get(name), FieldSpec)
            }
            self._shapes[field.name] = expression.shape(inputs)


def _listed(names: list[str]) -> str:
    return ", ".join(f"${{{name}}}" for name in names)
