"""Which cells to hide so that no small group can be recovered (the recipe's steps 2 to 6).

1. *Primaries*: every cell of 0 < n < k, margins included. A line whose only non-zero cell is
   a primary also hides its zeros, or the published zeros would say "all X are 9–17" (a
   *group*: the attacker must not be able to prove all those zeros are 0).
2. *Complements*, greedily: while a line has exactly one hidden non-zero cell, or exactly two
   that are both 1 (each of the two people could deduce the other), hide the cheapest other
   cell of that line: non-zero, inner before margin, grand total last, smallest first, ties by
   position.
3. *Audit*: the attacker's linear program (`audit`) over every line of every linked table. A
   primary passes when its range is at least `protection_width` whole people wide, a group
   when its zeros could hold at least one person. Each failure hides the cheapest visible cell
   on a line through it (or, if there is none, through its component) and step 2 runs again.

Hiding a cell only widens every range, so a cell that passed stays passed and is not solved
again; each round hides at least one cell, so the loop ends (everything hidden passes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from fieldapp.office.aggregates.audit import Attacker
from fieldapp.office.aggregates.errors import AggregateError
from fieldapp.office.aggregates.linked import LinkedTables
from fieldapp.office.aggregates.policy import DisclosurePolicy
from fieldapp.office.aggregates.tables import Key

__all__ = ["Protection", "protect"]


@dataclass(frozen=True)
class Protection:
    """`hidden`: every suppressed cell; `primaries`: the small ones; `groups`: the zeros hidden
    beside a line's only non-zero cell; `rounds`: audit rounds until everything passed."""

    hidden: frozenset[Key]
    primaries: frozenset[Key]
    groups: tuple[tuple[Key, ...], ...]
    rounds: int


def protect(
    linked: LinkedTables,
    policy: DisclosurePolicy,
    forced: Collection[Key] = (),
    also_hidden: Collection[Key] = (),
) -> Protection:
    """Hide the cells of `linked` that must be hidden. `forced` cells are primaries too;
    `also_hidden` cells are hidden from the start (a pattern to complete, such as an earlier
    release's) without being primaries."""
    values = linked.values
    primaries = {key for key, n in values.items() if 0 < n < policy.k} | set(forced)
    hidden = primaries | set(also_hidden)
    groups: list[tuple[Key, ...]] = []
    for line in linked.lines:
        nonzero = [m for m in line.members if values[m] > 0]
        zeros = tuple(m for m in line.members if values[m] == 0)
        if len(nonzero) == 1 and nonzero[0] in primaries and zeros and zeros not in groups:
            groups.append(zeros)
            hidden.update(zeros)
    pending_cells = sorted(primaries, key=linked.rank.__getitem__)
    pending_groups = list(groups)
    rounds = 0
    while True:
        rounds += 1
        _complete_lines(linked, hidden, range(len(linked.lines)))
        attacker = Attacker(linked, hidden)
        pending_cells = attacker.narrow(pending_cells, policy.protection_width)
        pending_groups = [g for g in pending_groups if attacker.most(g) < 1 - 1e-6]
        if not pending_cells and not pending_groups:
            return Protection(frozenset(hidden), frozenset(primaries), tuple(groups), rounds)
        before = len(hidden)
        for cells in [(k,) for k in pending_cells] + pending_groups:
            added = _widen(linked, hidden, attacker, cells)
            if added is None:  # everything is hidden now: the next audit passes
                break
            hidden.add(added)
            _complete_lines(linked, hidden, linked.through[added])
        if len(hidden) == before:  # cannot happen: with everything hidden, ranges are unbounded
            raise AggregateError("the disclosure audit failed with every cell hidden")


def _complete_lines(linked: LinkedTables, hidden: set[Key], lines: Iterable[int]) -> None:
    """Step 2 to a fixed point: the lines to look at again are those through each cell added."""
    values = linked.values
    queue = deque(lines)
    while queue:
        line = linked.lines[queue.popleft()]
        people = [m for m in line.cells if m in hidden and values[m] > 0]
        lonely = len(people) == 1
        singletons = len(people) == 2 and all(values[m] == 1 and m != line.margin for m in people)
        if not (lonely or singletons):
            continue
        added = linked.cheapest(m for m in line.cells if m not in hidden)
        if added is not None:
            hidden.add(added)
            queue.extend(linked.through[added])


def _widen(
    linked: LinkedTables, hidden: set[Key], attacker: Attacker, cells: tuple[Key, ...]
) -> Key | None:
    """The cheapest visible cell on a line through `cells`, else on a line through any hidden
    cell of their component, else anywhere (None: nothing is left visible)."""
    near = {m for c in cells for n in linked.through[c] for m in linked.lines[n].cells}
    candidate = linked.cheapest(near - hidden)
    if candidate is None:
        component = {h for h in attacker.hidden if attacker.same_component(h, cells[0])}
        around = {m for c in component for n in linked.through[c] for m in linked.lines[n].cells}
        candidate = linked.cheapest(around - hidden)
    if candidate is None:
        candidate = linked.cheapest(k for k in linked.values if k not in hidden)
    return candidate
