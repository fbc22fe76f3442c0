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
  only, as in Java and JavaScript. Patterns are capped at 256 characters. One that repeats a
  repetition (like `(a+)+`), which could take exponential time in Python's backtracking `re`
  and freeze the app, runs on `linear_regex` (a Thompson NFA: time linear in the answer).
- `concat()` results over 100,000 characters are empty (None) rather than an error: the data,
  not the form, is at fault.
- Evaluation never raises: a value of the wrong kind gives None (or False for a test).

The ODK function set of real XLSForms is there (`odk`): sum, join, substr, translate,
format-date, pulldata, jr:choice-name, once, position, indexed-repeat, digest, uuid, random...
(tests/conformance runs enketo/openrosa-xpath-evaluator's function tests). Paths are not XPath
location paths over a document but what XLSForms write:

- `../name`, `../../name`, `current()/../name`: a field of the repeat instance (found in the
  innermost scope first: inside a repeat, `env` is a ChainMap whose first map is the instance);
  `position(..)` is the instance's 1-based position (`../..`: the enclosing repeat's).
- `${name}` of a field inside a repeat, read from outside it by an aggregate (sum, count, join,
  count-non-empty, min, max, concat, checklist), gives the field in every instance, as a
  `Nodeset` (string() and number() read the first value, `=` holds when any value matches);
  elsewhere such a reference is empty. `indexed-repeat(${f}, ${r}, n)` reads one instance.
- `instance('list')/root/item[predicate]/column`: rows of a secondary instance (`instances`:
  choice lists, attached CSVs); in a predicate a bare name is the row's column and
  `position()` the row's position. Its value is the first match.
- `=` between a number and a date compares days since 1970; a date and a datetime compare as
  instants. Where ODK depends on the device (`random()`, `uuid()`), `seed` (a record id) makes
  the value stable; `once(x)` keeps `current` (the stored value) when there is one.
- Dates have no time zone (UTC days); format-date() names months and days in English.

A `choice_filter` is parsed by `parse_choice_filter`: there a bare name (`country`, `name`) is
a column of the choice being judged, given to `Expression.evaluate` as `choice=` and read as a
predicate reads its row. Elsewhere a bare name (`yes`, meant as 'yes') is what XPath makes
of it, a child path of the node being computed that selects nothing: an empty node-set ('' as
text, false as a test, empty as a number), as ODK Collect computes it; `Expression.absent`
lists such names so that the importer can warn. Names may be QNames (`fuel:diesel`, an OSM
tag as an instance's column; `jr:choice-name`).

`Expression.shape` tells, from the syntax and the shapes of the fields referred to, what an
expression can yield (a `Shape`: true/false, a number, a date, one of its quoted values, or
anything): `fieldapp.forms.statistics.Statistics` uses it to keep statistical calculations coarse.

One module a job: `values` (conversions), `functions` and `odk` (the rest of the ODK set),
`linear_regex` (the safe matcher),
`syntax` (tokens, tree, parser),
`evaluation` (operators and the walk), `shapes`, `expression` (`Expression`, `parse`).
"""

from fieldapp.forms.expr.expression import Expression, Options, parse, parse_choice_filter
from fieldapp.forms.expr.shapes import CLOCK_FUNCTIONS, Shape
from fieldapp.forms.expr.syntax import NAME_RE, ExpressionError
from fieldapp.forms.expr.values import Nodeset, boolean

__all__ = [
    "CLOCK_FUNCTIONS",
    "NAME_RE",
    "Expression",
    "ExpressionError",
    "Nodeset",
    "Options",
    "Shape",
    "boolean",
    "parse",
    "parse_choice_filter",
]
