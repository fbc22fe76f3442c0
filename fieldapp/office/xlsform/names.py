"""Names as pyxform allows them, made names the engine can use: `-` and `.` become `_`, and a
name used again in another group or repeat (pyxform scopes names by their path) takes its
group's name as a prefix. Every rename is a warning naming the row; a `${name}` that pyxform
would resolve to more than one question is refused at its row.

Also the spelling pyxform tolerates in expressions: curly quotes (‘ ’ “ ”), as word processors
type them, are read as straight quotes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fieldapp.forms.expr import NAME_RE
from fieldapp.office.xlsform.question_types import classify
from fieldapp.office.xlsform.workbook import Sheet

__all__ = ["Names", "straight_quotes", "unique_name"]

# pyxform's XML name rule, restricted to what real forms use: letters, digits, _, - and .
_PYXFORM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_CURLY = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})
_REFERENCE = re.compile(r"\$\{([^}]*)\}")


def straight_quotes(source: str) -> str:
    return source.translate(_CURLY)


@dataclass
class Names:
    """Every name of the survey sheet: its row, and what it becomes in the FormSpec."""

    rows: dict[str, int] = field(default_factory=dict)  # final name -> row
    by_row: dict[int, str] = field(default_factory=dict)  # row -> final name
    renamed: dict[str, str] = field(default_factory=dict)  # pyxform name -> engine name
    ambiguous: set[str] = field(default_factory=set)  # names used in several groups
    warnings: list[tuple[int, str, str]] = field(default_factory=list)  # row, feature, message
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # row, message

    @classmethod
    def collect(cls, survey: Sheet) -> Names:
        names = cls()
        scope: list[str] = []  # the open groups' and repeats' names
        siblings: list[set[str]] = [set()]
        first: dict[str, int] = {}
        for row in survey.rows:
            type_text = row.text("type")
            role = classify(type_text).role if type_text else ""
            if role == "end":
                if len(scope) > 0:
                    scope.pop()
                    siblings.pop()
                continue
            name = row.text("name")
            if not name and type_text.strip().lower() == "note":  # as pyxform names it
                name = f"generated_note_name_{row.number}"
            if not name:
                if role == "begin":
                    scope.append("")
                    siblings.append(set())
                continue
            final = name
            if not NAME_RE.match(name) and _PYXFORM_NAME.match(name):
                final = re.sub(r"[-.]", "_", name)
                names.renamed[name] = final
                msg = f"name {name!r} is stored as {final!r} (names use only A-Z, 0-9 and _)"
                names.warnings.append((row.number, "name", msg))
            if name in first:
                if name in siblings[-1]:
                    msg = f"the name {name!r} is already used in row {first[name]}"
                    names.duplicates.append((row.number, msg + " in the same group"))
                else:
                    names.ambiguous.add(name)
                    prefix = next((s for s in reversed(scope) if s), "")
                    final = unique_name(f"{prefix}_{final}" if prefix else final, names.rows)
                    msg = (
                        f"the name {name!r} is also used in row {first[name]} (another group): "
                        f"this one is stored as {final!r}"
                    )
                    names.warnings.append((row.number, "same-name", msg))
            else:
                first[name] = row.number
            siblings[-1].add(name)
            names.rows[final] = row.number
            names.by_row[row.number] = final
            if role == "begin":
                scope.append(final)
                siblings.append(set())
        return names

    def rewrite(self, text: str) -> str:
        """`text` with its `${pyxform-name}` references to renamed names rewritten."""
        if not self.renamed:
            return text
        return _REFERENCE.sub(
            lambda m: "${" + self.renamed.get(m[1], m[1]) + "}" if m[1] in self.renamed else m[0],
            text,
        )

    def ambiguous_references(self, text: str) -> list[str]:
        return sorted({m for m in _REFERENCE.findall(text) if m in self.ambiguous})


def unique_name(name: str, taken: dict[str, int]) -> str:
    """`name`, or `name_2`, `name_3`... the first not taken."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate
