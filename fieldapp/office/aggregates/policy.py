"""Which figures are protected, and how much: k, the protection level, the forms exempted.

Figures about victims are protected: every cell of fewer than k people is hidden, with
complementary suppression. Figures about professionals (training attendance) are published
as counted. A form says which it is (FormSpec `small_cells`: "suppress" or "publish"); one that
does not say is protected unless it is named in `published_forms`: a form nobody classified
fails safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fieldapp.forms.spec import FormSpec
from fieldapp.office.aggregates.errors import AggregateError

__all__ = ["CTDC_K", "DisclosurePolicy"]

# The threshold the Counter Trafficking Data Collaborative applies to its public data.
CTDC_K = 11


@dataclass(frozen=True)
class DisclosurePolicy:
    """`k`: the smallest group a published figure about protected people may describe.
    `protection_width`: how wide (in whole people) the range an attacker can work out for a
    hidden small cell must stay, from the published figures by linear programming.
    `published_forms`: forms whose figures are about professionals, published unsuppressed.
    """

    k: int = CTDC_K
    protection_width: int = 1
    published_forms: frozenset[str] = field(default=frozenset({"training_attendance"}))

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 2:
            raise AggregateError(f"k: must be a whole number of at least 2, not {self.k!r}")
        width = self.protection_width
        if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width < self.k:
            raise AggregateError(
                f"protection_width: must be a whole number from 1 to k - 1 = {self.k - 1}, "
                f"not {width!r}"
            )

    def protects(self, form_id: str) -> bool:
        """Whether the small cells of a form that does not say are suppressed."""
        return form_id not in self.published_forms

    def protects_form(self, spec: FormSpec) -> bool:
        """Whether the form's small cells are suppressed: as the form says (`small_cells`),
        else as `protects` decides by its id."""
        if spec.small_cells is not None:
            return spec.small_cells == "suppress"
        return self.protects(spec.id)
