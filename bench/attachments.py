"""Capturing a photo on the device, as the app does when a picture is attached: the camera's
JPEG re-encoded without metadata and scaled to 1,600 px (fieldapp.media.images), then
encrypted in 256 KiB chunks and stored (store.attachments.add), and read back.

    .venv/bin/python bench/attachments.py [--runs 5]

Prints the median wall time of each step for a 12-megapixel phone photo (4000×3000, with
EXIF and GPS), the sizes before and after, and the throughput of chunk encryption and
decryption alone on 10 MiB (the per-attachment limit), side by side with a plain sha256 of
the same bytes (the floor any content addressing pays).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from PIL import Image, ImageFilter

from bench._common import PASSPHRASE, machine, print_table
from fieldapp import crypto
from fieldapp.media.images import reencode_image
from fieldapp.store import Store
from sync.protocol import MAX_ATTACHMENT_BYTES
from tests.media._images import exif_with


def phone_photo() -> bytes:
    """A 4000×3000 JPEG with detail (noise, blurred a little) and EXIF with GPS."""
    noise = Image.effect_noise((4000, 3000), 60)
    picture = Image.merge("RGB", [noise, noise.transpose(Image.Transpose.FLIP_TOP_BOTTOM), noise])
    picture = picture.filter(ImageFilter.GaussianBlur(1))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=92, exif=exif_with("bench"))
    return out.getvalue()


def median_seconds(step: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(machine())
    photo = phone_photo()
    clean = reencode_image(photo, field="photo")
    with tempfile.TemporaryDirectory() as folder:
        store = Store.create(Path(folder) / "device.db", PASSPHRASE)
        ref = store.attachments.add("bench", "photo", clean.data, clean.media_type)
        timings = {
            "re-encode 12 MP photo": lambda: reencode_image(photo, field="photo"),
            "store.attachments.add": lambda: store.attachments.add(
                "bench", "photo", clean.data, clean.media_type
            ),
            "store.attachments.read": lambda: store.attachments.read(ref.id),
        }
        rows = [
            [name, f"{median_seconds(step, runs) * 1000:.1f} ms"] for name, step in timings.items()
        ]
        store.close()
    print_table(
        f"A phone photo: {len(photo) / 1e6:.2f} MB 4000×3000 in,"
        f" {len(clean.data) / 1e3:.0f} KB {clean.width}×{clean.height} stored",
        ["step", "median"],
        rows,
    )
    data = os.urandom(MAX_ATTACHMENT_BYTES)
    sealed = crypto.encrypt_attachment(data)
    mib = MAX_ATTACHMENT_BYTES / 2**20

    def opened() -> bytes:
        return crypto.decrypt_attachment(
            sealed.content_key, sealed.id, sealed.chunks, size=sealed.size, digests=sealed.digests
        )

    speeds = {
        "sha256 alone": median_seconds(lambda: hashlib.sha256(data).digest(), runs),
        "encrypt + digests": median_seconds(lambda: crypto.encrypt_attachment(data).digests, runs),
        "check digests + decrypt": median_seconds(opened, runs),
    }
    print_table(
        f"Chunk crypto on {mib:.0f} MiB ({len(sealed.chunks)} chunks of 256 KiB)",
        ["step", "MiB/s", "× sha256 time"],
        [
            [name, f"{mib / seconds:.0f}", f"{seconds / speeds['sha256 alone']:.2f}"]
            for name, seconds in speeds.items()
        ],
    )


if __name__ == "__main__":
    main()
