"""Dates, times and numbers as a reader of each language writes them.

A table of patterns per language, not Babel: Babel is pure Python, but the app would ship its
whole CLDR database (tens of megabytes of pickles) for four languages, and the app never
imports it (see `fieldapp.i18n`). The patterns follow CLDR:

- English "2 Dec 2026, 16:56"; French "2 déc. 2026, 16:56"; Spanish "2 dic 2026, 16:56";
  Arabic "٢ ديسمبر ٢٠٢٦، ١٦:٥٦". A month name, never a numeric date, so that nobody reads
  2/12 as February, and a 24-hour clock (the same in every country the app serves).
- Arabic numbers in Arabic-Indic digits (٠١٢٣٤٥٦٧٨٩), CLDR's default numbering for `ar`
  and what readers in the Middle East expect; with day, month name and year as words and
  digits of the Arabic script, the bidirectional algorithm keeps them in reading order
  (a date in Latin digits in an Arabic line came out as "16:56 02-12-2026"). Answers typed
  into forms are kept exactly as typed; only what the app writes is converted.
- Whole numbers grouped by thousands: "12,345", "12 345" (narrow no-break space),
  "12.345" (Spanish groups from five digits on), "١٢٬٣٤٥".
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache

from fieldapp.i18n import Words, message, words

__all__ = [
    "format_date",
    "format_day",
    "format_moment",
    "format_number",
    "format_size",
    "localised_words",
]

_MONTH_NAMES = {
    "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    "fr": "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.",
    "es": "ene feb mar abr may jun jul ago sept oct nov dic",
    "ar": "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر",
}
_MONTHS: dict[str, list[str]] = {lang: names.split(" ") for lang, names in _MONTH_NAMES.items()}
# date, time -> one moment
_MOMENT: dict[str, str] = {"ar": "{date}، {time}"}
_GROUP: dict[str, str] = {"en": ",", "fr": "\u202f", "es": ".", "ar": "\u066c"}
_MIN_GROUPED: dict[str, int] = {"es": 10_000}  # CLDR minimum grouping digits: 2
_DECIMAL: dict[str, str] = {"en": ".", "fr": ",", "es": ",", "ar": "\u066b"}
_UNITS: dict[str, tuple[str, str, str]] = {
    "en": ("B", "KB", "MB"),
    "fr": ("o", "ko", "Mo"),
    "es": ("B", "KB", "MB"),
    "ar": ("بايت", "ك.بايت", "م.بايت"),
}
_DIGITS: dict[str, dict[int, int]] = {"ar": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")}


def _lang(lang: str) -> str:
    return lang if lang in _MONTHS else "en"


def _digits(text: str, lang: str) -> str:
    table = _DIGITS.get(lang)
    return text.translate(table) if table else text


def format_number(number: int, lang: str) -> str:
    """A whole number in `lang`'s digits and thousands separator."""
    lang = _lang(lang)
    grouped = abs(number) >= _MIN_GROUPED.get(lang, 1000)
    text = f"{number:,}".replace(",", _GROUP[lang]) if grouped else str(number)
    return _digits(text, lang)


def format_size(count: int, lang: str) -> str:
    """A number of bytes: "512 B", "1.5 KB", "1,5 ko", "١٫٥ ك.بايت"."""
    lang = _lang(lang)
    units = _UNITS[lang]
    if count < 1024:
        return f"{format_number(count, lang)}\u00a0{units[0]}"
    value, unit = (count / 1024, units[1]) if count < 1024 * 1024 else (count / 1048576, units[2])
    text = f"{value:.1f}".replace(".", _DECIMAL[lang])
    return f"{_digits(text, lang)}\u00a0{unit}"


def format_date(day: date, lang: str) -> str:
    """A day: "2 Dec 2026", "٢ ديسمبر ٢٠٢٦"."""
    lang = _lang(lang)
    return _digits(f"{day.day} {_MONTHS[lang][day.month - 1]} {day.year}", lang)


def format_day(value: object, lang: str) -> str:
    """A date answer (YYYY-MM-DD) as `lang` writes it; anything else as it is."""
    try:
        return format_date(date.fromisoformat(str(value)), lang)
    except ValueError:
        return "" if value is None else str(value)


def format_moment(moment: datetime, lang: str) -> str:
    """A day and a time of day (24-hour clock): "2 Dec 2026, 16:56"."""
    lang = _lang(lang)
    time = _digits(f"{moment.hour:02d}:{moment.minute:02d}", lang)
    return _MOMENT.get(lang, "{date}, {time}").format(date=format_date(moment, lang), time=time)


@cache
def localised_words(lang: str) -> Words:
    """The catalogue of `lang` (as `fieldapp.i18n.words`) writing the whole numbers it is
    given in that language's digits: `_.ngettext("{n} entry", ..., n, n=n)` -> "٣ إدخالات"."""
    return words(lang).with_numbers(lambda number: format_number(number, lang))


def day_range(
    since: str, until: str, labels: tuple[str, str], lang: str
) -> tuple[date | None, date | None, dict[str, str]]:
    """Two days typed as YYYY-MM-DD ("" for none) read as a range: the days (None where none
    was given, or where it is no date) and what is wrong with each, by "since" and "until",
    named by its field's label (the last day before the first is left out too)."""
    _ = localised_words(lang)
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for name, typed, label in (("since", since, labels[0]), ("until", until, labels[1])):
        try:
            days[name] = date.fromisoformat(typed.strip()) if typed.strip() else None
        except ValueError:
            days[name] = None
            errors[name] = message("type_date", lang, label=label)
    first, last = days["since"], days["until"]
    if first is not None and last is not None and last < first:
        errors["until"] = _("{label}: must be on or after the first day.", label=labels[1])
        last = None
    return first, last, errors
