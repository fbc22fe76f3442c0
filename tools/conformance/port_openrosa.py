"""Port enketo/openrosa-xpath-evaluator's function tests into tests/conformance as data.

    python tools/conformance/port_openrosa.py CHECKOUT [COMMIT] \
        > tests/conformance/openrosa_cases.tsv

CHECKOUT is a directory holding the peer's test/ folder (a clone, or `git archive` of one);
COMMIT is the commit it came from (default: CHECKOUT's HEAD).

Runs `record_openrosa.js` (Node.js) over the spec files below, which records what each test
asserts (expression and expected value) instead of checking it, and writes the cases as a
tab-separated table. A case that needs a DOM context node (an element picked by id in an XML
document) is not ported: our expressions read answers, not a document; it is counted per file
in the table's header. The /simple/xpath/to/node of the peer's helpers becomes ${node}, an
answer holding the same text.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SPECS = [
    *(
        f"test/integration/openrosa-xpath/{name}.spec.js"
        for name in [
            "abs",
            "and-or",
            "boolean-from-string",
            "checklist",
            "coalesce",
            "concat",
            "count-non-empty",
            "count-selected",
            "date-time",
            "date",
            "decimal-date-time",
            "decimal-time",
            "digest",
            "ends-with",
            "false",
            "format-date-time",
            "format-date",
            "if",
            "int",
            "join",
            "max",
            "min",
            "not",
            "now",
            "number",
            "once",
            "position",
            "pow",
            "random",
            "round",
            "selected-at",
            "selected",
            "simple-xpath",
            "subs",
            "sum",
            "today",
            "trigo",
            "true",
            "uuid",
            "weighted-checklist",
        ]
    ),
    *(
        f"test/integration/native/{name}.spec.js"
        for name in ("boolean", "ceiling", "floor", "number", "string")
    ),
]
SIMPLE_NODE = "/simple/xpath/to/node"
ONE_VALUE = {"assertTrue", "assertFalse"}
WITH_EXPECTED = {
    "assertString": "string",
    "assertStringValue": "string",
    "assertNumber": "number",
    "assertNumberValue": "number",
    "assertStringLength": "length",
    "assertMatch": "match",
}


def _number(value: Any) -> Any:
    if isinstance(value, dict) and "number" in value:
        return float(value["number"].replace("Infinity", "inf"))
    if isinstance(value, str):
        return float(value)
    return value


def _is_dom(node: Any) -> bool:
    return isinstance(node, dict) and node.get("node") not in (None, "#document")


def convert(record: dict[str, Any]) -> tuple[str, str, Any, str | None] | str | None:
    """(kind, expression, expected, answer text), None if not an assertion, 'dom' if it needs
    a document context."""
    kind, args = record["kind"], list(record["args"])
    node: Any = None
    text: Any = None
    if kind == "assertBoolean":
        kind = "assertTrue" if args.pop() else "assertFalse"
    if kind in ONE_VALUE:
        expression = args[-1]
        text = args[-2] if len(args) > 1 else None
        node = args[-3] if len(args) > 2 else None
        expected: Any = kind == "assertTrue"
        kind = "boolean"
    elif kind in WITH_EXPECTED:
        expected, expression = args[-1], args[-2]
        text = args[-3] if len(args) > 2 else None
        node = args[-4] if len(args) > 3 else None
        kind = WITH_EXPECTED[kind]
        if kind == "number":
            expected = _number(expected)
        if kind == "match":
            expected = expected["regexp"]
    elif kind == "assertNumberRounded":
        expression, expected = args[0], [_number(args[1]), args[2]]
        node = args[3] if len(args) > 3 else None
        kind = "rounded"
    elif kind == "assertThrow":
        expression, expected, kind = args[0], None, "error"
    else:
        return None
    if _is_dom(node) or _is_dom(text):
        return "dom"
    if not isinstance(expression, str):
        return "dom"
    expression = expression.replace(SIMPLE_NODE, "${node}")
    return kind, expression, expected, text if isinstance(text, str) and text else None


def main(checkout: str, commit: str = "") -> None:
    git = shutil.which("git") or "git"
    commit = (
        commit
        or subprocess.run(  # noqa: S603 (git on the given checkout)
            [git, "-C", checkout, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )
    node = shutil.which("node") or "node"
    recorded = subprocess.run(  # noqa: S603 (Node.js on our own recorder and the peer's specs)
        [node, str(HERE / "record_openrosa.js"), checkout, *SPECS],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TZ": "America/Denver"},
    ).stdout
    rows: list[tuple[str, str, str, Any, str | None]] = []
    dom: collections.Counter[str] = collections.Counter()
    counters: collections.Counter[str] = collections.Counter()
    seen: set[tuple[str, str, str, str]] = set()
    simple_text: dict[str, str] = {}  # simpleValueIs(text) in a test: ${node} from then on
    for record in json.loads(recorded):
        if record["kind"] == "simpleValueIs":
            simple_text[record["title"]] = record["args"][0]
            continue
        group = Path(record["file"]).name.removesuffix(".spec.js")
        if "/native/" in record["file"]:
            group = f"native-{group}"
        case = convert(record)
        if case == "dom":
            dom[group] += 1
            continue
        if not isinstance(case, tuple):
            continue
        if case[3] is None and record["title"] in simple_text:
            case = (*case[:3], simple_text[record["title"]])
        if case[3] is None and "${node}" in case[1]:
            case = (*case[:3], "")
        key = (group, case[0], case[1], repr(case[2:]))
        if key in seen:
            continue
        seen.add(key)
        counters[group] += 1
        rows.append((f"{group}-{counters[group]}", *case))
    out = sys.stdout
    out.write(
        "# Generated by tools/conformance/port_openrosa.py: do not edit, regenerate.\n"
        "#\n"
        "# Test cases of enketo/openrosa-xpath-evaluator\n"
        "# (https://github.com/enketo/openrosa-xpath-evaluator),\n"
        f"# commit {commit},\n"
        "# files test/integration/openrosa-xpath/*.spec.js and\n"
        "# test/integration/native/{boolean,ceiling,floor,number,string}.spec.js.\n"
        "# Copyright Enketo / the openrosa-xpath-evaluator contributors, Apache License 2.0.\n"
        "#\n"
        "# One case a line, tab-separated: id, kind, then as JSON: expression, expected,\n"
        "# text of ${node} (the peer's /simple/xpath/to/node) or null.\n"
        "# kind: boolean | string | number | length | match (a regexp) | rounded ([value,\n"
        "# factor]) | error (the expression must be refused). The peer's clock was fixed at\n"
        "# 2026-01-01T09:30:00-07:00 (America/Denver) when recording.\n"
        "#\n"
        "# Not ported (they need a DOM context node, an element of an XML document):\n"
    )
    for group, count in sorted(dom.items()):
        out.write(f"#   {group}: {count}\n")
    for case_id, kind, expression, expected, text in rows:
        cells = (expression, expected, text)
        out.write("\t".join([case_id, kind, *(json.dumps(cell) for cell in cells)]) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
