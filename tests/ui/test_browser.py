"""End to end in headless Chromium at 360x640: the Flet web client, the real app process, a
real store on disk (and a real sync server where a test syncs)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from fieldapp.store import Store
from tests._wait import wait_until
from tests.conftest import PASSPHRASE
from tests.ui._browser import (
    AppProcess,
    open_phone,
    reopen,
    reveal,
    shoot,
    tap,
    type_into,
)

pytestmark = pytest.mark.browser


def first_run_offline(page: Page) -> None:
    """Language, passphrase, "work offline for now": the home screen."""
    shoot(page, "01-first-run-language")
    tap(page, "button", "Continue")
    type_into(page, page.get_by_label("Passphrase", exact=True), PASSPHRASE)
    type_into(page, page.get_by_label("Repeat the passphrase"), PASSPHRASE)
    shoot(page, "02-first-run-passphrase")
    tap(page, "button", "Protect this device")
    expect(page.get_by_text("Connect to your organisation")).to_be_visible()
    shoot(page, "03-first-run-server")
    tap(page, "button", "Work offline for now")
    expect(page.get_by_role("button", name="Identify a victim")).to_be_visible()


def choose(page: Page, question: str, answer: str) -> None:
    """Tap `answer` among the radio buttons of `question` (labels repeat across questions)."""
    group = page.get_by_role("group", name=question)
    reveal(page, group.get_by_role("radio", name=answer, exact=True)).click()


def wait_for_saved_case_code(app: AppProcess, code: str, timeout: float = 10.0) -> None:
    """Until the draft's case code, as the store on disk holds it (read by a second opener),
    is `code`."""

    def saved() -> bool:
        store = Store(app.data_dir / "fieldapp.db")
        try:
            store.keyring.unlock(PASSPHRASE)
            drafts = store.records.page(status="draft").items
            found = store.records.get(drafts[0].id).values.get("case_code") if drafts else None
        finally:
            store.close()
        return bool(found == code)

    wait_until(saved, timeout, f"the draft's case code {code!r} in the store on disk", step=0.2)


def expect_text_field(page: Page, label: str, value: str) -> None:
    """The field shows `value`. Flutter's accessibility tree gives a text field's DOM input
    its text only while it has focus, so focus it first (its text is drawn either way)."""
    field = reveal(page, page.get_by_label(label))
    field.click()
    expect(field).to_be_focused()
    expect(field).to_have_value(value)


def identified_to_review(page: Page) -> None:
    """The screening from its nationality question to the review: a Cambodian presumed victim
    of forced labour, identified by the police in Thailand."""
    type_into(page, page.get_by_label("Nationality *"), "Camb")
    tap(page, "button", "Cambodia")
    tap(page, "button", "Next")
    type_into(page, page.get_by_label("Country where identified *"), "Thai")
    tap(page, "button", "Thailand")
    choose(page, "Identified by *", "Police or gendarmerie")
    choose(page, "Screening outcome *", "Presumed victim of trafficking (indicators present)")
    tap(page, "button", "Next")
    page.get_by_role("checkbox", name="Forced labour").click()
    for _ in range(3):  # indicators, needs: nothing required
        tap(page, "button", "Next")
    tap(page, "button", "Review")


def unlock(page: Page) -> None:
    expect(page.get_by_text("Locked", exact=True)).to_be_visible()
    type_into(page, page.get_by_label("Passphrase"), PASSPHRASE)
    tap(page, "button", "Unlock")
    # the key is derived from the passphrase (seconds on a loaded machine): unlocked when the
    # lock screen has gone, before anything of the records is looked for
    try:
        expect(page.get_by_label("Passphrase")).to_have_count(0, timeout=45_000)
    except AssertionError:
        # Seen once in CI under load, and once in 85 lock screens opened on a loaded machine
        # here: the lock screen stayed after the tap with the passphrase in the field (cause
        # not found). Once more, logged; a second time fails.
        reopen(page, "the lock screen stayed 45 s after Unlock was tapped")
        expect(page.get_by_text("Locked", exact=True)).to_be_visible()
        type_into(page, page.get_by_label("Passphrase"), PASSPHRASE)
        tap(page, "button", "Unlock")
        expect(page.get_by_label("Passphrase")).to_have_count(0, timeout=60_000)


def test_social_worker_screens_a_minor(browser: Browser, app: AppProcess) -> None:
    page = open_phone(browser, app.url)
    first_run_offline(page)
    shoot(page, "04-home")
    # lock and unlock: nothing of the records while locked
    tap(page, "button", "Lock now")
    unlock(page)
    tap(page, "button", "Identify a victim")
    # consent first, enforced
    expect(
        page.get_by_role("group", name="Consent to record personal information *")
    ).to_be_visible()
    tap(page, "button", "Next")
    expect(page.get_by_text("Answer every consent question before going on.")).to_be_visible()
    shoot(page, "05-screening-consent-enforced")
    for question in (
        "record personal information",
        "be referred to services",
        "share anonymised data",
    ):
        choose(page, f"Consent to {question} *", "Yes")
    tap(page, "button", "Next")
    # identity: a constraint judged as the person types
    case_code = page.get_by_label("Case code *")
    type_into(page, case_code, "kh")
    expect(page.get_by_text("Case code: ", exact=False).first).to_be_visible()
    page.keyboard.press("Control+A")
    page.keyboard.type("KH-2026-0042")
    expect(case_code).to_have_value("KH-2026-0042")
    type_into(page, page.get_by_label("Given name(s)"), "Fictional")
    tap(page, "button", "Next")
    # profile: a minor triggers the referral prompt; the age band follows from the age
    type_into(page, page.get_by_label("Age in years"), "15")
    expect(page.get_by_text("May be a child", exact=False)).to_be_visible()
    expect(page.get_by_text("15–17 (child)")).to_be_visible()
    shoot(page, "06-screening-minor-referral")
    choose(page, "Sex / gender *", "Female")
    choose(page, "Child protection referral *", "Referred to child protection services now")
    identified_to_review(page)
    expect(page.get_by_text("Review", exact=True)).to_be_visible()
    shoot(page, "07-screening-review")
    tap(page, "button", "Finalise")
    expect(page.get_by_text("Finalised. It will be sent at the next sync.")).to_be_visible()
    shoot(page, "08-home-after-finalise")
    app.stop()
    store = Store(app.data_dir / "fieldapp.db")
    store.keyring.unlock(PASSPHRASE)
    [summary] = store.records.page(status="final").items
    record = store.records.get(summary.id)
    assert record.values["case_code"] == "KH-2026-0042"
    assert record.values["is_minor"] is True
    assert record.values["child_protection_referral"] == "referred"
    store.close()


def test_a_draft_survives_the_app_being_killed_mid_wizard(
    browser: Browser, app: AppProcess
) -> None:
    page = open_phone(browser, app.url)
    first_run_offline(page)
    tap(page, "button", "Identify a victim")
    choose(page, "Consent to record personal information *", "Yes")
    choose(page, "Consent to be referred to services *", "No")
    choose(page, "Consent to share anonymised data *", "Yes")
    tap(page, "button", "Next")  # scrolled down to reach it: the next step opens at its top
    # typed as soon as the new step is shown: every keystroke reaches the app and the disk
    expect(page.get_by_label("Case code *")).to_be_visible()
    page.wait_for_timeout(400)  # a person's glance at the new step; the rebuild lands first
    type_into(page, page.get_by_label("Case code *"), "KH-2026-0077")
    wait_for_saved_case_code(app, "KH-2026-0077")  # autosaved as typed, no button pressed
    # a step away and back: the answer is still in its field
    tap(page, "button", "Next")
    expect(page.get_by_label("Age in years")).to_be_visible()  # the profile step
    tap(page, "button", "Previous")
    expect_text_field(page, "Case code *", "KH-2026-0077")
    app.kill()  # no goodbye: a flat battery
    page.close()
    app.start()
    page = open_phone(browser, app.url)
    unlock(page)
    reveal(page, page.get_by_text("Drafts")).click()  # home lists what needs attention
    reveal(page, page.get_by_text("KH-2026-0077")).click()  # listed by its case code
    expect_text_field(page, "Case code *", "KH-2026-0077")  # on the step it was left on
    tap(page, "button", "Previous")
    group = page.get_by_role("group", name="Consent to be referred to services *")
    expect(group.get_by_role("radio", name="No", exact=True)).to_be_checked()
    app.stop()
    store = Store(app.data_dir / "fieldapp.db")
    store.keyring.unlock(PASSPHRASE)
    [draft] = store.records.page(status="draft").items
    values = store.records.get(draft.id).values
    assert values.get("case_code") == "KH-2026-0077", values
    store.close()


def test_arabic_flips_the_layout(browser: Browser, app: AppProcess) -> None:
    page = open_phone(browser, app.url)
    first_run_offline(page)
    home = page.get_by_role("button", name="Home")
    box = home.bounding_box()
    assert box is not None and box["x"] < 90  # left to right: Home is the first on the left
    tap(page, "button", "Settings")
    shoot(page, "09-settings")
    tap(page, "radio", "العربية")
    home = page.get_by_role("button", name="الرئيسية")
    expect(home).to_be_visible()
    box = home.bounding_box()
    assert box is not None and box["x"] > 360 - 90 - box["width"]  # now on the right
    tap(page, "button", "الرئيسية")
    shoot(page, "10-home-arabic")
