"""The connectivity monitor: sync as soon as the server is reachable, with no user action.

A background thread probes `GET /v1/health` with a short timeout. While the server is away
the probes space out (doubling, with jitter, up to a cap) so a phone without signal does not
drain its battery; the cap is low (`max_waiting_interval`, 3 s) while records wait to be sent,
so the server's return is noticed within seconds, and high (`max_offline_interval`) when
nothing waits. A record finalised while the monitor sleeps wakes it within
`max_waiting_interval` (it counts the outbox, a local query, that often). The moment a probe
succeeds, a sync starts. A server that is up but says
it cannot store anything (`degraded`) is online but not synced with: the records stay here,
and the probes space out the same way until it says ok. A device whose own storage is full
says so (`last_error`) and tries again at the next cycle. Only this thread syncs, so two
syncs never run at once; `sync_now()` while one runs queues exactly one more after it.

The thread outlives anything: an exception in a cycle becomes `last_error` (in words) and the
loop goes on; a listener (`on_state`) that raises is logged and ignored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from fieldapp.errors import StorageFull
from sync.client._backoff import jitter_source
from sync.client._client import SyncClient
from sync.client._errors import SyncError
from sync.client._report import SyncReport

__all__ = ["MonitorState", "SyncMonitor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorState:
    """What the UI shows: reachable or not, syncing or not, and the last sync's outcome."""

    online: bool | None = None  # None: not probed yet
    probed_at: datetime | None = None  # when the probe that found `online` was sent (UTC)
    running: bool = False
    last_attempt_at: datetime | None = None  # the last sync started (UTC), whatever its end
    last_sync_at: datetime | None = None  # the last sync that finished without errors
    last_report: SyncReport | None = None
    last_error: str | None = None
    pending_requests: int = 0


class SyncMonitor:
    """Probe, back off while offline, sync when reachable; `start()`, `stop()`, `sync_now()`.

    `client` is a SyncClient or a factory for one (called in the monitor thread when it is
    first needed: e.g. after enrolment). `on_state` is called with every new MonitorState.
    """

    def __init__(
        self,
        client: SyncClient | Callable[[], SyncClient],
        *,
        probe_interval: float = 30.0,
        probe_timeout: float = 3.0,
        max_offline_interval: float = 300.0,
        max_waiting_interval: float = 3.0,
        sync_interval: float = 900.0,
        on_state: Callable[[MonitorState], None] | None = None,
    ) -> None:
        self._client = client if isinstance(client, SyncClient) else None
        self._factory = None if isinstance(client, SyncClient) else client
        self.probe_interval = probe_interval
        self.probe_timeout = probe_timeout
        self.max_offline_interval = max_offline_interval
        self.max_waiting_interval = max_waiting_interval
        self.sync_interval = sync_interval
        self.on_state = on_state
        self._rng = jitter_source()
        self._state = MonitorState()
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._requested = 0  # sync_now() calls so far
        self._served = 0  # the highest request number a finished sync has covered
        self._answer: SyncReport | None = None  # for the requests served last (None: offline)
        self._last_sync_started = float("-inf")
        self._cycle_ticket = 0  # the requests the running cycle answers

    @property
    def state(self) -> MonitorState:
        with self._changed:
            return self._state

    @property
    def alive(self) -> bool:
        """Whether the monitor's thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="fieldapp-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current probe or sync; closes a client the factory made."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # still finishing a batch: it stops at the next check
            self._thread = None
        if self._factory is not None and self._client is not None:
            self._client.close()  # made here, so closed here
            self._client = None
        with self._changed:
            self._changed.notify_all()

    def sync_now(self, *, wait: bool = False, timeout: float | None = None) -> SyncReport | None:
        """Ask for a sync now; with `wait`, block until a sync that started after this call
        ends (its report; None on timeout or if the server stayed unreachable)."""
        with self._changed:
            self._requested += 1
            ticket = self._requested
            self._update(pending_requests=self._requested - self._served)
        self._wake.set()
        if not wait:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while self._served < ticket and not self._stopping.is_set():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._changed.wait(left)
            return self._answer if self._served >= ticket else None

    # -- the monitor thread ---------------------------------------------------------------
    def _update(self, **changes: object) -> None:
        """Replace the state (caller holds `_changed`) and tell waiters and the UI."""
        self._state = replace(self._state, **changes)  # type: ignore[arg-type]
        self._changed.notify_all()
        if self.on_state is not None:
            try:
                self.on_state(self._state)
            except Exception:  # a listener's trouble is its own: the monitor goes on
                log.exception("sync monitor listener failed")

    def next_interval(self, interval: float, *, online: bool, waiting: bool) -> float:
        """The longest wait before the next probe, after one spaced `interval` apart: the
        probe interval while online; offline, doubling up to a cap, low while records wait."""
        if online:
            return self.probe_interval
        cap = self.max_waiting_interval if waiting else self.max_offline_interval
        return min(cap, interval * 2)

    def _waiting(self) -> int:
        """How many records wait to be sent (0 if the store cannot say now)."""
        try:
            return 0 if self._client is None else self._client.pending()
        except Exception:  # a store that cannot answer now must not stop the probes
            log.exception("sync monitor could not count the waiting records")
            return 0

    def _sleep(self, seconds: float, waiting: int) -> None:
        """Wait `seconds`, or less: until woken, or until more records wait than `waiting`
        (looked at every `max_waiting_interval`: a record finalised while the monitor sleeps
        goes within seconds, whatever the probe interval)."""
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self._wake.wait(min(left, self.max_waiting_interval)):
                return
            if self._waiting() > waiting:
                return

    def _run(self) -> None:
        interval = self.probe_interval
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                online = self._cycle()
            except (SyncError, StorageFull) as exc:  # e.g. not enrolled yet: keep probing, say why
                online = False
                self._failed(str(exc))
            except Exception as exc:  # the monitor must outlive any surprise; the log has it
                log.exception("sync monitor cycle failed")
                online = False
                self._failed(f"syncing failed unexpectedly ({type(exc).__name__})")
            waiting = self._waiting()
            interval = self.next_interval(interval, online=online, waiting=waiting > 0)
            if self._requested > self._served and online:
                continue  # a sync was asked for while the last one ran: run it now
            self._sleep(self._rng.uniform(interval / 2, interval), waiting)

    def _failed(self, why: str) -> None:
        """A cycle ended in an exception: say why, and answer whoever waits for it."""
        with self._changed:
            if self._cycle_ticket > self._served:
                self._served, self._answer = self._cycle_ticket, None
            self._update(
                running=False, last_error=why, pending_requests=self._requested - self._served
            )

    def _cycle(self) -> bool:
        """One probe and, if due, one sync; whether the server was reachable."""
        client = self._get_client()
        was_online = self._state.online
        with self._changed:
            # Only requests made before the probe are answered by it: one made while the
            # probe was on its way must not be told "cannot sync" by an answer older than it.
            ticket = self._cycle_ticket = self._requested
        asked = datetime.now(UTC)  # a probe tells how things were when it was sent
        health = client.health(self.probe_timeout)
        online = health is not None
        with self._changed:
            self._update(online=online, probed_at=asked)
        if health is None or health.status != "ok":
            why = (
                "the server is not reachable"
                if health is None
                else f"the server cannot store records now ({health.reason}): they stay here"
            )
            with self._changed:
                if ticket > self._served:  # nobody should wait for a sync that cannot run
                    self._served, self._answer = ticket, None
                    self._update(pending_requests=0, last_error=why)
                elif health is not None:
                    self._update(last_error=why)
            return False
        due = (
            ticket > self._served
            or not was_online
            or client.pending() > 0
            or time.monotonic() - self._last_sync_started >= self.sync_interval
        )
        if not due:
            return True
        self._last_sync_started = time.monotonic()
        with self._changed:
            self._update(running=True, last_attempt_at=datetime.now(UTC))
        try:
            report = client.sync()
        except BaseException:
            with self._changed:
                self._update(running=False)
            raise
        with self._changed:  # one change: never "not running" without the report beside it
            self._served, self._answer = max(self._served, ticket), report
            self._update(
                running=False,
                last_report=report,
                last_error=report.errors[0] if report.errors else None,
                last_sync_at=report.finished_at if report.ok else self._state.last_sync_at,
                pending_requests=self._requested - self._served,
            )
        log.info(
            "sync: %d sent, %d conflict, %d rejected, %d pulled, %d errors",
            report.sent, report.conflict, report.rejected, report.pulled, len(report.errors),
        )  # fmt: skip
        if report.ok:
            return True
        asked = datetime.now(UTC)
        online = client.probe(self.probe_timeout)  # a sync that failed may mean it went away
        with self._changed:
            self._update(online=online, probed_at=asked)
        return online

    def _get_client(self) -> SyncClient:
        if self._client is None:
            assert self._factory is not None
            self._client = self._factory()
        return self._client
