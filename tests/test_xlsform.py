"""XLSForm import: workbooks built here with openpyxl, plus the real forms of the shared corpus."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from fieldapp.errors import FormError
from fieldapp.forms.spec import Choice, FieldSpec, FormSpec, GroupSpec, RepeatSpec
from fieldapp.office.xlsform import ImportProblem, XLSFormError, import_xlsform

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "xlsforms"

Rows = Sequence[Sequence[object]]


def write_xlsform(
    path: Path, survey: Rows, choices: Rows | None = None, settings_rows: Rows | None = None
) -> Path:
    """An .xlsx with the given sheets; the first row of each is its header."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    for title, rows in (("choices", choices), ("settings", settings_rows)):
        if rows:
            extra = book.create_sheet(title)
            for row in rows:
                extra.append(row)
    book.save(path)
    return path


def refused(path: Path) -> list[ImportProblem]:
    with pytest.raises(XLSFormError) as caught:
        import_xlsform(path)
    problems = caught.value.problems
    assert problems
    assert str(caught.value).splitlines() == [str(p) for p in problems]
    return problems


def rows_with(problems: list[ImportProblem], feature: str) -> list[int | None]:
    return [p.row for p in problems if p.feature == feature]


# -- a supported form, asserted exactly ---------------------------------------------------------

SURVEY_HEADER = [
    "type",
    "name",
    "label::English (en)",
    "label::Français (fr)",
    "hint",
    "required",
    "relevant",
    "constraint",
    "constraint_message::English (en)",
    "jr:constraint_msg::Français (fr)",
    "calculation",
    "sensitivity",
    "default",
]


def household_survey(tmp_path: Path) -> Path:
    return write_xlsform(
        tmp_path / "household.xlsx",
        survey=[
            SURVEY_HEADER,
            ["begin_group", "household", "Household", "Ménage"],
            ["text", "head_name", "Name of the head", "Nom du chef", "Full name", "yes"],
            [
                "integer",
                "members",
                "Members",
                "Membres",
                None,
                "TRUE()",
                None,
                ". > 0 and . < 30",
                "Between 1 and 29",
                "Entre 1 et 29",
                None,
                "statistical",
                "1",
            ],
            [
                "select_one yes_no",
                "has_children",
                "Children?",
                "Enfants ?",
                *[None] * 7,
                "statistical",
            ],
            ["end_group"],
            [],  # a blank row: row numbers below must still match the spreadsheet
            ["begin repeat", "child", "Child", "Enfant", None, None, "${has_children} = 'yes'"],
            [
                "integer",
                "child_age",
                "Age",
                "Âge",
                None,
                "${members} > 1",
                None,
                ". < 18",
                "Under 18",
                "Moins de 18",
            ],
            ["select_multiple needs", "needs", "Needs", "Besoins"],
            ["end repeat"],
            ["calculate", "double", *[None] * 8, "${members} * 2", "statistical"],
            ["date", "visit_date", "Visit date", "Date de visite"],
        ],
        choices=[
            ["list_name", "name", "label::English (en)", "label::Français (fr)"],
            ["yes_no", "yes", "Yes", "Oui"],
            ["yes_no", "no", "No", "Non"],
            ["needs", "food", "Food", "Nourriture"],
            ["needs", "shelter", "Shelter", "Abri"],
        ],
        settings_rows=[
            ["form_title", "form_id", "version", "default_language"],
            ["Household survey", "household-survey", "2024.1", "English (en)"],
        ],
    )


def test_a_form_with_groups_repeats_logic_and_two_languages_imports_exactly(
    tmp_path: Path,
) -> None:
    spec = import_xlsform(household_survey(tmp_path))

    assert spec == FormSpec(
        id="household_survey",
        version="2024.1",
        title={"en": "Household survey"},
        default_language="en",
        languages=["en", "fr"],
        choices={
            "yes_no": [
                Choice(value="yes", label={"en": "Yes", "fr": "Oui"}),
                Choice(value="no", label={"en": "No", "fr": "Non"}),
            ],
            "needs": [
                Choice(value="food", label={"en": "Food", "fr": "Nourriture"}),
                Choice(value="shelter", label={"en": "Shelter", "fr": "Abri"}),
            ],
        },
        children=[
            GroupSpec(
                name="household",
                label={"en": "Household", "fr": "Ménage"},
                children=[
                    FieldSpec(
                        name="head_name",
                        type="text",
                        label={"en": "Name of the head", "fr": "Nom du chef"},
                        hint={"en": "Full name"},
                        required=True,
                    ),
                    FieldSpec(
                        name="members",
                        type="integer",
                        label={"en": "Members", "fr": "Membres"},
                        required=True,
                        constraint=". > 0 and . < 30",
                        constraint_message={"en": "Between 1 and 29", "fr": "Entre 1 et 29"},
                        sensitivity="statistical",
                        default=1,
                    ),
                    FieldSpec(
                        name="has_children",
                        type="select_one",
                        label={"en": "Children?", "fr": "Enfants ?"},
                        choices="yes_no",
                        sensitivity="statistical",
                    ),
                ],
            ),
            RepeatSpec(
                name="child",
                label={"en": "Child", "fr": "Enfant"},
                relevant="${has_children} = 'yes'",
                children=[
                    FieldSpec(
                        name="child_age",
                        type="integer",
                        label={"en": "Age", "fr": "Âge"},
                        required="${members} > 1",
                        constraint=". < 18",
                        constraint_message={"en": "Under 18", "fr": "Moins de 18"},
                    ),
                    FieldSpec(
                        name="needs",
                        type="select_multiple",
                        label={"en": "Needs", "fr": "Besoins"},
                        choices="needs",
                    ),
                ],
            ),
            FieldSpec(
                name="double",
                type="calculate",
                calculation="${members} * 2",
                sensitivity="statistical",
            ),
            FieldSpec(
                name="visit_date",
                type="date",
                label={"en": "Visit date", "fr": "Date de visite"},
            ),
        ],
    )


def test_arguments_override_the_settings_and_version_defaults_to_1(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "my form-2.xlsx",
        survey=[["type", "name", "label"], ["text", "q", "Q"]],
    )
    assert (import_xlsform(path).id, import_xlsform(path).version) == ("my_form_2", "1")
    spec = import_xlsform(household_survey(tmp_path), form_id="hh-2026", version="7")
    assert (spec.id, spec.version) == ("hh_2026", "7")


def test_plain_label_is_the_default_language_and_language_names_become_codes(
    tmp_path: Path,
) -> None:
    path = write_xlsform(
        tmp_path / "langs.xlsx",
        survey=[
            ["type", "name", "label", "label::Español", "hint::Arabic", "required_message::French"],
            ["text", "q", "Question", "Pregunta", "سؤال", "Obligatoire"],
        ],
        settings_rows=[["default_language"], ["Français (fr)"]],
    )
    spec = import_xlsform(path)
    assert spec.default_language == "fr"
    assert spec.languages == ["fr", "es", "ar"]
    assert spec.node("q") == FieldSpec(
        name="q",
        type="text",
        label={"fr": "Question", "es": "Pregunta"},
        hint={"ar": "سؤال"},
        required_message={"fr": "Obligatoire"},
    )


def test_acknowledge_becomes_boolean_and_a_constant_repeat_count_bounds_the_repeat(
    tmp_path: Path,
) -> None:
    path = write_xlsform(
        tmp_path / "ack.xlsx",
        survey=[
            ["type", "name", "label", "repeat_count", "sensitivity", "default"],
            ["acknowledge", "consent", "I agree", None, "statistical"],
            ["begin_repeat", "visit", "Visit", "3"],
            ["geopoint", "where", "Where"],
            ["end_repeat"],
            ["date", "day", "Day", None, None, "2026-01-31"],
            ["select_multiple l", "picks", "Picks", None, None, "b a"],
            ["decimal", "weight", "Weight", None, None, "2.5"],
        ],
        choices=[["list_name", "name", "label"], ["l", "a", "A"], ["l", "b", "B"]],
    )
    spec = import_xlsform(path)
    defaults = {f.name: f.default for f in spec.fields()}
    assert defaults == {
        "consent": None,
        "where": None,
        "day": "2026-01-31",
        "picks": ["b", "a"],
        "weight": 2.5,
    }
    assert spec.node("consent") == FieldSpec(
        name="consent", type="boolean", label={"en": "I agree"}, sensitivity="statistical"
    )
    visit = spec.node("visit")
    assert isinstance(visit, RepeatSpec)
    assert (visit.min_count, visit.max_count) == (3, 3)
    assert visit.children == [FieldSpec(name="where", type="geopoint", label={"en": "Where"})]


# -- refusals, each naming sheet, spreadsheet row and feature -----------------------------------


def test_background_audio_is_refused_at_its_row(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[["type", "name", "label"], ["text", "a", "A"], [], ["background-audio", "r"]],
    )
    [problem] = refused(path)
    assert (problem.sheet, problem.row, problem.column, problem.feature) == (
        "survey",
        4,
        "type",
        "type:background-audio",
    )
    assert "unsupported question type 'background-audio' (media)" in str(problem)


def test_an_unsupported_function_is_refused_at_its_row(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "calculation"],
            ["geopoint", "a", "A"],
            ["calculate", "size", None, "area(${a})"],
        ],
    )
    [problem] = refused(path)
    assert (problem.sheet, problem.row, problem.column, problem.feature) == (
        "survey",
        3,
        "calculation",
        "function:area",
    )


def test_forms_using_the_odk_function_set_import(tmp_path: Path) -> None:
    """Each of these was refused before issue #13 (function:..., xpath-path)."""
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "calculation", "relevant", "constraint"],
            ["select_one country", "country", "Country"],
            ["calculate", "country_name", None, "jr:choice-name(${country}, '${country}')"],
            ["calculate", "price", None, "pulldata('prices', 'price', 'item', ${country})"],
            ["calculate", "zone", None, "instance('country')/root/item[name = ${country}]/zone"],
            ["integer", "n", "How many?"],
            ["begin repeat", "person", "Person"],
            ["text", "pname", "Name"],
            ["integer", "age", "Age", None, None, ". < 120"],
            ["calculate", "pos", None, "position(..)"],
            ["calculate", "older", None, "if(../age > 17, 'adult', 'child')"],
            ["note", "first", "First is ${first_name}", None, "position(..) > 1"],
            ["calculate", "first_name", None, "indexed-repeat(${pname}, ${person}, 1)"],
            ["end repeat"],
            ["calculate", "total", None, "sum(${age})"],
            ["calculate", "names", None, "join(', ', ${pname})"],
            ["calculate", "id", None, "once(uuid())"],
            ["calculate", "draw", None, "once(random())"],
            ["calculate", "hash", None, "digest(${country}, 'SHA-256', 'hex')"],
            ["calculate", "when", None, "format-date(today(), '%e %b %Y')"],
            ["calculate", "t", None, "substr(translate(${names}, 'abc', 'ABC'), 0, 3)"],
            ["calculate", "x", None, "if(ends-with(${names}, 'x'), floor(${total} div 2), 0)"],
        ],
        choices=[
            ["list_name", "name", "label", "zone"],
            ["country", "fr", "France", "eu"],
            ["country", "ke", "Kenya", "af"],
        ],
    )
    (tmp_path / "prices.csv").write_text("name,item,price\n1,fr,3\n2,ke,2\n")
    spec = import_xlsform(path)
    assert spec.node("older").calculation == "if(../age > 17, 'adult', 'child')"
    assert spec.node("pos").calculation == "position(..)"


def test_xpath_path_expression_is_refused_at_its_row(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "relevant"],
            ["integer", "x", "X"],
            ["text", "y", "Y", "/data/x > 3"],
        ],
    )
    [problem] = refused(path)
    assert (problem.sheet, problem.row, problem.column, problem.feature) == (
        "survey",
        3,
        "relevant",
        "xpath-path",
    )


def test_unknown_reference_is_refused_at_its_row(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "constraint"],
            ["integer", "age", "Age", "${age_at_entry} <= ."],
        ],
    )
    [problem] = refused(path)
    assert (problem.sheet, problem.row, problem.column, problem.feature) == (
        "survey",
        2,
        "constraint",
        "unknown-reference",
    )
    assert "${age_at_entry}" in problem.message


def test_unclosed_group_is_refused_at_its_begin_row(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label"],
            ["begin group", "outer", "Outer"],
            ["begin group", "inner", "Inner"],
            ["text", "a", "A"],
            ["end group"],
        ],
    )
    problems = refused(path)
    assert [(p.sheet, p.row, p.feature) for p in problems] == [("survey", 2, "unclosed-group")]


def test_mismatched_end_is_refused_at_the_end_row(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label"],
            ["begin repeat", "r", "R"],
            ["text", "a", "A"],
            ["end group"],
            ["end repeat"],
        ],
    )
    problems = refused(path)
    assert [(p.row, p.feature) for p in problems] == [(4, "mismatched-end"), (5, "mismatched-end")]


def test_every_problem_in_one_file_is_reported_in_row_order(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "relevant", "calculation", "sensitivity"],
            ["begin group", "g", "G"],  # 2: never closed
            ["background-audio", "photo", "Photo"],  # 3
            ["text", "a", "A", "${nowhere} = 1"],  # 4
            ["calculate", "c", None, None, "randomize('f')"],  # 5
            ["select_one yes_no or_other", "s", "S"],  # 6
            ["text", "a", "Again"],  # 7: duplicate name
            ["text", "story", "Story", None, None, "statistical"],  # 8: free text in clear
            ["range", "r", "R"],  # 9
            ["text", "bad-name", "B"],  # 10
            ["deviceid", "device"],  # 11
            ["select_one_from_file places.csv", "place", "Place"],  # 12
        ],
        choices=[["list_name", "name", "label"], ["yes_no", "yes", "Yes"]],
    )
    problems = refused(path)
    assert [(p.row, p.feature) for p in problems] == [
        (2, "unclosed-group"),
        (3, "type:background-audio"),
        (4, "unknown-reference"),
        (5, "function:randomize"),
        (7, "duplicate-name"),
        (8, "invalid"),
        (9, "type:range"),
        (12, "attachment:missing"),
    ]  # or_other (6), `bad-name` (10, renamed) and deviceid (11) import now
    assert all(p.sheet == "survey" for p in problems)
    assert "cannot be statistical" in problems[5].message


def test_a_statistical_copy_of_a_name_is_refused_at_its_row(tmp_path: Path) -> None:
    """It used to import: an honest device then sent the name in clear, and the server kept it."""
    path = write_xlsform(
        tmp_path / "copy.xlsx",
        survey=[
            ["type", "name", "label", "calculation", "sensitivity"],
            ["text", "name", "Name"],  # 2
            ["integer", "age", "Age"],  # 3: sealed
            ["calculate", "name_copy", None, "${name}", "statistical"],  # 4
            ["calculate", "age_group", None, "if(${age} < 18, 'child', 'adult')", "statistical"],
            ["calculate", "exact_age", None, "${age} + 0", "statistical"],  # 6
        ],
    )
    problems = refused(path)
    assert [(p.sheet, p.row, p.column, p.feature) for p in problems] == [
        ("survey", 4, "calculation", "statistical-calculation"),
        ("survey", 6, "calculation", "statistical-calculation"),
    ]
    assert "'name_copy' is statistical" in problems[0].message
    assert "such as a name (from ${name})" in problems[0].message
    assert "exact number read from ${age}" in problems[1].message
    assert str(problems[0]).startswith("survey row 4: field 'name_copy'")


@pytest.mark.parametrize(
    ("row", "column", "feature"),
    [
        (["integer", "q", "Q", "repeat_count", None], None, None),
        (["text", "q", "Q", "default", "concat('a', 'b')"], None, None),  # a warning
        (["text", "q", "Q", "appearance", "search('people')"], "appearance", "appearance:search"),
        (["text", "q", "Q", "calculation", "'x'"], None, None),  # computed until answered
        (["text", "q", "Q", "relevant", "version() > 1"], "relevant", "function:version"),
        (["text", "q", "Q", "relevant", "jr:itext('x') = ''"], "relevant", None),
        (["text", "q", "Q", "relevant", "/data/q = 'x'"], "relevant", "xpath-path"),
        (["text", "q", "Q", "relevant", ". = 'x'"], "relevant", "current-value"),
        (["text", "q", "Q", "relevant", "${q} = "], "relevant", "expression"),
        (["text", "q", "Q", "required", "1 + (2"], "required", "expression"),
        (["text", "q", "Q", "sensitivity", "public"], "sensitivity", "sensitivity"),
        (["text", "q", "Q", "image", "q.png"], None, None),  # not beside: warned, not shown
        (["text", "q", "Q", "read_only", "${q} != ''"], "read_only", "read_only"),
        (["select_one nowhere", "q", "Q", "hint", None], "type", "unknown-choice-list"),
        (["geotrace", "q", "Q", "hint", None], None, None),  # typed text, warned
        (["barcode", "q", "Q", "hint", None], None, None),  # typed text, warned
        (["range", "q", "Q", "hint", None], "type", "type:range"),
        (["begin loop over nowhere", "q", "Q", "hint", None], "type", "type:loop"),
        (["begin group", "q", "Q", "sensitivity", "statistical"], "sensitivity", "sensitivity"),
        (["select_one l", "q", "Q", "default", "maybe"], None, None),  # a warning
        (["date", "q", "Q", "default", "31/01/2026"], "default", "default"),
        (["geopoint", "q", "Q", "default", "1 2"], "default", "default"),
    ],
)
def test_unsupported_features_are_named(
    tmp_path: Path, row: list[str | None], column: str | None, feature: str | None
) -> None:
    type_, name, label, header, value = row
    survey: list[list[str | None]] = [
        ["type", "name", "label", header],
        [type_, name, label, value],
    ]
    if type_ and type_.startswith("begin"):
        survey.append(["end loop" if "loop" in type_ else "end group"])
    choices: Rows = [["list_name", "name", "label"], ["l", "yes", "Yes"]]
    path = write_xlsform(tmp_path / "f.xlsx", survey=survey, choices=choices)
    if column is None:  # a blank cell in a recognised column is no problem
        assert import_xlsform(path).node("q").name == "q"
        return
    problems = refused(path)
    assert {(p.sheet, p.row, p.column) for p in problems} == {("survey", 2, column)}
    if feature is not None:
        assert feature in {p.feature for p in problems}
    else:  # jr:itext: named by its function, whatever else the row gets wrong
        assert any(p.feature.startswith("function:jr:itext") for p in problems)


def test_a_repeat_count_expression_imports_and_duplicate_choices_are_refused(
    tmp_path: Path,
) -> None:
    """A repeat_count from an answer was refused before issue #13; it is a RepeatSpec.count."""
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[
            ["type", "name", "label", "repeat_count"],
            ["integer", "n", "N"],
            ["begin_repeat", "person", "Person", "${n}"],
            ["select_one sex", "sex", "Sex"],
            ["end_repeat"],
        ],
        choices=[["list_name", "name", "label"], ["sex", "f", "F"], ["sex", "f", "F again"]],
    )
    problems = refused(path)
    assert [(p.sheet, p.row, p.feature) for p in problems] == [
        ("choices", 3, "duplicate-choice"),
    ]


def test_duplicate_columns_are_refused_at_the_header_row(tmp_path: Path) -> None:
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[["type", "name", "label::en", "label::English (en)"], ["text", "q", "Q", "Q"]],
    )
    [problem] = refused(path)
    assert (problem.row, problem.column, problem.feature) == (
        1,
        "label::English (en)",
        "duplicate-column",
    )


def test_pyxform_errors_keep_their_row(tmp_path: Path) -> None:
    # `meta` is a valid name here, but pyxform reserves it: its verdict is reported too.
    path = write_xlsform(
        tmp_path / "f.xlsx",
        survey=[["type", "name", "label"], ["text", "a", "A"], ["text", "meta", "M"]],
    )
    [problem] = refused(path)
    assert (problem.sheet, problem.row, problem.feature) == ("survey", 3, "pyxform")
    assert "'meta'" in problem.message


def test_unreadable_files_are_refused_with_a_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "form.xlsx"
    garbage.write_bytes(b"not a zip file")
    [problem] = refused(garbage)
    assert (problem.sheet, problem.feature) == ("file", "file")
    assert "cannot read form.xlsx" in problem.message
    csv = tmp_path / "form.csv"
    csv.write_text("type,name\ntext,a\n")
    assert "not an .xlsx" in refused(csv)[0].message
    no_survey = Workbook()
    no_survey.create_sheet("choices")
    no_survey.create_sheet("settings")
    no_survey.save(tmp_path / "empty.xlsx")
    assert refused(tmp_path / "empty.xlsx")[0].feature == "sheet:survey"


def test_xlsform_error_is_a_form_error() -> None:
    problem = ImportProblem(
        sheet="survey", row=12, column="type", feature="type:image", message="m"
    )
    error = XLSFormError([problem])
    assert isinstance(error, FormError)
    assert str(error) == "survey row 12: m (column 'type')"


# -- the shared corpus of real forms ------------------------------------------------------------

SUPPORTED_TYPE = re.compile(
    r"(text|string|integer|int|decimal|date|datetime|geopoint|note|calculate|acknowledge|start|end|today"
    r"|deviceid|username|email|start-geopoint|phonenumber|phone number|simserial|subscriberid|imei"
    r"|audit|get (start|end) time|get today|get (device|sim|subscriber) id|get phone number|uri:\w+"
    r"|time|barcode|geotrace|geoshape|trigger"  # typed text, warned; trigger: acknowledge
    r"|image|photo|audio|file|video"  # media questions
    r"|(select_one|select_multiple|select one from|select all that apply from) \S+"
    r"( or_other| or specify other| or other)?)",
    re.IGNORECASE,
)
LAYOUT_TYPE = re.compile(r"(begin|end)[ _](group|repeat|loop)", re.IGNORECASE)


def corpus_file(name: str) -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared XLSForm corpus not found at {CORPUS}")
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"{name} is not in the shared corpus at {CORPUS}")
    return path


def survey_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """The survey sheet as pyxform's reader sees it (blank rows kept): an independent reading."""
    from pyxform.xls2json_backends import get_xlsform

    data = get_xlsform(str(path))
    return [(index + 2, row) for index, row in enumerate(data.survey or [])]


def import_or_problems(path: Path) -> tuple[FormSpec | None, list[ImportProblem]]:
    try:
        return import_xlsform(path), []
    except XLSFormError as error:
        assert error.problems
        return None, error.problems


CORPUS_FILES = [
    "group.xlsx",
    "loop.xlsx",
    "tutorial.xls",
    "widgets.xls",
    "field-list.xlsx",
    "choice_filter_test.xlsx",
    "xlsform_spec_test.xlsx",
    "UCL_Biomass_Plot_Form.xlsx",
    "htcds_xlsform.xlsx",
    "unknown_question_type.xls",
]


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_forms_import_or_are_refused_row_by_row(name: str) -> None:
    path = corpus_file(name)
    spec, problems = import_or_problems(path)
    for problem in problems:
        assert problem.sheet in ("survey", "choices", "settings")
        assert problem.row is not None and problem.row >= 1
        assert problem.feature and problem.message
    problem_rows = {p.row for p in problems if p.sheet == "survey"}
    for number, row in survey_rows(path):
        type_ = " ".join(row.get("type", "").split())
        if not type_ or LAYOUT_TYPE.fullmatch(type_):
            continue
        if spec is not None:
            renamed = re.sub(r"[-.]", "_", row["name"])  # as the importer renames (names.py)
            names = {node.name for node in spec.walk()}
            copied = any(name.endswith(f"_{renamed}") for name in names)  # a loop's, per choice
            assert renamed in names or copied, f"row {number} ({row['name']}) was dropped"
        elif not SUPPORTED_TYPE.fullmatch(type_):
            assert number in problem_rows, f"row {number} ({type_!r}) has no problem"


def test_corpus_tutorial_imports_with_its_repeat_and_skip_logic() -> None:
    spec = import_xlsform(corpus_file("tutorial.xls"))
    member = spec.node("member")
    assert isinstance(member, RepeatSpec)
    assert {c.name for c in member.children} >= {"name", "sex", "pregnant"}
    assert spec.node("pregnant").relevant
    assert all(f.sensitivity == "sensitive" for f in spec.fields())


def test_corpus_field_list_imports_its_group() -> None:
    spec = import_xlsform(corpus_file("field-list.xlsx"))
    assert isinstance(spec.children[0], GroupSpec)
    assert spec.children[0].children


def test_corpus_group_imports_with_a_warning_for_its_phone_number_metadata() -> None:
    spec = import_xlsform(corpus_file("group.xlsx"))
    [warning] = spec.import_warnings
    assert warning.startswith("survey row 4: metadata 'phonenumber' is not collected")


def test_corpus_htcds_imports_with_its_start_and_end_metadata() -> None:
    spec = import_xlsform(corpus_file("htcds_xlsform.xlsx"))
    start, end = spec.node("start"), spec.node("end")
    assert isinstance(start, FieldSpec) and isinstance(end, FieldSpec)
    assert (start.type, start.metadata, end.metadata) == ("datetime", "start", "end")
    assert all(f.sensitivity == "sensitive" for f in spec.fields())
    assert len(list(spec.fields())) >= 30


def test_corpus_unknown_question_type_is_refused_clearly() -> None:
    problems = refused(corpus_file("unknown_question_type.xls"))
    [unknown] = [p for p in problems if p.message == "unknown question type 'unknown'"]
    assert (unknown.sheet, unknown.row, unknown.column, unknown.feature) == (
        "survey",
        52,
        "type",
        "type:unknown",
    )


# -- robustness ---------------------------------------------------------------------------------

CELL = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "text",
            "integer",
            "begin group",
            "end group",
            "begin repeat",
            "end repeat",
            "select_one l",
            "select_multiple l",
            "calculate",
            "image",
            "a",
            "b",
            "${a}",
            "${a} > 1",
            ". > 0",
            "/data/a",
            "pulldata('x')",
            "yes",
            "statistical",
            "3",
            "meta",
        ]
    ),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
    st.integers(-5, 5),
    st.booleans(),
)
HEADERS = [
    "type",
    "name",
    "label",
    "relevant",
    "calculation",
    "required",
    "default",
    "repeat_count",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    survey=st.lists(st.lists(CELL, min_size=len(HEADERS), max_size=len(HEADERS)), max_size=6),
    choices=st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=3),
    header=st.lists(st.sampled_from([*HEADERS, "label::fr", "sensitivity", "x"]), max_size=3),
)
def test_junk_workbooks_only_ever_raise_xlsform_error(
    survey: Rows, choices: Rows, header: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_xlsform(
            Path(folder) / "junk.xlsx",
            survey=[HEADERS + header, *survey],
            choices=[["list_name", "name", "label"], *choices],
        )
        try:
            spec = import_xlsform(path)
        except XLSFormError as error:
            assert error.problems
            assert all(p.sheet and p.feature and p.message for p in error.problems)
        else:
            assert isinstance(spec, FormSpec)


def test_importing_the_module_does_not_load_server_only_packages() -> None:
    # Importing the importer is cheap: pyxform and openpyxl load when a workbook is read.
    code = (
        "import sys, fieldapp.office.xlsform; "
        "print(sorted(m for m in ('pyxform', 'openpyxl', 'xlrd') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
