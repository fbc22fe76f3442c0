"""The linear-time regex matcher that runs the patterns Python's `re` could freeze on."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldapp.forms.expr.linear_regex import MAX_PROGRAM, LinearPattern

# From UCL_Biomass_Plot_Form.xlsx (a phone number), refused before as a freeze risk.
UCL_PHONE = r"^(([0-9]{1})*[- .(]*([0-9]{3})[- .)]*[0-9]{3}[- .]*[0-9]{4})+$"
# (pattern, whether it matches the hostile input: many a's or digits, then '!')
HOSTILE = [
    ("^(a+)+$", False),
    ("^(a*)*b", False),
    ("^([a-z]+ ?)+$", False),
    ("(x+x+)+y", False),
    ("((ab)*c)*", True),  # matches the empty string anywhere
    (UCL_PHONE, False),
]

AGREEMENT = [
    # (pattern, inputs): the answer must be re.search(pattern, text, re.ASCII) is not None
    ("abc", ["abc", "xabcx", "ab", ""]),
    ("^abc$", ["abc", "abc\n", "abcd", "xabc"]),
    (r"^\d{3}-\d{4}$", ["555-1234", "55-1234", "555-12345", "٥٥٥-١٢٣٤"]),
    (r"^[A-Z]{2}-[0-9]{4}$", ["AB-1234", "ab-1234", "AB-123"]),
    (r"^[^0-9]+$", ["abc", "ab1", ""]),
    (r"^\w+\s\W\S$", ["ab_1 !x", "ab  x", "é !x"]),
    (r"^\D*$", ["abc", "a1"]),
    (r"a.c", ["abc", "a\nc", "ac"]),
    (r"^(cat|dog|bird)s?$", ["cats", "dog", "birds", "cow", "dogss"]),
    (r"^(ab)+$", ["ab", "abab", "aba", ""]),
    (r"^a{2,3}$", ["a", "aa", "aaa", "aaaa"]),
    (r"^a{2,}$", ["a", "aa", "aaaaaa"]),
    (r"^a{,2}$", ["", "a", "aa", "aaa"]),
    (r"^a*?b+?$", ["b", "aab", "aabbb", "a"]),
    (r"\bword\b", ["a word here", "swordfish", "word"]),
    (r"\Bor\B", ["word", "or", "for"]),
    (r"\Aab\Z", ["ab", "ab\n", "xab"]),
    (r"^$", ["", "\n", "a"]),
    (r"^(a|)+$", ["", "aaa", "ab"]),
    (r"^[-+]?[0-9]*\.?[0-9]+$", ["-1.5", "+.5", "1.", "abc"]),
    (r"^[\d\s]+$", ["1 2 3", "1a"]),
    (r"(?x) a b  c", ["abc", "a b c"]),
    (r"^(a+)+$", ["aaaa", "aaab"]),
    (r"^(a*)*b", ["aaab", "b", "aaa"]),
    (UCL_PHONE, ["0772 123 4567", "(077)-123-4567", "077212345678", "12-34", "abc"]),
]


@pytest.mark.parametrize(("pattern", "inputs"), AGREEMENT)
def test_agrees_with_re(pattern: str, inputs: list[str]) -> None:
    compiled = LinearPattern.compile(pattern)
    for text in inputs:
        expected = re.search(pattern, text, re.ASCII) is not None
        assert compiled.search(text) is expected, (pattern, text)


@pytest.mark.parametrize(("pattern", "matches"), HOSTILE)
def test_hostile_input_costs_a_bounded_number_of_steps(pattern: str, matches: bool) -> None:
    """Where backtracking takes exponential time, the NFA visits each state once a
    character: steps grow linearly with the input."""
    compiled = LinearPattern.compile(pattern)
    hostile = "a" * 2000 + "!" if "a" in pattern else "1" * 2000 + "!"
    run = compiled.run(hostile)
    assert run.matched is matches
    assert run.steps <= 2 * (len(hostile) + 1) * len(compiled.program)
    # Doubling the input about doubles the work (backtracking would square it, or worse).
    double = compiled.run(hostile[:-1] * 2 + "!")
    assert double.steps <= 2.05 * run.steps


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"(a)\1", "backreferences"),
        (r"a(?=b)", "lookarounds"),
        (r"(?<!b)a", "lookarounds"),
        (r"(?i)abc", "inline flags"),
        (r"(?m)^a", "inline flags"),
        (r"(?>a+)b", "atomic"),
        (r"a++", "possessive"),
        ("(a", "invalid regular expression"),
    ],
)
def test_what_xpath_regexes_cannot_say_is_refused(pattern: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        LinearPattern.compile(pattern)


def test_counted_repetition_cannot_blow_up_the_program() -> None:
    with pytest.raises(ValueError, match="too large"):
        LinearPattern.compile("((a{100}){100}){100}")
    assert len(LinearPattern.compile("(a{50}){10}").program) < MAX_PROGRAM


ALPHABET = st.sampled_from(["a", "b", "1", " ", "-", "\n"])
PIECES = st.sampled_from(
    ["a", "b", "[ab]", "[^a]", r"\d", r"\s", ".", "(a|b1)", "(a*)", "(b+)?", "a{1,2}"]
)
QUANTIFIERS = st.sampled_from(["", "*", "+", "?", "{2}", "{0,3}", "*?"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(PIECES, QUANTIFIERS), min_size=1, max_size=5),
    st.booleans(),
    st.booleans(),
    st.text(ALPHABET, max_size=12),
)
def test_random_patterns_agree_with_re(
    pieces: list[tuple[str, str]], start: bool, end: bool, text: str
) -> None:
    body = "".join(f"({piece}){quantifier}" for piece, quantifier in pieces)
    pattern = ("^" if start else "") + body + ("$" if end else "")
    expected = re.search(pattern, text, re.ASCII) is not None
    assert LinearPattern.compile(pattern).search(text) is expected
