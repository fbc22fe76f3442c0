"""What the aggregates refuse, each naming the field, setting or cells at fault."""

from __future__ import annotations

from fieldapp.errors import FieldappError

__all__ = ["AggregateError", "ReleaseRefused"]


class AggregateError(FieldappError):
    """A report, setting or export cannot be made as asked; the message says which field or
    setting and why."""


class ReleaseRefused(AggregateError):
    """A release overlaps an earlier one and their difference would show a small group.

    `cells` lists (earlier release id, cell, difference) for every cell or total whose
    difference d has 0 < |d| < k.
    """

    def __init__(self, release_id: str, cells: list[tuple[str, str, int]], k: int) -> None:
        self.cells = cells
        shown = "; ".join(
            f"{cell} differs by {d} from release {old!r}" for old, cell, d in cells[:10]
        )
        more = f" (and {len(cells) - 10} more)" if len(cells) > 10 else ""
        super().__init__(
            f"release {release_id!r} overlaps an earlier release and the difference shows "
            f"fewer than k = {k} people: {shown}{more}"
        )
