"""Export a submission in the shape of IOM's Human Trafficking Case Data Standard (HTCDS).

A form says what maps where: a field's `htcds` names the HTCDS field, a choice's `htcds` gives
its HTCDS code. Choices without a code have no HTCDS equivalent and are left out. A
select_multiple becomes the space-separated codes an HTCDS XLSForm submission holds. Only
case-level fields map: HTCDS has one value per case, so fields inside repeats are not exported.
Whether the person agreed to their data being shared is the caller's decision, not this one's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fieldapp.errors import FieldappError
from fieldapp.forms.spec import FieldSpec, FormSpec, answer_nodes

__all__ = ["HtcdsExportError", "to_htcds"]


class HtcdsExportError(FieldappError):
    """A value cannot be exported: it is not one of its field's choices."""


def to_htcds(spec: FormSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """The submission's mapped answers keyed by HTCDS field name, select answers as codes."""
    exported: dict[str, Any] = {}
    for node in answer_nodes(spec.children):
        if not isinstance(node, FieldSpec) or node.htcds is None:
            continue
        value = values.get(node.name)
        if value is None or value in ("", []):
            continue
        if node.type in ("select_one", "select_multiple"):
            codes = _codes(spec, node, value)
            if not codes:
                continue
            value = codes[0] if node.type == "select_one" else " ".join(codes)
        exported[node.htcds] = value
    return exported


def _codes(spec: FormSpec, node: FieldSpec, value: Any) -> list[str]:
    """HTCDS codes of the chosen options, in order, once each (several may share `Other`)."""
    by_value = {choice.value: choice.htcds for choice in spec.choices[node.choices or ""]}
    picked = [value] if node.type == "select_one" else value
    codes: list[str] = []
    for item in picked:
        if item not in by_value:
            raise HtcdsExportError(f"{node.name}: {item!r} is not one of its choices")
        code = by_value[item]
        if code is not None and code not in codes:
            codes.append(code)
    return codes
