"""A referral in a line, for the referrals screen and a survivor's case: the other
organisation, the service, the status (and a decline's reason) in words, and when."""

from __future__ import annotations

import flet as ft

from fieldapp.i18n import N_, Words
from fieldapp.ui.widgets.common import TOUCH, when

__all__ = ["REASON_WORDS", "STATUS_WORDS", "referral_line"]

STATUS_WORDS = {
    "sent": N_("Sent, waiting for an answer"),
    "accepted": N_("Accepted"),
    "declined": N_("Declined"),
    "delivered": N_("Service delivered"),
    "withdrawn": N_("Consent withdrawn: details erased"),
}
REASON_WORDS = {
    "no_capacity": N_("No capacity now"),
    "not_eligible": N_("Not eligible for this service"),
    "out_of_area": N_("Outside our area"),
    "survivor_unreachable": N_("Could not reach the person"),
    "other": N_("Another reason"),
}


def referral_line(
    _: Words, lang: str, other: str, service: str, status: str, reason: str | None, updated: str
) -> ft.Control:
    """One referral: the other organisation, the service, the status in words and when."""
    shown = _(STATUS_WORDS[status])
    if reason:
        shown = f"{shown}: {_(REASON_WORDS[reason])}"
    return ft.ListTile(
        title=ft.Text(f"{other} · {service}"),
        subtitle=ft.Text(f"{shown}\n{when(updated, lang)}"),
        min_height=TOUCH,
    )
