"""Connecting a device to its organisation: the one-time code, typed or read from a QR image."""

from __future__ import annotations

from fieldapp.errors import QRNotFound, QRUnreadable
from fieldapp.qr import decode_qr
from fieldapp.ui.services.device import Device
from fieldapp.ui.services.errors import SetupFailed
from fieldapp.ui.services.sync import Sync
from sync.client import (
    EnrolmentNotTrusted,
    EnrolRefused,
    ServerRefused,
    ServerUnreachable,
    enrol,
)
from sync.protocol import (
    BadEnrolmentCode,
    BadEnrolmentLink,
    EnrolmentLink,
    InsecureServerURL,
    check_server_url,
)

__all__ = ["Enrolment"]


class Enrolment:
    """Enrols the device (it must be unlocked), then starts its sync afresh."""

    def __init__(self, device: Device, sync: Sync) -> None:
        self._device = device
        self._sync = sync

    def enrol(self, server_url: str, code: str, fingerprint: str | None = None) -> None:
        """Enrol with a one-time code, and the full fingerprint of the enrolment link it came
        from if any; SetupFailed says why not."""
        try:
            url = check_server_url(server_url)
        except InsecureServerURL:
            raise SetupFailed("insecure_url") from None
        store = self._device.store
        try:
            enrol(store, url, code, fingerprint=fingerprint, label="fieldapp", timeout=15.0)
        except BadEnrolmentCode:
            raise SetupFailed("code_malformed") from None
        except EnrolmentNotTrusted:
            raise SetupFailed("enrol_untrusted") from None
        except ServerUnreachable:
            raise SetupFailed("sync_unreachable") from None
        except EnrolRefused as exc:
            raise SetupFailed("code_refused", detail=str(exc)) from None
        except ServerRefused as exc:
            raise SetupFailed("sync_refused", detail=str(exc)) from None
        self._device.work_offline(False)
        self._sync.stop()
        self._sync.start()

    def read_qr(self, image: bytes) -> EnrolmentLink:
        """The server and code of an enrolment QR code in a picture (any format Pillow reads);
        SetupFailed says why not. CPU-bound (up to about a second): call it off the UI loop."""
        try:
            text = decode_qr(image)
        except QRNotFound:
            raise SetupFailed("qr_not_found") from None
        except QRUnreadable:
            raise SetupFailed("qr_unreadable") from None
        try:
            return EnrolmentLink.parse(text)
        except BadEnrolmentLink:
            raise SetupFailed("qr_not_enrolment") from None
