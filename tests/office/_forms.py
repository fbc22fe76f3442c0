"""Forms and records made up for the aggregate tests."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from fieldapp.forms.spec import FormSpec


def grid_form(
    sizes: Mapping[str, int], *, multiple: Sequence[str] = (), form_id: str = "grid"
) -> FormSpec:
    """A form of statistical select fields, field `f` choosing among f0, f1, ..."""
    return FormSpec.model_validate(
        {
            "id": form_id,
            "version": "1",
            "title": {"en": "Grid"},
            "choices": {
                f: [{"value": f"{f}{i}", "label": {"en": f"{f} {i}"}} for i in range(n)]
                for f, n in sizes.items()
            },
            "children": [
                {
                    "name": f,
                    "type": "select_multiple" if f in multiple else "select_one",
                    "choices": f,
                    "sensitivity": "statistical",
                }
                for f in sizes
            ],
        }
    )


def grid_rows(fields: Sequence[str], counts: Mapping[tuple[int, ...], int]) -> list[dict[str, Any]]:
    """`counts[(i, j, ...)]` records with fields[0] = f0i, fields[1] = f1j, ..."""
    rows: list[dict[str, Any]] = []
    for index, n in sorted(counts.items()):
        record = {f: f"{f}{i}" for f, i in zip(fields, index, strict=True)}
        rows.extend(dict(record) for _ in range(n))
    return rows


def all_indices(shape: Sequence[int]) -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(n) for n in shape)))
