"""The reader: each working size and black-and-white version of the picture, each likely
symbol in it, each size and transform worth trying, until one grid decodes."""

from __future__ import annotations

from fieldapp.errors import QRNotFound, QRUnreadable
from fieldapp.qr.locate import Corners, find_finders, triples
from fieldapp.qr.perspective import sample, transforms
from fieldapp.qr.pixels import WORKING_SIDES, Bitmap, binarisations, grayscale, open_image
from fieldapp.qr.segments import decode_segments
from fieldapp.qr.symbol import (
    MASKS,
    check_timing,
    codewords,
    correct_blocks,
    read_format,
    read_version,
)


def decode_qr(image_bytes: bytes) -> str:
    """The text of the QR code in an image (PNG, JPEG, WebP, ... anything Pillow reads).

    Raises QRNotFound when the picture is not an image or no code can be located in it, and
    QRUnreadable when a code is there but too damaged to recover (never a wrong text).
    """
    with open_image(image_bytes) as image:
        longest = max(image.size)
    first, finer = WORKING_SIDES
    problem: str | None = None
    for side in [first] if longest <= first else [first, min(finer, longest)]:
        with open_image(image_bytes) as image:
            gray = grayscale(image, side)
        for bitmap in binarisations(gray):
            try:
                return _read_bitmap(bitmap)
            except QRUnreadable as unreadable:
                problem = str(unreadable)
            except QRNotFound:
                continue
    if problem is not None:
        raise QRUnreadable(
            f"a QR code was found but could not be read ({problem}): "
            "take a sharper, closer picture of the whole code"
        )
    raise QRNotFound(
        "no QR code was found in the image: take the picture closer, with the whole code "
        "in view and nothing covering it"
    )


def _read_bitmap(bitmap: Bitmap) -> str:
    """The text of the first symbol that reads; QRNotFound if no symbol shows at all."""
    problem: QRUnreadable | None = None
    for tl, tr, bl in triples(find_finders(bitmap)):
        corners = Corners.measure(bitmap, tl, tr, bl)
        for dimension in corners.dimensions():
            for transform in transforms(bitmap, corners, dimension):
                grid = sample(bitmap, transform, dimension)
                if grid is None:
                    continue
                try:
                    return _decode_grid(grid, dimension)
                except QRUnreadable as unreadable:
                    problem = unreadable
                except QRNotFound:
                    continue
    if problem is not None:
        raise problem
    raise QRNotFound("no finder patterns")


def _decode_grid(grid: bytearray, dimension: int) -> str:
    """The text of a sampled grid; QRNotFound when it is no QR code grid of this size."""
    check_timing(grid, dimension)
    level, mask = read_format(grid, dimension)
    version = (dimension - 17) // 4
    if version >= 7 and read_version(grid, dimension) not in (version, None):
        raise QRNotFound("the version information does not match the symbol's size")
    data = correct_blocks(codewords(grid, dimension, version, MASKS[mask]), version, level)
    return decode_segments(data, version)
