"""Places: how long the ISO 3166-2 province list takes to load, narrow and search.

    .venv/bin/python bench/places.py [--rounds 5]

Prints, each the median of `--rounds` runs in a fresh process-like state (caches cleared):
reading the subdivision set (5,046 rows) and building its choices; loading the training
form (version 3) that names it, cold and once the set is read; narrowing the province list to
a country (`choice_filter` judged on every choice) for every country, first time (cold) and
again (the cache a form screen and validation hit on every keystroke); validating a training
record; and what the search box does per keystroke at 360 px: the narrowed list's labels
matched against the letters typed, and the Flet controls of the six matches shown, beside
what drawing the list as radio buttons would build (Cambodia's 26, France's 125, the
world's 5,047).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

import flet as ft

from fieldapp.forms import choices as choices_module
from fieldapp.forms import spec as spec_module
from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.choice_sets import choice_set_rows
from fieldapp.forms.choices import visible_choices
from fieldapp.forms.spec import FieldSpec, FormSpec
from fieldapp.forms.validate import check
from tests.conftest import attendance_values

FORM = Path(__file__).resolve().parents[1] / "assets" / "forms" / "training_attendance.json"


def _clear() -> None:
    choice_set_rows.cache_clear()
    spec_module._choice_set.cache_clear()
    choices_module._KEPT.clear()


def _median_ms(run: Callable[[], Any], rounds: int, *, clear: bool) -> float:
    times = []
    for _ in range(rounds):
        if clear:
            _clear()
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _matches(spec: FormSpec, field: FieldSpec, env: dict[str, Any], typed: str) -> list[str]:
    """What ChoiceSearch does per keystroke (fieldapp/ui/widgets/fields.py)."""
    needle = typed.casefold()
    options = [(c.value, spec.label(c.label, "en")) for c in visible_choices(spec, field, env)]
    starts = [o for o in options if o[1].casefold().startswith(needle)]
    contains = [o for o in options if needle in o[1].casefold() and o not in starts]
    return [value for value, _ in (starts + contains)[:6]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    text = FORM.read_text(encoding="utf-8")
    set_name = next(iter(FormSpec.model_validate_json(text).choice_sets.values()))
    print(f"choice set {set_name}: {len(choice_set_rows(set_name))} subdivisions")
    read = _median_ms(lambda: choice_set_rows(set_name), rounds, clear=True)
    print(f"read the set (JSON, {len(text):,} B form): {read:.1f} ms")
    cold = _median_ms(lambda: FormSpec.model_validate_json(text), rounds, clear=True)
    warm = _median_ms(lambda: FormSpec.model_validate_json(text), rounds, clear=False)
    print(f"load the training form: cold {cold:.1f} ms, set already read {warm:.1f} ms")

    spec = load_builtin_forms()["training_attendance"]
    field = spec.node("province")
    assert isinstance(field, FieldSpec)
    countries = [c.value for c in spec.choices["countries"]]
    choices_module._KEPT.clear()
    first, again, sizes = [], [], []
    for country in countries:
        start = time.perf_counter()
        kept = visible_choices(spec, field, {"country": country})
        first.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        visible_choices(spec, field, {"country": country})
        again.append((time.perf_counter() - start) * 1000)
        sizes.append(len(kept) - 1)
    print(
        f"narrow to a country ({len(countries)} countries, {max(sizes)} provinces at most): "
        f"first time median {statistics.median(first) * 1000:.0f} µs, max {max(first):.1f} ms "
        "(the column's index built once); "
        f"again median {statistics.median(again) * 1000:.0f} µs"
    )
    values = {**attendance_values(participants=5)}
    print(
        "validate a 5-participant training: "
        f"{_median_ms(lambda: check(spec, values), rounds, clear=False):.1f} ms"
    )

    for country, typed in (("KH", "kamp"), ("FR", "pa"), ("PH", "ce")):
        env = {"country": country}
        per_key = _median_ms(
            lambda e=env, t=typed: _matches(spec, field, e, t), rounds, clear=False
        )
        print(f"search {country} for {typed!r}: {per_key:.2f} ms a keystroke")
    every = {"country": None}
    unfiltered = FieldSpec(name="anywhere", type="select_one", choices="subdivisions")
    world = _median_ms(lambda: _matches(spec, unfiltered, every, "san"), rounds, clear=False)
    print(f"search the unfiltered 5,047 for 'san': {world:.1f} ms a keystroke")

    def buttons() -> list[ft.Control]:
        return [ft.TextButton(v, height=48) for v in _matches(spec, field, {"country": "FR"}, "p")]

    print(f"the six match buttons (France, 'p'): {_median_ms(buttons, rounds, clear=False):.2f} ms")
    for country, label in (("KH", "Cambodia"), ("FR", "France"), (None, "the world")):
        listed = visible_choices(spec, field if country else unfiltered, {"country": country})

        def radios(listed: list[Any] = listed) -> ft.Control:
            return ft.RadioGroup(
                content=ft.Column([ft.Radio(value=c.value, label=c.label["en"]) for c in listed])
            )

        print(
            f"radio buttons instead, {label} ({len(listed)}): "
            f"{_median_ms(radios, rounds, clear=False):.1f} ms to build"
        )


if __name__ == "__main__":
    main()
