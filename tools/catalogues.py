"""The gettext catalogues under assets/locale, kept with Babel (a development tool: the app
never imports it; it reads the compiled `.mo` files with the standard library's `gettext`).

    python -m tools.catalogues           # after changing a message in the code
    python -m tools.catalogues --check   # exit 1 (saying which) if a catalogue is not up to date

It extracts every message the code marks (`_("...")`, `_.ngettext(...)`, `_.pgettext(...)`,
`N_("...")`, `Plural(...)`) from fieldapp/i18n.py and fieldapp/ui/ into the template
`assets/locale/fieldapp.pot`; brings each `<lang>/LC_MESSAGES/fieldapp.po` up to date with it
(a new message arrives empty, or fuzzy when Babel finds a near one: a translator fills it in
with Poedit, Weblate or any PO editor, and clears the fuzzy flag); and compiles each `.po`
into the `.mo` beside it, which is committed so that a fresh clone and the phone build need
no build step. tests/test_catalogues.py checks all three.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from fieldapp import __version__

__all__ = [
    "KEYWORDS",
    "LOCALE_DIR",
    "TEMPLATE",
    "compiled",
    "po_path",
    "source_files",
    "template",
    "translated_languages",
]

ROOT = Path(__file__).resolve().parents[1]
LOCALE_DIR = ROOT / "assets" / "locale"
TEMPLATE = LOCALE_DIR / "fieldapp.pot"
DOMAIN = "fieldapp"
# gettext's usual names, and `Plural(singular, plural, ...)` for a plural message named by key.
KEYWORDS = {**DEFAULT_KEYWORDS, "Plural": (1, 2)}
COMMENT_TAGS = ("TRANSLATORS:",)
HEADER = (
    "# What the fieldapp app says, in English: the template of its translations.\n"
    "# Made by python -m tools.catalogues; translate <lang>/LC_MESSAGES/fieldapp.po.\n"
    "# Copyright (C) fieldapp contributors. Apache-2.0, as the project."
)


def source_files() -> list[Path]:
    """The modules whose messages a person reads: the validation messages, answers in words
    (yes, no) and the UI."""
    return [
        ROOT / "fieldapp" / "i18n.py",
        ROOT / "fieldapp" / "forms" / "answers.py",
        *sorted((ROOT / "fieldapp" / "ui").rglob("*.py")),
    ]


def template() -> Catalog:
    """Every message the code marks, as Babel extracts it now."""
    catalog = Catalog(
        domain=DOMAIN,
        header_comment=HEADER,
        project="fieldapp",
        version=__version__,
        copyright_holder="fieldapp contributors",
        msgid_bugs_address="",
        charset="utf-8",
        fuzzy=False,
    )
    for path in source_files():
        where = path.relative_to(ROOT).as_posix()
        for line, message, comments, context in extract_from_file(
            "python",
            path,
            keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS,
            strip_comment_tags=True,
        ):
            catalog.add(message, locations=[(where, line)], auto_comments=comments, context=context)
    return catalog


def translated_languages() -> list[str]:
    """The languages with a catalogue (English, the source, needs none)."""
    return sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def compiled(po_text: bytes) -> bytes:
    """The `.mo` a `.po` file's bytes compile to (fuzzy entries left out: English shows
    instead)."""
    catalog = read_po(io.BytesIO(po_text), domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def _po_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, sort_output=True, ignore_obsolete=True, include_lineno=False)
    return out.getvalue()


def _same_messages(a: Catalog, b: Catalog) -> bool:
    def key(catalog: Catalog) -> list[tuple[object, ...]]:
        return sorted(
            (
                repr(m.id),
                m.context or "",
                tuple(m.auto_comments),
                tuple(sorted({p for p, _ in m.locations})),
            )
            for m in catalog
            if m.id
        )

    return key(a) == key(b)


def _changes(extracted: Catalog) -> Iterator[tuple[Path, bytes]]:
    """Each file whose content would change, with its new content."""
    if TEMPLATE.exists():
        with TEMPLATE.open("rb") as source:
            current = read_po(source, domain=DOMAIN)
    else:
        current = None
    if current is None or not _same_messages(current, extracted):
        yield TEMPLATE, _po_bytes(extracted)  # a new creation date only when messages change
    for lang in translated_languages():
        path = po_path(lang)
        with path.open("rb") as source:
            catalog = read_po(source, locale=lang, domain=DOMAIN)
        catalog.update(extracted, update_creation_date=False)
        text = _po_bytes(catalog)
        if text != path.read_bytes():
            yield path, text
        mo = path.with_suffix(".mo")
        binary = compiled(text)
        if not mo.exists() or mo.read_bytes() != binary:
            yield mo, binary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.catalogues", description=__doc__)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    changes = list(_changes(template()))
    for path, content in changes:
        name = path.relative_to(ROOT)
        if args.check:
            print(f"{name} is not up to date: run python -m tools.catalogues", file=sys.stderr)
        else:
            path.write_bytes(content)
            print(f"wrote {name}")
    return 1 if args.check and changes else 0


if __name__ == "__main__":
    sys.exit(main())
