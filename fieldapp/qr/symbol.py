"""The symbol's structure (ISO/IEC 18004): block tables, masks, format and version
information read with their BCH tolerance, the timing check, where the data bits lie, and
the codewords de-interleaved into blocks and corrected."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

from fieldapp.errors import QRNotFound
from fieldapp.qr.correction import correct_block

# Per version 1-40, for error correction levels L, M, Q, H (ISO/IEC 18004 table 9):
# error correction codewords per block, and number of blocks.
EC_PER_BLOCK = (
    (7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
     28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    (10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
     26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28),
    (13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
     28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
    (17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
     30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30),
)  # fmt: skip
BLOCKS = (
    (1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
     8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25),
    (1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
     17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49),
    (1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20,
     23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68),
    (1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
     25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81),
)  # fmt: skip
# Codewords the smallest symbols keep for detecting a wrong correction, not for correcting:
# (version, level index) -> count (ISO/IEC 18004 table 9, "p").
_MISDECODE_PROTECTION = {(1, 0): 3, (1, 1): 2, (1, 2): 1, (1, 3): 1, (2, 0): 2, (3, 0): 1}
_LEVEL_OF_FORMAT_BITS = {1: 0, 0: 1, 3: 2, 2: 3}  # format info's 2 bits -> L, M, Q, H index
_FORMAT_MASK = 0x5412

MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)


def _bch(value: int, generator: int, width: int) -> int:
    """`value` followed by its BCH check bits (the remainder modulo `generator`)."""
    remainder = value << width
    top = generator.bit_length()
    while remainder.bit_length() >= top:
        remainder ^= generator << (remainder.bit_length() - top)
    return (value << width) | remainder


_FORMAT_CODES = {_bch(data, 0x537, 10) ^ _FORMAT_MASK: data for data in range(32)}
_VERSION_CODES = {_bch(version, 0x1F25, 12): version for version in range(7, 41)}


def _nearest(readings: Sequence[int], codes: dict[int, int]) -> int | None:
    """The value of the code word nearest any reading, if within 3 bits (BCH corrects 3)."""
    distance, value = min(
        ((reading ^ code).bit_count(), value)
        for reading in readings
        for code, value in codes.items()
    )
    return value if distance <= 3 else None


def alignment_positions(version: int) -> list[int]:
    if version == 1:
        return []
    count = version // 7 + 2
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    last = 4 * version + 10
    return [6, *reversed([last - i * step for i in range(count - 1)])]


@cache
def _function_modules(version: int) -> bytes:
    """1 for each module of the grid that carries no data (patterns, format, version)."""
    dimension = 4 * version + 17
    taken = bytearray(dimension * dimension)

    def fill(left: int, top: int, width: int, height: int) -> None:
        for row in range(top, top + height):
            taken[row * dimension + left : row * dimension + left + width] = b"\x01" * width

    fill(0, 0, 9, 9)
    fill(dimension - 8, 0, 8, 9)
    fill(0, dimension - 8, 9, 8)
    positions = alignment_positions(version)
    first, last = (positions[0], positions[-1]) if positions else (0, 0)
    finders = {(first, first), (first, last), (last, first)}  # their place is taken
    for row in positions:
        for col in positions:
            if (row, col) not in finders:
                fill(col - 2, row - 2, 5, 5)
    fill(6, 9, 1, dimension - 17)
    fill(9, 6, dimension - 17, 1)
    if version >= 7:
        fill(dimension - 11, 0, 3, 6)
        fill(0, dimension - 11, 6, 3)
    return bytes(taken)


def check_timing(grid: bytearray, dimension: int) -> None:
    """The timing patterns (row and column 6, alternating dark and light between the finders)
    are mostly there: what tells a symbol of this size from a grid laid over anything else."""
    between = range(8, dimension - 8)
    wrong = sum(grid[6 * dimension + i] != (i % 2 == 0) for i in between)
    wrong += sum(grid[i * dimension + 6] != (i % 2 == 0) for i in between)
    if wrong > len(between) // 2:  # a quarter of the modules
        raise QRNotFound("no timing pattern where the symbol should have one")


def read_format(grid: bytearray, dimension: int) -> tuple[int, int]:
    """(level index, mask) from the two copies of the format information."""

    def at(row: int, col: int) -> int:
        return grid[row * dimension + col]

    first = [at(8, c) for c in range(6)] + [at(8, 7), at(8, 8), at(7, 8)]
    first += [at(r, 8) for r in range(5, -1, -1)]
    second = [at(r, 8) for r in range(dimension - 1, dimension - 8, -1)]
    second += [at(8, c) for c in range(dimension - 8, dimension)]
    data = _nearest([to_int(first), to_int(second)], _FORMAT_CODES)
    if data is None:
        raise QRNotFound("the format information is unreadable")
    return _LEVEL_OF_FORMAT_BITS[data >> 3], data & 7


def read_version(grid: bytearray, dimension: int) -> int | None:
    """The version from the two copies of the version information (versions 7 and up)."""
    top_right = [
        grid[row * dimension + col]
        for row in range(5, -1, -1)
        for col in range(dimension - 9, dimension - 12, -1)
    ]
    bottom_left = [
        grid[row * dimension + col]
        for col in range(5, -1, -1)
        for row in range(dimension - 9, dimension - 12, -1)
    ]
    return _nearest([to_int(top_right), to_int(bottom_left)], _VERSION_CODES)


def to_int(bits: Sequence[int]) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | bit
    return value


@cache
def placement(version: int) -> tuple[tuple[int, int], ...]:
    """(row, column) of each data bit in reading order: two-module columns zigzagging up and
    down from the bottom right, right module first, skipping the vertical timing pattern."""
    dimension = 4 * version + 17
    taken = _function_modules(version)
    order = []
    upward = True
    col = dimension - 1
    while col > 0:
        if col == 6:
            col -= 1
        for row in range(dimension - 1, -1, -1) if upward else range(dimension):
            order += [(row, c) for c in (col, col - 1) if not taken[row * dimension + c]]
        upward = not upward
        col -= 2
    return tuple(order)


def codewords(
    grid: bytearray, dimension: int, version: int, mask: Callable[[int, int], bool]
) -> bytes:
    """The codewords, unmasked, in placement order (any remainder bits dropped)."""
    bits = [grid[row * dimension + col] ^ mask(row, col) for row, col in placement(version)]
    return bytes(to_int(bits[i : i + 8]) for i in range(0, len(bits) - 7, 8))


def correct_blocks(codewords: bytes, version: int, level: int) -> bytes:
    """De-interleave the blocks, correct each, and join their data codewords."""
    ec = EC_PER_BLOCK[level][version - 1]
    count = BLOCKS[level][version - 1]
    short, long_blocks = divmod(len(codewords), count)
    lengths = [short] * (count - long_blocks) + [short + 1] * long_blocks
    blocks = [bytearray(length) for length in lengths]
    data_lengths = [length - ec for length in lengths]
    position = 0
    for i in range(max(data_lengths)):
        for block, data_length in zip(blocks, data_lengths, strict=True):
            if i < data_length:
                block[i] = codewords[position]
                position += 1
    for i in range(ec):
        for block, data_length in zip(blocks, data_lengths, strict=True):
            block[data_length + i] = codewords[position]
            position += 1
    budget = (ec - _MISDECODE_PROTECTION.get((version, level), 0)) // 2
    data = bytearray()
    for block, data_length in zip(blocks, data_lengths, strict=True):
        data += correct_block(block, ec, budget)[:data_length]
    return bytes(data)
