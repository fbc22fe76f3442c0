"""An anonymised micro-data export: one row per victim, every combination of quasi-identifiers
shared by at least k rows (k-anonymity), and a warning where a group shares one sensitive value.

Quasi-identifiers (age band, sex, nationality, exploitation type, region) are not names, but
together they can point at one person. Deterministically:

1. *Global recoding*, step by step: while more than `max_blanked` of the rows sit in groups
   under k, the quasi-identifier whose next coarser level leaves the fewest such rows is
   coarsened everywhere (age band → minor/adult; nationality → continent; several exploitation
   types → "multiple"). Ties go to the earlier quasi-identifier.
2. *Local suppression*: the rows still in groups under k have values blanked (`BLANK`), the
   quasi-identifier with the most distinct values first, then two, and so on, until their
   group reaches k. Rows left in a group under k with every value blanked are dropped.
3. *l-diversity*: a group whose rows share fewer than l distinct values of the sensitive
   attribute gives that value away for all of them; each such group is named in `warnings`.

Rows carry no record id (it would link the export back to the records) and come out sorted,
never in the order records were made.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fieldapp.office.aggregates.errors import AggregateError

__all__ = [
    "BLANK",
    "MicrodataExport",
    "QuasiIdentifier",
    "age_group",
    "anonymise",
    "continent",
    "single_or_multiple",
    "victim_quasi_identifiers",
]

BLANK = "*"

Recoding = Callable[[Any], Any]

_MINOR_BANDS = frozenset({"0_11", "12_14", "15_17", "unknown_may_be_child"})
_CONTINENTS = {
    "africa": "DZ AO BJ BW BF BI CV CM CF TD KM CG CD CI DJ EG GQ ER SZ ET GA GM GH GN GW KE LS "
    "LR LY MG MW ML MR MU YT MA MZ NA NE NG RE RW SH ST SN SC SL SO ZA SS SD TZ TG TN UG EH ZM ZW "
    "IO TF",
    "americas": "AI AG AR AW BS BB BZ BM BO BQ BV BR CA KY CL CO CR CU CW DM DO EC SV FK GF GL GD "
    "GP GT GY HT HN JM MQ MX MS NI PA PY PE PR BL KN LC MF PM VC SX GS SR TT TC US UM UY VE VG VI",
    "asia": "AF AM AZ BH BD BT BN KH CN CY GE HK IN ID IR IQ IL JP JO KZ KW KG LA LB MO MY MV MN "
    "MM NP KP OM PK PS PH QA SA SG KR LK SY TW TJ TH TL TR TM AE UZ VN YE",
    "europe": "AX AL AD AT BY BE BA BG HR CZ DK EE FO FI FR DE GI GR GG VA HU IS IE IM IT JE LV "
    "LI LT LU MT MD MC ME NL MK NO PL PT RO RU SM RS SK SI ES SJ SE CH UA GB",
    "oceania": "AS AU CX CC CK FJ PF GU HM KI MH FM NR NC NZ NU NF MP PW PG PN WS SB TK TO TV VU "
    "WF",
}
_CONTINENT_OF = {code: name for name, codes in _CONTINENTS.items() for code in codes.split()}


def age_group(band: Any) -> Any:
    """The victim form's age bands as minor or adult (an unknown child counts as a minor)."""
    if band is None:
        return None
    return "minor" if band in _MINOR_BANDS else "adult"


def continent(country: Any) -> Any:
    """An ISO 3166 code as its continent (UN M49 regions), anything else as "other"."""
    if country is None:
        return None
    return _CONTINENT_OF.get(country, "other")


def single_or_multiple(choices: Any) -> Any:
    """A select_multiple answer kept when it is one choice, "multiple" when it is several."""
    if not choices:
        return None
    return choices[0] if len(choices) == 1 else "multiple"


@dataclass(frozen=True)
class QuasiIdentifier:
    """A field that could help point at a person, and its ever coarser recodings (blanking
    the value is always the last resort and needs no level)."""

    field: str
    levels: tuple[Recoding, ...] = ()


def victim_quasi_identifiers() -> list[QuasiIdentifier]:
    """The issue's quasi-identifiers of a victim record, with the victim form's hierarchies."""
    return [
        QuasiIdentifier("age_band", (age_group,)),
        QuasiIdentifier("sex"),
        QuasiIdentifier("nationality", (continent,)),
        QuasiIdentifier("exploitation_types", (single_or_multiple,)),
        QuasiIdentifier("region"),
    ]


@dataclass(frozen=True)
class MicrodataExport:
    """`rows`: the anonymised rows; `levels`: how far each quasi-identifier was coarsened
    everywhere; `blanked`: values blanked locally; `dropped`: rows left out; `warnings`:
    groups failing l-diversity."""

    rows: list[dict[str, Any]]
    levels: dict[str, int]
    blanked: int
    dropped: int
    warnings: list[str]


def anonymise(
    records: Iterable[Mapping[str, Any]],
    quasi_identifiers: Sequence[QuasiIdentifier],
    *,
    k: int,
    sensitive: str | None = None,
    l_diversity: int = 2,
    max_blanked: float = 0.05,
) -> MicrodataExport:
    """The records' quasi-identifiers (and `sensitive`, unchanged) made k-anonymous."""
    names = [q.field for q in quasi_identifiers]
    if not names or len(set(names)) != len(names):
        raise AggregateError("quasi_identifiers: name each field once, at least one")
    if sensitive in names:
        raise AggregateError(f"sensitive: {sensitive!r} is also a quasi-identifier")
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise AggregateError(f"k: must be a whole number of at least 2, not {k!r}")
    records = list(records)
    raw = [[_plain(r.get(name)) for name in names] for r in records]
    secret = [_plain(r.get(sensitive)) for r in records] if sensitive else []
    levels = _global_levels(raw, quasi_identifiers, k, max_blanked)
    values = [
        [_recoded(q, lv, v) for q, lv, v in zip(quasi_identifiers, levels, row, strict=True)]
        for row in raw
    ]
    blanked = _blank_locally(values, k)
    groups = Counter(tuple(v) for v in values)
    kept = [i for i, v in enumerate(values) if groups[tuple(v)] >= k]
    rows = []
    for i in kept:
        row = {name: _listed(value) for name, value in zip(names, values[i], strict=True)}
        if sensitive:
            row[sensitive] = _listed(secret[i])
        rows.append(row)
    rows.sort(key=lambda row: json.dumps(row, sort_keys=True, default=str))
    warnings = (
        _l_diversity(values, secret, kept, names, sensitive, l_diversity) if sensitive else []
    )
    return MicrodataExport(
        rows, dict(zip(names, levels, strict=True)), blanked, len(values) - len(kept), warnings
    )


def _plain(value: Any) -> Any:
    """A hashable value: a select_multiple answer as its sorted choices, blank as None."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list | tuple):
        return tuple(sorted(str(v) for v in value))
    if isinstance(value, dict):
        raise AggregateError(f"{value!r} is not a statistical value")
    return value


def _recoded(q: QuasiIdentifier, level: int, value: Any) -> Any:
    return value if level == 0 else q.levels[level - 1](value)


def _small(values: Iterable[Sequence[Any]], k: int) -> int:
    groups = Counter(tuple(row) for row in values)
    return sum(n for n in groups.values() if n < k)


def _listed(value: Any) -> Any:
    """A select_multiple answer back as the list it was."""
    return list(value) if isinstance(value, tuple) else value


def _global_levels(
    raw: list[list[Any]], qis: Sequence[QuasiIdentifier], k: int, max_blanked: float
) -> list[int]:
    levels = [0] * len(qis)

    def small_at(trial: list[int]) -> int:
        return _small(
            ([_recoded(q, lv, v) for q, lv, v in zip(qis, trial, row, strict=True)] for row in raw),
            k,
        )

    current = small_at(levels)
    while current > max_blanked * len(raw):
        options = []
        for a, q in enumerate(qis):
            if levels[a] < len(q.levels):
                trial = [*levels[:a], levels[a] + 1, *levels[a + 1 :]]
                options.append((small_at(trial), a))
        if not options:
            break
        current, chosen = min(options)
        levels[chosen] += 1
    return levels


def _blank_locally(values: list[list[Any]], k: int) -> int:
    """Blank values of rows in groups under k, most varied quasi-identifier first."""
    width = len(values[0]) if values else 0
    distinct = [len({row[a] for row in values}) for a in range(width)]
    order = sorted(range(width), key=lambda a: (-distinct[a], a))
    blanked = 0
    for depth in range(1, width + 1):
        groups = Counter(tuple(row) for row in values)
        small = [row for row in values if groups[tuple(row)] < k]
        if not small:
            break
        for row in small:
            for a in order[:depth]:
                if row[a] != BLANK:
                    row[a] = BLANK
                    blanked += 1
    return blanked


def _l_diversity(
    values: list[list[Any]],
    secret: list[Any],
    kept: list[int],
    names: list[str],
    sensitive: str | None,
    l_diversity: int,
) -> list[str]:
    seen: dict[tuple[Any, ...], set[Any]] = defaultdict(set)
    sizes: Counter[tuple[Any, ...]] = Counter()
    for i in kept:
        group = tuple(values[i])
        seen[group].add(secret[i])
        sizes[group] += 1
    warnings = []
    for group in sorted(seen, key=repr):
        if len(seen[group]) < l_diversity:
            where = ", ".join(f"{n}={v}" for n, v in zip(names, group, strict=True))
            warnings.append(
                f"{sensitive}: the {sizes[group]} rows with {where} share "
                f"{len(seen[group])} value(s) (fewer than l = {l_diversity}): it gives them away"
            )
    return warnings
