"""Every word a person reads, in English, French, Spanish and Arabic: gettext catalogues.

English is the source language: the msgids in the code are the English text. The other
languages are `assets/locale/<lang>/LC_MESSAGES/fieldapp.po`, compiled to the `.mo` beside
each (committed: the phone build and a fresh clone need no build step) and read by the
standard library's `gettext`, plural forms included (Arabic has six). Babel extracts and
compiles them at development time only (tools/catalogues.py); the app never imports it.

Form labels come from each FormSpec, not from here. The validation messages below are looked
up by key, since `fieldapp.forms.validate` names each problem by a code.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import NamedTuple

from fieldapp.paths import assets_dir

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "N_",
    "RTL_LANGUAGES",
    "SOURCE_LANGUAGE",
    "Entry",
    "Plural",
    "Words",
    "catalogue_path",
    "message",
    "words",
]

DOMAIN = "fieldapp"
SOURCE_LANGUAGE = "en"
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "es": "Español", "ar": "العربية"}
RTL_LANGUAGES: frozenset[str] = frozenset({"ar"})


def N_(msgid: str) -> str:
    """Marks `msgid` for the catalogue where it is named, to be translated where it is shown."""
    return msgid


class Plural(NamedTuple):
    """A message whose words follow a number: the parameter `number` names it."""

    singular: str
    plural: str
    number: str = "n"


Entry = str | Plural


def catalogue_path(lang: str) -> Path:
    """Where the compiled catalogue of `lang` lives (its source `.po` beside it)."""
    return assets_dir() / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


class Words:
    """The catalogue of one language, filled in with `str.format` parameters.

    In the code it is called `_`, as gettext's tools expect: `_("Back")`,
    `_.ngettext("{n} entry", "{n} entries", n, n=n)`, `_.pgettext("button", "Protect")`.
    """

    def __init__(
        self,
        lang: str,
        translations: gettext.NullTranslations,
        number: Callable[[int], str] = str,
    ) -> None:
        self.lang = lang
        self._translations = translations
        self._number = number

    def with_numbers(self, number: Callable[[int], str]) -> Words:
        """These words, writing every whole-number parameter with `number` (the language's
        digits and separators: see `fieldapp.ui.formats`)."""
        return Words(self.lang, self._translations, number)

    def __call__(self, msgid: str, /, **params: object) -> str:
        return self._filled(self._translations.gettext(msgid), params)

    def ngettext(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        return self._filled(self._translations.ngettext(singular, plural, n), params)

    def pgettext(self, context: str, msgid: str, /, **params: object) -> str:
        return self._filled(self._translations.pgettext(context, msgid), params)

    def _filled(self, text: str, params: dict[str, object]) -> str:
        if not params:
            return text
        return text.format(
            **{
                name: self._number(value)
                if isinstance(value, int) and not isinstance(value, bool)
                else value
                for name, value in params.items()
            }
        )

    def entry(self, entry: Entry, /, **params: object) -> str:
        """A message named elsewhere (`N_` or `Plural`); a plural one counts its `number`
        parameter."""
        if isinstance(entry, Plural):
            count = params[entry.number]
            assert isinstance(count, int)
            return self.ngettext(entry.singular, entry.plural, count, **params)
        return self(entry, **params)


@cache
def words(lang: str) -> Words:
    """The words of `lang`; English, the source, for a language the app does not have.
    Raises FileNotFoundError naming the file if a language's compiled catalogue is missing."""
    if lang not in LANGUAGES or lang == SOURCE_LANGUAGE:
        return Words(SOURCE_LANGUAGE, gettext.NullTranslations())
    with catalogue_path(lang).open("rb") as compiled:
        return Words(lang, gettext.GNUTranslations(compiled))


# What `fieldapp.forms.validate` says, by the key it names each problem with.
_VALIDATION: dict[str, Entry] = {
    "required": N_("{label}: an answer is required."),
    "constraint": N_("{label}: the answer is not allowed."),
    # TRANSLATORS: {detail} is the form's own message, already in the reader's language.
    "constraint_custom": N_("{label}: {detail}"),
    "type_integer": N_("{label}: enter a whole number."),
    "type_decimal": N_("{label}: enter a number."),
    "type_date": N_("{label}: enter a date as YYYY-MM-DD."),
    "type_datetime": N_("{label}: enter a date and time (YYYY-MM-DDTHH:MM)."),
    "type_boolean": N_("{label}: answer yes or no."),
    "type_text": N_("{label}: enter text."),
    "text_too_long": Plural(
        "{label}: the text is too long (at most {limit} character).",
        "{label}: the text is too long (at most {limit} characters).",
        "limit",
    ),
    "type_geopoint": N_("{label}: enter a location as latitude and longitude."),
    # TRANSLATORS: a photo, signature, sound or file question whose answer is not a stored file.
    "type_attachment": N_("{label}: attach a file (photo, signature, sound or document)."),
    "choice": N_("{label}: '{value}' is not one of the choices."),
    "choice_unnamed": N_("{label}: the answer is not one of the choices."),
    # TRANSLATORS: a choice list narrowed by another answer (a province by its country).
    "choice_filtered": N_(
        "{label}: the answer is not one of the choices for your other answers; choose again."
    ),
    "type_repeat": N_("{label}: expected a list of entries."),
    "repeat_min": Plural(
        "{label}: at least {count} entry is required.",
        "{label}: at least {count} entries are required.",
        "count",
    ),
    "repeat_max": Plural(
        "{label}: at most {count} entry is allowed.",
        "{label}: at most {count} entries are allowed.",
        "count",
    ),
    # TRANSLATORS: a repeat whose number of entries is an earlier answer ("How many children").
    "repeat_exact": Plural(
        "{label}: {count} entry is expected, as answered earlier.",
        "{label}: {count} entries are expected, as answered earlier.",
        "count",
    ),
    "unknown_field": N_("{label}: this form has no such question."),
    # TRANSLATORS: a service recorded on a survivor's case, dated before they were identified.
    "before_identification": N_("{label}: must be on or after the date of identification."),
}


def message(key: str, lang: str, **params: object) -> str:
    """The validation message `key` in `lang` (English when the language is missing), filled
    in. Raises KeyError for a key that names no message."""
    return words(lang).entry(_VALIDATION[key], **params)
