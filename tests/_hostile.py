"""Hostile spreadsheets, built on the spot (tests/test_hostile_files.py, bench/hostile_files.py).

`write_zip_bomb` writes a real zip bomb: a valid .xlsx (made by openpyxl) whose survey sheet
inflates to 2 GiB of rows, with an honest zip directory and CRC, in a 2 MB file. Deflating
2 GiB takes zlib 9 s, so the sheet's deflate stream is one compressed megabyte of rows (ended by
a full flush, so it stands alone) written 2,048 times between its head and its tail: the same
kind of stream zlib would make, streamed to the file, never held in memory.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from functools import cache
from pathlib import Path

from openpyxl import Workbook

GIB = 2**30
_MIB = 2**20
_SHEET = "xl/worksheets/sheet1.xml"
_ROW = b'<row><c t="inlineStr"><is><t>abcdefghijklmnop</t></is></c></row>'  # 64 bytes
_BLOCK = _ROW * (_MIB // len(_ROW))
_VERSION = 20  # zip 2.0: deflate
_DEFLATE = 8


@cache
def _blocks_crc(head: bytes, blocks: int, tail: bytes) -> int:
    """CRC-32 of head + `blocks` times _BLOCK + tail (2 GiB take zlib about 2 s)."""
    crc = zlib.crc32(head)
    for _ in range(blocks):
        crc = zlib.crc32(_BLOCK, crc)
    return zlib.crc32(tail, crc)


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def write_zip_bomb(path: Path, inflated: int = 2 * GIB) -> Path:
    """A valid one-sheet .xlsx whose survey sheet inflates to `inflated` bytes (a multiple of
    1 MiB, under 4 GiB) more than its header row: the same row, over and over."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    sheet.append(["type", "name", "label"])
    book.save(path)
    with zipfile.ZipFile(path) as made:
        parts = {info.filename: made.read(info) for info in made.infolist()}
    head, _, rest = parts.pop(_SHEET).partition(b"</sheetData>")
    tail = b"</sheetData>" + rest
    blocks = inflated // _MIB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    opening = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(_BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)
    closing = _raw_deflate(tail)  # a fresh stream: it ends with the last block
    directory = b""
    with path.open("wb") as out:
        for name, data in [*parts.items(), (_SHEET, None)]:
            offset = out.tell()
            if data is None:  # the bomb: streamed
                size = len(head) + blocks * _MIB + len(tail)
                crc = _blocks_crc(head, blocks, tail)
                compressed = len(opening) + blocks * len(block) + len(closing)
            else:
                size, crc, packed = len(data), zlib.crc32(data), _raw_deflate(data)
                compressed = len(packed)
            fields = (_VERSION, 0, _DEFLATE, 0, 0, crc, compressed, size, len(name))
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, 0) + name.encode())
            if data is None:
                out.write(opening)
                for _ in range(blocks):
                    out.write(block)
                out.write(closing)
            else:
                out.write(packed)
            entry = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, _VERSION, *fields, 0, 0, 0, 0,
                                0, offset)  # fmt: skip
            directory += entry + name.encode()
        start = out.tell()
        out.write(directory)
        count = len(parts) + 1
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory),
                              start, 0))  # fmt: skip
    return path


def replace_text(path: Path, placeholder: str, text: str) -> Path:
    """Rewrite the workbook with `placeholder` replaced by `text` in its parts: how a cell
    longer than openpyxl writes (it cuts cells at Excel's 32,767 characters) gets into one,
    as other tools may put it there."""
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in parts:
            target.writestr(info, data.replace(placeholder.encode(), text.encode()))
    return path


def write_form(path: Path, questions: int, *, label: str = "Question") -> Path:
    """An XLSForm of `questions` text questions (openpyxl's streaming writer)."""
    book = Workbook(write_only=True)
    survey = book.create_sheet("survey")
    survey.append(["type", "name", "label"])
    for number in range(questions):
        survey.append(["text", f"q{number}", f"{label} {number}"])
    book.save(path)
    return path
