"""The files attached to the device's form versions, fetched once each by SHA-256
(`GET /v1/form-files/{sha256}`) after the pull, and kept encrypted in the store. While the
store is locked they wait for the next sync: a form whose file is not here cannot be started,
and says so."""

from __future__ import annotations

from fieldapp.errors import StoreError, StoreLocked
from fieldapp.store import Store
from sync.client._exchange import Exchange, refusal
from sync.client._report import SyncReport

__all__ = ["fetch_form_files"]


def fetch_form_files(store: Store, exchange: Exchange, token: str, report: SyncReport) -> None:
    """Fetch every attached file a stored form version names and the device lacks (counted
    in `report.form_files`); one refused or not matching its digest is named in
    `report.errors`. Raises ServerUnreachable when the server cannot be reached."""
    missing = store.forms.missing_files()
    if not missing or store.keyring.locked:
        return
    for sha256, file in missing.items():
        response = exchange.request("GET", f"/v1/form-files/{sha256}", token=token)
        if response.status_code != 200:
            report.errors.append(f"form file {file} was not fetched: {refusal(response)}")
            continue
        try:
            store.forms.files.put(sha256, response.content)
        except StoreLocked:
            return
        except StoreError as exc:
            report.errors.append(f"form file {file} from the server was not kept: {exc}")
            continue
        report.form_files += 1
