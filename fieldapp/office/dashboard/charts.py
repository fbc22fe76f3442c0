"""What the dashboard shows: its charts, each one line of a count table, and the figures it
derives from a record (the month it was made, a participant's score change).

A chart is drawn for every form that has its fields (the built-in training and screening forms,
or an imported form with the same field names). Each chart reads one axis of a table: a one-way
table's cells, or the margin of a two-way one (participants by province is the province margin
of province × sex, so it is counted and protected with the rest of the form's tables).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fieldapp.forms.spec import FieldSpec, FormSpec, RepeatSpec, answer_nodes

__all__ = ["CHARTS", "MONTH", "SCORE_CHANGE", "ChartSpec", "derived_row", "derived_spec", "labels"]

# Derived statistical fields, added to a form's copy for counting only.
MONTH = "_month"
SCORE_CHANGE = "_score_change"
_PARTICIPANTS = "participants"
_SCORE_CHANGES = ("improved", "unchanged", "declined", "not_tested")

Labels = Mapping[str, str]


@dataclass(frozen=True)
class ChartSpec:
    """One chart: `fields` the table it reads, `axis` the field whose categories are its bars
    (the margin over the others)."""

    id: str
    title: Labels
    fields: tuple[str, ...]
    axis: int = 0

    @property
    def about_victims(self) -> bool:
        return self.id.startswith(tuple(prefix for prefix, _kind in _VICTIM_KINDS))

    def applies_to(self, spec: FormSpec) -> bool:
        """Whether the form has the chart's fields and is of its kind (a screening form has
        `exploitation_types`, a case `services_received`, a service `service_type`, a
        training form `programme_type`)."""
        names = _field_names(spec)
        kinds = [kind for prefix, kind in _VICTIM_KINDS if self.id.startswith(prefix)]
        kind = kinds[0] if kinds else "programme_type"
        return kind in names and all(name in names for name in self.fields)


# Charts about victims, by the prefix of their id, and the field that marks their form's kind.
_VICTIM_KINDS = (
    ("victims_", "exploitation_types"),
    ("referrals_", "exploitation_types"),
    ("survivors_", "services_received"),
    ("services_", "service_type"),
)


def _t(en: str, fr: str, es: str, ar: str) -> dict[str, str]:
    return {"en": en, "fr": fr, "es": es, "ar": ar}


CHARTS: tuple[ChartSpec, ...] = (
    # Training: events, then participants (the repeat's instances).
    ChartSpec(
        "trainings_by_programme",
        _t(
            "Trainings by programme type",
            "Formations par type de programme",
            "Formaciones por tipo de programa",
            "الدورات حسب نوع البرنامج",
        ),
        ("programme_type",),
    ),
    ChartSpec(
        "trainings_by_province",
        _t(
            "Trainings by province",
            "Formations par province",
            "Formaciones por provincia",
            "الدورات حسب المقاطعة",
        ),
        ("province",),
    ),
    ChartSpec(
        "participants_by_programme",
        _t(
            "Participants by programme type",
            "Participants par type de programme",
            "Participantes por tipo de programa",
            "المشاركون حسب نوع البرنامج",
        ),
        ("programme_type", "sex"),
    ),
    ChartSpec(
        "participants_by_province",
        _t(
            "Participants by province",
            "Participants par province",
            "Participantes por provincia",
            "المشاركون حسب المقاطعة",
        ),
        ("province", "sex"),
    ),
    ChartSpec(
        "participants_by_profession",
        _t(
            "Participants by profession",
            "Participants par profession",
            "Participantes por profesión",
            "المشاركون حسب المهنة",
        ),
        ("profession", "sex"),
    ),
    ChartSpec(
        "participants_by_sex",
        _t(
            "Participants by sex",
            "Participants par sexe",
            "Participantes por sexo",
            "المشاركون حسب الجنس",
        ),
        ("profession", "sex"),
        axis=1,
    ),
    ChartSpec(
        "score_change",
        _t(
            "Pre/post test score change",
            "Évolution des scores avant/après",
            "Cambio de puntuación antes/después",
            "تغير الدرجات قبل/بعد",
        ),
        (SCORE_CHANGE,),
    ),
    # Victims: every figure protected (k, complementary suppression across these tables).
    ChartSpec(
        "victims_by_exploitation",
        _t(
            "Victims by type of exploitation",
            "Victimes par type d'exploitation",
            "Víctimas por tipo de explotación",
            "الضحايا حسب نوع الاستغلال",
        ),
        ("exploitation_types",),
    ),
    ChartSpec(
        "victims_by_sex",
        _t("Victims by sex", "Victimes par sexe", "Víctimas por sexo", "الضحايا حسب الجنس"),
        ("sex",),
    ),
    ChartSpec(
        "victims_by_age_band",
        _t(
            "Victims by age band",
            "Victimes par tranche d'âge",
            "Víctimas por grupo de edad",
            "الضحايا حسب الفئة العمرية",
        ),
        ("age_band",),
    ),
    ChartSpec(
        "victims_by_nationality",
        _t(
            "Victims by nationality",
            "Victimes par nationalité",
            "Víctimas por nacionalidad",
            "الضحايا حسب الجنسية",
        ),
        ("nationality",),
    ),
    ChartSpec(
        "victims_by_month",
        _t(
            "Victims by month recorded",
            "Victimes par mois d'enregistrement",
            "Víctimas por mes de registro",
            "الضحايا حسب شهر التسجيل",
        ),
        (MONTH,),
    ),
    ChartSpec(
        "referrals_by_service",
        _t(
            "Referrals by service",
            "Orientations par service",
            "Derivaciones por servicio",
            "الإحالات حسب الخدمة",
        ),
        ("immediate_needs",),
    ),
    # Cases (one per survivor) and the services recorded on them.
    ChartSpec(
        "survivors_by_service",
        _t(
            "Survivors assisted by service",
            "Personnes survivantes aidées par service",
            "Personas sobrevivientes asistidas por servicio",
            "الناجون الذين تلقّوا المساعدة حسب الخدمة",
        ),
        ("services_received",),
    ),
    ChartSpec(
        "survivors_by_first_service",
        _t(
            "Time from identification to the first service",
            "Délai entre l'identification et le premier service",
            "Tiempo entre la identificación y el primer servicio",
            "المدة بين التعرف وأول خدمة",
        ),
        ("first_service_band",),
    ),
    ChartSpec(
        "services_by_type",
        _t(
            "Services delivered by type",
            "Services fournis par type",
            "Servicios prestados por tipo",
            "الخدمات المقدَّمة حسب النوع",
        ),
        ("service_type",),
    ),
)

# Which charts need the form's own fields besides the derived ones.
_NEEDS = {MONTH: ("exploitation_types",), SCORE_CHANGE: ("pre_score", "post_score")}

_MONTH_FIELD = {
    "name": MONTH,
    "type": "date",
    "sensitivity": "statistical",
    "label": _t("Month recorded", "Mois d'enregistrement", "Mes de registro", "شهر التسجيل"),
}
_SCORE_FIELD = {
    "name": SCORE_CHANGE,
    "type": "select_one",
    "choices": SCORE_CHANGE,
    "sensitivity": "statistical",
    "label": _t("Score change", "Évolution du score", "Cambio de puntuación", "تغير الدرجة"),
}
_SCORE_CHOICES = [
    {"value": "improved", "label": _t("Improved", "En hausse", "Mejoró", "تحسن")},
    {"value": "unchanged", "label": _t("Unchanged", "Inchangé", "Sin cambio", "دون تغيير")},
    {"value": "declined", "label": _t("Declined", "En baisse", "Bajó", "تراجع")},
    {
        "value": "not_tested",
        "label": _t(
            "Not tested twice", "Non testé deux fois", "Sin las dos pruebas", "لم يُختبر مرتين"
        ),
    },
]


def labels(spec: FormSpec) -> dict[str, Labels]:
    """Each field's label by name (the derived ones included)."""
    return {n.name: n.label for n in spec.walk() if isinstance(n, FieldSpec)}


def _field_names(spec: FormSpec) -> set[str]:
    names = {n.name for n in spec.walk() if isinstance(n, FieldSpec)}
    for derived, needed in _NEEDS.items():
        if all(name in names for name in needed):
            names.add(derived)
    return names


def _participants(spec: FormSpec) -> RepeatSpec | None:
    for node in answer_nodes(spec.children):
        if isinstance(node, RepeatSpec) and node.name == _PARTICIPANTS:
            return node
    return None


def derived_spec(spec: FormSpec) -> FormSpec:
    """A copy of `spec` with the derived fields it supports, for counting only."""
    names = _field_names(spec)
    data = spec.model_dump(mode="json")
    if MONTH in names:
        data["children"] = [*data["children"], _MONTH_FIELD]
    if SCORE_CHANGE in names and _participants(spec) is not None:
        data["children"] = [_with_score(node) for node in data["children"]]
        data["choices"] = {**data["choices"], SCORE_CHANGE: _SCORE_CHOICES}
    return FormSpec.model_validate(data)


def _with_score(node: dict[str, Any]) -> dict[str, Any]:
    if node.get("kind") == "repeat" and node.get("name") == _PARTICIPANTS:
        return {**node, "children": [*node["children"], _SCORE_FIELD]}
    return node


def derived_row(stats: Mapping[str, Any], created_month: str) -> dict[str, Any]:
    """A record's statistics with its derived values: the month it was made on the device
    (YYYY-MM-01, counted by month) and each participant's score change."""
    row = {**stats, MONTH: f"{created_month}-01"}
    participants = stats.get(_PARTICIPANTS)
    if isinstance(participants, list):
        row[_PARTICIPANTS] = [
            {**p, SCORE_CHANGE: score_change(p)} if isinstance(p, Mapping) else p
            for p in participants
        ]
    return row


def score_change(participant: Mapping[str, Any]) -> str:
    pre, post = participant.get("pre_score"), participant.get("post_score")
    if not isinstance(pre, int | float) or not isinstance(post, int | float):
        return "not_tested"
    if isinstance(pre, bool) or isinstance(post, bool):
        return "not_tested"
    if post > pre:
        return "improved"
    return "unchanged" if post == pre else "declined"
