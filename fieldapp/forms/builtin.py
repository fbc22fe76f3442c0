"""The forms that ship with the app (`assets/forms/*.json`)."""

from __future__ import annotations

from functools import cache

from fieldapp.errors import FormError
from fieldapp.forms.spec import FormSpec
from fieldapp.paths import assets_dir

__all__ = ["load_builtin_forms"]


@cache
def load_builtin_forms() -> dict[str, FormSpec]:
    """Every built-in form by id; a broken asset is an error naming the file."""
    forms: dict[str, FormSpec] = {}
    for path in sorted((assets_dir() / "forms").glob("*.json")):
        try:
            spec = FormSpec.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise FormError(f"{path.name}: {exc}") from exc
        forms[spec.id] = spec
    return forms
