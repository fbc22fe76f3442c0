"""`POST /v1/enrol`: a device redeems a one-time code and gets its token, limited per client
address and per code prefix, every refusal counted for the audit log."""

from __future__ import annotations

from typing import NoReturn

from fastapi import Request

from fieldapp.crypto import enrol_code_secret
from sync.protocol import EnrolRequest, EnrolResponse
from sync.server.relaying import redeem
from sync.server.routes.common import ApiError, Context, ServerContext, links, v1_router
from sync.server.storage import AlreadyExists, CodeExpired, CodeInvalid, CodeUsed

__all__ = ["router"]

router = v1_router()

# The first group of a code's secret: a flood spread over many addresses against one code
# (or one guessed group) meets its bucket; 20 bits, so real codes rarely share one.
_ENROL_PREFIX_SYMBOLS = 4
_ENROL_REFUSALS: dict[type[Exception], tuple[int, str, str]] = {
    CodeInvalid: (403, "enrol_code_invalid", "this enrolment code is not valid"),
    CodeExpired: (403, "enrol_code_expired", "this enrolment code has expired: ask for a new one"),
    CodeUsed: (409, "enrol_code_used", "this enrolment code was used by another device"),
    AlreadyExists: (409, "device_exists", "a device with this id is already enrolled"),
}


@router.post(
    "/enrol",
    response_model=EnrolResponse,
    openapi_extra=links(
        RevokeEnrolledDevice=(
            "POST /admin/devices/{device_id}:revoke",
            {"parameters": {"path.device_id": "$response.body#/device_id"}},
        )
    ),
)
def enrol(body: EnrolRequest, request: Request, context: Context) -> EnrolResponse:
    """Redeem a one-time enrolment code; idempotent for the same device and key.

    Limited per client address and per code prefix whatever headers are sent (failed
    attempts use the limit up); refusals are audited as counted entries (see `EnrolGuard`,
    `RefusalTally`)."""
    context.audit_refusals()
    address = request.client.host if request.client else "unknown"
    secret = enrol_code_secret(body.code)
    prefix = secret[:_ENROL_PREFIX_SYMBOLS]
    wait = context.enrol_guard.admit(address, prefix)
    if wait is not None:
        _refuse_enrolment(
            context,
            address,
            ApiError(
                429,
                "rate_limited",
                f"too many failed enrolment attempts: retry in {wait} s",
                headers={"Retry-After": str(wait)},
            ),
        )
    try:
        answer = redeem(context, body)
    except (CodeInvalid, CodeExpired, CodeUsed, AlreadyExists) as refused:
        _refuse_enrolment(context, address, ApiError(*_ENROL_REFUSALS[type(refused)]))
    except ApiError as refused:  # the upstream of a relay refused it, or is away
        _refuse_enrolment(context, address, refused)
    context.enrol_guard.succeeded(address, prefix)
    context.device_tokens.vouch(answer.token)
    return answer


def _refuse_enrolment(context: ServerContext, address: str, refusal: ApiError) -> NoReturn:
    """Count the refusal for the audit log (one entry per address, outcome and window)."""
    context.enrol_refusals.count(address, f"refused:{refusal.error}", context.now())
    raise refusal
