"""Reading an enrolment QR code from a picture, as the app does when "Scan a QR image" is tapped.

    .venv/bin/python bench/qr.py [--runs 7]

Prints the median and worst wall time of `fieldapp.qr.decode_qr` (the picture's bytes to the
text, decoding the file included) for: a 640x480 PNG screenshot with the code at 4 px a
module; a 12-megapixel JPEG phone photo of the code on a turned, tilted screen (uneven light,
noise, blur; tests/_qr_images.photo); and the same photo size with no code at all, the slowest
case (every pass runs before the reader gives up).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, before bench/

from PIL import Image

from fieldapp.errors import QRNotFound
from fieldapp.qr import decode_qr
from sync.protocol import EnrolmentLink
from tests._qr_images import encoded, photo, render, symbol

LINK = EnrolmentLink(
    "https://field.example.org/sync", "7KQ2-M9XD-4RTA-0PZH-Q3WB-8NCE-KV5T-1JGY", "3f" * 32
).uri()


def timed(data: bytes, runs: int, expect_code: bool) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        try:
            text = decode_qr(data)
        except QRNotFound:
            assert not expect_code, "the code was not found"
        else:
            assert expect_code and text == LINK, "the wrong text was read"
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="decodes per picture (default 7)")
    runs = parser.parse_args().runs
    code = symbol(LINK)
    screenshot = Image.new("L", (640, 480), 235)
    screenshot.paste(render(code, scale=4, border=2), (380, 150))
    desk = photo(code, (4000, 3000))
    empty = Image.effect_noise((4000, 3000), 20)
    pictures = [
        ("640x480 PNG screenshot", encoded(screenshot.convert("RGB")), True),
        ("4000x3000 JPEG photo", encoded(desk, "JPEG", 90), True),
        ("4000x3000 JPEG, no code", encoded(empty, "JPEG", 90), False),
    ]
    print(f"QR code v{code.version}-{code.error}, {len(LINK)} characters; {runs} runs each")
    for name, data, expect_code in pictures:
        times = timed(data, runs, expect_code)
        print(
            f"{name:<26} {len(data) / 1024:8.0f} KiB   median {statistics.median(times):.3f} s"
            f"   worst {max(times):.3f} s"
        )


if __name__ == "__main__":
    main()
