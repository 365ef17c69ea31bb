"""What a message says and carries: its text, the reply without quoted history, HTML safe to show,
and its files (TNEF unpacked). Pure functions, bounded in time and memory on hostile input."""

from __future__ import annotations

import codecs
import contextlib
import email.policy
import html as htmllib
import mimetypes
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.utils import collapse_rfc2231_value

import nh3
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig
from mailparser_reply.parser import EmailMessage as ReplyMessage

from caseflow.intake import tnef

MAX_TEXT = 100_000
MAX_HTML = 2_000_000  # characters of HTML converted or sanitised; the rest is cut
MAX_FILENAME_BYTES = 255
MAX_TAGS = 40_000
MAX_NESTING = 400  # nh3's time grows with the square of the nesting depth

# -- charsets --------------------------------------------------------------------------------------

# Labels mail clients write that Python does not know, or knows as a smaller set (WHATWG
# Encoding Standard: a page labelled ISO-8859-1 is decoded as windows-1252). None: no real charset.
CHARSET_ALIASES: dict[str, str | None] = {
    "x-unknown": None,
    "unknown": None,
    "unknown-8bit": None,
    "x-user-defined": None,
    "default": None,
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "big5": "big5hkscs",
    "iso-8859-8-i": "iso-8859-8",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "iso-8859-11": "cp874",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
    "utf8": "utf-8",
    "x-utf-8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
}
# Python codecs that are not charsets of mail text (or that smuggle markup past filters).
_NOT_CHARSETS = {
    "utf-7",
    "idna",
    "punycode",
    "undefined",
    "unicode-escape",
    "raw-unicode-escape",
    "mbcs",
    "oem",
}
FALLBACKS = ("utf-8", "cp1252")


def charset_chain(declared: str | None) -> list[str]:
    """Codecs to try in order: the declared charset (or its alias), UTF-8, windows-1252."""
    name = codec_of(declared)
    chain = [name] if name else []
    return chain + [f for f in FALLBACKS if f not in chain]


def codec_of(declared: str | None) -> str | None:
    """The Python codec that reads text in this charset (its alias first); None when it names
    no charset of text Python knows."""
    label = (declared or "").strip().strip("\"'").lower()[:64]
    name = CHARSET_ALIASES.get(label, label) if label else None
    return name if name and _is_text_codec(name) else None


def _is_text_codec(name: str) -> bool:
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return False
    return info._is_text_encoding and info.name not in _NOT_CHARSETS


def decode_text(payload: bytes, declared: str | None) -> str:
    """Bytes to text, never failing: the chain of `charset_chain`, then Latin-1 (total)."""
    for name in charset_chain(declared):
        try:
            return payload.decode(name)
        except (UnicodeError, LookupError):  # `undefined` and friends raise a bare UnicodeError
            continue
    return payload.decode("latin-1")


def declared_charset(msg: Message) -> str | None:
    """The charset the message's text declares (its body part's, else the first text part's
    that names a usable one): what an undeclared 8-bit header most likely shares."""
    plain, html = _body_parts(msg)
    for part in (plain, html, *_text_leaves(msg)):
        if part is None:
            continue
        try:
            name = codec_of(part.get_content_charset())
        except Exception:  # a charset parameter that is not even a string
            continue
        if name is not None and codecs.lookup(name).name != "ascii":
            return name
    return None


def _text_leaves(msg: Message) -> Iterator[Message]:
    return (p for p in leaves(msg, Limits()) if p.get_content_maintype() == "text")


def decode_part(part: Message) -> str:
    """A text part's content with the charset fallback chain."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # the email package raises many kinds on hostile input
        payload = None
    if not isinstance(payload, bytes):
        return str(part.get_payload()) if not part.is_multipart() else ""
    try:
        declared = part.get_content_charset()
    except Exception:  # a charset parameter that is not even a string
        declared = None
    return decode_text(payload, declared)


# -- HTML ------------------------------------------------------------------------------------------

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
_SELF_LINK = re.compile(r"\[([^\]\n]{1,2000})\]\((?:mailto:)?\1\)")
_TAG = re.compile(r"<[^>]*>")
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_OPEN_OR_CLOSE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]{0,30})[^>]*?(/?)>")
# Elements that are empty or that HTML parsers close implicitly: they add no nesting.
_FLAT = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "o:p",
}  # fmt: skip


def html_to_text(html: str) -> str:
    """Readable text with inscriptis: layout kept, hidden text dropped, links as `[text](url)`.
    Beyond `MAX_TAGS` tags (inscriptis takes about 25 µs a tag) only the words are kept."""
    html = _XML_DECLARATION.sub("", html[:MAX_HTML])
    if not html.strip():
        return ""
    if html.count("<") > MAX_TAGS:
        return tidy(_words_of(html))
    try:
        text = get_text(html, ParserConfig(css=CSS_PROFILES["strict"], display_links=True))
    except Exception:  # lxml refuses some documents outright; keep their words
        text = _words_of(html)
    return tidy(_SELF_LINK.sub(r"\1", text))


def _words_of(html: str) -> str:
    without_code = _SCRIPT_OR_STYLE.sub(" ", html)
    return htmllib.unescape(_TAG.sub(" ", without_code))


def tidy(text: str) -> str:
    """Line ends normalised, trailing spaces and runs of blank lines removed."""
    lines = (line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_SAFE_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div", "dl",
    "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol", "p",
    "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_SAFE_ATTRIBUTES = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "abbr": {"title"},
}
_IMAGE_ATTRIBUTES = {"src", "alt", "width", "height"}


def sanitize_html(html: str, *, remote_images: bool = False) -> str:
    """HTML safe to show an agent: basic formatting and links (`rel=noopener`, new tab); no
    scripts, styles, forms, frames, event handlers or `javascript:`; images only on request.
    Empty for HTML nested deeper than `MAX_NESTING` (the text still shows the words)."""
    if not html.strip() or nesting_depth(html[:MAX_HTML]) > MAX_NESTING:
        return ""
    tags = _SAFE_TAGS | ({"img"} if remote_images else set())
    attributes = _SAFE_ATTRIBUTES | ({"img": _IMAGE_ATTRIBUTES} if remote_images else {})
    cleaned = nh3.clean(
        html[:MAX_HTML],
        tags=tags,
        clean_content_tags={"script", "style", "title", "textarea", "select"},
        attributes=attributes,
        link_rel="noopener noreferrer nofollow",
        url_schemes={"http", "https", "mailto"},
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
    return cleaned.strip()


def nesting_depth(html: str) -> int:
    """How deep elements nest, counting open and close tags (a cheap upper bound)."""
    depth = deepest = 0
    for closing, name, self_closing in _OPEN_OR_CLOSE.findall(html):
        if self_closing or name.lower() in _FLAT:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        deepest = max(deepest, depth)
    return deepest


# -- quoted history and signatures -----------------------------------------------------------------

REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl"]
# Attribution lines mail-parser-reply misses (Spanish and Dutch Gmail, wrapped over two lines).
_ATTRIBUTION = re.compile(
    r"^[ \t>]*(?:On|Am|Le|El|Il|Op)\s[^\n]{0,300}(?:\n[^\n]{0,300})?\s"
    r"(?:wrote|schrieb|a\s+écrit|escribió|ha\s+scritto|schreef)\b[^\n]{0,200}:[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
_FORWARD = re.compile(
    r"^[ \t>]*(?:-{2,}\s*(?:Forwarded message|Original message follows|Weitergeleitete Nachricht|"
    r"Message transféré|Mensaje reenviado|Messaggio inoltrato|Doorgestuurd bericht)|"
    r"Begin forwarded message:|Anfang der weitergeleiteten Nachricht:)",
    re.MULTILINE | re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """The new part of a reply: quoted history (Gmail "On … wrote:", Outlook "From: … Sent:",
    `>` lines) and the signature removed. A forward keeps what it forwards; when stripping would
    leave nothing, the whole text is the answer."""
    full = tidy(text[:MAX_TEXT])
    if not full:
        return ""
    try:
        reply = ReplyMessage(text=full, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True)
        first = reply.read().replies[0]
        stripped = full if first.headers else str(first.body)
    except Exception:  # a third-party parser on hostile text: keep the whole text
        return full
    stripped = _cut_at_attribution(stripped)
    stripped = tidy(_drop_trailing_quote(stripped))
    if not stripped:
        return full
    forward = _FORWARD.search(full)
    if forward is not None and forward.start() <= _common_prefix(full, stripped):
        return full
    if stripped == _normalised(full):
        return full  # nothing was cut: keep the original indentation
    return stripped


def _cut_at_attribution(text: str) -> str:
    found = _ATTRIBUTION.search(text)
    return text[: found.start()] if found is not None and found.start() > 0 else text


def _drop_trailing_quote(text: str) -> str:
    """`>` lines at the end go (interleaved answers, with text after the quotes, stay whole)."""
    lines = text.split("\n")
    while lines and (lines[-1].lstrip().startswith(">") or not lines[-1].strip()):
        lines.pop()
    return "\n".join(lines)


def _normalised(text: str) -> str:
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def _common_prefix(full: str, stripped: str) -> int:
    """Roughly where the stripped text stopped within the full text."""
    return len(stripped) + (len(full) - len(_normalised(full)))


# -- the body and the files of a message -----------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """How much of a message is kept: per file, per message, and how much structure is read."""

    max_attachment_size: int = 10 * 1024 * 1024
    max_total_size: int = 25 * 1024 * 1024
    max_attachments: int = 100
    max_parts: int = 1000
    max_depth: int = 50


@dataclass
class Attachment:
    """A file of a message; `data` is None when a size limit kept it out (its size is still
    known)."""

    filename: str
    content_type: str
    size: int
    data: bytes | None
    note: str = ""


@dataclass
class Content:
    text: str = ""  # the full text, quoted history included
    reply: str = ""  # the text for the timeline: quoted history and signature stripped
    html: str = ""  # sanitised HTML for display, when the message had HTML
    attachments: list[Attachment] = field(default_factory=list)
    omitted: int = 0  # files beyond `max_attachments`, not listed (the raw message has them)


def read_content(msg: Message, limits: Limits | None = None) -> Content:
    """Text, reply, display HTML and files of a parsed message."""
    limits = limits or Limits()
    plain, html = _body_parts(msg)
    body = plain or html or _first_text_part(msg, limits)
    html_source = decode_part(html) if html is not None else ""
    text = _text_of(body, html_source if body is html else None)
    bodies = {id(p) for p in (plain, html, body) if p is not None and not _attached(p)}
    files = _Files(limits, bodies)
    for part in leaves(msg, limits):
        files.add(part)
    if not text and files.tnef_body:
        text = files.tnef_body
    if not html_source and files.tnef_html:
        html_source = files.tnef_html
        text = text or html_to_text(html_source)
    text = text[:MAX_TEXT]
    return Content(
        text=text,
        reply=strip_quoted(text),
        html=sanitize_html(html_source),
        attachments=files.kept,
        omitted=files.omitted,
    )


def body_text(msg: Message) -> str:
    """The text a person wrote: text/plain, else the HTML as text, else the first text part."""
    plain, html = _body_parts(msg)
    body = plain or html or _first_text_part(msg, Limits())
    return _text_of(body, decode_part(html) if html is not None and body is html else None)


def _text_of(part: Message | None, html: str | None) -> str:
    if part is None:
        return ""
    if html is not None or part.get_content_type() == "text/html":
        return html_to_text(html if html is not None else decode_part(part))
    return tidy(decode_part(part))


def _body_parts(msg: Message) -> tuple[Message | None, Message | None]:
    found: list[Message | None] = []
    for kind in ("plain", "html"):
        try:
            found.append(msg.get_body(preferencelist=(kind,)))  # type: ignore[attr-defined]
        except Exception:  # deep nesting (RecursionError) and hostile structure
            found.append(None)
    return found[0], found[1]


def _first_text_part(msg: Message, limits: Limits) -> Message | None:
    """A text part that is not an attachment, else a text attachment (a CSV sent alone)."""
    texts = [p for p in leaves(msg, limits) if p.get_content_maintype() == "text"]
    return next((p for p in texts if not _attached(p)), texts[0] if texts else None)


def _attached(part: Message) -> bool:
    return part.get_content_disposition() == "attachment"


def leaves(msg: Message, limits: Limits) -> Iterator[Message]:
    """Every non-multipart part, depth first, without recursion; a message/rfc822 is one leaf.
    Stops at `max_parts` parts and does not go below `max_depth`."""
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack and seen < limits.max_parts:
        part, depth = stack.pop()
        seen += 1
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list) and part.get_content_maintype() == "multipart":
            if depth < limits.max_depth:
                children = [p for p in payload if isinstance(p, Message)]
                stack.extend((child, depth + 1) for child in reversed(children))
            continue
        yield part


class _Files:
    """Collects the files of a message within the limits, unpacking TNEF on the way."""

    def __init__(self, limits: Limits, bodies: set[int]) -> None:
        self.limits = limits
        self.bodies = bodies
        self.kept: list[Attachment] = []
        self.omitted = 0
        self.total = 0
        self.tnef_body = ""
        self.tnef_html = ""

    def add(self, part: Message) -> None:
        if id(part) in self.bodies or not is_attachment(part):
            return
        name = filename_of(part)
        content_type = _content_type(part)
        data = _payload(part)
        small = len(data) <= self.limits.max_attachment_size
        if is_tnef(content_type, name) and small and self._unpack_tnef(data):
            return
        self.keep(name or default_filename(content_type, len(self.kept) + 1), content_type, data)

    def keep(self, name: str, content_type: str, data: bytes) -> None:
        if len(self.kept) >= self.limits.max_attachments:
            self.omitted += 1
            return
        size, note = len(data), ""
        if size > self.limits.max_attachment_size:
            note = f"larger than {self.limits.max_attachment_size} bytes: not kept"
        elif self.total + size > self.limits.max_total_size:
            note = f"over the {self.limits.max_total_size} bytes of files per message: not kept"
        else:
            self.total += size
        self.kept.append(Attachment(name, content_type, size, None if note else data, note))

    def _unpack_tnef(self, data: bytes) -> bool:
        """True when the TNEF gave up its files or body; False keeps the winmail.dat itself."""
        try:
            found = tnef.unpack(data)
        except tnef.BrokenTnef:
            return False
        if not found.files and not found.body and not found.html:
            return False
        for number, file in enumerate(found.files, 1):
            name = sanitize_filename(file.name) or f"attachment-{number}"
            self.keep(name, guess_type(name), file.data)
        if found.body and not self.tnef_body:
            self.tnef_body = tidy(_as_text(found.body))
        if found.html and not self.tnef_html:
            self.tnef_html = _as_text(found.html)
        return True


def _as_text(value: bytes | str) -> str:
    return value if isinstance(value, str) else decode_text(value, None)


def is_attachment(part: Message) -> bool:
    """A file: marked as an attachment, named, or a leaf that is neither text nor a report."""
    if part.get_content_disposition() == "attachment" or filename_of(part):
        return True
    maintype = part.get_content_maintype()
    if maintype in ("text", "multipart"):
        return False
    # Machine-readable parts of reports belong to the message, not to its files.
    return part.get_content_type() not in _REPORT_PARTS


_REPORT_PARTS = {
    "message/delivery-status",
    "message/global-delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
    "message/rfc822",
    "message/global",
    "message/external-body",
    "message/partial",
}


def is_tnef(content_type: str, filename: str) -> bool:
    return content_type in ("application/ms-tnef", "application/vnd.ms-tnef") or (
        filename.lower() == "winmail.dat"
    )


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()[:255]
    except Exception:  # the email package raises many kinds on hostile input
        return "application/octet-stream"


def _payload(part: Message) -> bytes:
    """The bytes of a file; a message/rfc822 part as the message it carries."""
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            try:
                return inner[0].as_bytes(policy=email.policy.compat32)
            except Exception:  # headers that cannot be written back
                return b""
    try:
        data = part.get_payload(decode=True)
    except Exception:  # the email package raises many kinds on hostile input
        return b""
    return data if isinstance(data, bytes) else b""


# -- file names and types --------------------------------------------------------------------------

_UNSAFE_IN_NAMES = re.compile(r'[<>:"/\\|?*]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\.|$)", re.IGNORECASE)


def filename_of(part: Message) -> str:
    """The sanitised file name (RFC 2231 and RFC 2047 decoded), or empty when it has none."""
    try:
        name = part.get_filename() or ""
    except Exception:  # a broken RFC 2231 parameter
        name = _raw_filename(part)
    if "=?" in name:
        with contextlib.suppress(Exception):  # a broken encoded-word stays as it is
            name = str(make_header(decode_header(name)))
    return sanitize_filename(name)


def _raw_filename(part: Message) -> str:
    for header in ("content-disposition", "content-type"):
        for param in ("filename", "name"):
            try:
                value = part.get_param(param, header=header)
            except Exception:  # the email package raises many kinds on hostile input
                continue
            if value:
                return collapse_rfc2231_value(value)
    return ""


def sanitize_filename(name: str) -> str:
    """A name safe to offer for download: no path, no control or bidi characters, no characters
    Windows refuses, at most 255 UTF-8 bytes with its extension kept; empty if nothing is left."""
    name = unicodedata.normalize("NFC", str(name))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = _UNSAFE_IN_NAMES.sub("_", name)
    name = " ".join(name.split()).strip(". ")
    if _WINDOWS_RESERVED.match(name):
        name = "_" + name
    return _shorten(name)


def _shorten(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_FILENAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    ext = f".{ext}" if dot and stem and len(ext) <= 16 else ""
    stem = name[: len(name) - len(ext)] if ext else name
    budget = MAX_FILENAME_BYTES - len(ext.encode("utf-8"))
    return stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(". ") + ext


def default_filename(content_type: str, number: int) -> str:
    extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    if content_type == "message/rfc822":
        extension = ".eml"
    return f"attachment-{number}{extension}"


def guess_type(filename: str) -> str:
    return mimetypes.guess_type(filename, strict=False)[0] or "application/octet-stream"
