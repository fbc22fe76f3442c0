"""Read a QR Code (ISO/IEC 18004, model 2) from an image: pure Python over Pillow's pixels.

Phones running the app have no QR library (pyzbar and zxing need C), so this reads the code
itself. The picture is reduced, made black and white (a local threshold, then a global one:
`pixels`), searched for the three finder patterns (`locate`), and its grid is sampled through
a perspective transform anchored on the finders and the bottom-right alignment pattern
(`perspective`). Format and version information are read with their BCH tolerance, the
modules unmasked and the blocks de-interleaved (`symbol`) and corrected with Reed-Solomon
(`correction`, by the pure-Python `reedsolo`), and the numeric, alphanumeric, byte and kanji
segments decoded (`segments`); `reader` tries each candidate until one reads. Dark modules on
a light background, any rotation, mild perspective, blur and JPEG.
"""

from fieldapp.errors import QRNotFound, QRUnreadable
from fieldapp.qr.reader import decode_qr

__all__ = ["QRNotFound", "QRUnreadable", "decode_qr"]
