"""Validation of a submission against its FormSpec.

`check` never stops at the first problem: it returns every error, each naming the field (by its
label in the reader's language) and the problem, and the cleaned values (coerced to their
types, calculations computed, answers to questions that are not relevant removed).
"""

from __future__ import annotations

import math
import uuid
from collections import ChainMap
from collections.abc import Mapping, MutableMapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from fieldapp.forms.choices import visible_choices
from fieldapp.forms.expr import ExpressionError, boolean, parse
from fieldapp.forms.lookups import choice_instances, choice_names
from fieldapp.forms.media import MEDIA_TYPES, is_attachment_id
from fieldapp.forms.repeat_counts import counted_instances
from fieldapp.forms.spec import FieldSpec, FormSpec, GroupSpec, Node, RepeatSpec, answer_nodes
from fieldapp.i18n import message

__all__ = ["MAX_TEXT_LENGTH", "Checked", "FieldError", "check", "is_empty"]

MAX_TEXT_LENGTH = 20_000
_TRUE = frozenset({"true", "yes", "1", "oui", "sí", "si", "y"})
_FALSE = frozenset({"false", "no", "0", "non", "n"})

Env = MutableMapping[str, Any]


class FieldError(BaseModel):
    """One problem with one answer; `path` locates it (`participants[1].post_score`)."""

    path: str
    field: str
    label: str
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class Checked(BaseModel):
    values: dict[str, Any]
    errors: list[FieldError]

    @property
    def ok(self) -> bool:
        return not self.errors


class _Invalid(Exception):
    """A raw answer that cannot be read as its field's type."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def check(
    spec: FormSpec,
    values: Mapping[str, Any],
    *,
    lang: str = "en",
    today: date | None = None,
    partial: bool = False,
) -> Checked:
    """Validate `values`; `partial` (a draft) skips "required" so half-filled forms save."""
    run = _Run(spec, lang, today, partial)
    clean = run.coerce_level(spec.children, values, "")
    # Calculations and relevance feed each other (and may refer further down the form):
    # settle them, dropping answers that are not relevant, before judging what is left.
    for _ in range(2):
        run.calculate_level(spec.children, clean, ChainMap(clean))
        run.judge_level(spec.children, clean, ChainMap(clean), "", report=False)
    run.judge_level(spec.children, clean, ChainMap(clean), "", report=True)
    return Checked(values=clean, errors=run.errors)


class _Run:
    def __init__(self, spec: FormSpec, lang: str, today: date | None, partial: bool) -> None:
        self.spec = spec
        self.lang = lang
        self.today = today
        self.partial = partial
        self.errors: list[FieldError] = []
        self.lookups: dict[str, Any] | None = None
        self.prefilled: set[tuple[int, str]] = set()  # (answers' id, name) computed, not given

    # -- errors ---------------------------------------------------------------------------
    def label_of(self, node: Node) -> str:
        return self.spec.label(node.label, self.lang) or node.name

    def add(self, node: Node, path: str, code: str, key: str, **params: object) -> None:
        label = self.label_of(node)
        self.errors.append(
            FieldError(
                path=path,
                field=node.name,
                label=label,
                code=code,
                message=message(key, self.lang, label=label, **params),
            )
        )

    def add_custom(self, node: Node, path: str, code: str, texts: dict[str, str]) -> None:
        detail = self.spec.label(texts, self.lang)
        self.add(node, path, code, "constraint_custom", detail=detail)

    # -- pass 1: read every raw answer as its type ----------------------------------------
    def coerce_level(
        self, nodes: list[Node], raw: Mapping[str, Any], prefix: str
    ) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raw = {}
        known = {n.name for n in answer_nodes(nodes)}
        clean: dict[str, Any] = {k: v for k, v in raw.items() if k.startswith("_")}
        for key in raw:
            if not key.startswith("_") and key not in known:
                self.errors.append(
                    FieldError(
                        path=prefix + key,
                        field=key,
                        label=key,
                        code="unknown_field",
                        message=message("unknown_field", self.lang, label=key),
                    )
                )
        for node in answer_nodes(nodes):
            path = prefix + node.name
            value = raw.get(node.name)
            if isinstance(node, RepeatSpec):
                if is_empty(value):
                    continue
                if not isinstance(value, list) or not all(isinstance(i, Mapping) for i in value):
                    self.add(node, path, "type", "type_repeat")
                    continue
                instances = []
                for index, instance in enumerate(value):
                    item = self.coerce_level(node.children, instance, f"{path}[{index}].")
                    item["_id"] = _instance_id(item.get("_id"))
                    instances.append(item)
                clean[node.name] = instances
            elif self.kept_by_once(node, value):
                clean[node.name] = value  # once(): the value stays as first calculated
            elif node.type in ("note", "calculate") or is_empty(value):
                continue
            else:
                try:
                    clean[node.name] = self.coerce(node, value)
                except _Invalid as bad:
                    code = "choice" if bad.key == "choice" else "type"
                    key = bad.key
                    if key == "choice" and node.sensitivity != "statistical":
                        key = "choice_unnamed"  # messages reach logs and terminals: no values
                    self.add(node, path, code, key, **bad.params)
        return clean

    def kept_by_once(self, node: FieldSpec, value: Any) -> bool:
        """Whether a stored calculated value is kept: the calculation is once(...), the value a
        plain one, and the field not statistical (its clear value must come from the form's
        own calculation, never from what a device sent)."""
        if node.type != "calculate" or not node.calculation or is_empty(value):
            return False
        if node.sensitivity == "statistical" or isinstance(value, list | dict):
            return False
        if isinstance(value, str) and len(value) > MAX_TEXT_LENGTH:
            return False
        try:
            return "once" in parse(node.calculation).functions
        except ExpressionError:
            return False

    def coerce(self, node: FieldSpec, value: Any) -> Any:
        kind = node.type
        if kind == "text":
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise _Invalid("type_text")
            text = str(value)
            if len(text) > MAX_TEXT_LENGTH:
                raise _Invalid("text_too_long", limit=MAX_TEXT_LENGTH)
            return text
        if kind == "integer":
            return _to_int(value)
        if kind == "decimal":
            return _to_float(value)
        if kind == "date":
            return _to_date(value)
        if kind == "datetime":
            return _to_datetime(value)
        if kind == "boolean":
            return _to_bool(value)
        if kind == "geopoint":
            return _to_geopoint(value)
        if kind in MEDIA_TYPES:  # the id of the attachment the device stored
            if not is_attachment_id(value):
                raise _Invalid("type_attachment")
            return value
        allowed = [c.value for c in self.spec.choices.get(node.choices or "", [])]
        if kind == "select_one":
            choice = str(value).strip() if isinstance(value, str | int) else None
            if choice not in allowed:
                raise _Invalid("choice", value=_short(value))
            return choice
        picked = value.split() if isinstance(value, str) else value
        if not isinstance(picked, list) or not all(isinstance(v, str) for v in picked):
            raise _Invalid("choice", value=_short(value))
        for item in picked:
            if item not in allowed:
                raise _Invalid("choice", value=_short(item))
        return list(dict.fromkeys(picked))

    # -- pass 2: calculations ----------------------------------------------------------------
    def calculate_level(self, nodes: list[Node], clean: dict[str, Any], env: ChainMap) -> None:
        for node in answer_nodes(nodes):
            if isinstance(node, RepeatSpec):
                for instance in clean.get(node.name) or []:
                    self.calculate_level(node.children, instance, env.new_child(instance))
            elif node.type == "calculate" and node.calculation:
                # current: the stored value, which once() keeps
                value = self.evaluate(node.calculation, env, clean.get(node.name))
                if is_empty(value):
                    clean.pop(node.name, None)
                else:
                    clean[node.name] = value
            elif node.calculation and node.holds_value:
                self.prefill(node, clean, env)

    def prefill(self, node: FieldSpec, clean: dict[str, Any], env: ChainMap) -> None:
        """A question with a calculation (XLSForm's, as ODK reads it): its value is computed
        until the person answers it (a read-only one: always), and kept only when it fits
        the question's type; an answer the person gave is never overwritten."""
        key = (id(clean), node.name)
        if not (node.read_only or key in self.prefilled or is_empty(clean.get(node.name))):
            return
        try:
            value = self.coerce(node, self.evaluate(node.calculation or "", env))
        except _Invalid:
            value = None
        self.prefilled.add(key)  # computed, not answered: recomputed at the next round
        if is_empty(value):
            clean.pop(node.name, None)
        else:
            clean[node.name] = value

    # -- pass 3: relevance, required, constraints -------------------------------------------
    def judge_level(
        self, nodes: list[Node], clean: dict[str, Any], env: ChainMap, prefix: str, report: bool
    ) -> None:
        """Drop answers that are not relevant; with `report`, also record what is wrong."""
        for node in nodes:
            path = prefix + node.name
            if node.relevant and not self.truth(node.relevant, env):
                for gone in _names_under(node):
                    clean.pop(gone, None)
                continue
            if isinstance(node, GroupSpec):
                self.judge_level(node.children, clean, env, prefix, report)
            elif isinstance(node, RepeatSpec):
                instances = clean.get(node.name) or []
                if report:
                    self.judge_repeat_count(node, path, len(instances))
                    self.judge_counted(node, path, len(instances), env)
                for index, instance in enumerate(instances):
                    self.judge_level(
                        node.children,
                        instance,
                        env.new_child(instance),
                        f"{path}[{index}].",
                        report,
                    )
            elif report:
                self.judge_field(node, clean, env, path)

    def judge_repeat_count(self, node: RepeatSpec, path: str, count: int) -> None:
        if not self.partial and count < node.min_count:
            self.add(node, path, "repeat_count", "repeat_min", count=node.min_count)
        if node.max_count is not None and count > node.max_count:
            self.add(node, path, "repeat_count", "repeat_max", count=node.max_count)

    def judge_counted(self, node: RepeatSpec, path: str, count: int, env: ChainMap) -> None:
        """A repeat counted by an answer (`repeat_count` = `${n}`) has exactly that many."""
        expected = counted_instances(node, env, self.evaluate)
        if expected is not None and count != expected:
            self.add(node, path, "repeat_count", "repeat_exact", count=expected)

    def judge_field(self, node: FieldSpec, clean: dict[str, Any], env: ChainMap, path: str) -> None:
        value = clean.get(node.name)
        if is_empty(value):
            unreadable = any(e.path == path for e in self.errors)  # already said why
            if not self.partial and not unreadable and self.is_required(node, env):
                if node.required_message:
                    self.add_custom(node, path, "required", node.required_message)
                else:
                    self.add(node, path, "required", "required")
            return
        if node.choice_filter and not self.fits_filter(node, value, env):
            self.add(node, path, "choice", "choice_filtered")
            return
        if node.constraint and not self.truth(node.constraint, env, current=value):
            if node.constraint_message:
                self.add_custom(node, path, "constraint", node.constraint_message)
            else:
                self.add(node, path, "constraint", "constraint")

    def fits_filter(self, node: FieldSpec, value: Any, env: ChainMap) -> bool:
        """Whether every choice picked is among those the choice filter keeps for the other
        answers (a country's provinces); an answer stale since is an error, never dropped."""
        kept = {c.value for c in visible_choices(self.spec, node, env, today=self.today)}
        picked = value if isinstance(value, list) else [value]
        return all(item in kept for item in picked)

    def is_required(self, node: FieldSpec, env: ChainMap) -> bool:
        if isinstance(node.required, bool):
            return node.required
        return self.truth(node.required, env)

    # -- expressions ----------------------------------------------------------------------
    def evaluate(self, source: str, env: ChainMap, current: Any = None) -> Any:
        try:
            expression = parse(source)
        except ExpressionError:
            return None
        lookups = {}
        if expression.functions & _LOOKUPS:  # built once per check, only for forms using them
            if self.lookups is None:
                self.lookups = {
                    "instances": choice_instances(self.spec, self.lang),
                    "choice_names": choice_names(self.spec, self.lang),
                }
            lookups = self.lookups
        return expression.evaluate(env, current=current, today=self.today, **lookups)

    def truth(self, source: str, env: ChainMap, current: Any = None) -> bool:
        return boolean(self.evaluate(source, env, current))


_LOOKUPS = frozenset({"instance", "jr:choice-name", "pulldata"})


def _names_under(node: Node) -> list[str]:
    if isinstance(node, GroupSpec):
        return [n.name for n in answer_nodes(node.children)]
    return [node.name]


def _instance_id(value: Any) -> str:
    """A repeat instance's `_id` is kept in clear (in stats): anything but a UUID could carry
    personal data there, so it is replaced by a new one."""
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    return str(uuid.uuid4())


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid("type_integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit() and len(text) <= 18:
            return int(text)
    raise _Invalid("type_integer")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid("type_decimal")
    try:
        number = float(value.strip().replace(",", ".") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise _Invalid("type_decimal") from None
    if not math.isfinite(number):
        raise _Invalid("type_decimal")
    return number


def _to_date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise _Invalid("type_date")


def _to_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and 10 <= len(value.strip()) <= 40:
        try:
            return datetime.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise _Invalid("type_datetime")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _Invalid("type_boolean")


def _to_geopoint(value: Any) -> dict[str, float | None]:
    parts: list[Any]
    if isinstance(value, Mapping):
        parts = [value.get("lat"), value.get("lon"), value.get("alt"), value.get("accuracy")]
    elif isinstance(value, str):
        words: list[Any] = value.split()
        if not 2 <= len(words) <= 4:
            raise _Invalid("type_geopoint")
        parts = words + [None] * (4 - len(words))
    else:
        raise _Invalid("type_geopoint")
    try:
        lat, lon = _to_float(parts[0]), _to_float(parts[1])
        alt = None if parts[2] is None else _to_float(parts[2])
        accuracy = None if parts[3] is None else _to_float(parts[3])
    except _Invalid:
        raise _Invalid("type_geopoint") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise _Invalid("type_geopoint")
    return {"lat": lat, "lon": lon, "alt": alt, "accuracy": accuracy}
