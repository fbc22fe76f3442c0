"""The gettext catalogues (assets/locale): compiled as committed, complete for every message
the code marks, translated in French, Spanish and Arabic (in Arabic script), plural forms
included; and what the app reads from them at run time."""

from __future__ import annotations

import re
import string
from typing import get_args

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from fieldapp.i18n import _VALIDATION, LANGUAGES, SOURCE_LANGUAGE, Plural, message, words
from fieldapp.ui.messages import GOOD_NEWS, MESSAGES, MessageKey
from tools.catalogues import TEMPLATE, compiled, main, po_path, template, translated_languages

TRANSLATED = sorted(set(LANGUAGES) - {SOURCE_LANGUAGE})
ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
LATIN_LETTER = re.compile(r"[A-Za-z]")
# Translations that are rightly the English words themselves.
SAME_AS_ENGLISH = {
    ("es", "No"),
    ("fr", "Exports"),
    ("fr", "Format"),
    ("es", "Total: {n}"),
    ("fr", "Participants"),
    ("fr", "{n} participant"),
    ("fr", "latitude longitude"),
    ("fr", "{n} min"),
    ("es", "{n} min"),
    ("fr", "Version {v}"),
    ("es", "{label}: {detail}"),
    ("ar", "{label}: {detail}"),
    ("ar", "YYYY-MM-DD"),  # the format typed, in Latin digits in every language
}


def catalogue(lang: str) -> Catalog:
    with po_path(lang).open("rb") as source:
        return read_po(source, locale=lang)


def messages(catalog: Catalog) -> dict[tuple[str, str | None], Message]:
    """Each message by its (singular) msgid and context; the header left out."""
    return {(_singular(m), m.context): m for m in catalog if m.id}


def _singular(m: Message) -> str:
    return m.id[0] if isinstance(m.id, tuple) else m.id


def _forms(m: Message) -> list[str]:
    return list(m.string) if isinstance(m.string, tuple) else [m.string]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_but_the_source_has_a_catalogue() -> None:
    assert translated_languages() == TRANSLATED == ["ar", "es", "fr"]


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_committed_mo_file_is_what_its_po_file_compiles_to(lang: str) -> None:
    po = po_path(lang)
    assert po.with_suffix(".mo").read_bytes() == compiled(po.read_bytes())


def test_the_catalogues_hold_every_message_the_code_marks_and_no_other() -> None:
    marked = messages(template())
    with TEMPLATE.open("rb") as source:
        assert messages(read_po(source)).keys() == marked.keys()
    for lang in TRANSLATED:
        assert messages(catalogue(lang)).keys() == marked.keys(), lang
    plural = {key for key, m in marked.items() if isinstance(m.id, tuple)}
    assert ("{n} participant", None) in plural and ("{n} entry", None) in plural


def test_the_catalogue_tool_finds_nothing_to_change() -> None:
    assert main(["--check"]) == 0


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_is_translated(lang: str) -> None:
    catalog = catalogue(lang)
    assert catalog.num_plurals == {"fr": 3, "es": 3, "ar": 6}[lang]
    for (msgid, _), m in messages(catalog).items():
        forms = _forms(m)
        assert not m.fuzzy, (lang, msgid)
        assert all(f.strip() for f in forms), (lang, msgid)
        english = set(m.id) if isinstance(m.id, tuple) else {m.id}
        if (lang, msgid) not in SAME_AS_ENGLISH:
            assert not set(forms) <= english, f"{lang}: {msgid!r} is not translated"
        if isinstance(m.id, tuple):
            assert len(forms) == catalog.num_plurals, (lang, msgid)
            named = placeholders(m.id[0]) | placeholders(m.id[1])
            assert all(placeholders(f) <= named for f in forms), (lang, msgid)
            assert placeholders(forms[-1]) == placeholders(m.id[1]), (lang, msgid)
        else:
            assert placeholders(forms[0]) == placeholders(msgid), (lang, msgid)


def test_arabic_is_written_in_arabic_script() -> None:
    for (msgid, _), m in messages(catalogue("ar")).items():
        if ("ar", msgid) in SAME_AS_ENGLISH:
            continue
        words_of_msgid = re.sub(r"\{\w+\}", "", msgid)
        if LATIN_LETTER.search(words_of_msgid):
            for form in _forms(m):
                assert ARABIC_LETTER.search(form), f"{msgid!r}: {form!r}"


def test_counts_take_each_languages_plural_forms() -> None:
    def people(lang: str, n: int) -> str:
        return words(lang).ngettext("{n} participant", "{n} participants", n, n=n)

    assert [people("en", n) for n in (0, 1, 2)] == [
        "0 participants",
        "1 participant",
        "2 participants",
    ]
    assert [people("es", n) for n in (1, 2)] == ["1 participante", "2 participantes"]
    assert [people("fr", n) for n in (0, 1, 2)] == [
        "0 participant",
        "1 participant",
        "2 participants",
    ]
    arabic = [people("ar", n) for n in (0, 1, 2, 3, 11, 100)]  # Arabic's six forms
    assert len(set(arabic)) == 6
    assert arabic[1] == "مشارك واحد" and arabic[2] == "مشاركان"  # never "1 مشاركين"
    assert arabic[3:] == ["3 مشاركين", "11 مشاركًا", "100 مشارك"]


def test_validation_messages_count_too() -> None:
    assert message("repeat_min", "en", label="Participants", count=1) == (
        "Participants: at least 1 entry is required."
    )
    assert message("repeat_min", "en", label="Participants", count=2) == (
        "Participants: at least 2 entries are required."
    )
    assert message("repeat_min", "ar", label="المشاركون", count=1) == (
        "المشاركون: مطلوب إدخال واحد على الأقل."
    )
    assert message("required", "fr", label="Âge") == "Âge : une réponse est obligatoire."
    assert message("required", "xx", label="Age") == "Age: an answer is required."


def test_every_message_key_names_a_message() -> None:
    assert set(MESSAGES) == set(get_args(MessageKey))
    assert set(GOOD_NEWS) <= set(MESSAGES)
    for entry in [*MESSAGES.values(), *_VALIDATION.values()]:
        if isinstance(entry, Plural):
            assert entry.number in placeholders(entry.singular) & placeholders(entry.plural)
