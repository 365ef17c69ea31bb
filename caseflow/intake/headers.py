"""Header text as the sender wrote it: raw 8-bit bytes that no charset declares, and encoded
words in charsets Python does not know or knows as a smaller set, decoded with the bodies'
charset fallback chain. Pure functions; they never raise on hostile input.

The charset the body declares is the best hint for raw 8-bit header bytes, but not the first
test: valid UTF-8 is read as UTF-8, because UTF-8 checks itself (text in another charset is
almost never valid UTF-8), while a single-byte charset such as Latin-1 reads any bytes, so
succeeding with it proves nothing: read first, it would turn a UTF-8 Subject above a Latin-1
body into `ProblÃ¨me`. A multi-byte body charset (Shift_JIS, GB18030, Big5, EUC-KR) that reads
all the bytes does prove something, and comes next. Otherwise the valid UTF-8 sequences stay
UTF-8 and the other bytes go through the body's single-byte charset, windows-1252, Latin-1.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import functools
import itertools
import re
from dataclasses import dataclass
from email.message import Message

from caseflow.intake.content import codec_of, declared_charset, decode_text

# One RFC 2047 encoded word: charset (with an optional RFC 2231 language), B or Q, the text.
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_RAW_8BIT = re.compile("[\udc80-\udcff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Headers:
    """The headers of one message as text, with the charset its body declares as the hint
    for raw 8-bit bytes."""

    msg: Message
    hint: str | None

    @classmethod
    def of(cls, msg: Message) -> Headers:
        try:
            hint = declared_charset(msg)
        except Exception:  # hostile structure: no hint, the chain still applies
            hint = None
        return cls(msg, hint)

    def all(self, name: str) -> list[str]:
        """Every value of the header `name` (lower case), decoded, in order."""
        return [
            header_text(name, source, self.hint)
            for key, source in self.msg.raw_items()
            if key.lower() == name
        ]

    def first(self, name: str) -> str:
        values = self.all(name)
        return values[0] if values else ""


def header_text(name: str, source: object, hint: str | None = None) -> str:
    """One header's value as text, parsed as its kind of header (addresses, unstructured);
    `source` is the value as the parser kept it, raw bytes as surrogate escapes."""
    if not isinstance(source, str):
        return str(source)  # a header object set by code, already text
    text = decode_raw_bytes(source, hint)
    try:
        parsed = email.policy.default.header_fetch_parse(name, normalise_encoded_words(text, hint))
        text = str(parsed)
    except Exception:  # the email package raises many kinds on hostile input
        text = " ".join(text.split())
    # Control characters are no text (and PostgreSQL refuses NUL): an encoded word may carry any.
    return _CONTROL.sub("", text)


def decode_raw_bytes(source: str, hint: str | None) -> str:
    """The header's raw 8-bit bytes (surrogate escapes) as the characters they stand for."""
    if not _RAW_8BIT.search(source):
        return source
    return decode_undeclared(source.encode("utf-8", "surrogateescape"), hint)


def decode_undeclared(data: bytes, hint: str | None) -> str:
    """Bytes no charset declares: UTF-8 if they are valid UTF-8; else in `hint`, the body's
    charset, when it is a multi-byte one that reads them all; else piece by piece, valid UTF-8
    sequences as UTF-8 and the bytes between them with the chain of a single-byte `hint` (it,
    windows-1252, then Latin-1), so a UTF-8 name with one stray Latin-1 byte keeps its letters."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = codec_of(hint)
    kind = _kind(codec) if codec is not None else ""
    if codec is not None and kind == _MULTI_BYTE:
        try:
            return data.decode(codec)
        except (UnicodeError, LookupError):
            pass
    single = codec if kind == _SINGLE_BYTE else None
    pieces = _UTF8_RUN.split(data)  # odd pieces are runs of valid UTF-8 sequences
    return "".join(
        piece.decode("utf-8") if odd else decode_text(piece, single)
        for odd, piece in zip(itertools.cycle((False, True)), pieces, strict=False)
    )


_SINGLE_BYTE = "single-byte"
_MULTI_BYTE = "multi-byte"
# A valid UTF-8 sequence of two to four bytes (RFC 3629: no overlongs, surrogates or > U+10FFFF).
_UTF8_SEQUENCE = (
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_UTF8_RUN = re.compile(rb"((?:" + _UTF8_SEQUENCE + rb")+)")


@functools.cache
def _kind(codec: str) -> str:
    """Whether an ASCII-compatible charset reads one byte at a time or combines bytes into
    characters; empty for one that does not keep ASCII as it is (UTF-16, UTF-32)."""
    try:
        if "Subject: A-z 0-9".encode("ascii").decode(codec) != "Subject: A-z 0-9":
            return ""
        high = bytes(range(0x80, 0x100))
        alone = "".join(bytes([byte]).decode(codec, "replace") for byte in high)
        return _SINGLE_BYTE if high.decode(codec, "replace") == alone else _MULTI_BYTE
    except (UnicodeError, LookupError):
        return ""


def normalise_encoded_words(text: str, hint: str | None) -> str:
    """Every run of adjacent encoded words in one charset becomes one UTF-8 encoded word, so
    the email package, which then parses the header's structure, reads them right: the run's
    bytes are decoded together (a character may be split between two words) with the
    declared charset's alias, and as undeclared bytes when it names no usable charset."""
    if "=?" not in text:
        return text
    out: list[str] = []
    end = 0
    for run in _runs(text):
        start, stop = run[0].start(), run[-1].end()
        out.append(text[end:start])
        carried = [_word_bytes(word) for word in run]
        if any(data is None for data in carried):
            out.append(text[start:stop])  # broken: left to the email package as it is
        else:
            data = b"".join(d for d in carried if d is not None)
            out.append(_utf8_word(decode_declared(data, run[0].group(1), hint)))
        end = stop
    out.append(text[end:])
    return "".join(out)


def decode_declared(data: bytes, charset: str, hint: str | None) -> str:
    """Bytes in a declared charset; undeclared bytes if it is unknown or does not read them."""
    codec = codec_of(charset)
    if codec is not None:
        try:
            return data.decode(codec)
        except (UnicodeError, LookupError):
            pass
    return decode_undeclared(data, hint)


def _runs(text: str) -> list[list[re.Match[str]]]:
    """Encoded words grouped into runs: one charset, only white space between them."""
    runs: list[list[re.Match[str]]] = []
    for word in _ENCODED_WORD.finditer(text):
        if runs:
            previous = runs[-1][-1]
            between = text[previous.end() : word.start()]
            same = previous.group(1).lower() == word.group(1).lower()
            if same and not between.strip(" \t\r\n"):
                runs[-1].append(word)
                continue
        runs.append([word])
    return runs


def _word_bytes(word: re.Match[str]) -> bytes | None:
    """The bytes an encoded word carries; None when they cannot be read."""
    encoding, payload = word.group(2).lower(), word.group(3)
    try:
        raw = payload.encode("ascii")
        if encoding == "q":
            return binascii.a2b_qp(raw, header=True)
        return base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except (UnicodeError, binascii.Error, ValueError):
        return None


def _utf8_word(text: str) -> str:
    if not text:
        return ""
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8", "replace")).decode() + "?="
