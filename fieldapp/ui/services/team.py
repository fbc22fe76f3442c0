"""The team's participants: everyone this device's training events and the team roster hold,
found by name to register a returning person again in one tap."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fieldapp.forms.spec import roster_name
from fieldapp.ui.services.device import Device
from fieldapp.ui.services.records import TRAINING_FORM, Records, fold

__all__ = ["PERSON_FIELDS", "ParticipantMatch", "Team", "fold", "match_participants"]

# Who a participant is: what a returning person brings to the next event when picked from the
# team's search. Not the organisation (people change posts: an old employer would be counted
# in this event's figures by organisation without anyone noticing), not the consent to be
# contacted (given for one event's follow-up, it must be asked again), not the phone or email
# (asked only with that fresh consent; numbers change), and nothing of the event (attendance,
# scores). Profession is kept: it is required, the statistics hang on it, and it shows on the
# participant's row to be corrected at a glance.
PERSON_FIELDS = ("full_name", "sex", "profession", "profession_other")


@dataclass(frozen=True)
class ParticipantMatch:
    """A person found by `Team.search_participants`, with the event they were registered
    at; `from_team`: registered on another device of the team (else on this one)."""

    id: str  # the repeat instance's `_id`
    name: str
    details: dict[str, Any]
    event_title: str
    event_start: str
    record_id: str
    from_team: bool


def match_participants(
    people: list[ParticipantMatch], query: str, limit: int
) -> list[ParticipantMatch]:
    """The first `limit` of `people` whose name holds every word of `query`, case and
    accents ignored (Zoé = zoe); none for a query without words."""
    words = fold(query).split()
    if not words or limit < 1:
        return []
    matches = []
    for person in people:
        name = fold(person.name)
        if all(word in name for word in words):
            matches.append(person)
            if len(matches) == limit:
                break
    return matches


class Team:
    """The team roster as the participants tab searches it (decrypted in memory only)."""

    def __init__(self, device: Device, records: Records) -> None:
        self._device = device
        self._records = records

    @property
    def search_available(self) -> bool:
        """The device was enrolled with the team key, so it shares and finds participants."""
        return self._device.is_set_up and self._device.store.roster.has_team_key

    def search_participants(
        self, query: str, limit: int = 20, *, exclude_record: str | None = None
    ) -> list[ParticipantMatch]:
        """People whose name holds every word of `query` (case and accents ignored), from
        this device's attendance records and the team's roster: see `participants` and
        `match_participants`. `exclude_record`: the event being filled."""
        return match_participants(self.participants(exclude_record=exclude_record), query, limit)

    def participants(self, *, exclude_record: str | None = None) -> list[ParticipantMatch]:
        """Everyone this device's attendance records and the team's roster hold, once each
        (by `_id`, this device's copy first), by name then most recent event first.
        Decrypted in memory only: the store must be unlocked."""
        training = self._records.form(TRAINING_FORM)
        names = {r.name: roster_name(r) for r in training.roster_repeats()}
        candidates: list[tuple[Any, Mapping[str, Any], str | None, Mapping[str, Any], str, bool]]
        candidates = [
            (instance.get("_id"), instance, name_field, record.values, record.id, False)
            for record in self._records.events()
            if record.id != exclude_record
            for repeat, name_field in names.items()
            for instance in record.values.get(repeat) or []
        ]
        candidates += [
            (entry.get("id"), entry["fields"], names.get(str(entry.get("repeat"))),
             entry["event"] if isinstance(entry.get("event"), dict) else {},
             str(entry.get("record_id") or ""), True)
            for entry in self._device.store.roster.entries()
            if entry.get("record_id") != exclude_record and isinstance(entry.get("fields"), dict)
        ]  # fmt: skip
        found: dict[str, ParticipantMatch] = {}
        for entry_id, details, name_field, event, record_id, from_team in candidates:
            name = details.get(name_field or "")
            if isinstance(entry_id, str) and isinstance(name, str) and entry_id not in found:
                found[entry_id] = ParticipantMatch(
                    id=entry_id,
                    name=name,
                    details={k: v for k, v in details.items() if k != "_id"},
                    event_title=str(event.get("title") or ""),
                    event_start=str(event.get("start_date") or ""),
                    record_id=record_id,
                    from_team=from_team,
                )
        everyone = sorted(found.values(), key=lambda m: m.event_start, reverse=True)
        everyone.sort(key=lambda m: fold(m.name))
        return everyone

    def shared_details(self, record_id: str) -> dict[str, dict[str, Any]]:
        """The answers the team roster shares about a record's repeat instances, by `_id`
        (decrypted in memory: the store must be unlocked)."""
        return {
            str(entry.get("id")): entry["fields"]
            for entry in self._device.store.roster.entries()
            if entry.get("record_id") == record_id and isinstance(entry.get("fields"), dict)
        }
