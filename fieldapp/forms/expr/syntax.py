"""Syntax: the tokens, the tree, and the parser that refuses a source too long or too deep
before recursing."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from fieldapp.errors import FormError
from fieldapp.forms.expr.functions import Function, compile_pattern
from fieldapp.forms.expr.odk import FUNCTIONS
from fieldapp.forms.expr.values import finite, to_string

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # a field name, as ${name} refers to it

MAX_SOURCE_LENGTH = 4096
MAX_DEPTH = 64
_T = TypeVar("_T")


class ExpressionError(FormError):
    """An expression is invalid; the message names the problem and the 1-based column."""

    def __init__(self, problem: str, source: str = "", column: int | None = None) -> None:
        self.source = source
        self.column = column
        where = f" at column {column}" if column is not None else ""
        shown = source if len(source) <= 200 else source[:200] + "…"
        super().__init__(f"{problem}{where} in: {shown}" if source else problem)


_TOKEN_RE = re.compile(
    r"""
      (?P<space>(?u:\s)+)
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<ref>\$\{[^}]*\})
    | (?P<name>(?:[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*:)?
               [A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*)  # QNames: jr:x, fuel:diesel
    | (?P<op>!=|<=|>=|\.\.|[=<>+\-*(),./\[\]])
    """,
    re.VERBOSE | re.ASCII,
)
_KEYWORD_OPERATORS = frozenset({"and", "or", "div", "mod"})
_PRECEDENCE = {
    "or": 0, "and": 1, "=": 2, "!=": 2, "<": 3, "<=": 3, ">": 3, ">=": 3,
    "+": 4, "-": 4, "*": 5, "div": 5, "mod": 5,
}  # fmt: skip


class _Token(NamedTuple):
    kind: str  # number, string, ref, name, op or end
    text: str
    column: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN_RE.match(source, position)
        if match is None:
            raise ExpressionError(_bad_character(source, position), source, position + 1)
        kind = match.lastgroup or ""
        if kind == "ref" and not NAME_RE.fullmatch(match.group()[2:-1]):
            raise ExpressionError(f"invalid field name in {match.group()!r}", source, position + 1)
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


def _bad_character(source: str, position: int) -> str:
    char = source[position]
    if char in "'\"":
        return "unterminated string"
    if char == "$":
        return "a field reference must look like ${name}"
    if char == "/":
        return "unexpected '/' (XPath paths are not supported: refer to a field as ${name})"
    return f"unexpected character {char!r}"


# Syntax tree: every node knows its height, which the parser keeps under MAX_DEPTH so that
# evaluating (which recurses) stays far from the recursion limit.


@dataclass(frozen=True, slots=True)
class Constant:
    value: str | int | float
    height: int = 0


@dataclass(frozen=True, slots=True)
class Ref:
    name: str
    height: int = 0
    # In sum(), count(), join()...: a field of a repeat read from outside it gives the values
    # of every instance (a Nodeset), as an XPath path to it would.
    collect: bool = False


@dataclass(frozen=True, slots=True)
class Up:
    """`..` (levels 1), `../..` (2)...: the repeat instance `levels - 1` repeats out; only
    position() reads it."""

    levels: int
    height: int = 0


@dataclass(frozen=True, slots=True)
class Column:
    """A bare name inside a predicate, or in a `choice_filter`: the column of the row being
    tested (an instance's row; the choice being filtered: `name`, `country`, as XLSForm reads
    them against the choices sheet)."""

    name: str
    height: int = 0


@dataclass(frozen=True, slots=True)
class Absent:
    """A bare name elsewhere (`yes`, `basic`): in XPath a child of the node being computed,
    which has none, so an empty node-set: '' as text, false as a test, as ODK computes it.
    The parser lists them (`Parser.absent`) for the importer to warn about."""

    name: str
    height: int = 0


@dataclass(frozen=True, slots=True)
class Lookup:
    """instance('name')/root/item[predicate]...[/column]: the matching rows' column (or the
    rows), as a Nodeset."""

    instance: str
    predicates: tuple[Node, ...]
    column: str | None
    height: int


@dataclass(frozen=True, slots=True)
class Current:
    height: int = 0


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Node
    height: int


@dataclass(frozen=True, slots=True)
class Chain:
    """Operators of one precedence, applied left to right (flat, so `1+1+...+1` is shallow)."""

    first: Node
    steps: tuple[tuple[str, Node], ...]
    height: int


@dataclass(frozen=True, slots=True)
class Call:
    function: Function
    args: tuple[Node, ...]
    height: int
    salt: int = 0  # random(): where it is written, so two calls draw different numbers


_COLLECTING = frozenset(
    {"sum", "count", "join", "count-non-empty", "min", "max", "concat", "checklist"}
)


Node = Constant | Ref | Current | Negate | Chain | Call | Up | Column | Lookup | Absent


class Parser:
    """Recursive descent with precedence climbing; `_descend` counts depth before recursing."""

    def __init__(self, source: str, *, columns: bool = False) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.position = 0
        self.depth = 0
        self.columns_allowed = columns  # a choice_filter: bare names are choice columns
        self.columns: set[str] = set()
        self.references: set[str] = set()
        self.absent: set[str] = set()  # bare names read as paths that select nothing
        self.functions: set[str] = set()
        self.uses_current = False
        self.in_predicate = 0
        self.loose_ups: list[int] = []  # columns of '..' not (yet) taken by position()

    def parse(self) -> Node:
        node = self._binary(0)
        if self._peek().kind != "end":
            raise self._unexpected(self._peek())
        if self.loose_ups:
            raise self._error(
                "'..' alone only has a meaning in position(..); a field is ../name",
                self.loose_ups[0],
            )
        return node

    def _peek(self) -> _Token:
        return self.tokens[self.position]

    def _advance(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _error(self, problem: str, column: int | None) -> ExpressionError:
        return ExpressionError(problem, self.source, column)

    def _unexpected(self, token: _Token) -> ExpressionError:
        if token.kind == "end":
            return self._error("unexpected end of expression", token.column)
        if token.text == "/":
            return self._error(_bad_character(self.source, token.column - 1), token.column)
        return self._error(f"unexpected {token.text!r}", token.column)

    def _expect(self, text: str) -> None:
        token = self._advance()
        if token.text != text or token.kind != "op":
            found = "the end" if token.kind == "end" else repr(token.text)
            raise self._error(f"expected {text!r} but found {found}", token.column)

    def _too_deep(self) -> ExpressionError:
        return self._error(
            f"expression nested more than {MAX_DEPTH} levels deep", self._peek().column
        )

    def _height(self, *children: Node) -> int:
        """The height of a new node; left operands deepen the tree without parser recursion."""
        height = 1 + max((child.height for child in children), default=0)
        if height > MAX_DEPTH:
            raise self._too_deep()
        return height

    def _descend(self, parse: Callable[..., _T], *args: Any) -> _T:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._too_deep()
        try:
            return parse(*args)
        finally:
            self.depth -= 1

    def _operator_precedence(self) -> int | None:
        token = self._peek()
        if token.kind == "op" or (token.kind == "name" and token.text in _KEYWORD_OPERATORS):
            return _PRECEDENCE.get(token.text)
        return None

    def _binary(self, min_precedence: int) -> Node:
        left = self._unary()
        while (precedence := self._operator_precedence()) is not None:
            if precedence < min_precedence:
                break
            steps: list[tuple[str, Node]] = []
            while self._operator_precedence() == precedence:
                op = self._advance().text
                steps.append((op, self._descend(self._binary, precedence + 1)))
            left = Chain(left, tuple(steps), self._height(left, *(node for _, node in steps)))
        return left

    def _unary(self) -> Node:
        if self._peek().text == "-" and self._peek().kind == "op":
            self._advance()
            operand = self._descend(self._unary)
            return Negate(operand, self._height(operand))
        return self._primary()

    def _primary(self) -> Node:
        token = self._advance()
        if token.kind == "number":
            return Constant(self._number_literal(token))
        if token.kind == "string":
            return Constant(token.text[1:-1])
        if token.kind == "ref":
            name = token.text[2:-1]
            self.references.add(name)
            return Ref(name)
        if token.kind == "op" and token.text == ".":
            self.uses_current = True
            return Current()
        if token.kind == "op" and token.text == "..":
            return self._relative(token, 0)
        if token.kind == "name" and token.text == "current" and self._peek().text == "(":
            self._expect("(")
            self._expect(")")
            if self._peek().text == "/":
                self._advance()
                return self._relative(self._advance(), 0)
            self.uses_current = True
            return Current()
        if token.kind == "name" and token.text == "instance" and self._peek().text == "(":
            return self._descend(self._lookup, token)
        if (
            token.kind == "name"
            and self.in_predicate
            and self._peek().text != "("
            and token.text not in _KEYWORD_OPERATORS
        ):
            return Column(token.text)
        if token.kind == "op" and token.text == "(":
            inner = self._descend(self._binary, 0)
            self._expect(")")
            return inner
        if token.kind == "name" and self._peek().text == "(":
            return self._descend(self._call, token)
        if token.kind == "name" and token.text not in _KEYWORD_OPERATORS:
            if self.columns_allowed and NAME_RE.fullmatch(token.text):
                self.columns.add(token.text)
                return Column(token.text)
            self.absent.add(token.text)
            return Absent(token.text)
        raise self._unexpected(token)

    def _relative(self, token: _Token, levels: int) -> Node:
        """`../name`, `../../name`, `current()/../name` (a field of the instance or of an
        enclosing one: found by the scope's lookup, innermost first), or `..` alone (Up)."""
        while True:
            if token.kind == "op" and token.text == "..":
                levels += 1
            elif token.kind == "name" and token.text not in _KEYWORD_OPERATORS and levels:
                if self._peek().text == "/" or not NAME_RE.fullmatch(token.text):
                    raise self._unexpected(self._peek())
                self.references.add(token.text)
                return Ref(token.text)
            else:
                raise self._unexpected(token)
            if self._peek().text != "/":
                self.loose_ups.append(token.column)
                return Up(levels)
            self._advance()
            token = self._advance()

    def _lookup(self, name: _Token) -> Lookup:
        self._expect("(")
        source = self._advance()
        if source.kind != "string":
            raise self._error("instance() takes the name of a list, in quotes", source.column)
        self._expect(")")
        steps: list[str] = []
        predicates: list[Node] = []
        column: str | None = None
        while self._peek().text == "/":
            self._advance()
            step = self._advance()
            if step.kind != "name" or step.text in _KEYWORD_OPERATORS:
                raise self._unexpected(step)
            if len(steps) < 2:
                steps.append(step.text)
            elif column is None:
                column = step.text
            else:
                raise self._unexpected(step)
            while len(steps) == 2 and column is None and self._peek().text == "[":
                self._advance()
                self.in_predicate += 1
                try:
                    predicates.append(self._descend(self._binary, 0))
                finally:
                    self.in_predicate -= 1
                self._expect("]")
        if len(steps) < 2:
            raise self._error(
                "expected instance('name')/root/item[...]/column", self._peek().column
            )
        self.functions.add("instance")
        return Lookup(source.text[1:-1], tuple(predicates), column, self._height(*predicates))

    def _number_literal(self, token: _Token) -> int | float:
        value = finite(float(token.text) if "." in token.text else int(token.text))
        if value is None:
            raise self._error(f"number {token.text[:20]!r} is too large", token.column)
        return value

    def _call(self, name: _Token) -> Call:
        function = FUNCTIONS.get(name.text)
        if function is None:
            raise self._error(f"unknown function {name.text!r}", name.column)
        self.functions.add(function.name)
        self._expect("(")
        args: list[Node] = []
        columns: list[int] = []
        if self._peek().text != ")":
            while True:
                columns.append(self._peek().column)
                args.append(self._binary(0))
                if self._peek().text != ",":
                    break
                self._advance()
        self._expect(")")
        too_many = function.max_args is not None and len(args) > function.max_args
        if function.name in _COLLECTING:
            args = [Ref(arg.name, collect=True) if isinstance(arg, Ref) else arg for arg in args]
        if function.name == "position" and args:
            if not isinstance(args[0], Up):
                raise self._error("position() takes '..' (the repeat instance)", columns[0])
            self.loose_ups.pop()
        if function.name == "count-non-empty" and args and not isinstance(args[0], Ref | Lookup):
            raise self._error(
                "count-non-empty() takes a field of a repeat or an instance() lookup",
                columns[0],
            )
        if function.name == "indexed-repeat" and not all(
            isinstance(arg, Ref) for arg in args[0:2] + args[3::2]
        ):
            raise self._error(
                "indexed-repeat() takes ${field}, ${repeat}, position[, ${repeat}, position]",
                name.column,
            )
        if len(args) < function.min_args or too_many:
            raise self._error(
                f"{name.text}() takes {function.arity_text()}, not {len(args)}", name.column
            )
        if function.name == "regex" and isinstance(pattern := args[1], Constant):
            try:
                compile_pattern(to_string(pattern.value))
            except ValueError as error:
                raise self._error(str(error), columns[1]) from None
        return Call(function, tuple(args), self._height(*args), name.column)
