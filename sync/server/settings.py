"""The central server's settings: one pydantic model handed to `create_app`.

No globals and no environment reading here: the CLI builds settings from its options.
Everything that matters lives in the database; the only file the server keeps beside it is
the secret that wraps its signing key.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["DEFAULT_MAX_BODY_BYTES", "SERVER_SECRET_FILE", "ServerSettings"]

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
SERVER_SECRET_FILE = "server-secret.key"  # noqa: S105 (a file name, not a secret)


class ServerSettings(BaseModel):
    """How one server process runs; several processes may share one PostgreSQL database.

    `max_body_bytes` bounds a request body both as sent and, when gzip-compressed, after
    decompression. The rate limit is a token bucket per enrolled device's bearer token (per
    client address for anything else, a bearer token the server does not know included):
    `rate_limit_per_minute` refills it, `rate_limit_burst` is its size.

    Enrolment has buckets of its own, whatever headers are sent, used up by failed attempts
    only (a successful one gives its token back): one per client address
    (`enrol_address_burst`, refilled at `enrol_address_per_hour`) and one per code prefix, the
    first group of the code's secret (`enrol_prefix_burst`, `enrol_prefix_per_hour`), so
    attempts spread over many addresses still meet a limit. Refused attempts are audited as
    one counted entry per client address and outcome every `enrol_audit_window_seconds`.

    Buckets live in each process's memory, so behind a load balancer the effective limit is
    per process: that is deliberate (no shared state outside the database).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path
    database_url: str = ""
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    rate_limit_per_minute: int = Field(default=1200, ge=1)
    rate_limit_burst: int = Field(default=200, ge=1)
    enrol_address_burst: int = Field(default=20, ge=1)
    enrol_address_per_hour: int = Field(default=30, ge=1)
    enrol_prefix_burst: int = Field(default=5, ge=1)
    enrol_prefix_per_hour: int = Field(default=10, ge=1)
    enrol_audit_window_seconds: int = Field(default=60, ge=1, le=3600)
    changes_page_limit: int = Field(default=1000, ge=1, le=10_000)
    enrol_code_ttl_hours: float = Field(default=24.0, gt=0)
    # A data collaborative hub (`serve --hub FILE`): the steward's public keys (`HubInfo`).
    hub_keys: Path | None = None

    @model_validator(mode="after")
    def _default_database(self) -> ServerSettings:
        if not self.database_url:
            url = f"sqlite:///{(self.data_dir / 'server.db').as_posix()}"
            object.__setattr__(self, "database_url", url)
        return self

    @property
    def server_secret_path(self) -> Path:
        """The key that wraps the server's signing key in the database (see keys.py)."""
        return self.data_dir / SERVER_SECRET_FILE
