"""A deadline on every Playwright step that has none of its own.

Seen in CI: headless Chromium's renderer spinning at 100% CPU while the test waited inside
`mouse.move` for eleven minutes. Playwright gives input, `evaluate`, `count` and the like no
timeout, so a hung renderer hangs the test. Here each such step runs under a deadline; past
it a watchdog thread kills this worker's Chromium renderers (and, if the step still does not
return, the browser), the step fails at once with `RendererHung` naming it, and the test is
run again once from its start (tests/conftest.py). A test that fails the same way again
fails; every hang is logged in the test's output and the run's summary.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Keyboard, Locator, Mouse, Page

__all__ = ["RendererHung", "guard_steps", "hung_page", "log", "take_events", "watch"]

STEP_SECONDS = 30.0  # a step that takes milliseconds, seconds on a loaded machine
GRACE_SECONDS = 10.0  # after the renderers are killed, before the browser is
PROBE_SECONDS = 10.0
# Playwright steps with no timeout of their own (those with one fail by themselves).
_UNTIMED: dict[type, tuple[str, ...]] = {
    Mouse: ("move", "wheel", "click", "dblclick", "down", "up"),
    Keyboard: ("type", "press", "down", "up", "insert_text"),
    Page: ("evaluate", "evaluate_handle", "close"),
    Locator: ("count", "is_visible", "is_hidden", "all_inner_texts", "all_text_contents"),
}


class RendererHung(Exception):
    """A Playwright step outlasted its deadline: headless Chromium's renderer hung (the page
    was killed so the test does not wait for ever)."""


@dataclass
class _Step:
    name: str
    seconds: float
    deadline: float
    killed: list[str] = field(default_factory=list)
    browser_killed: bool = False


class _Watchdog:
    """One daemon thread per test process, watching the step the test is in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._step: _Step | None = None
        self._thread: threading.Thread | None = None

    @contextmanager
    def step(self, name: str, seconds: float) -> Iterator[None]:
        if self._step is not None:  # a guarded step inside another: the outer one watches
            yield
            return
        self._start()
        step = _Step(name, seconds, time.monotonic() + seconds)
        with self._lock:
            self._step = step
        try:
            yield
        except Exception as error:
            if step.killed:
                raise RendererHung(_hung_message(step)) from error
            raise
        finally:
            with self._lock:
                self._step = None
        if step.killed:  # it returned as the renderer was killed: the page is gone anyway
            raise RendererHung(_hung_message(step))

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        while True:
            time.sleep(0.25)
            with self._lock:
                step = self._step
            if step is None:
                continue
            late = time.monotonic() - step.deadline
            if late > 0 and not step.killed:
                killed = _kill(_chromium_processes(renderers=True))
                step.killed = killed or ["no renderer found"]
                log(f"{step.name} outlasted its {step.seconds:.0f} s deadline: killed {killed}")
            elif late > GRACE_SECONDS and not step.browser_killed:
                step.browser_killed = True
                killed = _kill(_chromium_processes(renderers=False))
                step.killed.extend(killed)
                log(f"{step.name} still waiting after the renderers died: killed {killed}")


_WATCHDOG = _Watchdog()


def watch(name: str, seconds: float = STEP_SECONDS) -> Any:
    """A context manager: the step called `name` runs under a `seconds` deadline."""
    return _WATCHDOG.step(name, seconds)


def _hung_message(step: _Step) -> str:
    return (
        f"{step.name} outlasted its {step.seconds:.0f} s deadline (headless Chromium's"
        f" renderer hung); killed {', '.join(step.killed)}"
    )


def _guarded(method: Callable[..., Any], label: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def guarded(self: object, *args: Any, **kwargs: Any) -> Any:
        seconds = STEP_SECONDS
        if label in ("keyboard.type", "keyboard.insert_text") and args:
            seconds += 0.2 * len(str(args[0]))  # typed text is never logged, only its length
            shown = f"{label}({len(str(args[0]))} characters)"
        elif isinstance(self, Locator):
            shown = f"{self}.{label.split('.')[1]}()"
        else:
            shown = f"{label}({', '.join(repr(arg)[:60] for arg in args)})"
        with watch(shown, seconds):
            return method(self, *args, **kwargs)

    return guarded


def guard_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put every Playwright step without a timeout of its own under the watchdog (for the
    test `monkeypatch` belongs to)."""
    for cls, names in _UNTIMED.items():
        for name in names:
            label = f"{cls.__name__.lower()}.{name}"
            monkeypatch.setattr(cls, name, _guarded(getattr(cls, name), label))


def hung_page(browsers: list[Browser]) -> str | None:
    """The address of a page whose renderer does not draw a frame in time (killed by now),
    or None: asked after a test failed, so a timeout caused by a hung renderer is told from
    a real failure."""
    for browser in browsers:
        if not browser.is_connected():
            continue
        for context in browser.contexts:
            for page in context.pages:
                if page.is_closed():
                    continue
                try:
                    with watch(f"a frame from {page.url}", PROBE_SECONDS):
                        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(1)))")
                except RendererHung:
                    return page.url
                except Exception:  # a page that crashed or closed: not hung
                    continue
    return None


_EVENTS: list[tuple[str, str]] = []


def log(event: str) -> None:
    """Say what the harness did (a hang, a reopen) in the test's output, and keep it for the
    run's summary (tests/conftest.py prints every one, passed tests' too)."""
    print(f"[browser harness] {event}", file=sys.stderr, flush=True)
    _EVENTS.append(("browser harness", event))


def take_events() -> list[tuple[str, str]]:
    """The events logged since the last call (for the test's report)."""
    taken = list(_EVENTS)
    _EVENTS.clear()
    return taken


def _chromium_processes(*, renderers: bool) -> list[int]:
    """This process's Chromium renderers, or its Chromium browsers (each xdist worker has its
    own Playwright driver and browser, so another test's are never touched)."""
    found = []
    for pid in _descendants(os.getpid()):
        try:  # one NUL-separated argv, or one line where Chromium retitled a forked child
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"chrom" not in command.split(b" ", 1)[0]:
            continue
        wanted = b"--type=renderer" in command if renderers else b"--type=" not in command
        if wanted:
            found.append(pid)
    return found


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill(pids: list[int]) -> list[str]:
    killed = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
        killed.append(f"chromium pid {pid}")
    return killed
