"""What the server checks in a pushed envelope before storage decides its fate.

The statistical-fields check is what guarantees that no sensitive value reaches the server
in clear: `stats` may hold only the fields a form marks statistical (and repeat instances of
them, keyed by `_id`); any other key is refused by name. Values must already be in their
canonical JSON type (the device sends what `fieldapp.forms.validate.check` cleaned): the
server stores exactly what the device signed, so it cannot coerce.

A statistical calculation must have the shape its form gives it (true/false, one of its
values, a number or a date: see `fieldapp.forms.statistics.Statistics`). Where a statistical
calculation, or a statistical field's constraint or choice filter (a province of the country
given), reads statistics only, the server runs it again over the record's stats (instance by
instance in a repeat) and refuses a record that disagrees: a modified client cannot put what
it likes in clear.

A record's problems are capped at `MAX_FIELD_ERRORS`, the rest only counted: a record with
100,000 bad keys costs a count, not 100,000 error objects and a 10 MB answer.

The recipients check is what guarantees the office can open every sealed part it stores:
`sealed` must be sealed to exactly the organisation's current keys (read from the envelope's
header; nothing is opened). A foreign key means the device was given keys that are not the
organisation's (its enrolment was tampered with); a missing one, that the office holding it
could not open the record.
"""

from __future__ import annotations

import math
import re
import threading
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from fieldapp.crypto import (
    CryptoError,
    SignatureError,
    envelope_epoch_id,
    envelope_key_ids,
    verify,
)
from fieldapp.forms.choices import answer_key, visible_choices
from fieldapp.forms.expr import (
    Expression,
    ExpressionError,
    Shape,
    boolean,
    parse,
    parse_choice_filter,
)
from fieldapp.forms.spec import FieldSpec, FormSpec, Node, RepeatSpec, answer_nodes
from fieldapp.forms.statistics import Statistics
from fieldapp.forms.validate import is_empty
from sync.protocol import MAX_FIELD_ERRORS, RecordEnvelope, WireFieldError, capped_field_errors

__all__ = ["FormRules", "RefusedForm", "envelope_errors", "recipient_key_ids", "stats_errors"]

_Env = ChainMap[str, Any]


@dataclass(frozen=True, slots=True)
class _Field:
    """A field prepared for checking. For a statistical one: the shape of its calculation, and
    the expressions that read statistics only, which the server runs again."""

    node: FieldSpec
    shape: Shape | None = None
    calculation: Expression | None = None
    constraint: Expression | None = None
    choice_filter: Expression | None = None
    # The other statistics its verdict reads (sorted), None when it cannot be remembered
    # (an expression drawing random numbers or ids).
    inputs: tuple[str, ...] | None = ()


@dataclass(frozen=True, slots=True)
class _Repeat:
    node: RepeatSpec
    level: dict[str, _Field | _Repeat]


def _level(nodes: list[Node], statistics: Statistics) -> dict[str, _Field | _Repeat]:
    return {
        node.name: _Repeat(node, _level(node.children, statistics))
        if isinstance(node, RepeatSpec)
        else _prepared(node, statistics)
        for node in answer_nodes(nodes)
    }


def _prepared(node: FieldSpec, statistics: Statistics) -> _Field:
    if node.sensitivity != "statistical":
        return _Field(node)

    def rerun(source: str | None, read: Callable[[str], Expression] = parse) -> Expression | None:
        try:
            expression = read(source) if source else None
        except ExpressionError:  # the device cannot run it either: it never passes there
            return None
        if expression is None or not statistics.reads_statistics_only(expression):
            return None
        return expression

    calculation = rerun(node.calculation)
    constraint = rerun(node.constraint)
    choice_filter = rerun(node.choice_filter, parse_choice_filter)
    expressions = [e for e in (calculation, constraint, choice_filter) if e is not None]
    inputs = None
    if not any(expression.functions & _UNREPEATABLE for expression in expressions):
        inputs = tuple(sorted({name for e in expressions for name in e.references}))
    return _Field(
        node,
        shape=statistics.shape(node) if node.type == "calculate" else None,
        calculation=calculation,
        constraint=constraint,
        choice_filter=choice_filter,
        inputs=inputs,
    )


# Functions whose value is not a function of the expression's inputs.
_UNREPEATABLE = frozenset({"random", "uuid", "once"})
_RERUNS_KEPT = 4096
_UNKNOWN = object()


class FormRules:
    """A form version prepared once for checking stats (fields by name at every level, choice
    values as sets, the expressions to run again): a server checks many records against few
    published versions."""

    def __init__(self, spec: FormSpec) -> None:
        self.spec = spec
        self.fields = _level(spec.children, spec.statistics())
        self.choices = {
            name: frozenset(choice.value for choice in choices)
            for name, choices in spec.choices.items()
        }
        # What a re-run expression gave for the statistics it reads: many records share them.
        self._reruns: dict[tuple[Any, ...], Any] = {}
        self._reruns_lock = threading.Lock()
        # A statistical field's verdict on a value, given the statistics its rules read:
        # records repeat the same few answers (see `verdict`).
        self._verdicts: dict[tuple[Any, ...], tuple[str, str] | None] = {}

    def rerun(self, expression: Expression, env: _Env, current: Any = None) -> Any:
        """`expression.evaluate(env, current=current)`, remembered by what it reads (an
        expression that reads statistics only, and no clock, is a function of them). Not
        remembered: one reading a repeat's instances (each record's are its own)."""
        inputs = [(name, env.get(name)) for name in sorted(expression.references)]
        if expression.functions & _UNREPEATABLE or any(
            isinstance(value, list) and any(isinstance(item, Mapping) for item in value)
            for _, value in inputs
        ):
            return expression.evaluate(env, current=current)
        key = (
            expression.source,
            answer_key(current),
            *((name, answer_key(value)) for name, value in inputs),
        )
        found = self._reruns.get(key, _UNKNOWN)
        if found is _UNKNOWN:
            found = expression.evaluate(env, current=current)
            with self._reruns_lock:  # requests are checked on several threads
                if len(self._reruns) >= _RERUNS_KEPT:
                    self._reruns.pop(next(iter(self._reruns)))  # the oldest: insertion order
                self._reruns[key] = found
        return found

    def verdict(self, field: _Field, value: Any, env: _Env) -> tuple[str, str] | None:
        """`_value_problem(self, field, value, env)`, remembered by the value and the
        statistics the field's rules read, each exactly (`_exact_key`): the verdict is a
        function of them. Not remembered: one whose rules draw random numbers or ids, or
        read a repeat's instances (each record's are its own)."""
        inputs = field.inputs
        if inputs is None:
            return _value_problem(self, field, value, env)
        try:
            # Text, the common answer, is its own key: it equals no value of another type.
            exact = value if value.__class__ is str else _exact_key(value)
            if inputs:
                key: tuple[Any, ...] = (
                    id(field),
                    exact,
                    *(_exact_key(env.get(name)) for name in inputs),
                )
            else:
                key = (id(field), exact)
        except _Unkeyable:
            return _value_problem(self, field, value, env)
        found = self._verdicts.get(key, _UNKNOWN)
        if found is _UNKNOWN:
            found = _value_problem(self, field, value, env)
            with self._reruns_lock:
                if len(self._verdicts) >= _VERDICTS_KEPT:
                    self._verdicts.pop(next(iter(self._verdicts)))  # the oldest
                self._verdicts[key] = found
        return found  # type: ignore[return-value]


_VERDICTS_KEPT = 16384


class _Unkeyable(Exception):
    """A value holding an object (a repeat's instances): its verdict is not remembered."""


def _exact_key(value: Any) -> Any:
    """A hashable key equal for two values only if they are the same JSON value of the same
    Python type (a float by its repr, so that 0.0 and -0.0 differ): anything computed from
    one is computed from the other. An object raises _Unkeyable."""
    kind = type(value)
    if kind is list:
        return (list, *map(_exact_key, value))
    if kind is float:
        return (float, repr(value))
    if kind is dict:
        raise _Unkeyable
    return (kind, value)


@dataclass(frozen=True, slots=True)
class RefusedForm:
    """A published form version that no longer passes the form checks (published before they
    existed): its records are refused with `reason`, never stored in clear."""

    reason: str


class _Problems:
    """A record's problems: the first MAX_FIELD_ERRORS kept, the rest only counted."""

    def __init__(self) -> None:
        self.kept: list[WireFieldError] = []
        self.left_out = 0

    def add(self, field: str, path: str, code: str, message: str) -> None:
        if len(self.kept) < MAX_FIELD_ERRORS:
            self.kept.append(_error(field, path, code, message))
        else:
            self.left_out += 1

    def wire(self) -> list[WireFieldError]:
        return capped_field_errors(self.kept, self.left_out)


def recipient_key_ids(recipients: list[dict[str, Any]]) -> frozenset[str]:
    """The key ids of an organisation's recipient keys (`Organisation.recipients`), prepared
    once per push for `envelope_errors`."""
    return frozenset(str(recipient["key_id"]) for recipient in recipients)


def envelope_errors(
    envelope: RecordEnvelope,
    device_id: str,
    public_key: bytes,
    rules: FormRules | RefusedForm | None,
    recipients: frozenset[str],
    *,
    signed: bytes | None = None,
    epoch_headers: Mapping[str, bytes] | None = None,
    check_signature: Callable[[bytes, bytes, bytes], None] = verify,
) -> list[WireFieldError]:
    """Why the server refuses this envelope from this device (empty: it may be stored).

    `rules` are the form version the envelope names, None when the server does not know it.
    `recipients` are the organisation's current key ids (`recipient_key_ids`).
    `signed` is `envelope.signing_bytes()` when the caller has computed them already.
    `epoch_headers`: the sealing epoch headers known (in the batch or stored), by id, for
    an epoch envelope (fieldapp.crypto.epochs).
    `check_signature` is `verify`, or one that remembers the batch signatures it verified.
    """
    if envelope.device_id != device_id:
        return [
            _error(
                "device_id",
                "device_id",
                "device_mismatch",
                "the record is signed as another device than the one pushing it",
            )
        ]
    try:
        check_signature(public_key, envelope.signature, envelope.signed_message(signed))
    except SignatureError:
        if envelope.proof is not None:
            return [
                _error(
                    "proof",
                    "proof",
                    "bad_batch_proof",
                    "the inclusion proof and batch signature do not lead from this record"
                    " to a root this device's enrolled key signed",
                )
            ]
        return [
            _error(
                "signature",
                "signature",
                "bad_signature",
                "the signature does not match this device's enrolled key",
            )
        ]
    if envelope.consent_withdrawn and envelope.sealed is not None:
        return [
            _error(
                "sealed",
                "sealed",
                "withdrawal_sealed",
                "a revision that withdraws consent carries no sealed part",
            )
        ]
    if envelope.sealed is not None:
        problem = _recipients_problem(envelope.sealed, recipients, epoch_headers or {})
        if problem is not None:
            return [_error("sealed", "sealed", *problem)]
    if rules is None:
        return [
            _error(
                "form_version",
                "form_version",
                "unknown_form_version",
                f"form {envelope.form_id!r} version {envelope.form_version!r} is not "
                "published on this server: the record stays on the device until it is",
            )
        ]
    if isinstance(rules, RefusedForm):
        return [
            _error(
                "form_version",
                "form_version",
                "form_refused",
                f"form {envelope.form_id!r} version {envelope.form_version!r} no longer "
                f"passes the server's checks: {rules.reason}",
            )
        ]
    return stats_errors(rules, envelope.stats)


def _recipients_problem(
    sealed: bytes, recipients: frozenset[str], epoch_headers: Mapping[str, bytes]
) -> tuple[str, str] | None:
    """(code, message) unless `sealed` is sealed to exactly the organisation's keys (an
    epoch envelope: its epoch header is)."""
    try:
        epoch_id = envelope_epoch_id(sealed)
        header = None if epoch_id is None else epoch_headers.get(epoch_id)
        if epoch_id is not None and header is None:
            return (
                "unknown_epoch",
                f"the sealed part names sealing epoch {epoch_id}, whose header was neither in"
                " the push nor stored here: push it again with its epoch header",
            )
        sealed_to = _sealed_to(sealed, epoch_id, header)
    except CryptoError:
        return "sealed_malformed", "the sealed part is not a fieldapp envelope (see crypto.seal)"
    foreign = sorted(sealed_to - recipients)
    if foreign:
        return (
            "unknown_recipient",
            f"the sealed part is sealed to {', '.join(foreign)}, not the organisation's keys"
            f" ({', '.join(sorted(recipients)) or 'none'}): enrol the device again with a new"
            " code, then edit and finalise the record again",
        )
    missing = sorted(recipients - sealed_to)
    if missing:
        return (
            "missing_recipient",
            f"the sealed part is not sealed to the organisation's key {', '.join(missing)}:"
            " the office holding it could not open it; enrol the device again with a new"
            " code, then edit and finalise the record again",
        )
    return None


# The key ids of the epoch headers seen lately, by (epoch id, header): an epoch's many
# envelopes are sealed to the keys its one header names.
_EPOCH_KEY_IDS: dict[tuple[str, bytes], frozenset[str]] = {}
_EPOCH_KEY_IDS_KEPT = 64
_EPOCH_KEY_IDS_LOCK = threading.Lock()  # requests are checked on several threads


def _sealed_to(sealed: bytes, epoch_id: str | None, header: bytes | None) -> frozenset[str]:
    """The key ids `sealed` is sealed to (`envelope_key_ids`); for an epoch envelope, read
    once per epoch header, which alone names them. CryptoError as `envelope_key_ids`."""
    if epoch_id is None or header is None:
        return frozenset(envelope_key_ids(sealed, header))
    found = _EPOCH_KEY_IDS.get((epoch_id, header))
    if found is None:
        found = frozenset(envelope_key_ids(sealed, header))
        with _EPOCH_KEY_IDS_LOCK:
            if len(_EPOCH_KEY_IDS) >= _EPOCH_KEY_IDS_KEPT:
                _EPOCH_KEY_IDS.pop(next(iter(_EPOCH_KEY_IDS)))  # the oldest
            _EPOCH_KEY_IDS[(epoch_id, header)] = found
    return found


def stats_errors(form: FormSpec | FormRules, stats: Mapping[str, Any]) -> list[WireFieldError]:
    """Problems with `stats` against the form's statistical fields, each by field; at most
    MAX_FIELD_ERRORS of them, then a `more_errors` entry counting the rest."""
    rules = form if isinstance(form, FormRules) else FormRules(form)
    problems = _Problems()
    _level_errors(rules, rules.fields, stats, "", ChainMap(dict(stats)), problems)
    return problems.wire()


def _error(field: str, path: str, code: str, message: str) -> WireFieldError:
    return WireFieldError(field=field, path=path, code=code, message=message)


def _level_errors(
    rules: FormRules,
    level: dict[str, _Field | _Repeat],
    values: Mapping[str, Any],
    prefix: str,
    env: _Env,
    problems: _Problems,
) -> None:
    for name, value in values.items():
        node = level.get(name)
        if type(node) is _Field and node.node.sensitivity == "statistical":
            problem = rules.verdict(node, value, env)
            if problem is not None:
                code, message = problem
                problems.add(name, prefix + name, code, f"{name!r}: {message}")
        elif node is None:
            message = f"{name!r} is not a field of this form"
            problems.add(name, prefix + name, "unknown_field", message)
        elif isinstance(node, _Repeat):
            _repeat_errors(rules, node, value, prefix + name, env, problems)
        else:
            problems.add(
                name,
                prefix + name,
                "not_statistical",
                f"{name!r} is a sensitive field: it may only travel sealed, never in stats",
            )


def _repeat_errors(
    rules: FormRules, repeat: _Repeat, value: Any, path: str, env: _Env, problems: _Problems
) -> None:
    node = repeat.node
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        problems.add(node.name, path, "type", f"{node.name!r}: a repeat is a list of objects")
        return
    for index, instance in enumerate(value):
        item_path = f"{path}[{index}]"
        if not _is_uuid(instance.get("_id")):
            problems.add(
                node.name, item_path, "type", f"{node.name!r}: each instance needs a UUID _id"
            )
        answers = {key: item for key, item in instance.items() if key != "_id"}
        _level_errors(
            rules, repeat.level, answers, item_path + ".", env.new_child(answers), problems
        )


def _value_problem(
    rules: FormRules, field: _Field, value: Any, env: _Env
) -> tuple[str, str] | None:
    """(code, message) when `value` is not what the field may hold in this record, else None."""
    if value is None:
        return None
    problem = _type_problem(rules, field, value)
    if problem is not None:
        return problem
    if field.calculation is not None and not _same(rules.rerun(field.calculation, env), value):
        return "calculation_mismatch", "is not what its calculation gives from the statistics"
    if field.choice_filter is not None and not is_empty(value):
        kept = {c.value for c in visible_choices(rules.spec, field.node, env)}
        if not set(value if isinstance(value, list) else [value]) <= kept:
            return "choice", "not one of the choices its filter keeps for the other statistics"
    if (
        field.constraint is not None
        and not is_empty(value)
        and not boolean(rules.rerun(field.constraint, env, current=value))
    ):
        spec = rules.spec
        custom = spec.label(field.node.constraint_message, spec.default_language)
        return "constraint", "breaks the form's constraint" + (f" ({custom})" if custom else "")
    return None


def _type_problem(rules: FormRules, field: _Field, value: Any) -> tuple[str, str] | None:
    """(code, message) when `value` is not a canonical value of the field, else None."""
    kind = field.node.type
    if kind == "note":
        return "type", "a note holds no value"
    if kind in _KINDS:
        return _kind_problem(kind, value)
    if kind == "calculate":
        return _calculated_problem(field.shape or Shape("open"), value)
    allowed = rules.choices.get(field.node.choices or "", frozenset())
    if kind == "select_one":
        return None if isinstance(value, str) and value in allowed else ("choice", "not a choice")
    if kind == "select_multiple":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return "type", "must be a list of choices"
        return None if set(value) <= allowed else ("choice", "not a choice")
    return "type", f"a {kind} field cannot be statistical"


def _calculated_problem(shape: Shape, value: Any) -> tuple[str, str] | None:
    if shape.kind in _KINDS:
        return _kind_problem(shape.kind, value)
    if shape.kind == "choice":
        member = isinstance(value, str | int | float) and not isinstance(value, bool)
        if member and value in shape.values:
            return None
        return "choice", "not one of the values its calculation gives"
    if shape.kind == "empty":
        return "type", "its calculation never has a value"
    return "type", "this calculation cannot be kept in clear"  # a form FormSpec would refuse


def _kind_problem(kind: str, value: Any) -> tuple[str, str] | None:
    accepts, message = _KINDS[kind]
    return None if accepts(value) else ("type", message)


def _is_number(value: Any) -> bool:
    """An int or a finite float (never a bool); a huge int is a number too, not an error."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool)


_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "boolean": (lambda value: isinstance(value, bool), "must be true or false"),
    "integer": (
        lambda value: isinstance(value, int) and not isinstance(value, bool),
        "must be a whole number",
    ),
    "decimal": (_is_number, "must be a number"),
    "number": (_is_number, "must be a number"),
    "date": (lambda value: _is_iso_date(value), "must be a date YYYY-MM-DD"),
}


def _same(computed: Any, value: Any) -> bool:
    """Equal as the device's value and the server's computation of it: 1 and 1.0 alike (JSON
    numbers), but true is not 1."""
    return computed == value and isinstance(computed, bool) == isinstance(value, bool)


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _is_uuid(value: Any) -> bool:
    """A canonical UUID (as `str(uuid.UUID(...))` writes one): `_id` travels in clear, so it
    must not be able to carry text."""
    return isinstance(value, str) and _CANONICAL_UUID.fullmatch(value) is not None


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
