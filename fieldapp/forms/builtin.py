"""The forms that ship with the app (`assets/forms/*.json`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fieldapp.errors import FormError
from fieldapp.forms.spec import FormSpec

__all__ = ["assets_dir", "load_builtin_forms"]


def assets_dir() -> Path:
    """`assets/` beside the package in a checkout or app bundle, `_assets/` in a wheel."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "assets", here / "_assets"):
        if (candidate / "forms").is_dir():
            return candidate
    raise FormError(f"no assets/forms folder found near {here}")


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
