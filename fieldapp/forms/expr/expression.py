"""A parsed expression, and `parse` (cached), the language's entry point."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fieldapp.forms.expr.evaluation import evaluate_node
from fieldapp.forms.expr.functions import Context
from fieldapp.forms.expr.shapes import Shape, shape_of
from fieldapp.forms.expr.syntax import MAX_SOURCE_LENGTH, ExpressionError, Node, Parser
from fieldapp.forms.expr.values import boolean


@dataclass(frozen=True, eq=False)
class Expression:
    """A parsed expression: what it refers to, and how to evaluate it against values."""

    source: str
    references: frozenset[str]  # every ${name} used
    functions: frozenset[str]  # every function called
    uses_current: bool  # whether '.' (the value being checked) is used
    _root: Node = field(repr=False)
    columns: frozenset[str] = frozenset()  # a choice filter's choice columns (bare names)

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
        choice: Mapping[str, Any] | None = None,
    ) -> Any:
        """The value of the expression; a name missing from `env` is empty (None). `choice`:
        the columns of the choice a `choice_filter` is judging (`name`, `country`...)."""
        return evaluate_node(self._root, Context(env, current, today, now, choice or {}))

    def truth(
        self,
        env: Mapping[str, Any],
        *,
        current: Any = None,
        today: datetime.date | None = None,
        now: datetime.datetime | None = None,
        choice: Mapping[str, Any] | None = None,
    ) -> bool:
        """The value as an XPath boolean, for `relevant`, `constraint`, `required` and
        `choice_filter`."""
        return boolean(self.evaluate(env, current=current, today=today, now=now, choice=choice))


@functools.lru_cache(maxsize=2048)
def parse(source: str) -> Expression:
    """Parse `source` once (cached); ExpressionError says what is wrong and at which column."""
    return _parse(source, columns=False)


@functools.lru_cache(maxsize=256)
def parse_choice_filter(source: str) -> Expression:
    """Parse a `choice_filter` once (cached): as `parse`, and a bare name is a column of the
    choice being judged, as XLSForm reads `country = ${country}` against its choices sheet
    (`name` is the choice's value; a column the choice lacks is empty)."""
    return _parse(source, columns=True)


def _parse(source: str, *, columns: bool) -> Expression:
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            f"expression is {len(source)} characters long; the limit is {MAX_SOURCE_LENGTH}",
            source,
        )
    if not source.strip():
        raise ExpressionError("empty expression", source)
    parser = Parser(source, columns=columns)
    root = parser.parse()
    return Expression(
        source,
        frozenset(parser.references),
        frozenset(parser.functions),
        parser.uses_current,
        root,
        frozenset(parser.columns),
    )
