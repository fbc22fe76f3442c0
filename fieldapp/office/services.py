"""Reports of the services survivors received, from the clear statistics of the `case` and
`service_entry` records, protected by the office's k-suppression (`aggregates`).

Four tables, each named dimensions over one form's statistical fields (and the record's
region, which the server keeps in clear):

- `survivors`: cases (one per survivor) by the services they received (a survivor counts once
  in each type), the month they were identified, the time to their first service, region;
- `services`: service entries by type, month, outcome, region;
- `shelter_stays`: shelter entries by the length of the stay (bands), month, region;
- `referrals`: the organisation's outgoing referrals (the server's clear metadata) by service,
  stage (made: all; accepted: accepted or delivered; completed: delivered), month sent, region.

Nothing here reads a sealed part: the link between a service and its case never leaves it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from fieldapp.forms.spec import Choice, FieldSpec, FormSpec, GroupSpec
from fieldapp.office.aggregates import AggregateError, DisclosurePolicy, Report, build_report

__all__ = [
    "REFERRAL_SPEC",
    "SERVICE_TABLES",
    "ServiceTable",
    "referral_stages",
    "referral_statistics",
    "services_report",
]


@dataclass(frozen=True)
class ServiceTable:
    """One table of the services report: the form it counts, its dimensions (name → field),
    and the one service type it keeps, if any."""

    form_id: str
    dimensions: Mapping[str, str]
    only_type: str | None = None


SERVICE_TABLES: dict[str, ServiceTable] = {
    "survivors": ServiceTable(
        "case",
        {
            "service_type": "services_received",
            "month": "identified_month",
            "first_service": "first_service_band",
            "status": "status",
            "region": "region",
        },
    ),
    "services": ServiceTable(
        "service_entry",
        {
            "service_type": "service_type",
            "month": "service_month",
            "outcome": "outcome",
            "region": "region",
        },
    ),
    "shelter_stays": ServiceTable(
        "service_entry",
        {"duration": "stay_band", "month": "service_month", "region": "region"},
        only_type="shelter",
    ),
    "referrals": ServiceTable(
        "referral",
        {"service": "service", "status": "stage", "month": "sent_month", "region": "region"},
    ),
}

_STAGE_LABELS = {
    "made": {"en": "Made", "fr": "Faites", "es": "Hechas", "ar": "مُرسَلة"},
    "accepted": {"en": "Accepted", "fr": "Acceptées", "es": "Aceptadas", "ar": "مقبولة"},
    "completed": {"en": "Completed", "fr": "Achevées", "es": "Completadas", "ar": "مكتملة"},
}
# The referrals counted as a form of three statistical fields: a referral counts once in
# each stage it reached, as a survivor counts once in each service received.
REFERRAL_SPEC = FormSpec(
    id="referral",
    version="1",
    title={"en": "Referrals", "fr": "Orientations", "es": "Derivaciones", "ar": "الإحالات"},
    small_cells="suppress",
    choices={
        "services": [],
        "stages": [Choice(value=code, label=label) for code, label in _STAGE_LABELS.items()],
    },
    children=[
        FieldSpec(name="service", type="select_one", sensitivity="statistical",
                  label={"en": "Service", "fr": "Service", "es": "Servicio", "ar": "الخدمة"},
                  choices="services"),
        FieldSpec(name="stage", type="select_multiple", sensitivity="statistical",
                  label={"en": "Stage", "fr": "Étape", "es": "Etapa", "ar": "المرحلة"},
                  choices="stages"),
        FieldSpec(name="sent_month", type="date", sensitivity="statistical",
                  label={"en": "Month sent", "fr": "Mois d'envoi", "es": "Mes de envío",
                         "ar": "شهر الإرسال"}),
    ],
)  # fmt: skip


def referral_stages(status: str) -> list[str]:
    """The stages a referral of this status reached (declined, withdrawn: made only)."""
    reached = {"accepted": ["accepted"], "delivered": ["accepted", "completed"]}
    return ["made", *reached.get(status, [])]


def referral_statistics(service: str, status: str, sent_on: date) -> dict[str, Any]:
    """One referral's clear metadata as the statistics `REFERRAL_SPEC` counts."""
    return {"service": service, "stage": referral_stages(status),
            "sent_month": sent_on.replace(day=1).isoformat()}  # fmt: skip


def services_report(
    table_name: str,
    spec: FormSpec,
    records: Iterable[tuple[Mapping[str, Any], str | None]],
    by: Sequence[str],
    *,
    policy: DisclosurePolicy,
) -> Report:
    """Count `records` ((statistics, region) of the table's form) by the named dimensions,
    small cells and their complements hidden. Raises AggregateError naming a bad name."""
    table = SERVICE_TABLES.get(table_name)
    if table is None:
        raise AggregateError(f"table: {table_name!r} is not one of {', '.join(SERVICE_TABLES)}")
    if spec.id != table.form_id:
        raise AggregateError(f"table {table_name}: counts the form {table.form_id}, not {spec.id}")
    unknown = [name for name in by if name not in table.dimensions]
    if unknown:
        raise AggregateError(
            f"by: {', '.join(unknown)} is not a dimension of {table_name}"
            f" (one of {', '.join(table.dimensions)})"
        )
    rows = [
        {**stats, "region": region}
        for stats, region in records
        if table.only_type is None or stats.get("service_type") == table.only_type
    ]
    regions = sorted({row["region"] for row in rows if row["region"] is not None})
    counted = _with_region(spec, regions)
    if spec.id == REFERRAL_SPEC.id:
        services = sorted({row["service"] for row in rows})
        seen = [Choice(value=code, label={"en": code}) for code in services]
        counted = counted.model_copy(update={"choices": {**counted.choices, "services": seen}})
    fields = [table.dimensions[name] for name in by]
    return build_report(counted, rows, [fields], policy=policy)


def _with_region(spec: FormSpec, regions: list[str]) -> FormSpec:
    """The form with the record's region as one more statistical field to count by (its
    categories the regions seen, named by their codes)."""
    region = FieldSpec(
        name="region",
        type="select_one",
        sensitivity="statistical",
        label={"en": "Region", "fr": "Région", "es": "Región", "ar": "المنطقة"},
        choices="regions",
    )
    choices = {**spec.choices, "regions": [Choice(value=r, label={"en": r}) for r in regions]}
    group = GroupSpec(name="record", children=[region])
    return spec.model_copy(update={"choices": choices, "children": [*spec.children, group]})
