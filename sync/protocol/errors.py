"""What goes wrong, in Python and on the wire: the protocol's exceptions and error bodies.

    ProtocolError                 text that is not what the protocol allows
    ├── InsecureServerURL         a server address traffic would cross in clear
    ├── BadEnrolmentCode          not a whole enrolment code of this version
    └── BadEnrolmentLink          not a well-formed enrolment link

`ErrorBody` is every 4xx/5xx answer of the server; `WireFieldError` one field-level reason,
in an error body or in a rejected record's outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from sync.protocol.wire import WireModel

__all__ = [
    "MAX_FIELD_ERRORS",
    "MORE_ERRORS",
    "BadEnrolmentCode",
    "BadEnrolmentLink",
    "ErrorBody",
    "InsecureServerURL",
    "ProtocolError",
    "WireFieldError",
    "capped_field_errors",
]

# An error list the server answers (a rejected record's `errors`, a 4xx body's `fields`) names
# at most this many problems, then one entry with code MORE_ERRORS counting the rest.
MAX_FIELD_ERRORS = 20
MORE_ERRORS = "more_errors"


class ProtocolError(Exception):
    """Base of the protocol's own errors: it sits below the app and the server, so it names
    no error of theirs (the CLI and the UI catch it beside `FieldappError`)."""


class InsecureServerURL(ProtocolError):
    """An `http://` server URL that is not on this machine (loopback): traffic would be clear."""


class BadEnrolmentCode(ProtocolError):
    """Text that is not a whole enrolment code of this version; the message says what to do."""


class BadEnrolmentLink(ProtocolError):
    """Text that is not a well-formed enrolment link; the message names the part at fault."""


class WireFieldError(WireModel):
    """A field-level reason for rejection; `field` is the field name, `path` locates it.

    Lists of them are capped (see `capped_field_errors`): the last entry of a capped list has
    code `more_errors`, empty `field` and `path`, and says how many problems were left out.
    """

    field: str
    path: str
    code: str
    message: str


def capped_field_errors(
    errors: Sequence[WireFieldError], left_out: int = 0
) -> list[WireFieldError]:
    """At most MAX_FIELD_ERRORS of `errors`, then one `more_errors` entry counting the rest
    and `left_out` (problems counted but never built): an answer stays small whatever it
    refuses, and old clients read the count as one more problem."""
    more = max(0, len(errors) - MAX_FIELD_ERRORS) + left_out
    kept = list(errors[:MAX_FIELD_ERRORS])
    if more:
        plural = "s" if more != 1 else ""
        message = f"... and {more} more problem{plural}"
        kept.append(WireFieldError(field="", path="", code=MORE_ERRORS, message=message))
    return kept


class ErrorBody(WireModel):
    """Every 4xx/5xx body: a stable `error` code and a human message."""

    error: str
    message: str
    fields: list[WireFieldError] = Field(default_factory=list)
