"""Forms as data: the pydantic `FormSpec` every form (built-in or imported) is described by.

A spec is a tree of nodes: fields, groups and repeat groups. Every field is *sensitive* unless
the form explicitly marks it *statistical*; only statistical fields may be stored or travel in
clear, so they are restricted to coarse types (never free text, an exact date-time or a place).
A statistical calculation must be as coarse (see `Statistics`): true/false, one of a few values
written in the form, or a number or date computed from statistical fields only.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    TypeAdapter,
    field_serializer,
    field_validator,
    model_validator,
)

from fieldapp.errors import FormError
from fieldapp.forms.choice_sets import choice_set_rows
from fieldapp.forms.expr import (
    NAME_RE,
    ExpressionError,
    parse,
    parse_choice_filter,
)
from fieldapp.forms.files import AwaitedFile, FormFile
from fieldapp.forms.media import IMAGE_TYPES, LABEL_IMAGE_RE

if TYPE_CHECKING:
    from fieldapp.forms.statistics import Statistics

__all__ = [
    "MAX_DEPTH",
    "METADATA_TYPES",
    "NOT_COLLECTED",
    "STATISTICAL_TYPES",
    "Choice",
    "FieldSpec",
    "FormSpec",
    "GroupSpec",
    "Node",
    "RepeatSpec",
    "answer_nodes",
    "roster_name",
    "walk_nodes",
]

MAX_DEPTH = 32

FieldType = Literal[
    "text",
    "integer",
    "decimal",
    "date",
    "datetime",
    "select_one",
    "select_multiple",
    "boolean",
    "geopoint",
    "note",
    "calculate",
    # media (`fieldapp.forms.media`): the answer is the id of an encrypted attachment
    "image",
    "signature",
    "audio",
    "file",
]
Sensitivity = Literal["sensitive", "statistical"]
# Values the app records by itself (XLSForm's start/end/today/deviceid metadata). The rest
# of XLSForm's metadata is imported (expressions may read it) but never collected: the app
# leaves it empty (`NOT_COLLECTED`: what identifies the person or their phone, and what the
# device cannot give yet).
Metadata = Literal[
    "start",
    "end",
    "today",
    "deviceid",
    "username",
    "email",
    "start-geopoint",
    "phonenumber",
    "simserial",
    "subscriberid",
    "imei",
    "audit",
]
METADATA_TYPES: dict[str, str] = {
    "start": "datetime",
    "end": "datetime",
    "today": "date",
    "deviceid": "text",
    "username": "text",
    "email": "text",
    "start-geopoint": "geopoint",
    "phonenumber": "text",
    "simserial": "text",
    "subscriberid": "text",
    "imei": "text",
    "audit": "text",
}
NOT_COLLECTED: frozenset[str] = frozenset(METADATA_TYPES) - {"start", "end", "today", "deviceid"}

# Types coarse enough to be kept in clear when a form marks them statistical: no free text
# (it can hold a name), no exact timestamp and no location (they identify a person).
STATISTICAL_TYPES: frozenset[str] = frozenset(
    {"integer", "decimal", "date", "select_one", "select_multiple", "boolean", "calculate", "note"}
)
# a question computed (XLSForm's calculation on it) may be statistical only with fixed values
_COMPUTED_STATISTICS = frozenset({"select_one", "select_multiple", "boolean"})

Labels = dict[str, str]


def _check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError(f"name {name!r} must start with a letter or _ and use only A-Z, 0-9, _")
    return name


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Model):
    """One option of a choice list; `htcds` keeps the HTCDS code this option maps to.

    `columns`: the extra columns of an XLSForm choices sheet (`country` for a province),
    which a `choice_filter` reads by bare name; left out of the JSON when empty."""

    value: str
    label: Labels
    htcds: str | None = None
    columns: dict[str, str] = Field(default_factory=dict, exclude_if=lambda columns: not columns)


class FieldSpec(_Model):
    """A question (or a note / calculation) in a form."""

    kind: Literal["field"] = "field"
    name: str
    type: FieldType
    label: Labels = Field(default_factory=dict)
    hint: Labels = Field(default_factory=dict)
    required: bool | str = False
    required_message: Labels = Field(default_factory=dict)
    constraint: str | None = None
    constraint_message: Labels = Field(default_factory=dict)
    relevant: str | None = None
    default: Any = None
    calculation: str | None = None
    choices: str | None = None
    choice_filter: str | None = None
    read_only: bool = False
    appearance: str | None = None
    sensitivity: Sensitivity = "sensitive"
    htcds: str | None = None
    metadata: Metadata | None = None
    # XLSForm's `parameters` max-pixels: a picture's long side, at most (default 1,600)
    max_pixels: int | None = Field(default=None, ge=16, le=10_000, exclude_if=lambda n: n is None)
    # `media::image`: the file name, by language, of an image attached to the form (shown
    # with the label); left out of the JSON when none
    label_image: Labels = Field(default_factory=dict, exclude_if=lambda images: not images)

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if self.max_pixels is not None and self.type not in IMAGE_TYPES:
            raise ValueError(f"field {self.name!r}: max_pixels is for image questions only")
        for file in self.label_image.values():
            if not LABEL_IMAGE_RE.match(file):
                raise ValueError(
                    f"field {self.name!r}: label image {file!r} must be a .png, .jpg, .gif"
                    " or .webp file name"
                )
        if self.metadata and self.type != METADATA_TYPES[self.metadata]:
            raise ValueError(
                f"field {self.name!r}: {self.metadata} metadata is a "
                f"{METADATA_TYPES[self.metadata]} field"
            )
        if self.type in ("select_one", "select_multiple") and not self.choices:
            raise ValueError(f"field {self.name!r}: {self.type} needs a choice list")
        if self.choice_filter is not None:
            if self.type not in ("select_one", "select_multiple"):
                raise ValueError(f"field {self.name!r}: only a select has a choice_filter")
            try:
                parse_choice_filter(self.choice_filter)
            except ExpressionError as exc:
                raise ValueError(f"field {self.name!r}: choice_filter: {exc}") from None
        if self.type == "calculate" and not self.calculation:
            raise ValueError(f"field {self.name!r}: calculate needs a calculation")
        free = self.type not in _COMPUTED_STATISTICS | {"calculate"}
        if self.calculation and free and self.sensitivity == "statistical":
            raise ValueError(  # a free value computed from sealed ones, kept in clear
                f"field {self.name!r}: a statistical {self.type} question cannot be computed "
                "(its calculation could copy a sealed answer into clear); keep it sensitive"
            )
        if self.sensitivity == "statistical" and self.type not in STATISTICAL_TYPES:
            raise ValueError(
                f"field {self.name!r}: a {self.type} field cannot be statistical "
                "(free text, exact times and places identify people); keep it sensitive"
            )
        return self

    @property
    def holds_value(self) -> bool:
        """Notes only display text; every other type stores a value."""
        return self.type != "note"


class GroupSpec(_Model):
    """A group of nodes shown together (one wizard step), optionally skipped as a whole."""

    kind: Literal["group"] = "group"
    name: str
    label: Labels = Field(default_factory=dict)
    relevant: str | None = None
    children: list[Node] = Field(default_factory=list)

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))


class RepeatSpec(_Model):
    """A group answered any number of times; each instance carries its own `_id` for merging.

    `team_roster`: the instances are people a team meets again (a training's participants).
    When a record is finalised, each instance (its answers, the record's `title` and
    `start_date`, the record id) is shared, encrypted with the team key, with the devices of
    the same organisation and region, so they can find a returning person by the repeat's
    first text field (the name) instead of typing them again. Only at the top level (not
    inside another repeat); left out of the JSON when false, so existing forms dump unchanged.
    """

    kind: Literal["repeat"] = "repeat"
    name: str
    label: Labels = Field(default_factory=dict)
    relevant: str | None = None
    min_count: int = 0
    max_count: int | None = None
    children: list[Node] = Field(default_factory=list)
    sensitivity: Sensitivity = "sensitive"
    team_roster: bool = Field(default=False, exclude_if=lambda roster: not roster)
    # XLSForm's repeat_count from an answer (`${n}`): exactly that many instances.
    count: str | None = Field(default=None, exclude_if=lambda count: count is None)

    _name = field_validator("name")(classmethod(lambda cls, v: _check_name(v)))


def _node_kind(node: Any) -> str:
    """A node without `kind` is a field: form files stay short."""
    if isinstance(node, dict):
        return str(node.get("kind", "field"))
    return str(getattr(node, "kind", "field"))


Node = Annotated[
    Annotated[FieldSpec, Tag("field")]
    | Annotated[GroupSpec, Tag("group")]
    | Annotated[RepeatSpec, Tag("repeat")],
    Discriminator(_node_kind),
]


def roster_name(repeat: RepeatSpec) -> str | None:
    """The field a team roster is searched by: the repeat's first text field."""
    return next(
        (
            n.name
            for n in answer_nodes(repeat.children)
            if isinstance(n, FieldSpec) and n.type == "text"
        ),
        None,
    )


def answer_nodes(nodes: list[Node]) -> list[FieldSpec | RepeatSpec]:
    """The fields and repeats of one level, looking through groups (groups are layout only)."""
    out: list[FieldSpec | RepeatSpec] = []
    for node in nodes:
        if isinstance(node, GroupSpec):
            out.extend(answer_nodes(node.children))
        else:
            out.append(node)
    return out


class FormSpec(_Model):
    """A versioned form: labels per language, choice lists and a tree of nodes."""

    id: str
    version: str
    title: Labels
    default_language: str = "en"
    languages: list[str] = Field(default_factory=lambda: ["en"])
    choices: dict[str, list[Choice]] = Field(default_factory=dict)
    children: list[Node]
    htcds_version: str | None = None
    description: Labels = Field(default_factory=dict)
    # Small cells of the form's aggregate figures: "suppress" (about victims: hidden below
    # k, with complementary suppression) or "publish" (about professionals, as in training
    # registers); unset, the office's policy decides, failing safe (suppress).
    small_cells: Literal["suppress", "publish"] | None = Field(
        default=None, exclude_if=lambda small_cells: small_cells is None
    )
    # XLSForm's settings `instance_name`: an expression naming one record (a draft in a list),
    # e.g. `concat(${case_code}, ' ', ${given_name})`; left out of the JSON when not set.
    instance_name: str | None = Field(default=None, exclude_if=lambda name: name is None)
    # Choice lists shipped as data (`fieldapp.forms.choice_sets`), by list name: loaded into
    # `choices` (the set's choices, then any the form writes under that name, such as
    # "other"), written back as the name alone. Left out of the JSON when empty.
    choice_sets: dict[str, str] = Field(default_factory=dict, exclude_if=lambda sets: not sets)
    # Files attached to the version, by instance name: a list of that name is read from its
    # file (`fieldapp.forms.attachments.bind`), never written into the JSON.
    attachments: dict[str, FormFile] = Field(default_factory=dict, exclude_if=lambda a: not a)
    # Data files the import was not given, by instance name: while any is awaited the
    # version is a draft, never published nor used (see `fieldapp.office.xlsform.drafts`).
    awaiting_files: dict[str, AwaitedFile] = Field(default_factory=dict, exclude_if=lambda a: not a)
    # What an XLSForm import changed or left out (sheet, row, what the user sees instead),
    # kept with the form version so `forms show` can list it later; left out when empty.
    import_warnings: list[str] = Field(default_factory=list, exclude_if=lambda w: not w)

    _id = field_validator("id")(classmethod(lambda cls, v: _check_name(v)))

    @field_validator("instance_name")
    @classmethod
    def _instance_name_parses(cls, source: str | None) -> str | None:
        if source is not None:
            try:
                parse(source)
            except ExpressionError as exc:
                raise ValueError(f"instance_name: {exc}") from exc
        return source

    @model_validator(mode="before")
    @classmethod
    def _load_choice_sets(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("choice_sets"), dict):
            return data
        choices = dict(data.get("choices") or {})
        for list_name, set_name in data["choice_sets"].items():
            if not isinstance(set_name, str):
                raise ValueError(f"choice set of list {list_name!r} must be a name")
            try:
                loaded = _choice_set(set_name)
            except FormError as exc:
                raise ValueError(f"choice list {list_name!r}: {exc}") from None
            own = choices.get(list_name) or []
            if not isinstance(own, list):
                raise ValueError(f"choice list {list_name!r} must be a list")
            taken = {c.value for c in loaded}
            for choice in own:
                value = choice.get("value") if isinstance(choice, dict) else None
                if value in taken:
                    raise ValueError(
                        f"choice list {list_name!r}: {value!r} is already in set {set_name!r}"
                    )
            choices[list_name] = [*loaded, *own]
        return {**data, "choices": choices}

    @field_serializer("choices", mode="wrap")
    def _choices_without_sets(
        self, choices: dict[str, list[Choice]], handler: SerializerFunctionWrapHandler
    ) -> Any:
        """A list loaded from a set is written as the form wrote it: only its own choices."""
        dumped = handler(choices)
        for name in self.attachments:
            if isinstance(dumped, dict):
                dumped.pop(name, None)
        for name, set_name in self.choice_sets.items():
            if isinstance(dumped, dict) and name in dumped:
                from_set = {c.value for c in _choice_set(set_name)}
                own = [c for c in dumped[name] if _dumped_value(c) not in from_set]
                if own:
                    dumped[name] = own
                else:
                    del dumped[name]
        return dumped

    @model_validator(mode="before")
    @classmethod
    def _shallow_enough(cls, data: Any) -> Any:
        """Refuse absurd nesting before validating it: a form pulled or imported as JSON must
        never exhaust the stack (groups nest a few levels in real forms)."""
        if not isinstance(data, dict):
            return data
        pending = [(child, 1) for child in data.get("children") or [] if isinstance(child, dict)]
        while pending:
            node, depth = pending.pop()
            if depth > MAX_DEPTH:
                raise ValueError(f"groups and repeats nest more than {MAX_DEPTH} levels deep")
            children = node.get("children") or []
            if isinstance(children, list):
                pending += [(c, depth + 1) for c in children if isinstance(c, dict)]
        return data

    @model_validator(mode="after")
    def _names_and_lists(self) -> FormSpec:
        seen: set[str] = set()
        attached = {ref.file for ref in self.attachments.values()}
        for node in self.walk():
            if node.name in seen:
                raise ValueError(f"name {node.name!r} is used twice; names must be unique")
            seen.add(node.name)
            if (
                isinstance(node, FieldSpec)
                and node.choices
                and node.choices not in self.choices
                and node.choices not in self.attachments
                and node.choices not in self.awaiting_files
            ):
                raise ValueError(f"field {node.name!r}: unknown choice list {node.choices!r}")
            for file in node.label_image.values() if isinstance(node, FieldSpec) else ():
                if file not in attached:
                    raise ValueError(f"field {node.name!r}: label image {file!r} is not attached")
        top_level = set(map(id, self.roster_repeats()))
        for node in self.walk():
            if isinstance(node, RepeatSpec) and node.team_roster and id(node) not in top_level:
                raise ValueError(
                    f"repeat {node.name!r}: a team roster cannot be inside another repeat"
                )
            if isinstance(node, RepeatSpec) and node.team_roster and roster_name(node) is None:
                raise ValueError(
                    f"repeat {node.name!r}: a team roster needs a text field (the name searched)"
                )
        return self

    @model_validator(mode="after")
    def _coarse_statistics(self) -> FormSpec:
        problems = self.statistics().problems()
        if problems:
            raise ValueError("; ".join(problems.values()))
        return self

    def statistics(self) -> Statistics:
        """What this form lets through in clear (see `fieldapp.forms.statistics`)."""
        from fieldapp.forms.statistics import Statistics  # it reads these models

        return Statistics(self.children, self.choices)

    def roster_repeats(self) -> list[RepeatSpec]:
        """The top-level repeats marked `team_roster` (looking through groups)."""
        return [
            node
            for node in answer_nodes(self.children)
            if isinstance(node, RepeatSpec) and node.team_roster
        ]

    def walk(self, nodes: list[Node] | None = None) -> Iterator[FieldSpec | GroupSpec | RepeatSpec]:
        """Every node, depth first, in form order."""
        return walk_nodes(self.children if nodes is None else nodes)

    def fields(self) -> Iterator[FieldSpec]:
        for node in self.walk():
            if isinstance(node, FieldSpec):
                yield node

    def node(self, name: str) -> FieldSpec | GroupSpec | RepeatSpec:
        for node in self.walk():
            if node.name == name:
                return node
        raise KeyError(name)

    def label(self, labels: Labels, lang: str) -> str:
        """The text in `lang`, falling back to the form's default language, then any."""
        return (
            labels.get(lang) or labels.get(self.default_language) or next(iter(labels.values()), "")
        )

    def choice_label(self, list_name: str, value: str, lang: str) -> str:
        for choice in self.choices.get(list_name, []):
            if choice.value == value:
                return self.label(choice.label, lang)
        return value


_CHOICE_LIST: TypeAdapter[list[Choice]] = TypeAdapter(list[Choice])


def _dumped_value(choice: Any) -> Any:
    return choice.get("value") if isinstance(choice, dict) else getattr(choice, "value", None)


@functools.cache
def _choice_set(name: str) -> tuple[Choice, ...]:
    """A choice set's choices, built once (two forms naming it share them)."""
    return tuple(_CHOICE_LIST.validate_python(choice_set_rows(name)))


def walk_nodes(nodes: list[Node]) -> Iterator[FieldSpec | GroupSpec | RepeatSpec]:
    for node in nodes:
        yield node
        if not isinstance(node, FieldSpec):
            yield from walk_nodes(node.children)


GroupSpec.model_rebuild()
RepeatSpec.model_rebuild()
FormSpec.model_rebuild()
