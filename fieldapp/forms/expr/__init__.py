"""The form expression language: the XLSForm/XPath subset of `relevant`, `constraint`,
`calculation`, `required` (when an expression) and `choice_filter`.

A source is parsed once (cached) into a small tree that is evaluated by walking it; nothing is
ever handed to `eval`. Sources are untrusted (forms can be imported), so the parser refuses
sources over `MAX_SOURCE_LENGTH` characters and nesting deeper than `MAX_DEPTH` *before*
recursing: no input can exhaust the Python stack or hang the parser.

Values are the submission values of docs/architecture.md: None is empty; str, int, float,
bool; list[str] for select_multiple; list[dict] for a repeat; "YYYY-MM-DD" dates; ISO datetimes;
geopoint dicts. Semantics follow XPath 1.0 and ODK, with these choices:

- Numbers are int or float and always finite. Where XPath would give NaN or Infinity
  (`number('abc')`, `1 div 0`, `5 mod 0`, overflow) the result is empty (None). Integers beyond
  2**53 become floats, as XPath numbers are doubles (this also bounds integer growth).
- Empty (None, '' or an empty list) propagates through arithmetic, makes `<`, `<=`, `>`, `>=`
  false, and equals ''.
- `=`/`!=`: if either side is a bool, both compare as booleans ('true', 'yes', '1' are true;
  'false', 'no', '0', '' false; other values by `boolean()`); else if either side is a number and
  the other converts to one, numerically; else as strings (a list as its space-joined values).
- Arithmetic, ordering, `number()`, `min()`, `max()` read a date as days since 1970-01-01 and a
  datetime as fractional days (UTC), so `int((today() - ${dob}) div 365.25)` is an age and two
  dates order correctly. Ordering compares numerically when both sides are numbers or dates,
  else as strings.
- `regex(s, pattern)` succeeds when the pattern matches anywhere in `s`, as in ODK Collect and
  Enketo: anchor it (`^...$`) to match the whole value. Classes like `\\d` and `\\w` are ASCII
  only, as in Java and JavaScript. Python's `re` has no time limit, so a form author can still
  write a catastrophically backtracking pattern; patterns are capped at 256 characters.
- `concat()` results over 100,000 characters are empty (None) rather than an error: the data,
  not the form, is at fault.
- Evaluation never raises: a value of the wrong kind gives None (or False for a test).

A `choice_filter` is parsed by `parse_choice_filter`: there a bare name (`country`, `name`) is
a column of the choice being judged, given to `Expression.evaluate` as `choice=`; elsewhere a
bare name is an error that says to write `${name}`.

`Expression.shape` tells, from the syntax and the shapes of the fields referred to, what an
expression can yield (a `Shape`: true/false, a number, a date, one of its quoted values, or
anything): `fieldapp.forms.spec.Statistics` uses it to keep statistical calculations coarse.

One module a job: `values` (conversions), `functions`, `syntax` (tokens, tree, parser),
`evaluation` (operators and the walk), `shapes`, `expression` (`Expression`, `parse`).
"""

from fieldapp.forms.expr.expression import Expression, parse, parse_choice_filter
from fieldapp.forms.expr.shapes import CLOCK_FUNCTIONS, Shape
from fieldapp.forms.expr.syntax import NAME_RE, ExpressionError
from fieldapp.forms.expr.values import boolean

__all__ = [
    "CLOCK_FUNCTIONS",
    "NAME_RE",
    "Expression",
    "ExpressionError",
    "Shape",
    "boolean",
    "parse",
    "parse_choice_filter",
]
