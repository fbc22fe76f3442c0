"""A parsed expression, and `parse` (cached), the language's entry point."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from fieldapp.forms.expr.evaluation import evaluate_node
from fieldapp.forms.expr.functions import Context, Rows
from fieldapp.forms.expr.shapes import Shape, shape_of
from fieldapp.forms.expr.syntax import MAX_SOURCE_LENGTH, ExpressionError, Node, Parser
from fieldapp.forms.expr.values import Nodeset, boolean


class Options(TypedDict, total=False):
    """The keyword arguments of `Expression.evaluate` (and `truth`)."""

    current: Any
    today: datetime.date | None
    now: datetime.datetime | None
    instances: Mapping[str, Rows] | None
    choice_names: Mapping[str, Mapping[str, str]] | None
    seed: str | None
    position: int | None


@dataclass(frozen=True, eq=False)
class Expression:
    """A parsed expression: what it refers to, and how to evaluate it against values."""

    source: str
    references: frozenset[str]  # every ${name} used
    functions: frozenset[str]  # every function called
    uses_current: bool  # whether '.' (the value being checked) is used
    _root: Node = field(repr=False)

    def shape(self, inputs: Mapping[str, Shape]) -> Shape:
        """What the expression can yield when each `${name}` yields `inputs[name]` (a name
        not given: anything)."""
        return shape_of(self._root, inputs)

    def evaluate(
        self,
        env: Mapping[str, Any],
        *,
        current: Any = None,
        today: datetime.date | None = None,
        now: datetime.datetime | None = None,
        instances: Mapping[str, Rows] | None = None,
        choice_names: Mapping[str, Mapping[str, str]] | None = None,
        seed: str | None = None,
        position: int | None = None,
    ) -> Any:
        """The value of the expression; a name missing from `env` is empty (None).

        Inside a repeat, `env` is a ChainMap whose first map is the instance (as validation
        builds it): `../name` and `${name}` find the instance's fields first, `position(..)`
        finds the instance in its repeat (or is `position`). `instances` are the secondary
        instances (choice lists, attached CSVs) by name, as rows; `choice_names` the labels
        of `jr:choice-name()`; `seed` (a record's id) makes `random()` and `uuid()` stable."""
        context = Context(
            env,
            current,
            today,
            now,
            instances or {},
            choice_names or {},
            seed,
            position,
        )
        value = evaluate_node(self._root, context)
        if isinstance(value, Nodeset):  # a lookup's value is its first match, as in XForms
            return value[0] if value else None
        return value

    def truth(self, env: Mapping[str, Any], **options: Unpack[Options]) -> bool:
        """The value as an XPath boolean, for `relevant`, `constraint` and `required`; the
        options are those of `evaluate`."""
        return boolean(self.evaluate(env, **options))


@functools.lru_cache(maxsize=2048)
def parse(source: str) -> Expression:
    """Parse `source` once (cached); ExpressionError says what is wrong and at which column."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            f"expression is {len(source)} characters long; the limit is {MAX_SOURCE_LENGTH}",
            source,
        )
    if not source.strip():
        raise ExpressionError("empty expression", source)
    parser = Parser(source)
    root = parser.parse()
    return Expression(
        source,
        frozenset(parser.references),
        frozenset(parser.functions),
        parser.uses_current,
        root,
    )
