"""The records list says how far a sent record's photos got: the app over a real store and a
real server (uvicorn on loopback) that takes only some of the chunks at first, as a link that
drops mid-upload leaves it. The record is sent (its photos never hold it back); its line says
"Attachments: N of M parts sent" in the person's language until the server holds them all."""

from __future__ import annotations

import random
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from fastapi import Request, Response

from fieldapp.forms.spec import FieldSpec
from fieldapp.ui.formats import format_number
from fieldapp.ui.services import Services
from fieldapp.ui.state import AppState
from fieldapp.ui.state.media import upload_line
from sync.server.app import create_app
from sync.server.serve import running_in_thread
from tests.conftest import PASSPHRASE, screening_values
from tests.sync._harness import Deployment
from tests.sync.test_attachments_e2e import SCREENING, camera_photo, drawn_signature

CHUNKS_AT_FIRST = 2


class ChunkGate:
    """Lets `open_for` chunk uploads through, then answers 503 to the rest (the server is
    reachable, its records answered: only the photos wait)."""

    def __init__(self, open_for: int) -> None:
        self.open_for = open_for
        self._lock = threading.Lock()

    async def __call__(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.method == "PUT" and request.url.path.startswith("/v1/attachments/chunks/"):
            with self._lock:
                passes = self.open_for > 0
                self.open_for -= passes
            if not passes:
                return Response(status_code=503)
        return await call_next(request)


@pytest.fixture
def gate() -> ChunkGate:
    return ChunkGate(CHUNKS_AT_FIRST)


@pytest.fixture
def app(tmp_path: Path, deployment: Deployment, gate: ChunkGate) -> Iterator[AppState]:
    server = create_app(deployment.settings)
    server.middleware("http")(gate)
    with running_in_thread(server) as url:
        services = Services(tmp_path / "device", background_sync=False)
        services.device.create(PASSPHRASE, PASSPHRASE)
        services.enrolment.enrol(url, deployment.code())
        state = AppState(services=services)
        state.go("home")
        try:
            yield state
        finally:
            services.close()


def screening_with_photos(state: AppState) -> str:
    """A finalised victim screening whose two photos and signature were taken as the app
    takes them (services.attachments: re-encoded, encrypted in chunks)."""
    store, attachments = state.services.device.store, state.services.attachments
    rng = random.Random(16)
    draft = store.records.new_draft(SCREENING.id)
    taken = {
        "consent_form_photo": (camera_photo(rng), "consent.jpg", "image/jpeg"),
        "document_photo": (camera_photo(rng), "passport.jpg", "image/jpeg"),
        "consent_signature": (drawn_signature(), None, "image/png"),
    }
    answers = {}
    for name, (data, filename, media_type) in taken.items():
        node = SCREENING.node(name)
        assert isinstance(node, FieldSpec)
        answers[name] = attachments.attach(draft.id, node, data, filename, media_type).id
    store.records.finalise(draft.id, screening_values(**answers))
    return draft.id


def test_a_sent_records_line_says_how_many_parts_of_its_photos_the_server_holds(
    app: AppState, gate: ChunkGate
) -> None:
    record_id = screening_with_photos(app)
    assert app.services.attachments.uploads() == {}  # not sent yet: nothing going up
    app.go("records")
    app.sync_now()  # the record goes; two chunks do, the rest are refused for now
    app.records.load("sent")

    assert [item.id for item in app.records.items] == [record_id]
    progress = app.records.uploads[record_id]
    assert progress.stored == CHUNKS_AT_FIRST < progress.needed
    total = progress.needed
    assert upload_line(app.words, progress) == f"Attachments: 2 of {total} parts sent"
    app.set_language("fr")
    assert upload_line(app.words, progress) == f"Pièces jointes : 2 parties envoyées sur {total}"
    app.set_language("ar")
    two, all_parts = format_number(2, "ar"), format_number(total, "ar")  # Arabic-Indic digits
    assert upload_line(app.words, progress) == f"المرفقات: أُرسل {two} من {all_parts} جزءًا"
    app.set_language("en")

    gate.open_for = total  # the link is back
    app.sync_now()  # reloads the list shown
    assert app.records.uploads == {}
    assert upload_line(app.words, app.records.uploads.get(record_id)) == ""
