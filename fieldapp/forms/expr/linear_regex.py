"""A regex matcher whose time is linear in the input: for the patterns Python's backtracking
`re` could freeze on (a repetition inside a repetition, like `(a+)+`).

The pattern is read by CPython's own regex parser (so it means what `re` would make of it)
and compiled into a Thompson NFA, which is then simulated breadth-first (a Pike VM without
captures, since `regex()` only asks whether the pattern matches): each input character
advances every live state once, so a search costs at most 2 × (len(text) + 1) ×
len(program) steps whatever the pattern. It covers what XML-Schema/XPath regexes can say
(characters, classes, ranges, negation, `\\d \\w \\s` and their negations, `.`, anchors,
word boundaries, groups, alternation, `* + ? {m,n}`, lazy or greedy) and refuses what they cannot
(backreferences, lookarounds, atomic groups, inline flags other than `(?x)`).
"""

from __future__ import annotations

import re
import re._constants as _sre  # CPython's regex parser: the only way to read a pattern's
import re._parser as _sre_parser  # structure as `re` reads it (3.11+ names)
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["MAX_PROGRAM", "LinearPattern", "Run"]

MAX_PROGRAM = 1_000  # instructions: each costs up to 2 steps per character of the answer

_DIGITS = frozenset("0123456789")
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_SPACE = frozenset(" \t\n\r\f\v")  # `\s` under re.ASCII
_CATEGORIES: dict[Any, Callable[[str], bool]] = {
    _sre.CATEGORY_DIGIT: _DIGITS.__contains__,
    _sre.CATEGORY_NOT_DIGIT: lambda char: char not in _DIGITS,
    _sre.CATEGORY_WORD: _WORD.__contains__,
    _sre.CATEGORY_NOT_WORD: lambda char: char not in _WORD,
    _sre.CATEGORY_SPACE: _SPACE.__contains__,
    _sre.CATEGORY_NOT_SPACE: lambda char: char not in _SPACE,
}
_ALLOWED_FLAGS = re.ASCII | re.VERBOSE  # VERBOSE only changes how the pattern is read
_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT)  # lazy or greedy: the same for a yes/no answer


class Run(NamedTuple):
    matched: bool
    steps: int  # instructions visited: at most 2 × (len(text) + 1) × len(program)


# Instructions: ("char", test) consumes one character; ("split", a, b) and ("jump", a) move
# without consuming; ("at", code) asserts a position; ("match",).
_Instruction = tuple[Any, ...]


@dataclass(frozen=True)
class LinearPattern:
    """A compiled pattern; `search` answers like `re.search(pattern, text) is not None`."""

    pattern: str
    program: tuple[_Instruction, ...]

    @classmethod
    def compile(cls, pattern: str) -> LinearPattern:
        """ValueError (naming the construct) for what the linear matcher cannot run."""
        try:
            parsed = _sre_parser.parse(pattern, re.ASCII)
        except (re.error, RecursionError, OverflowError) as error:
            raise ValueError(f"invalid regular expression {pattern!r}: {error}") from None
        if parsed.state.flags & ~_ALLOWED_FLAGS:
            raise ValueError(f"regular expression {pattern!r}: inline flags are not supported")
        program: list[_Instruction] = []
        _Compiler(pattern, program).sequence(list(parsed))
        program.append(("match",))
        return cls(pattern, tuple(program))

    def search(self, text: str) -> bool:
        return self.run(text).matched

    def run(self, text: str) -> Run:
        """Simulate the NFA over `text`, starting a thread at every position (search)."""
        program = self.program
        steps = 0
        threads: list[int] = []  # states waiting at this position, after the last character
        for position in range(len(text) + 1):
            seen: set[int] = set()
            stack = _unseen(seen, *threads, 0)  # and a new thread: the match may start here
            waiting: list[int] = []
            while stack:
                pc = stack.pop()
                steps += 1
                instruction = program[pc]
                kind = instruction[0]
                if kind == "match":
                    return Run(True, steps)
                if kind == "char":
                    waiting.append(pc)
                elif kind == "jump":
                    stack.extend(_unseen(seen, instruction[1]))
                elif kind == "split":
                    stack.extend(_unseen(seen, instruction[2], instruction[1]))
                elif _holds(instruction[1], text, position):
                    stack.extend(_unseen(seen, pc + 1))
            if position < len(text):
                char = text[position]
                steps += len(waiting)
                threads = [pc + 1 for pc in waiting if program[pc][1](char)]
        return Run(False, steps)


def _unseen(seen: set[int], *targets: int) -> list[int]:
    """The targets not yet reached at this position, marked as reached (each state is
    visited once per position: what keeps the simulation linear)."""
    fresh: list[int] = []
    for target in targets:
        if target not in seen:
            seen.add(target)
            fresh.append(target)
    return fresh


def _is_word(text: str, position: int) -> bool:
    return 0 <= position < len(text) and text[position] in _WORD


def _holds(code: Any, text: str, position: int) -> bool:
    if code in (_sre.AT_BEGINNING, _sre.AT_BEGINNING_STRING):
        return position == 0
    if code == _sre.AT_END:  # `$`: the end, or before a final newline, as in `re`
        return position == len(text) or (position == len(text) - 1 and text[-1] == "\n")
    if code == _sre.AT_END_STRING:
        return position == len(text)
    boundary = _is_word(text, position - 1) != _is_word(text, position)
    return boundary if code == _sre.AT_BOUNDARY else not boundary


class _Compiler:
    """Emits the program of a parsed pattern (Thompson's construction)."""

    def __init__(self, pattern: str, program: list[_Instruction]) -> None:
        self.pattern = pattern
        self.program = program

    def _emit(self, *instruction: Any) -> int:
        if len(self.program) >= MAX_PROGRAM:
            raise ValueError(f"regular expression {self.pattern!r} is too large to run safely")
        self.program.append(instruction)
        return len(self.program) - 1

    def _refuse(self, what: str) -> ValueError:
        return ValueError(f"regular expression {self.pattern!r}: {what} are not supported")

    def sequence(self, items: list[tuple[Any, Any]]) -> None:
        for op, arg in items:
            self.item(op, arg)

    def item(self, op: Any, arg: Any) -> None:
        if op in (_sre.LITERAL, _sre.NOT_LITERAL, _sre.ANY, _sre.IN):
            self._emit("char", _char_test(op, arg))
        elif op == _sre.AT:
            if arg not in (
                _sre.AT_BEGINNING, _sre.AT_BEGINNING_STRING, _sre.AT_END,
                _sre.AT_END_STRING, _sre.AT_BOUNDARY, _sre.AT_NON_BOUNDARY,
            ):  # fmt: skip
                raise self._refuse("line anchors")
            self._emit("at", arg)
        elif op == _sre.SUBPATTERN:
            _group, add_flags, del_flags, sub = arg
            if (add_flags | del_flags) & ~_ALLOWED_FLAGS:
                raise self._refuse("inline flags")
            self.sequence(list(sub))
        elif op == _sre.BRANCH:
            self._alternation([list(branch) for branch in arg[1]])
        elif op in _REPEATS:
            low, high, sub = arg
            self._repeat(list(sub), low, None if high == _sre.MAXREPEAT else high)
        elif op in (_sre.GROUPREF, _sre.GROUPREF_EXISTS):
            raise self._refuse("backreferences")
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            raise self._refuse("lookarounds")
        else:  # atomic groups, possessive repeats
            raise self._refuse(f"{str(op).lower().replace('_', ' ')}s")

    def _alternation(self, branches: list[list[tuple[Any, Any]]]) -> None:
        jumps: list[int] = []
        for branch in branches[:-1]:
            split = self._emit("split", 0, 0)
            self.sequence(branch)
            jumps.append(self._emit("jump", 0))
            self.program[split] = ("split", split + 1, len(self.program))
        self.sequence(branches[-1])
        for jump in jumps:
            self.program[jump] = ("jump", len(self.program))

    def _repeat(self, sub: list[tuple[Any, Any]], low: int, high: int | None) -> None:
        for _ in range(low):
            self.sequence(sub)
        if high is None:  # a loop: split(body, out); body; jump split
            split = self._emit("split", 0, 0)
            self.sequence(sub)
            self._emit("jump", split)
            self.program[split] = ("split", split + 1, len(self.program))
            return
        splits = []
        for _ in range(high - low):  # nested optionals: x{0,2} is (x(x)?)?
            splits.append(self._emit("split", 0, 0))
            self.sequence(sub)
        for split in splits:
            self.program[split] = ("split", split + 1, len(self.program))


def _char_test(op: Any, arg: Any) -> Callable[[str], bool]:
    if op == _sre.LITERAL:
        return chr(arg).__eq__
    if op == _sre.NOT_LITERAL:
        return chr(arg).__ne__
    if op == _sre.ANY:
        return "\n".__ne__
    negate = bool(arg) and arg[0][0] == _sre.NEGATE
    tests = [_class_member(kind, value) for kind, value in arg[negate:]]
    if negate:
        return lambda char: not any(test(char) for test in tests)
    return lambda char: any(test(char) for test in tests)


def _class_member(kind: Any, value: Any) -> Callable[[str], bool]:
    if kind == _sre.LITERAL:
        return chr(value).__eq__
    if kind == _sre.RANGE:
        low, high = value
        return lambda char: low <= ord(char) <= high
    if kind == _sre.CATEGORY and value in _CATEGORIES:
        return _CATEGORIES[value]
    raise ValueError(f"unsupported character class item {kind} {value}")
