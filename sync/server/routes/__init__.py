"""The server's HTTP areas, one `APIRouter` each, all under /v1: health, enrolment, records
(push, receipts check, read), changes, team roster, forms, admin, office, office matching
(duplicates and people), relay, referrals between organisations (and their directory).
`create_app` includes `ROUTERS` in this order (the order of /openapi.json's paths)."""

from __future__ import annotations

from fastapi import APIRouter

from sync.server.routes import (
    admin,
    attachments,
    changes,
    enrolment,
    forms,
    health,
    matching,
    office,
    records,
    referrals,
    relay,
    roster,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    enrolment.router,
    records.router,
    attachments.router,
    changes.router,
    roster.router,
    forms.router,
    admin.router,
    office.router,
    matching.router,
    relay.router,
    referrals.router,
)
