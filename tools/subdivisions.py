"""Writes the ISO 3166-2 subdivisions (provinces, states, regions...) as a choice set the
forms can name: `assets/choices/iso3166-2.<pycountry version>.json`.

    python -m tools.subdivisions            # after upgrading pycountry
    python -m tools.subdivisions --check    # exit 1 if the file is not what pycountry gives

pycountry is a development tool here (the `test` extra): its 23 MB of gettext catalogues are
too much for a phone, and the app needs about 300 KB of them. The file name carries
pycountry's version, so a form version that names a set keeps its meaning: a new pycountry
writes a new file beside the old one, and a new form version names it.

One row a subdivision: `[code, country, parent, English, French, Spanish, Arabic]`, a
translation left empty where it is the English name (pycountry's catalogues differ from the
English for about 1,000 French names and 130 Spanish ones, and it has none in Arabic: the
app shows the English there, which is often the local name). A subdivision inside another
(a French department, a Philippine province) is labelled with its parent's name too: "Cebu
(Central Visayas (Region VII))".
"""

from __future__ import annotations

import argparse
import gettext
import json
import sys
from pathlib import Path

import pycountry

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("en", "fr", "es", "ar")


def set_name() -> str:
    from importlib.metadata import version

    return f"iso3166-2.pycountry-{version('pycountry')}"


def _translators() -> dict[str, gettext.NullTranslations]:
    """The catalogue of each language pycountry has one for (not Arabic: its rows fall back
    to the English names, as the app does for any label missing in a language)."""
    found: dict[str, gettext.NullTranslations] = {}
    for lang in LANGUAGES:
        try:
            found[lang] = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, [lang])
        except FileNotFoundError:
            continue
    return found


def rows() -> list[list[str]]:
    """Every subdivision as a row, by country then English label."""
    translators = _translators()
    subdivisions = {s.code: s for s in pycountry.subdivisions}

    def named(code: str, lang: str) -> str:
        return translators[lang].gettext(subdivisions[code].name)

    out: list[list[str]] = []
    for code, sub in subdivisions.items():
        labels = []
        for lang in LANGUAGES:
            if lang not in translators:
                labels.append("")
                continue
            name = named(code, lang)
            if sub.parent_code and sub.parent_code in subdivisions:
                name = f"{name} ({named(sub.parent_code, lang)})"
            labels.append(name)
        english = labels[0]
        out.append(
            [code, sub.country_code, sub.parent_code or "", english]
            + [label if label != english else "" for label in labels[1:]]
        )
    out.sort(key=lambda row: (row[1], row[3].casefold(), row[0]))
    return out


def render() -> str:
    document = {
        "source": f"ISO 3166-2 subdivisions ({set_name()}), by tools/subdivisions.py",
        "columns": ["value", "country", "parent", *(f"label::{lang}" for lang in LANGUAGES)],
        "rows": rows(),
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.replace("],[", "],\n[") + "\n"  # one row a line: readable diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    path = ROOT / "assets" / "choices" / f"{set_name()}.json"
    text = render()
    if args.check:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            print(f"{path.relative_to(ROOT)} is not up to date: python -m tools.subdivisions")
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"{path.relative_to(ROOT)}: {len(rows())} subdivisions, {len(text):,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
