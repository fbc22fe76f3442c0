"""Forms as data: specs, the expression language, validation, built-in forms."""

from fieldapp.forms.titles import record_title

__all__ = ["record_title"]
