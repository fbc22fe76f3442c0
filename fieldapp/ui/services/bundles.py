"""Offline bundles for the screens: the outbox written to a file's bytes ("Export to file")
and a server bundle's bytes applied ("Import from file"). The screen picks and saves files;
this room reads and writes the store through the sync client's bundle functions only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fieldapp.errors import FieldappError
from fieldapp.ui.services.device import Device
from fieldapp.ui.services.errors import BundleFailed
from fieldapp.ui.services.sync import Sync
from sync.client import export_bundle, import_bundle
from sync.protocol import ProtocolError

__all__ = ["BundleFile", "BundleRead", "Bundles"]

Progress = Callable[[float], None]
"""Called with the share done, 0 to 1."""


@dataclass(frozen=True)
class BundleFile:
    """A bundle to save: a file name to offer, its bytes, and how many records it holds."""

    name: str
    data: bytes
    records: int


@dataclass(frozen=True)
class BundleRead:
    """What importing a server bundle did."""

    changes: int
    forms: int
    sent: int


class Bundles:
    """Export the outbox, import the centre's bundle; BundleFailed names what to say."""

    def __init__(self, device: Device, sync: Sync) -> None:
        self._device = device
        self._sync = sync

    def export(self, on_progress: Progress | None = None) -> BundleFile:
        """The outbox as a signed bundle (nothing is marked sent)."""
        if not self._device.enrolled:
            raise BundleFailed("not_enrolled")
        try:
            bundle = export_bundle(
                self._device.store,
                on_progress=None if on_progress is None else _share(on_progress),
            )
        except (FieldappError, ProtocolError) as exc:
            raise BundleFailed("bundle_refused", detail=str(exc)) from None
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        return BundleFile(f"fieldapp-{stamp}.fieldapp", bundle.data, bundle.records)

    def import_(self, data: bytes, on_progress: Progress | None = None) -> BundleRead:
        """Apply a server bundle; BundleFailed with the reason if it cannot be used (nothing
        of it applied)."""
        if not self._device.enrolled:
            raise BundleFailed("not_enrolled")
        try:
            report = import_bundle(
                self._device.store,
                data,
                on_progress=None if on_progress is None else _share(on_progress),
            )
        except (FieldappError, ProtocolError) as exc:
            raise BundleFailed("bundle_refused", detail=str(exc)) from None
        self._sync.refresh()
        if report.errors:
            raise BundleFailed("bundle_refused", detail="; ".join(report.errors[:3]))
        return BundleRead(report.pulled, report.forms_added, report.accepted + report.duplicate)


def _share(on_progress: Progress) -> Callable[[int, int], None]:
    return lambda done, total: on_progress(done / total if total else 1.0)
