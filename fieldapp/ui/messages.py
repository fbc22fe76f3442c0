"""The messages the app's state names by key (what a step said, why it failed), in English;
the screens show them in the person's language through `fieldapp.i18n.Words.entry`.

Keys rather than text in the state: tests and the code read `message_key == "storage_full"`
whatever the language, and the type checker knows every key.
"""

from __future__ import annotations

from typing import Literal, get_args

from fieldapp.i18n import N_, Entry, Plural

__all__ = ["GOOD_NEWS", "MESSAGES", "GoodNewsKey", "MessageKey", "ProblemKey"]

# Said calm (the primary colours): something went as asked.
GoodNewsKey = Literal[
    "qr_read",
    "connected_ok",
    "finalised",
    "participant_added",
    "consent_withdrawn_done",
    "kept_mine",
    "merge_sent",
    "left_for_office",
    "merge_nothing",
    "syncing",
    "sync_result",
    "sync_clock_skew",
    "bundle_written",
    "bundle_read",
]
# Said as a problem (the error colours): what went wrong, and what to do.
ProblemKey = Literal[
    "wrong_passphrase",
    "wrong_passphrase_tries",
    "passphrase_mismatch",
    "passphrase_weak",
    "store_unreadable",
    "insecure_url",
    "code_malformed",
    "enrol_untrusted",
    "code_refused",
    "qr_not_found",
    "qr_unreadable",
    "qr_not_enrolment",
    "storage_full",
    "consent_first",
    "fix_errors",
    "merge_offline",
    "merge_unavailable",
    "not_enrolled",
    "sync_unreachable",
    "sync_refused",
    "sync_problem",
    "server_degraded",
    "office_refused",
    "office_problem",
    "form_file_missing",
    "bundle_refused",
]
MessageKey = Literal[GoodNewsKey, ProblemKey]
GOOD_NEWS: frozenset[MessageKey] = frozenset(get_args(GoodNewsKey))

MESSAGES: dict[MessageKey, Entry] = {
    "wrong_passphrase": N_(
        "Wrong passphrase. After too many wrong tries this device erases its data."
    ),
    "wrong_passphrase_tries": Plural(
        "Wrong passphrase. {n} more wrong try will erase everything on this device.",
        "Wrong passphrase. {n} more wrong tries will erase everything on this device.",
    ),
    "passphrase_mismatch": N_("The two passphrases are different."),
    "passphrase_weak": N_("Too easy to guess: use at least 10 characters, several words."),
    "store_unreadable": N_(
        "The file {path} is damaged or cannot be read. It was left exactly as it is: do not"
        " set this device up again, ask your coordinator for help to recover it."
    ),
    "insecure_url": N_("Use an address that starts with https://"),
    "code_malformed": N_(
        "That is not a whole enrolment code: a code has 8 groups of 4 letters and digits. An"
        " older code of 4 groups no longer works: ask your coordinator for a new one."
    ),
    "enrol_untrusted": N_(
        "The server's answer does not match this code: nothing was saved on this device."
        " Someone may be intercepting the connection. Tell your coordinator, ask for a new"
        " code and connect from another network."
    ),
    # TRANSLATORS: {detail} is the server's reason, in English.
    "code_refused": N_("The code was not accepted: {detail}"),
    "qr_not_found": N_(
        "No QR code was found in that image. Choose a sharp picture that shows the whole code."
    ),
    "qr_unreadable": N_(
        "The QR code in that image could not be read. Choose a sharper, closer picture."
    ),
    "qr_not_enrolment": N_(
        "That QR code is not a fieldapp enrolment code. Ask your coordinator for one."
    ),
    "qr_read": N_(
        "Server address and code read from the QR image. Check the address, then tap Connect."
    ),
    "connected_ok": N_("Connected to your organisation."),
    "storage_full": N_(
        "This device's storage is full: the last change could not be saved. Everything saved"
        " before is safe. Free some space (delete photos, videos or apps you do not need),"
        " then try again."
    ),
    "consent_first": N_("Answer every consent question before going on."),
    "fix_errors": N_("Some answers need attention."),
    "finalised": N_("Finalised. It will be sent at the next sync."),
    "participant_added": N_(
        "Added to this event with their details: check them and mark attendance."
    ),
    "consent_withdrawn_done": N_(
        "Consent withdrawn: the personal details were erased from this device. If the record"
        " was sent, the server erases its copies at the next sync."
    ),
    "kept_mine": N_(
        "Your version will be sent at the next sync, as the newest one. The office keeps the"
        " other version too and will check them both."
    ),
    "merge_sent": N_(
        "Your merged version will be sent at the next sync, as the newest one. The office"
        " keeps the other version too and will check its personal details."
    ),
    "left_for_office": N_("Both versions are kept. A coordinator will choose at the office."),
    "merge_offline": N_(
        "Comparing needs the server, to fetch the other version: connect to the internet and"
        " try again."
    ),
    "merge_unavailable": N_(
        "The server did not give the other version of this record. Try again after the next"
        " sync, or let the office decide."
    ),
    "merge_nothing": N_(
        "The server no longer holds another version to merge with: sync to bring this record"
        " up to date."
    ),
    "not_enrolled": N_("This device is not connected to a server yet. Connect it in Settings."),
    "syncing": N_("Syncing…"),
    "sync_result": N_("Sent {sent}, rejected {rejected}, conflicts {conflict}, received {pulled}."),
    "sync_clock_skew": Plural(
        "Sent {sent}, rejected {rejected}, conflicts {conflict}, received {pulled}. This"
        " device's clock is about {minutes} minute off the server's: set its date and time.",
        "Sent {sent}, rejected {rejected}, conflicts {conflict}, received {pulled}. This"
        " device's clock is about {minutes} minutes off the server's: set its date and time.",
        "minutes",
    ),
    "sync_unreachable": N_(
        "The server cannot be reached. Your records are safe on this device and will be sent"
        " when the connection comes back."
    ),
    # TRANSLATORS: {detail} is the server's reason, in English.
    "sync_refused": N_("The server refused: {detail}"),
    # TRANSLATORS: {detail} is the first problem, in English.
    "sync_problem": N_("Some records could not be sent: {detail}"),
    # TRANSLATORS: {file} is a file name such as provinces.csv (a list of choices).
    "form_file_missing": N_(
        "This form needs the file {file}, which is not on this device yet. Sync, then start"
        " the form again."
    ),
    "bundle_written": N_(
        "Bundle saved with {records} records. They stay waiting here until the server's"
        " receipts come back (its answer bundle, or a sync)."
    ),
    "bundle_read": N_(
        "Bundle imported: {changes} updates, {forms} new forms, {sent} records confirmed sent."
    ),
    "bundle_refused": N_("This bundle cannot be used: {detail}"),
    "server_degraded": N_(
        "The server is up but cannot store records right now. Your records are safe on this"
        " device and will be sent later."
    ),
    "office_refused": N_(
        "The office is for coordinators, case managers and administrators: this device is not"
        " enrolled with one of those roles."
    ),
    # TRANSLATORS: {detail} is the server's or the connection's reason, in English.
    "office_problem": N_("The office could not be reached: {detail}"),
}
