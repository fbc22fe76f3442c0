"""How a FormSpec reads on a phone: its wizard steps, what is relevant, and answers in words."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Unpack

from fieldapp.forms.answers import answer_text, display_value
from fieldapp.forms.expr import ExpressionError, Options, parse
from fieldapp.forms.spec import FieldSpec, FormSpec, GroupSpec, Labels, Node, RepeatSpec

__all__ = [
    "AnswerState",
    "JumpQuestion",
    "JumpStep",
    "Step",
    "answer_names",
    "answer_text",
    "build_steps",
    "display_value",
    "is_relevant",
    "questions",
    "root_name",
    "value_at",
]


AnswerState = Literal["answered", "unanswered", "error"]


@dataclass(frozen=True)
class JumpQuestion:
    """One question of the jump list: its label and whether it is answered or wrong."""

    name: str
    label: str
    state: AnswerState


@dataclass(frozen=True)
class JumpStep:
    """One step of the jump list (ODK Collect's hierarchy view), with its questions."""

    index: int
    label: str
    questions: tuple[JumpQuestion, ...]
    current: bool

    @property
    def state(self) -> AnswerState:
        states = {q.state for q in self.questions}
        return (
            "error"
            if "error" in states
            else "unanswered"
            if "unanswered" in states
            else ("answered")
        )


@dataclass(frozen=True)
class Step:
    """One wizard step: a top-level group, a top-level repeat, or a run of loose fields."""

    name: str
    label: Labels
    nodes: tuple[Node, ...]
    relevant: str | None = None


def build_steps(spec: FormSpec) -> list[Step]:
    steps: list[Step] = []
    loose: list[Node] = []

    def flush() -> None:
        if loose:
            steps.append(Step(f"_fields{len(steps)}", spec.title, tuple(loose)))
            loose.clear()

    for node in spec.children:
        if isinstance(node, GroupSpec):
            flush()
            steps.append(Step(node.name, node.label, tuple(node.children), node.relevant))
        elif isinstance(node, RepeatSpec):
            flush()
            steps.append(Step(node.name, node.label, (node,), node.relevant))
        else:
            loose.append(node)
    flush()
    return steps


def answer_names(nodes: tuple[Node, ...] | list[Node]) -> set[str]:
    """The names of `nodes` and of everything their groups hold (not inside repeats)."""
    names: set[str] = set()
    for node in nodes:
        names.add(node.name)
        if isinstance(node, GroupSpec):
            names |= answer_names(node.children)
    return names


def root_name(path: str) -> str:
    """The top-level name an error path starts with (`participants[1].age` -> participants)."""
    return path.split("[", 1)[0].split(".", 1)[0]


def value_at(values: Mapping[str, Any], path: str) -> Any:
    """The value an error path names in clean values (`participants[1].age`), or None."""
    current: Any = values
    for part in path.split("."):
        name, _, index = part.partition("[")
        current = current.get(name) if isinstance(current, Mapping) else None
        if index:
            position = int(index.rstrip("]"))
            listed = isinstance(current, list) and position < len(current)
            current = current[position] if listed else None
    return current


def is_relevant(expression: str | None, env: Mapping[str, Any], **options: Unpack[Options]) -> bool:
    """The same rule as validation: an expression that cannot be evaluated is false;
    `options` (choice lists as instances, choice labels) as `Expression.evaluate` takes them."""
    if not expression:
        return True
    try:
        return parse(expression).truth(env, **options)
    except ExpressionError:
        return False


def questions(
    nodes: tuple[Node, ...] | list[Node], env: ChainMap, options: Options
) -> list[FieldSpec | RepeatSpec]:
    """The relevant questions among `nodes`, in order (not notes, calculations or
    metadata), relevance judged as everywhere else in the form (with its lookups)."""
    out: list[FieldSpec | RepeatSpec] = []
    for node in nodes:
        if not is_relevant(node.relevant, env, **options):
            continue
        if isinstance(node, GroupSpec):
            out.extend(questions(node.children, env, options))
        elif _asks(node):
            out.append(node)
    return out


def _asks(node: FieldSpec | RepeatSpec) -> bool:
    """A question someone answers: a repeat, or a field that is not a note, a calculation or
    metadata the app records itself."""
    if isinstance(node, RepeatSpec):
        return True
    return node.type not in ("note", "calculate") and node.metadata is None
