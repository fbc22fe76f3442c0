"""Every word readable at 360 px in each language (issue #15): a walk through the main screens
in headless Chromium that fails on text that is cut, broken or off screen, and saves the
screenshots docs/screenshots/lang-<lang>-<screen>.png.

What catches clipping is Flutter's own text measurement. The app is served with the CanvasKit
renderer (the same Skia text layout as the default one, but reachable from JavaScript), and
`_clipping.js` records each paragraph Flutter lays out. A text is reported when

- Flutter says it needed more lines than it may take (`didExceedMaxLines`): an ellipsis, a
  label or hint cut to one line;
- its widest word is wider than the room it was laid out in: the word is broken in two, and
  its end usually clipped (the French "Synchroniser" in the bottom bar);
- it contains "…" (a text shortened before it reached Flutter);
- its node in the accessibility tree reaches past the screen's left or right edge (a row too
  wide for the phone: a long name running off screen).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp.forms.builtin import load_builtin_forms
from fieldapp.forms.spec import FieldSpec
from fieldapp.i18n import Words
from fieldapp.ui.formats import localised_words
from fieldapp.ui.services import Services
from tests.conftest import PASSPHRASE, attendance_values, screening_values
from tests.ui._browser import PHONE, AppProcess, scroll_to_top, shoot, tap, tap_bar, type_into
from tests.ui.test_browser import choose
from tests.ui.test_browser_sync_survives import enrolled_with_records_waiting, server, shown
from tests.ui.test_sync_status import Server

__all__ = ["server"]  # the sync test's fixture: a real server, down until started

pytestmark = pytest.mark.browser

_WATCHER = Path(__file__).with_name("_clipping.js")
LANGUAGES = ("en", "fr", "es", "ar")
LONG_EVENT = (
    "Regional workshop on the identification and referral of victims of trafficking for"
    " judges, prosecutors and labour inspectors of the northern provinces"
)

_PROBLEMS = """() => {
  const problems = [];
  for (const p of window.__fieldappParagraphs.values()) {
    if (!p.text.trim()) continue;
    if (p.cut) problems.push(`cut: ${p.text}`);
    else if (Number.isFinite(p.width) && p.widestWord > p.width + 0.01) {
      const room = `${p.widestWord.toFixed(2)} px in ${p.width.toFixed(2)}`;
      problems.push(`word broken (${room}): ${p.text}`);
    }
    if (p.text.includes("\\u2026")) problems.push(`shortened: ${p.text}`);
  }
  for (const node of document.querySelectorAll("flt-semantics")) {
    const own = [...node.childNodes].filter((c) => !c.nodeName.startsWith("FLT-"));
    const text = own.map((c) => c.textContent).join("").trim() || node.getAttribute("aria-label");
    if (!text) continue;
    const box = node.getBoundingClientRect();
    if (box.width && (box.left < -0.5 || box.right > window.innerWidth + 0.5))
      problems.push(`off screen (${Math.round(box.left)}..${Math.round(box.right)}): ${text}`);
  }
  return problems;
}"""

# Where every node of the accessibility tree is: unchanged by a wheel step at a screen's end.
_POSITIONS = """() => [...document.querySelectorAll("flt-semantics")]
  .map((node) => Math.round(node.getBoundingClientRect().top)).join(",")"""


def seed_device(data_dir: Path, lang: str) -> None:
    """A device in `lang`, locked, with a victim draft, a final victim record and a training
    event whose title is a long programme name."""
    services = Services(data_dir)
    services.device.create(PASSPHRASE, PASSPHRASE)
    services.device.work_offline()
    services.device.set_language(lang)
    records = services.records
    final = records.new_draft("victim_screening", screening_values(case_code="DKR-2026-014"))
    records.finalise(final.id, final.values, lang)
    seed_drafts(services, attendance_values(participants=2))
    services.close()


def seed_drafts(services: Services, event: dict[str, Any]) -> None:
    """A victim draft, and `event` as a draft under the long programme name."""
    records = services.records
    records.new_draft("victim_screening", screening_values(case_code="KH-2026-0042"))
    records.new_draft("training_attendance", {**event, "title": LONG_EVENT})


def seed_waiting(data_dir: Path, lang: str, server: Server) -> None:
    """A device in `lang` enrolled on `server` (now down), records waiting to be sent, a
    victim draft and the long-named event whose third participant is the first again."""
    enrolled_with_records_waiting(data_dir, server)
    services = Services(data_dir)
    services.device.unlock(PASSPHRASE)
    services.device.set_language(lang)
    event = attendance_values(participants=3)
    event["participants"][2] = {**event["participants"][0], "attendance": []}
    seed_drafts(services, event)
    services.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport=PHONE, device_scale_factor=2)
    page.add_init_script(path=str(_WATCHER))
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        page.close()


def open_app(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => !document.getElementById('loading')", timeout=30_000)
    page.locator("flt-semantics-placeholder").dispatch_event("click")
    page.wait_for_selector("flt-semantics", state="attached")
    assert page.evaluate("() => window.__fieldappWatching === true"), "CanvasKit not watched"


def clipped(page: Page) -> list[str]:
    """What is cut, broken or off screen now (see the module's docstring)."""
    page.wait_for_timeout(500)  # the last frame laid out
    problems: list[str] = page.evaluate(_PROBLEMS)
    return problems


def check(page: Page, lang: str, screen: str, found: dict[str, list[str]]) -> None:
    """Note what is clipped on this screen, scrolled through to its end, and shoot it."""
    scroll_to_top(page)
    shoot(page, f"lang-{lang}-{screen}")
    problems = clipped(page)
    where = page.evaluate(_POSITIONS)
    for _ in range(6):
        page.mouse.move(PHONE["width"] / 2, PHONE["height"] / 2)
        page.mouse.wheel(0, 400)
        problems += clipped(page)
        moved_to = page.evaluate(_POSITIONS)
        if moved_to == where:  # nothing moved: the screen's end is in sight
            break
        where = moved_to
    scroll_to_top(page)
    if problems:
        found[screen] = sorted(set(problems))


def fresh(page: Page) -> None:
    """Forget what earlier screens laid out: report this screen's text only."""
    page.evaluate("() => window.__fieldappParagraphs.clear()")


def nav(page: Page, _: Words, label: str) -> None:
    fresh(page)
    page.get_by_role("button", name=_(label), exact=True).last.click()
    page.wait_for_timeout(600)


def unlock_home(page: Page, _: Words) -> None:
    type_into(page, page.get_by_label(_("Passphrase")), PASSPHRASE)
    fresh(page)
    tap(page, "button", _("Unlock"))
    expect(page.get_by_role("button", name=_("Identify a victim"))).to_be_visible()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_screen_fits_360_px(
    phone: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    _ = localised_words(lang)
    seed_device(tmp_path / "device", lang)
    monkeypatch.setenv("FLET_WEB_RENDERER", "canvaskit")
    app = AppProcess(tmp_path / "device")
    app.start()
    found: dict[str, list[str]] = {}
    try:
        open_app(phone, app.url)
        page = phone
        expect(page.get_by_role("button", name=_("Unlock"))).to_be_visible()  # first frame drawn
        # a wrong passphrase: how many tries remain before the wipe, in words
        type_into(page, page.get_by_label(_("Passphrase")), "not the passphrase")
        tap(page, "button", _("Unlock"))
        warning = _.ngettext(
            "Wrong passphrase. {n} more wrong try will erase everything on this device.",
            "Wrong passphrase. {n} more wrong tries will erase everything on this device.",
            9,
            n=9,
        )
        expect(page.get_by_text(warning)).to_be_visible()
        check(page, lang, "unlock", found)
        unlock_home(page, _)
        check(page, lang, "home", found)
        nav(page, _, "Records")
        expect(page.get_by_text("KH-2026-0042")).to_be_visible()
        check(page, lang, "records", found)
        fresh(page)
        tap(page, "button", _("Filter by form and day"))
        expect(page.get_by_label(_("Changed from"))).to_be_visible()
        check(page, lang, "records-filters", found)
        nav(page, _, "Sync")
        check(page, lang, "sync", found)
        nav(page, _, "Settings")
        check(page, lang, "settings", found)
        # the training event with a long programme name
        nav(page, _, "Home")
        fresh(page)
        tap(page, "button", _("Training attendance"))
        tap(page, "button", LONG_EVENT, exact=False)
        expect(page.get_by_text(LONG_EVENT).first).to_be_visible()
        check(page, lang, "training", found)
        tap(page, "button", _("Back"))
        nav(page, _, "Home")
        # a form step with an error shown
        fresh(page)
        tap(page, "button", _("Identify a victim"))
        tap(page, "button", _("Next"))
        consent_first = _("Answer every consent question before going on.")
        expect(page.get_by_text(consent_first)).to_be_visible()
        check(page, lang, "form-error", found)
        # the next step, with the case code's rule broken: its whole message in sight
        spec = load_builtin_forms()["victim_screening"]
        for name in ("consent_record", "consent_refer", "consent_share"):
            question = spec.label(spec.node(name).label, lang) + " *"
            choose(page, question, spec.choice_label("yes_no", "yes", lang))
        fresh(page)
        tap(page, "button", _("Next"))
        case_code = spec.node("case_code")
        type_into(page, page.get_by_label(spec.label(case_code.label, lang) + " *"), "kh")
        assert isinstance(case_code, FieldSpec) and case_code.constraint_message
        rule = spec.label(case_code.constraint_message, lang)
        expect(page.get_by_text(rule, exact=False).first).to_be_visible()
        check(page, lang, "form-rule", found)
    finally:
        app.stop()
    assert not found, f"text cut at 360 px in {lang}: {found}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_register_the_form_tools_and_waiting_records_fit_360_px(
    phone: Page,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server: Server,
    lang: str,
) -> None:
    """The screens of issue 15's second wave: home and sync with records waiting, the
    training register (compact rows, a duplicate warned about, the undo bar, the check-in
    grid), the form's jump list, "Back to review" and the date picker."""
    _ = localised_words(lang)
    seed_waiting(tmp_path / "device", lang, server)
    monkeypatch.setenv("FLET_WEB_RENDERER", "canvaskit")
    app = AppProcess(tmp_path / "device", server_url=server.url)
    app.start()
    found: dict[str, list[str]] = {}
    try:
        open_app(phone, app.url)
        page = phone
        unlock_home(page, _)
        waiting = _.ngettext(
            "{count} record waits to be sent · {size}",
            "{count} records wait to be sent · {size}",
            2,
            count=2,
            size="|",
        )
        waiting = max(waiting.split("|"), key=len).strip(" ·")
        shown(page, waiting)
        check(page, lang, "home-waiting", found)
        nav(page, _, "Sync")
        shown(page, waiting)
        check(page, lang, "sync-waiting", found)
        # the register: compact rows, one of them the same person twice
        nav(page, _, "Home")
        fresh(page)
        tap(page, "button", _("Training attendance"))
        tap(page, "button", LONG_EVENT, exact=False)
        tap(page, "button", _("Participants"))
        twice = page.get_by_role("button", name=_("Registered twice?"), exact=False)
        expect(twice).to_have_count(2)
        check(page, lang, "training-register", found)
        fresh(page)
        twice.last.click()  # the third entry: the first one again, warned about
        first = attendance_values()["participants"][0]["full_name"]
        duplicate = _("Already registered at this event as participant {n}: {name}", n=1, name="|")
        shown(page, duplicate.split("|")[0])
        check(page, lang, "training-duplicate", found)
        fresh(page)
        tap_bar(page, _("Remove"))
        shown(page, _("Removed {name}", name=first))
        check(page, lang, "training-undo", found)
        fresh(page)
        tap(page, "button", _("Check-in"))
        check(page, lang, "training-checkin", found)
        tap(page, "button", _("Back"))
        # a draft reopened: the jump list, "Back to review" after Edit, the date picker
        nav(page, _, "Records")
        fresh(page)
        page.get_by_text("KH-2026-0042", exact=False).first.click()
        tap(page, "button", _("Questions"))
        expect(page.get_by_role("button", name=_("Go to end"))).to_be_visible()
        check(page, lang, "form-jumps", found)
        fresh(page)
        tap(page, "button", _("Go to end"))
        expect(page.get_by_text(_("Review"), exact=True)).to_be_visible()
        fresh(page)
        page.get_by_role("button", name=_("Edit")).nth(1).click()  # Identity
        expect(page.get_by_role("button", name=_("Back to review"))).to_be_visible()
        step = _("Step {n} of {total}", n=2, total=8)  # in the language's digits
        expect(page.get_by_role("progressbar", name=step)).to_be_visible()
        check(page, lang, "form-back-to-review", found)
        fresh(page)
        tap(page, "button", _("Pick a date"))
        expect(page.get_by_role("dialog")).to_be_visible()
        check(page, lang, "date-picker", found)
    finally:
        app.stop()
    assert not found, f"text cut at 360 px in {lang}: {found}"


_CUT_ONE = """async () => {
  const canvasKit = window.flutterCanvasKit;
  const font = await (await fetch("/fonts/NotoSansArabic-Regular.ttf")).arrayBuffer();
  const style = new canvasKit.ParagraphStyle({
    textStyle: {fontFamilies: ["Noto Sans Arabic"], fontSize: 14}, maxLines: 1, ellipsis: "x",
  });
  const builder = canvasKit.ParagraphBuilder.Make(style, canvasKit.FontMgr.FromData(font));
  builder.addText("مشارك واحد ".repeat(12));
  builder.build().layout(60);
}"""


def test_the_watch_reports_a_deliberately_cut_label(phone: Page, tmp_path: Path) -> None:
    """The watcher itself: one line of text laid out narrower than it needs, by the page's
    own CanvasKit with the app's font, is reported cut."""
    app = AppProcess(tmp_path / "device")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FLET_WEB_RENDERER", "canvaskit")
        app.start()
    try:
        open_app(phone, app.url)
        expect(phone.get_by_role("button", name="Continue")).to_be_visible()
        assert clipped(phone) == []
        phone.evaluate(_CUT_ONE)
        assert clipped(phone) == [f"cut: {'مشارك واحد ' * 12}"]
    finally:
        app.stop()
