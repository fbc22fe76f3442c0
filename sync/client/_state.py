"""Where the sync client keeps its bookkeeping in the store: the keys of the clear settings
(`Settings.get`) and of the one secret (`Keyring.secret`)."""

from __future__ import annotations

STATE_SERVER_URL = "server_url"
STATE_SERVER_PUBLIC_KEY = "server_public_key"
STATE_SERVER_KEY_ID = "server_key_id"
STATE_ORGANISATION = "organisation_id"
STATE_ROLE = "role"
STATE_REGION = "region"
STATE_CURSOR = "cursor"
STATE_LAST_SYNC = "last_sync_at"
STATE_RECEIPTS_CHECKED = "receipts_checked_at"  # the server's time of the last receipt check
SECRET_TOKEN = "token"  # noqa: S105 (the name under which the store keeps it)
STATE_ATTACHMENT_UPLOADS = "attachment_uploads"  # sent records whose chunks are not all sent
