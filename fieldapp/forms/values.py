"""Splitting a submission into what may stay in clear (statistical) and what must be sealed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from fieldapp.forms.spec import FieldSpec, FormSpec, Node, RepeatSpec, answer_nodes

__all__ = [
    "initial_values",
    "join_parts",
    "sealing_dictionary",
    "split_by_sensitivity",
    "stamp_metadata",
]

# A choice list longer than this (countries, provinces) would crowd the dictionary out.
_DICTIONARY_CHOICES = 40


def split_by_sensitivity(
    spec: FormSpec, values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(statistical, sensitive): only fields the form marks statistical go to the first.

    Repeat instances appear in both halves under their `_id`, so `join_parts` can rebuild them.
    """
    return _split(spec.children, values)


def _split(nodes: list[Node], values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    stats: dict[str, Any] = {}
    secret: dict[str, Any] = {k: v for k, v in values.items() if k.startswith("_")}
    for node in answer_nodes(nodes):
        if node.name not in values:
            continue
        value = values[node.name]
        if isinstance(node, RepeatSpec):
            halves = [_split(node.children, instance) for instance in value]
            stats[node.name] = [
                {"_id": i.get("_id"), **s} for i, (s, _) in zip(value, halves, strict=True)
            ]
            secret[node.name] = [
                {"_id": i.get("_id"), **p} for i, (_, p) in zip(value, halves, strict=True)
            ]
        elif node.sensitivity == "statistical":
            stats[node.name] = value
        else:
            secret[node.name] = value
    return stats, secret


def join_parts(
    spec: FormSpec, stats: Mapping[str, Any], secret: Mapping[str, Any]
) -> dict[str, Any]:
    """The inverse of `split_by_sensitivity`."""
    return _join(spec.children, stats, secret)


def _join(nodes: list[Node], stats: Mapping[str, Any], secret: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {**secret, **{k: v for k, v in stats.items() if k.startswith("_")}}
    for node in answer_nodes(nodes):
        if isinstance(node, RepeatSpec):
            clear = {i.get("_id"): i for i in stats.get(node.name) or []}
            hidden = secret.get(node.name) or []
            order = [i.get("_id") for i in hidden] or list(clear)
            by_id = {i.get("_id"): i for i in hidden}
            rows = [_join(node.children, clear.get(k, {}), by_id.get(k, {})) for k in order]
            if rows:
                merged[node.name] = rows
        elif node.name in stats:
            merged[node.name] = stats[node.name]
    return merged


def sealing_dictionary(specs: Iterable[FormSpec]) -> bytes:
    """A zlib preset dictionary for the sealed parts of these forms' records: each sensitive
    field's, group's and repeat's name as a JSON key, and the values of their short choice
    lists. Only what the forms say (public to every device), never an answer; most sealed
    parts compress a fifth smaller with it (crypto.SealingEpoch)."""
    keys: set[str] = {"_id"}
    values: set[str] = set()
    for spec in specs:
        for node in spec.walk():
            if isinstance(node, FieldSpec) and node.sensitivity != "sensitive":
                continue
            keys.add(node.name)
            choices = spec.choices.get(node.choices or "") if isinstance(node, FieldSpec) else None
            if choices and len(choices) <= _DICTIONARY_CHOICES:
                values.update(str(choice.value) for choice in choices)
    text = "".join(f'"{key}":' for key in sorted(keys)) + "".join(f'"{v}"' for v in sorted(values))
    return text.encode("utf-8")[-32 * 1024 :]


def initial_values(spec: FormSpec) -> dict[str, Any]:
    """A new submission: each field's `default`, repeats empty."""
    return {
        node.name: node.default
        for node in answer_nodes(spec.children)
        if isinstance(node, FieldSpec) and node.default is not None and node.holds_value
    }


def stamp_metadata(
    spec: FormSpec,
    values: Mapping[str, Any],
    moment: Literal["open", "finalise"],
    now: datetime,
    *,
    device_id: str | None = None,
) -> dict[str, Any]:
    """Record the metadata the app collects itself: start, today and (given) the device id when
    a record is first opened (kept thereafter), end each time it is finalised."""
    stamped = dict(values)
    for node in answer_nodes(spec.children):
        if not isinstance(node, FieldSpec) or node.metadata is None:
            continue
        ends = node.metadata == "end" and moment == "finalise"
        if ends or (node.metadata == "start" and not stamped.get(node.name)):
            stamped[node.name] = now.isoformat()
        elif node.metadata == "today" and not stamped.get(node.name):
            stamped[node.name] = now.date().isoformat()
        elif node.metadata == "deviceid" and device_id and not stamped.get(node.name):
            stamped[node.name] = device_id
    return stamped
