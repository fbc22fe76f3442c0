"""The forms that ship with the app (`assets/forms/*.json`), and the earlier versions of
them (`assets/forms/archive/<id>-<version>.json`): a published version never changes, and
its records keep validating, opening and syncing after the app ships a newer one."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fieldapp.errors import FormError
from fieldapp.forms.spec import FormSpec
from fieldapp.paths import assets_dir

__all__ = ["load_archived_forms", "load_builtin_forms"]


@cache
def load_builtin_forms() -> dict[str, FormSpec]:
    """Every built-in form's current version by id; a broken asset is an error naming the
    file."""
    return {spec.id: spec for spec in _load(sorted((assets_dir() / "forms").glob("*.json")))}


@cache
def load_archived_forms() -> list[FormSpec]:
    """The built-in forms' earlier versions, oldest first within a form: the server publishes
    them so that a device still on one (or pulling a record made on one) is understood."""
    archived = _load(sorted((assets_dir() / "forms" / "archive").glob("*.json")))
    return sorted(archived, key=lambda spec: (spec.id, _version_key(spec.version)))


def _load(paths: list[Path]) -> list[FormSpec]:
    forms = []
    for path in paths:
        try:
            forms.append(FormSpec.model_validate_json(path.read_text(encoding="utf-8")))
        except ValueError as exc:
            raise FormError(f"{path.name}: {exc}") from exc
    return forms


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())
