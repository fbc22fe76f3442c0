"""For the media tests: a photo as a camera leaves it, its EXIF holding a canary."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image

__all__ = ["CANARY", "exif_photo"]

CANARY = "CANARY-EXIF-7f3a9c"


def exif_photo(path: Path, seed: int, size: tuple[int, int] = (2400, 1800)) -> Path:
    """A JPEG of noise (no long runs of one byte, so a slice of it is found only where it
    was copied) whose EXIF holds the canary as its description, a camera and a GPS position."""
    exif = Image.Exif()
    exif[0x010E] = CANARY  # ImageDescription
    exif[0x010F] = "CanaryCam"  # Make
    exif[0x8825] = {1: "N", 2: (11.0, 33.0, 7.0), 3: "E", 4: (104.0, 55.0, 2.0)}  # GPS
    small = (size[0] // 10, size[1] // 10)
    noise = Image.frombytes("RGB", small, random.Random(seed).randbytes(small[0] * small[1] * 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    noise.resize(size, Image.Resampling.BICUBIC).save(path, format="JPEG", exif=exif.tobytes())
    assert CANARY.encode() in path.read_bytes()
    return path
