"""Reed-Solomon correction of one block, by `reedsolo` (pure Python) over GF(256) as the
QR Code uses it: field polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D), generator 2, first
consecutive root 0."""

from __future__ import annotations

from reedsolo import ReedSolomonError, RSCodec

from fieldapp.errors import QRUnreadable

# One codec for the process, made once: making one rebuilds reedsolo's module-wide field
# tables, which a decode in another thread may be reading; a decode only points them back at
# this codec's (identical) tables. The number of EC codewords is given per block.
_CODEC = RSCodec(nsym=2, nsize=255, fcr=0, prim=0x11D, generator=2, c_exp=8)


def correct_block(block: bytearray, ec: int, budget: int) -> bytearray:
    """The block (data codewords, then `ec` error correction codewords) with at most `budget`
    wrong codewords corrected; QRUnreadable if it has more, or they cannot be located."""
    try:
        _, corrected, errata = _CODEC.decode(block, nsym=ec)
    except ReedSolomonError:
        raise QRUnreadable("too many damaged codewords to correct") from None
    if len(errata) > budget:  # within what the code corrects, but past what the standard trusts
        raise QRUnreadable("too many damaged codewords to correct")
    return bytearray(corrected)
