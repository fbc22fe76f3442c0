"""A parsed expression, and `parse` (cached), the language's entry point."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from fieldapp.forms.expr.evaluation import evaluate_node
from fieldapp.forms.expr.functions import Context, Rows
from fieldapp.forms.expr.shapes import Shape, shape_of
from fieldapp.forms.expr.syntax import (
    MAX_SOURCE_LENGTH,
    Call,
    Chain,
    Column,
    Current,
    ExpressionError,
    Negate,
    Node,
    Parser,
)
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
    choice: Mapping[str, Any] | None


@dataclass(frozen=True, eq=False)
class Expression:
    """A parsed expression: what it refers to, and how to evaluate it against values."""

    source: str
    references: frozenset[str]  # every ${name} used
    functions: frozenset[str]  # every function called
    uses_current: bool  # whether '.' (the value being checked) is used
    _root: Node = field(repr=False)
    columns: frozenset[str] = frozenset()  # a choice filter's choice columns (bare names)
    # Bare names elsewhere (`yes` for 'yes'): XPath paths that select nothing, so empty.
    absent: frozenset[str] = frozenset()

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
        choice: Mapping[str, Any] | None = None,
    ) -> Any:
        """The value of the expression; a name missing from `env` is empty (None).

        Inside a repeat, `env` is a ChainMap whose first map is the instance (as validation
        builds it): `../name` and `${name}` find the instance's fields first, `position(..)`
        finds the instance in its repeat (or is `position`). `instances` are the secondary
        instances (choice lists, attached CSVs) by name, as rows; `choice_names` the labels
        of `jr:choice-name()`; `seed` (a record's id) makes `random()` and `uuid()` stable;
        `choice` the columns of the choice a `choice_filter` is judging (`name`, `country`...),
        read as a predicate reads its row."""
        context = Context(
            env,
            current,
            today,
            now,
            instances or {},
            choice_names or {},
            seed,
            position,
            item=choice,
        )
        value = evaluate_node(self._root, context)
        if isinstance(value, Nodeset):  # a lookup's value is its first match, as in XForms
            return value[0] if value else None
        return value

    def truth(self, env: Mapping[str, Any], **options: Unpack[Options]) -> bool:
        """The value as an XPath boolean, for `relevant`, `constraint` and `required`; the
        options are those of `evaluate`."""
        return boolean(self.evaluate(env, **options))

    def kept_rows(
        self,
        rows: Sequence[Mapping[str, str]],
        env: Mapping[str, Any],
        *,
        today: datetime.date | None = None,
    ) -> list[int]:
        """The indexes of the choices (as columns, `name` the value) a choice filter keeps:
        `[i for i, row in enumerate(rows) if self.truth(env, choice=row)]`, but a term of the
        XLSForm idiom (`column = ${field}`, joined by `or`) is looked up in an index of the
        column instead of being judged on each of 5,000 choices."""
        context = Context(env, None, today, None)
        kept: set[int] = set()
        rest: list[Node] = []
        for term in _or_terms(self._root):
            lookup = _column_equals(term)
            value = evaluate_node(lookup[1], context) if lookup else None
            if lookup is None or not (value is None or isinstance(value, str)):
                rest.append(term)
                continue
            kept.update(_index(rows, lookup[0]).get(value or "", ()))  # '' = a missing column
        if rest:
            for i, row in enumerate(rows):
                if i not in kept:
                    judged = Context(env, None, today, None, item=row)
                    if any(boolean(evaluate_node(term, judged)) for term in rest):
                        kept.add(i)
        return sorted(kept)


def _or_terms(node: Node) -> list[Node]:
    if isinstance(node, Chain) and node.steps[0][0] == "or":
        return [node.first, *(operand for _, operand in node.steps)]
    return [node]


def _column_equals(node: Node) -> tuple[str, Node] | None:
    """(column, the other side) for `column = <expression without columns>`, either way."""
    if not (isinstance(node, Chain) and len(node.steps) == 1 and node.steps[0][0] == "="):
        return None
    left, right = node.first, node.steps[0][1]
    if isinstance(right, Column):
        left, right = right, left
    if isinstance(left, Column) and not _reads_choice(right):
        return left.name, right
    return None


def _reads_choice(node: Node) -> bool:
    match node:
        case Column() | Current():
            return True
        case Negate(operand):
            return _reads_choice(operand)
        case Chain(first, steps):
            return _reads_choice(first) or any(_reads_choice(n) for _, n in steps)
        case Call(_, args):
            return any(_reads_choice(arg) for arg in args)
    return False


# (id of the rows, column) -> (the rows, value -> indexes); the rows are held so that their
# id is not reused while the entry lives. A column's values are strings ('' when missing),
# so `=` against a string (or empty) is a look-up with XPath's own result.
_INDEXES: dict[tuple[int, str], tuple[Sequence[Mapping[str, str]], dict[str, list[int]]]] = {}


def _index(rows: Sequence[Mapping[str, str]], column: str) -> dict[str, list[int]]:
    cached = _INDEXES.get((id(rows), column))
    if cached is not None and cached[0] is rows:
        return cached[1]
    index: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        index.setdefault(row.get(column) or "", []).append(i)
    if len(_INDEXES) >= 64:
        _INDEXES.pop(next(iter(_INDEXES)))
    _INDEXES[(id(rows), column)] = (rows, index)
    return index


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
        frozenset(parser.absent),
    )
