"""What the server checks in a pushed envelope before storage decides its fate.

The statistical-fields check is what guarantees that no sensitive value reaches the server
in clear: `stats` may hold only the fields a form marks statistical (and repeat instances of
them, keyed by `_id`); any other key is refused by name. Values must already be in their
canonical JSON type (the device sends what `fieldapp.forms.validate.check` cleaned): the
server stores exactly what the device signed, so it cannot coerce.

The recipients check is what guarantees the office can open every sealed part it stores:
`sealed` must be sealed to exactly the organisation's current keys (read from the envelope's
header; nothing is opened). A foreign key means the device was given keys that are not the
organisation's (its enrolment was tampered with); a missing one, that the office holding it
could not open the record.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from fieldapp.crypto import CryptoError, SignatureError, envelope_key_ids, verify
from fieldapp.forms.spec import FieldSpec, FormSpec, Node, RepeatSpec, answer_nodes
from sync.protocol import RecordEnvelope, WireFieldError

__all__ = [
    "MAX_CALCULATED_TEXT",
    "FormRules",
    "envelope_errors",
    "recipient_key_ids",
    "stats_errors",
]

# A statistical calculation may yield a short label ("18-24"), never a free text.
MAX_CALCULATED_TEXT = 64


@dataclass(frozen=True, slots=True)
class _Repeat:
    node: RepeatSpec
    level: dict[str, FieldSpec | _Repeat]


def _level(nodes: list[Node]) -> dict[str, FieldSpec | _Repeat]:
    return {
        node.name: _Repeat(node, _level(node.children)) if isinstance(node, RepeatSpec) else node
        for node in answer_nodes(nodes)
    }


class FormRules:
    """A form version prepared once for checking stats (fields by name at every level, choice
    values as sets): a server checks many records against few published versions."""

    def __init__(self, spec: FormSpec) -> None:
        self.spec = spec
        self.fields = _level(spec.children)
        self.choices = {
            name: frozenset(choice.value for choice in choices)
            for name, choices in spec.choices.items()
        }


def recipient_key_ids(recipients: list[dict[str, Any]]) -> frozenset[str]:
    """The key ids of an organisation's recipient keys (`Organisation.recipients`), prepared
    once per push for `envelope_errors`."""
    return frozenset(str(recipient["key_id"]) for recipient in recipients)


def envelope_errors(
    envelope: RecordEnvelope,
    device_id: str,
    public_key: bytes,
    rules: FormRules | None,
    recipients: frozenset[str],
    *,
    signed: bytes | None = None,
) -> list[WireFieldError]:
    """Why the server refuses this envelope from this device (empty: it may be stored).

    `rules` are the form version the envelope names, None when the server does not know it.
    `recipients` are the organisation's current key ids (`recipient_key_ids`).
    `signed` is `envelope.signing_bytes()` when the caller has computed them already.
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
        verify(public_key, envelope.signature, signed or envelope.signing_bytes())
    except SignatureError:
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
        problem = _recipients_problem(envelope.sealed, recipients)
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
    return stats_errors(rules, envelope.stats)


def _recipients_problem(sealed: bytes, recipients: frozenset[str]) -> tuple[str, str] | None:
    """(code, message) unless `sealed` is sealed to exactly the organisation's keys."""
    try:
        sealed_to = set(envelope_key_ids(sealed))
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


def stats_errors(form: FormSpec | FormRules, stats: Mapping[str, Any]) -> list[WireFieldError]:
    """Every problem with `stats` against the form's statistical fields, each by field."""
    rules = form if isinstance(form, FormRules) else FormRules(form)
    return _level_errors(rules, rules.fields, stats, "")


def _error(field: str, path: str, code: str, message: str) -> WireFieldError:
    return WireFieldError(field=field, path=path, code=code, message=message)


def _level_errors(
    rules: FormRules,
    level: dict[str, FieldSpec | _Repeat],
    values: Mapping[str, Any],
    prefix: str,
) -> list[WireFieldError]:
    errors: list[WireFieldError] = []
    for name, value in values.items():
        path = prefix + name
        node = level.get(name)
        if node is None:
            errors.append(
                _error(name, path, "unknown_field", f"{name!r} is not a field of this form")
            )
        elif isinstance(node, _Repeat):
            errors.extend(_repeat_errors(rules, node, value, path))
        elif node.sensitivity != "statistical":
            errors.append(
                _error(
                    name,
                    path,
                    "not_statistical",
                    f"{name!r} is a sensitive field: it may only travel sealed, never in stats",
                )
            )
        else:
            problem = _value_problem(rules, node, value)
            if problem is not None:
                code, message = problem
                errors.append(_error(name, path, code, f"{name!r}: {message}"))
    return errors


def _repeat_errors(
    rules: FormRules, repeat: _Repeat, value: Any, path: str
) -> list[WireFieldError]:
    node = repeat.node
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        return [_error(node.name, path, "type", f"{node.name!r}: a repeat is a list of objects")]
    errors: list[WireFieldError] = []
    for index, instance in enumerate(value):
        item_path = f"{path}[{index}]"
        if not _is_uuid(instance.get("_id")):
            errors.append(
                _error(
                    node.name, item_path, "type", f"{node.name!r}: each instance needs a UUID _id"
                )
            )
        answers = {key: item for key, item in instance.items() if key != "_id"}
        errors.extend(_level_errors(rules, repeat.level, answers, item_path + "."))
    return errors


def _value_problem(rules: FormRules, node: FieldSpec, value: Any) -> tuple[str, str] | None:
    """(code, message) when `value` is not a canonical value of the field, else None."""
    if value is None:
        return None
    kind = node.type
    if kind == "note":
        return "type", "a note holds no value"
    if kind == "boolean":
        return None if isinstance(value, bool) else ("type", "must be true or false")
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else ("type", "must be a whole number")
    if kind == "decimal":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok and math.isfinite(value) else ("type", "must be a number")
    if kind == "date":
        return None if _is_iso_date(value) else ("type", "must be a date YYYY-MM-DD")
    if kind == "calculate":
        if isinstance(value, str):
            ok = len(value) <= MAX_CALCULATED_TEXT
            return None if ok else ("type", "a statistical calculation must be short")
        scalar = isinstance(value, bool | int) or (
            isinstance(value, float) and math.isfinite(value)
        )
        return None if scalar else ("type", "must be a number, true/false or a short label")
    allowed = rules.choices.get(node.choices or "", frozenset())
    if kind == "select_one":
        return None if isinstance(value, str) and value in allowed else ("choice", "not a choice")
    if kind == "select_multiple":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            return "type", "must be a list of choices"
        return None if set(value) <= allowed else ("choice", "not a choice")
    return "type", f"a {kind} field cannot be statistical"


def _is_uuid(value: Any) -> bool:
    """A canonical UUID: `_id` travels in clear, so it must not be able to carry text."""
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
