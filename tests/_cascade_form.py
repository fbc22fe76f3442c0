"""The imported form of issue #13's done-when: an XLSForm written here (openpyxl) with a
country -> province cascade whose provinces come from an attached CSV, the province's
capital read with pulldata, a repeat counted by an answer, and an instance_name."""

from __future__ import annotations

from pathlib import Path

from tests.test_xlsform import write_xlsform

PROVINCES_CSV = (
    "name,label,label::fr,country,capital\n"
    "nairobi,Nairobi,Nairobi,ke,Nairobi City\n"
    "mombasa,Mombasa,Mombasa,ke,Mombasa Island\n"
    "kampala,Kampala,Kampala,ug,Kampala Central\n"
    "gulu,Gulu,Gulu,ug,Gulu Town\n"
)


def write_cascade_form(directory: Path, *, repeat_count: bool = True) -> Path:
    """`cascade.xlsx` in `directory`; provinces.csv beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "provinces.csv").write_text(PROVINCES_CSV, encoding="utf-8")
    return write_xlsform(
        directory / "cascade.xlsx",
        survey=[
            [
                "type",
                "name",
                "label",
                "choice_filter",
                "calculation",
                "repeat_count",
                "sensitivity",
                "constraint",
                "constraint_message",
                "constraint_message::fr",
            ],
            ["text", "case_code", "Case code"],
            ["select_one countries", "country", "Country", None, None, None, "statistical"],
            [
                "select_one_from_file provinces.csv",
                "province",
                "Province",
                "country=${country}",
                None,
                None,
                "statistical",
            ],
            [
                "calculate",
                "capital",
                None,
                None,
                "pulldata('provinces', 'capital', 'name', ${province})",
            ],
            ["note", "capital_note", "Capital: ${capital}"],
            [
                "integer",
                "n",
                "Number of children",
                None,
                None,
                None,
                "statistical",
                ". >= 0 and . <= 5",
                "Between 0 and 5",
                "Entre 0 et 5",
            ],
            ["begin_repeat", "child", "Child", None, None, "${n}" if repeat_count else None],
            ["text", "child_name", "Child's name"],
            ["end_repeat"],
        ],
        choices=[
            ["list_name", "name", "label", "label::fr"],
            ["countries", "ke", "Kenya", "Kenya"],
            ["countries", "ug", "Uganda", "Ouganda"],
        ],
        settings_rows=[
            ["form_id", "version", "form_title", "instance_name", "default_language"],
            ["cascade", "1", "Cascade", "concat(${case_code}, ' in ', ${province})", "en"],
        ],
    )
