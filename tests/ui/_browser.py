"""The app served as its own process (`run_app(web=True)`) and driven in headless Chromium.

Follows docs learned the hard way (see the Flet web testing notes): wait for the loading
element to go, switch on Flutter's semantics tree, type with the keyboard (not `fill`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import (
    Browser,
    FloatRect,
    Locator,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests._services import service_missing
from tests._wait import wait_until
from tests.ui._watchdog import log

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "docs" / "screenshots"
PHONE: ViewportSize = {"width": 360, "height": 640}
_BOTTOM_BAR = 72  # px: the navigation or the form's buttons cover the list's last pixels
_LAUNCHER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from fieldapp.ui.app import run_app\n"
    "run_app(Path(sys.argv[1]), web=True, port=int(sys.argv[2]),"
    " server_url=sys.argv[3] or None)\n"
)
# The app as `fieldapp app` opens it on a laptop: the office tools plugged into its screens.
_OFFICE_LAUNCHER = "from fieldapp.office.ui_tools import install\ninstall()\n" + _LAUNCHER
_CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Effort:
    """What the person did, as the helpers below count it: taps (a button, a choice, or a
    text field that was not already focused), keystrokes (characters typed and keys pressed)
    and scrolls (one wheel step, about a swipe)."""

    taps: int = 0
    keystrokes: int = 0
    scrolls: int = 0

    def reset(self) -> None:
        self.taps = self.keystrokes = self.scrolls = 0


EFFORT = Effort()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class AppProcess:
    """`fieldapp.ui.app.run_app` on 127.0.0.1 in a child process; killable, restartable."""

    def __init__(self, data_dir: Path, server_url: str = "", *, office_tools: bool = False) -> None:
        self.data_dir = data_dir
        self.server_url = server_url
        self.office_tools = office_tools
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"app-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _OFFICE_LAUNCHER if self.office_tools else _LAUNCHER,
                    str(self.data_dir),
                    str(self.port),
                    self.server_url,
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._listening, 30, f"the app to listen on port {self.port}", step=0.1)

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"the app exited: {self.log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    @contextmanager
    def stalled(self) -> Iterator[None]:
        """The app frozen (SIGSTOP) until the block ends: a slow phone, where what the person
        types and taps queues up before the app handles any of it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: what a flat battery or the OS killing the app looks like."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


def serve(data_dir: Path, server_url: str = "") -> Iterator[AppProcess]:
    """A pytest fixture's body: the app on `data_dir` (its server at `server_url`, if any),
    started, then stopped."""
    process = AppProcess(data_dir, server_url)
    process.start()
    try:
        yield process
    finally:
        process.stop()


class Chromium:
    """Debian's Chromium, headless, launched again when the watchdog had to kill it."""

    def __init__(self, playwright: Playwright) -> None:
        self._playwright = playwright
        self._browser: Browser | None = None

    def browser(self) -> Browser:
        if self._browser is not None and not self._browser.is_connected():
            log("Chromium launched again: the last one was killed")
            self._browser = None
        if self._browser is None:
            self._browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=_CHROMIUM_ARGS
            )
        return self._browser

    def close(self) -> None:
        if self._browser is not None and self._browser.is_connected():
            self._browser.close()


@contextmanager
def chromium() -> Iterator[Chromium]:
    """Debian's Chromium; where it is absent the test skips, or fails under CI."""
    if not CHROMIUM.exists():
        service_missing(f"the browser tests need Debian's chromium ({CHROMIUM})")
    with sync_playwright() as playwright:
        launched = Chromium(playwright)
        try:
            yield launched
        finally:
            launched.close()


LAPTOP: ViewportSize = {"width": 1280, "height": 800}


def open_phone(browser: Browser, url: str, *, laptop: bool = False) -> Page:
    """A 360x640 phone page on the app (a 1280x800 laptop's with `laptop`), semantics on,
    first frame drawn."""
    if laptop:
        page = browser.new_page(viewport=LAPTOP)
    else:
        page = browser.new_page(viewport=PHONE, device_scale_factor=2)
    page.set_default_timeout(20_000)
    page.goto(url)
    _first_frame(page)
    return page


def reopen(page: Page, why: str) -> None:
    """Load the app again in the same page: a new session, semantics on, first frame drawn
    (for a screen whose text field Flutter stopped feeding on a loaded machine); logged, so
    flakiness stays visible."""
    log(f"reopened {page.url}: {why}")
    page.reload()
    _first_frame(page)


def _first_frame(page: Page) -> None:
    page.wait_for_function("() => !document.getElementById('loading')", timeout=30_000)
    page.locator("flt-semantics-placeholder").dispatch_event("click")
    page.wait_for_selector("flt-semantics", state="attached")


# The text Flutter holds for `field` (a semantics tree's text field), read from the element
# that has the keyboard, or null while the keyboard is elsewhere. That element is the field's
# own input, unless the field took the focus by itself (autofocus) before Flutter described
# it: Flutter then edits it through its hidden `flt-text-editing` input, laid over the field,
# keeps that input focused when the field is tapped, and leaves the field's own input empty
# (seen in CI under load as "every keystroke lost"; the text had reached the app).
_TEXT_WITH_THE_KEYBOARD = """(field) => {
    const focused = document.activeElement;
    if (focused === field) return field.value;
    if (!focused || !focused.classList.contains("flt-text-editing")) return null;
    const under = field.getBoundingClientRect(), over = focused.getBoundingClientRect();
    const x = over.left + over.width / 2, y = over.top + over.height / 2;
    const laid_over = under.left <= x && x <= under.right && under.top <= y && y <= under.bottom;
    return laid_over ? focused.value : null;
}"""


def text_with_the_keyboard(field: Locator) -> str | None:
    """The text typed into `field` as the element with the keyboard holds it; None while the
    keyboard is not on `field` (or Flutter is re-describing it)."""
    try:
        text: str | None = field.evaluate(_TEXT_WITH_THE_KEYBOARD, timeout=2000)
    except PlaywrightTimeoutError:
        return None
    return text


def _own_value(field: Locator) -> str | None:
    """The text the field's own input holds, wherever the keyboard is."""
    try:
        value: str | None = field.evaluate("(field) => field.value", timeout=2000)
    except PlaywrightTimeoutError:
        return None
    return value


def expect_typed(page: Page, field: Locator, text: str | None, seconds: float = 5.0) -> bool:
    """Whether `field` has the keyboard (and holds `text`, unless None) within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        held = text_with_the_keyboard(field)
        if held is not None and (text is None or held == text):
            return True
        if held is None and text is not None and _own_value(field) == text:
            return True  # typed, then the keyboard moved on (the form re-drew after the answer)
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(100)


def type_into(page: Page, target: Locator, text: str) -> None:
    """Tap the field, wait until it has the keyboard, type, and check that the field holds
    the text; where it does not (a field Flutter re-described while it scrolled into view,
    a keystroke lost while the field gained focus), find it again and type again, logged."""
    field = reveal(page, target)
    if not expect_typed(page, field, None, seconds=0.3):  # autofocused: not tapped
        EFFORT.taps += 1
    EFFORT.keystrokes += len(text)
    for attempt in range(3):
        try:
            field.click(timeout=5000)
        except PlaywrightTimeoutError as missed:
            log(f"tapping {target} again: {str(missed).splitlines()[0]}")
        else:
            if not expect_typed(page, field, None):
                log(f"tapping {target} again: it did not get the keyboard")
            else:
                page.keyboard.press("Control+A")
                page.keyboard.type(text, delay=15)
                if expect_typed(page, field, text):
                    return
                log(f"typing into {target} again: it holds {text_with_the_keyboard(field)!r}")
        page.wait_for_timeout(300 * (attempt + 1))
        field = reveal(page, target)
    raise AssertionError(f"{target} does not hold {text!r} after typing it three times")


def press(page: Page, key: str) -> None:
    """One key (Enter, Tab) pressed on the focused control: a keystroke."""
    EFFORT.keystrokes += 1
    page.keyboard.press(key)
    page.wait_for_timeout(150)


def reveal(page: Page, target: Locator, *, down: bool = True) -> Locator:
    """Scroll with the wheel until `target` is on screen, clear of the bottom bar.

    Flutter only describes what is on (or just off) screen, and asking the browser to scroll a
    node into view makes Flutter re-describe it, detaching the node being clicked; so scroll
    the way a person does. A control that stays put when scrolled is in a fixed bar: shown.
    """
    last = None
    deadline = time.monotonic() + 30  # a loaded machine draws slowly: by time, not by steps
    while time.monotonic() < deadline:
        page.mouse.move(PHONE["width"] / 2, PHONE["height"] / 2)
        step = 250 if down else -250
        box = _box(target.first) if target.count() else None
        if box is not None:
            if box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"] - _BOTTOM_BAR:
                return target.first
            if box == last:
                return target.first
            last = box
            step = 250 if box["y"] > 0 else -250
        EFFORT.scrolls += 1
        page.mouse.wheel(0, step)
        page.wait_for_timeout(150)
    raise AssertionError(f"{target} never appeared on screen")


def _box(target: Locator) -> FloatRect | None:
    """Where `target` is now, or None when Flutter dropped it from its tree meanwhile (a
    node gone between counting and measuring is not waited for: the scroll goes on)."""
    try:
        return target.bounding_box(timeout=2000)
    except PlaywrightTimeoutError:
        return None


def scroll_to_top(page: Page) -> None:
    """Wheel the screen's list back to its top, the way a person would."""
    page.mouse.move(PHONE["width"] / 2, PHONE["height"] / 2)
    EFFORT.scrolls += 1
    page.mouse.wheel(0, -3 * PHONE["height"])
    page.wait_for_timeout(300)


def tap(page: Page, role: str, name: str, *, exact: bool = True) -> None:
    """Tap the button (or other control) called `name`, scrolling down to it if needed."""
    target = page.get_by_role(role, name=name, exact=exact)  # type: ignore[arg-type]
    EFFORT.taps += 1
    for _ in range(3):
        try:
            reveal(page, target).click(timeout=5000)
        except PlaywrightTimeoutError:  # re-described while it scrolled: scroll on and retry
            page.mouse.wheel(0, 250)
            page.wait_for_timeout(300)
            continue
        return
    reveal(page, target).click()


def tap_bar(page: Page, name: str) -> None:
    """Tap the button called `name` in a bar fixed at the screen's edge: in reach, so
    tapped where it is, with no scrolling."""
    EFFORT.taps += 1
    target = page.get_by_role("button", name=name, exact=True)
    expect(target.first).to_be_visible()
    box = target.first.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], f"{name} is off screen"
    target.first.click()


def shoot(page: Page, name: str) -> None:
    """A screenshot for docs/screenshots (after a short pause: a stale frame was seen once)."""
    page.wait_for_timeout(400)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def expect_shown(page: Page, text: str) -> None:
    """`text` on screen, alone or as the name Flutter gives the group it heads (given time on
    a loaded machine)."""
    shown = page.get_by_text(text, exact=False).or_(page.get_by_role("group", name=text))
    expect(shown.first).to_be_visible(timeout=20_000)
