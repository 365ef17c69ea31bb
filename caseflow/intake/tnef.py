"""Outlook's TNEF (`winmail.dat`) unpacked with tnefparse, once its structure is proven bounded.

tnefparse trusts the counts it reads: a property count of 2**32 spins for minutes, and every
object copies the rest of the buffer. So the stream is walked first, the way tnefparse will walk
it, and refused when a count could not be backed by the bytes that follow it.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field

from tnefparse.tnef import TNEF

logger = logging.getLogger(__name__)

SIGNATURE = 0x223E9F78
_IMESSAGE = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
_MAPI_PROPS, _RECIPIENTS, _ATTACHMENT_PROPS = 0x9003, 0x9004, 0x9005
_FIXED_SIZES = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0048: 16}
_FIXED_SIZES |= dict.fromkeys((0x0005, 0x0006, 0x0007, 0x0014, 0x0040), 8)
_VARIABLE = {0x0000, 0x000D, 0x001E, 0x001F, 0x0102}
_OBJECT_TYPES = {0x000D, 0x0102}
# tnefparse copies the rest of the buffer for each object: objects x bytes is its work.
COPY_BUDGET = 1_000_000_000
MAX_DEPTH = 3


class BrokenTnef(Exception):
    """Not TNEF, or TNEF that cannot be unpacked safely: the winmail.dat is kept as it is."""


@dataclass
class TnefFile:
    name: str
    data: bytes


@dataclass
class TnefContent:
    files: list[TnefFile] = field(default_factory=list)
    body: bytes | str | None = None
    html: bytes | str | None = None


def unpack(data: bytes) -> TnefContent:
    """The files and body inside a TNEF blob; `BrokenTnef` when it is not safe or not valid."""
    try:
        stream = _checked(data, depth=0)
        tnef = TNEF(stream, do_checksum=False)
    except BrokenTnef:
        raise
    except Exception as err:  # tnefparse raises anything on hostile input
        raise BrokenTnef(f"{type(err).__name__}: {err}") from err
    files = [TnefFile(_name(a, n), bytes(a.data)) for n, a in enumerate(tnef.attachments, 1)]
    return TnefContent(
        files=[f for f in files if f.data],
        body=_text_or_none(tnef.body),
        html=_text_or_none(tnef.htmlbody),
    )


def _checked(data: bytes, depth: int) -> bytes:
    """The stream without its recipient table (unused here, and unbounded in tnefparse)."""
    if depth > MAX_DEPTH:
        raise BrokenTnef("embedded messages nested too deep")
    if len(data) < 6 or _u32(data, 0) != SIGNATURE:
        raise BrokenTnef("no TNEF signature")
    kept = [data[:6]]
    offset, objects = 6, 0
    while offset + 12 < len(data):
        objects += 1
        if objects * len(data) > COPY_BUDGET:
            raise BrokenTnef("too many objects")
        name, length = _u16(data, offset + 1), _u32(data, offset + 5)
        size = min(len(data) - offset, length + 11)
        body = data[offset + 9 : offset + size - 2]
        if name in (_MAPI_PROPS, _ATTACHMENT_PROPS):
            _check_properties(body, depth)
        if name == _RECIPIENTS and depth > 0:
            raise BrokenTnef("recipient table in an embedded message")
        if name != _RECIPIENTS:
            kept.append(data[offset : offset + size])
        offset += size
    kept.append(data[offset:])
    return b"".join(kept)


def _check_properties(block: bytes, depth: int) -> None:
    """Walk a MAPI property block as tnefparse's `decode_mapi` will; refuse unbacked counts."""
    try:
        count = _u32(block, 0)
    except struct.error:
        return
    if count > len(block) // 4 + 1:
        raise BrokenTnef("more MAPI properties than bytes")
    offset = 4
    try:
        for _ in range(count):
            if offset >= len(block):
                return
            offset = _check_property(block, offset, depth)
    except struct.error:
        return  # tnefparse stops at the same place


def _check_property(block: bytes, offset: int, depth: int) -> int:
    kind, name = _u16(block, offset), _u16(block, offset + 2)
    offset += 4
    if name >= 0x8000:  # a named property: GUID, then an id or a name
        offset += 16
        named = _u32(block, offset)
        offset += 4
        if named == 0:
            offset += 4
        else:
            offset += 4 + _padded(_u32(block, offset))
    multi: int | None = None
    if kind & 0x1000:
        kind ^= 0x1000
        multi = _u32(block, offset)
        offset += 4
    values = multi or 1
    if kind in _FIXED_SIZES:
        width = _FIXED_SIZES[kind]
        if values > (len(block) - offset) // width + 1:
            raise BrokenTnef("more MAPI values than bytes")
        offset += values * width
        return offset + (2 if values % 2 and width == 2 else 0)
    if kind not in _VARIABLE:
        raise struct.error("unknown MAPI type")  # tnefparse stops here too
    for _ in range(values):
        items = 1 if multi else _u32(block, offset)
        offset += 0 if multi else 4
        for _ in range(items):
            length = _padded(_u32(block, offset))
            value = block[offset + 4 : offset + 4 + length]
            if kind in _OBJECT_TYPES and value.startswith(_IMESSAGE):
                _checked(value[len(_IMESSAGE) :], depth + 1)
            offset += 4 + length
    return offset


def _name(attachment: object, number: int) -> str:
    """The attachment's long file name, else its short one; whatever type tnefparse gives."""
    for read in (getattr(attachment, "long_filename", None), lambda: attachment._name):  # type: ignore[attr-defined]
        try:
            value = read() if read is not None else None
        except Exception:  # tnefparse decodes names as UTF-8 whatever their code page
            continue
        text = _as_text(value)
        if text:
            return text
    return f"attachment-{number}"


def _as_text(value: object) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8").strip("\x00 ")
        except UnicodeDecodeError:
            return value.decode("cp1252", "replace").strip("\x00 ")
    return value.strip("\x00 ") if isinstance(value, str) else ""


def _text_or_none(value: object) -> bytes | str | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return value if isinstance(value, bytes | str) and value else None


def _padded(length: int) -> int:
    return length + (-length % 4)


def _u16(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<H", data, offset)[0]
    return value


def _u32(data: bytes, offset: int) -> int:
    value: int = struct.unpack_from("<I", data, offset)[0]
    return value
