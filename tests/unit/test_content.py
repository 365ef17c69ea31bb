"""What a message says and carries: charsets, HTML as text, safe HTML, replies without quoted
history, files (TNEF included), and bounded work on hostile input."""

from __future__ import annotations

import csv
import email
import email.policy
import struct
import time
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caseflow.intake import content, tnef
from caseflow.intake.content import (
    Limits,
    charset_chain,
    decode_text,
    default_filename,
    html_to_text,
    read_content,
    sanitize_filename,
    sanitize_html,
    strip_quoted,
)
from tests.unit.emails import CORPUS, CUSTOMER, SUPPORT

# -- builders --------------------------------------------------------------------------------------


def mail(text: str | None = "Hello,\nsee the files.\n", html: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = CUSTOMER
    msg["To"] = SUPPORT
    msg["Subject"] = "Files"
    if text is not None:
        msg.set_content(text)
    if html is not None:
        if text is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    return msg


def reparsed(msg: EmailMessage) -> EmailMessage:
    """The message as the intake sees it: parsed from its bytes."""
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def tnef_object(level: int, name: int, data: bytes, kind: int = 6) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", checksum)


def tnef_blob(files: list[tuple[str, bytes]], body: bytes | None = None) -> bytes:
    """A TNEF stream as Outlook writes one: files as attachment objects, an optional body."""
    out = struct.pack("<IH", tnef.SIGNATURE, 0x1234)
    out += tnef_object(1, 0x9006, struct.pack("<I", 0x10000))  # TNEF version
    if body is not None:
        out += tnef_object(1, 0x800C, body, kind=2)
    for name, data in files:
        out += tnef_object(2, 0x9002, b"\x01\x00\xff\xff\xff\xff\x00\x00\x00\x00")
        out += tnef_object(2, 0x8010, name.encode("cp1252") + b"\x00", kind=1)
        out += tnef_object(2, 0x800F, data)
    return out


def with_winmail(blob: bytes, text: str | None = "See attached.\n") -> EmailMessage:
    msg = mail(text)
    msg.add_attachment(blob, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    return reparsed(msg)


def last_part(msg: EmailMessage) -> EmailMessage:
    parts = msg.get_payload()
    assert isinstance(parts, list) and isinstance(parts[-1], EmailMessage)
    return parts[-1]


def names(msg: EmailMessage, limits: Limits | None = None) -> list[str]:
    return [a.filename for a in read_content(msg, limits).attachments]


# -- charsets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "first"),
    [
        ("utf-8", "utf-8"),
        ("UTF8", "utf-8"),
        ('"iso-8859-1"', "cp1252"),
        ("ks_c_5601-1987", "cp949"),
        ("gb2312", "gb18030"),
        ("shift_jis", "cp932"),
        ("iso-8859-15", "iso-8859-15"),
        ("koi8-r", "koi8-r"),
    ],
)
def test_declared_charset_or_its_alias_comes_first(declared: str, first: str) -> None:
    chain = charset_chain(declared)

    assert chain[0] == first
    assert {"utf-8", "cp1252"} <= set(chain)


@pytest.mark.parametrize(
    "declared",
    ["x-unknown", "unknown-8bit", "", None, "base64", "rot13", "zlib", "utf-7", "idna", "no-such"],
)
def test_unknown_or_non_text_charsets_fall_through_to_utf8_and_cp1252(
    declared: str | None,
) -> None:
    assert charset_chain(declared) == ["utf-8", "cp1252"]


def test_korean_declared_as_ks_c_5601_1987_is_decoded() -> None:
    assert decode_text("안녕하세요".encode("cp949"), "ks_c_5601-1987") == "안녕하세요"


def test_unknown_8bit_with_windows_quotes_is_decoded_as_cp1252() -> None:
    assert decode_text(b"\x93quoted\x94 \x80 5", "unknown-8bit") == "\u201cquoted\u201d € 5"


def test_latin1_label_is_read_as_windows_1252_as_browsers_do() -> None:
    assert decode_text(b"\x80 10", "iso-8859-1") == "€ 10"


def test_utf8_under_a_wrong_ascii_label_is_still_utf8() -> None:
    assert decode_text("Grüße".encode(), "us-ascii") == "Grüße"


def test_bytes_no_codepage_accepts_fall_back_to_latin1() -> None:
    assert decode_text(b"\x81\x8d caf\xe9", "utf-8") == "\x81\x8d café"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.none() | st.text(max_size=40))
def test_decoding_never_fails(payload: bytes, declared: str | None) -> None:
    assert isinstance(decode_text(payload, declared), str)


# -- HTML as text ----------------------------------------------------------------------------------


def test_links_stay_readable_with_their_address() -> None:
    html = (
        '<p>See <a href="https://help.example/docs">the docs</a>, '
        '<a href="https://help.example/x">https://help.example/x</a> or '
        '<a href="mailto:help@example.com">help@example.com</a>.</p>'
    )

    assert html_to_text(html) == (
        "See [the docs](https://help.example/docs), https://help.example/x or help@example.com."
    )


def test_hidden_preheader_script_and_style_are_not_text() -> None:
    html = (
        "<html><head><style>p{color:red}</style><title>News</title></head><body>"
        '<span style="display:none">preheader</span><script>alert(1)</script>'
        "<p>Visible</p></body></html>"
    )

    assert html_to_text(html) == "Visible"


def test_table_cells_stay_on_their_row() -> None:
    html = "<table><tr><td>Order</td><td>42</td></tr><tr><td>Total</td><td>€ 9</td></tr></table>"

    assert html_to_text(html).splitlines() == ["Order  42", "Total  € 9"]


def test_xml_declaration_does_not_stop_the_conversion() -> None:
    assert html_to_text('<?xml version="1.0" encoding="utf-8"?><p>Hi</p>') == "Hi"


def test_html_with_too_many_tags_keeps_its_words_quickly() -> None:
    html = "<b>x</b>" * 200_000

    started = time.thread_time()  # CPU time: a busy machine's other processes do not count
    text = html_to_text(html)

    assert time.thread_time() - started < 3
    assert text.split()[:3] == ["x", "x", "x"]


# -- HTML for display ------------------------------------------------------------------------------

HOSTILE_HTML = """\
<html><head><style>p{color:red}</style><script>alert(1)</script></head>
<body onload="steal()"><p style="position:fixed" onclick="x()">Hello <b>there</b></p>
<a href="javascript:alert(1)">click</a> <a href="https://ok.example/a" target="_top">ok</a>
<img src="https://tracker.example/pixel.gif" width="1"><img src="data:image/png;base64,AAAA">
<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input></form>
<svg onload="x()"><circle/></svg><table><tr><td colspan="2">cell</td></tr></table></body></html>
"""


def test_sanitised_html_keeps_formatting_and_drops_everything_active() -> None:
    safe = sanitize_html(HOSTILE_HTML)

    assert "<b>there</b>" in safe
    assert '<td colspan="2">cell</td>' in safe
    for bad in ("script", "alert", "style", "onload", "onclick", "javascript", "iframe", "form"):
        assert bad not in safe
    for bad in ("<input", "<svg", "<img", "tracker.example", "data:"):
        assert bad not in safe


def test_links_open_apart_from_the_app_without_referrer() -> None:
    safe = sanitize_html(HOSTILE_HTML)

    assert (
        '<a href="https://ok.example/a" target="_blank" rel="noopener noreferrer nofollow">ok</a>'
        in safe
    )


def test_remote_images_only_on_request_and_never_data_urls() -> None:
    safe = sanitize_html(HOSTILE_HTML, remote_images=True)

    assert '<img src="https://tracker.example/pixel.gif" width="1">' in safe
    assert "data:" not in safe


def test_html_nested_too_deep_is_not_shown_but_does_not_hang() -> None:
    started = time.thread_time()  # CPU time: a busy machine's other processes do not count

    assert sanitize_html("<div>" * 100_000 + "x") == ""
    assert time.thread_time() - started < 3


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<script>",
                "</script>",
                "<img src=x onerror=alert(1)>",
                '<a href="javascript:x">',
                "<style>",
                "<p ",
                'onclick="y"',
                "<!--",
                "-->",
                "<svg>",
                "<math>",
                "<![CDATA[",
                "]]>",
                ">",
                "<",
                "text",
                "&lt;script&gt;",
                "<iframe>",
                '"',
                "'",
            ]
        ),
        max_size=40,
    )
)
def test_sanitised_html_never_carries_script_handlers_or_javascript(pieces: list[str]) -> None:
    tags = Tags()
    tags.feed(sanitize_html("".join(pieces)))

    assert not tags.seen & {"script", "style", "iframe", "svg", "math", "img"}
    assert not [name for name, _ in tags.attributes if name.startswith("on")]
    assert not [v for _, v in tags.attributes if v and "javascript" in v.lower()]


class Tags(HTMLParser):
    """The elements and attributes of some HTML, as a browser's tokenizer reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)
        self.attributes += attrs


# -- quoted history and signatures -----------------------------------------------------------------

QUOTE = "\n> Please unplug it.\n> Regards, Support\n"


@pytest.mark.parametrize(
    ("language", "reply", "attribution"),
    [
        ("en", "Thanks, that fixed it.", "On Mon, Feb 2, 2026 at 10:05 AM S <s@x.t> wrote:"),
        ("de", "Danke, geht wieder.", "Am Mo., 2. Feb. 2026 um 10:05 Uhr schrieb S <s@x.t>:"),
        ("fr", "Merci, ça marche.", "Le lun. 2 févr. 2026 à 10:05, S <s@x.t> a écrit :"),
        ("es", "Gracias, ya funciona.", "El lun, 2 feb 2026 a las 10:05, S (<s@x.t>) escribió:"),
        ("it", "Grazie.", "Il giorno lun 2 feb 2026 alle ore 10:05 S <s@x.t> ha scritto:"),
        ("nl", "Bedankt, het werkt.", "Op ma 2 feb. 2026 om 10:05 schreef S <s@x.t>:"),
    ],
)  # fmt: skip
def test_gmail_style_quote_is_cut_in_every_supported_language(
    language: str, reply: str, attribution: str
) -> None:
    assert strip_quoted(f"{reply}\n\n{attribution}{QUOTE}") == reply


def test_attribution_wrapped_over_two_lines_is_cut() -> None:
    text = "Done.\n\nOn Mon, Feb 2, 2026 at 10:05 AM Support Team <\nsupport@x.test> wrote:" + QUOTE

    assert strip_quoted(text) == "Done."


@pytest.mark.parametrize(
    "history",
    [
        "-----Original Message-----\nFrom: S <s@x.t>\nSent: Monday, February 2, 2026",
        "From: S <s@x.t>\nSent: Monday, February 2, 2026 10:05 AM\nTo: Ada\nSubject: x",
        "Von: S <s@x.t>\nGesendet: Montag, 2. Februar 2026 10:05\nAn: Ada\nBetreff: x",
        "________________________________\nFrom: S <s@x.t>\nSent: Monday\nTo: Ada",
    ],
)
def test_outlook_header_block_and_what_follows_is_cut(history: str) -> None:
    text = f"Still burning.\n\n{history}\n\nPlease unplug it.\n"

    assert strip_quoted(text) == "Still burning."


def test_trailing_quote_lines_are_cut() -> None:
    assert strip_quoted("My answer.\n\n> your question\n> more of it\n") == "My answer."


def test_interleaved_answers_are_kept_whole() -> None:
    text = "> Question one?\nAnswer one.\n> Question two?\nAnswer two."

    assert strip_quoted(text) == text


@pytest.mark.parametrize(
    "signature",
    [
        "-- \nAda Lovelace\nAnalytical Engines Ltd",
        "Sent from my iPhone",
        "Gesendet von meinem iPad",
    ],
)
def test_signature_is_cut(signature: str) -> None:
    assert strip_quoted(f"It works now.\n\n{signature}\n") == "It works now."


def test_a_message_that_is_only_a_quote_keeps_all_of_it() -> None:
    text = "> Please unplug it.\n> Regards"

    assert strip_quoted(text) == text


def test_a_forward_keeps_what_it_forwards() -> None:
    text = (
        "Please look at this.\n\n---------- Forwarded message ---------\nFrom: Bob <b@x.test>\n"
        "Date: Mon, 2 Feb 2026\nSubject: Broken\nTo: Ada <a@x.test>\n\nThe printer is broken.\n"
    )

    assert strip_quoted(text) == text.strip()


def test_dash_lists_are_not_mistaken_for_signatures() -> None:
    text = "Steps I tried:\n- unplug\n- replug\n\nNothing helped."

    assert strip_quoted(text) == text


def test_indentation_is_kept_when_nothing_is_cut() -> None:
    text = "Traceback:\n    File x, line 1\n      raise Boom"

    assert strip_quoted(text) == text


def test_empty_text_stays_empty() -> None:
    assert strip_quoted("  \n ") == ""


@pytest.mark.parametrize(
    "hostile",
    [
        "x" * 200_000,
        "a\n" * 100_000,
        "Hinweis: " + "a " * 100_000,
        ("On " + "x " * 150 + "\n") * 1000,
        "> a\n" * 50_000,
        "From: a\nSent: b\n" * 20_000,
    ],
    ids=["one-line", "many-lines", "disclaimer", "attributions", "quotes", "headers"],
)
def test_stripping_hostile_text_stays_fast(hostile: str) -> None:
    # This thread's CPU time, not the wall clock: another process on a busy machine does not
    # count, while runaway backtracking (hours on these inputs) still does.
    started = time.thread_time()
    strip_quoted(hostile)

    assert time.thread_time() - started < 3


# -- files -----------------------------------------------------------------------------------------


def test_real_attachments_and_named_inline_parts_are_files_and_bodies_are_not() -> None:
    msg = mail("Text body", html="<p>HTML body</p>")
    msg.add_attachment(b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="bill.pdf")
    msg.add_attachment(b"\x89PNG...", maintype="image", subtype="png", filename="logo.png")
    last_part(msg).replace_header("Content-Disposition", 'inline; filename="logo.png"')

    found = read_content(reparsed(msg))

    assert [(a.filename, a.content_type, a.data) for a in found.attachments] == [
        ("bill.pdf", "application/pdf", b"%PDF-1.4 ..."),
        ("logo.png", "image/png", b"\x89PNG..."),
    ]
    assert found.text == "Text body"
    assert found.html == "<p>HTML body</p>"


def test_unnamed_file_gets_a_name_from_its_type() -> None:
    msg = mail()
    msg.add_attachment(b"%PDF", maintype="application", subtype="pdf")

    assert names(reparsed(msg)) == ["attachment-1.pdf"]


def test_attached_email_is_one_file_and_its_own_files_are_not_listed() -> None:
    inner = mail("Inner text")
    inner.add_attachment(b"inner file", maintype="application", subtype="zip", filename="in.zip")
    msg = mail()
    msg.add_attachment(inner, filename="forwarded.eml")

    [attached] = read_content(reparsed(msg)).attachments

    assert (attached.filename, attached.content_type) == ("forwarded.eml", "message/rfc822")
    assert attached.data is not None and b"Inner text" in attached.data


def test_rfc2231_and_rfc2047_file_names_are_decoded() -> None:
    msg = mail()
    msg.add_attachment(b"1", maintype="text", subtype="plain", filename="Größe ä.txt")
    msg.add_attachment(b"2", maintype="application", subtype="pdf", filename="x.pdf")
    last_part(msg).replace_header(
        "Content-Disposition", 'attachment; filename="=?utf-8?q?R=C3=A9sum=C3=A9.pdf?="'
    )

    assert names(reparsed(msg)) == ["Größe ä.txt", "Résumé.pdf"]


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ada\\evil.exe", "evil.exe"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("a\x00b\r\nc.txt", "abc.txt"),
        ('what?*<>|":.txt', "what_______.txt"),
        ("  ..hidden.  ", "hidden"),
        ("CON.txt", "_CON.txt"),
        ("nul", "_nul"),
        ("", ""),
        ("...", ""),
    ],
)
def test_file_names_are_made_safe(raw: str, safe: str) -> None:
    assert sanitize_filename(raw) == safe


def test_long_file_name_is_cut_to_255_bytes_keeping_its_extension() -> None:
    name = sanitize_filename("ä" * 300 + ".docx")

    assert len(name.encode("utf-8")) <= 255
    assert name.endswith("ä.docx")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_a_safe_file_name_has_no_path_or_control_characters(raw: str) -> None:
    name = sanitize_filename(raw)

    assert "/" not in name and "\\" not in name
    assert not any(ord(c) < 32 or c in "\u202e\u200f\x7f" for c in name)
    assert len(name.encode("utf-8")) <= 255


def test_default_file_names_follow_the_type() -> None:
    assert default_filename("message/rfc822", 2) == "attachment-2.eml"
    assert default_filename("application/x-nothing-known", 3) == "attachment-3.bin"


def test_file_over_the_size_limit_is_listed_without_its_bytes() -> None:
    msg = mail()
    msg.add_attachment(b"x" * 2000, maintype="application", subtype="zip", filename="big.zip")
    msg.add_attachment(b"y" * 10, maintype="application", subtype="zip", filename="small.zip")

    found = read_content(reparsed(msg), Limits(max_attachment_size=1000))

    big, small = found.attachments
    assert (big.size, big.data) == (2000, None)
    assert "larger than 1000 bytes" in big.note
    assert small.data == b"y" * 10


def test_files_past_the_per_message_total_are_listed_without_their_bytes() -> None:
    msg = mail()
    for n in range(3):
        msg.add_attachment(b"z" * 600, maintype="image", subtype="png", filename=f"{n}.png")

    found = read_content(reparsed(msg), Limits(max_total_size=1000))

    assert [a.data is not None for a in found.attachments] == [True, False, False]
    assert "per message" in found.attachments[1].note


def test_files_past_the_count_limit_are_counted_not_listed() -> None:
    msg = mail()
    for n in range(12):
        msg.add_attachment(b"f", maintype="image", subtype="png", filename=f"{n}.png")

    found = read_content(reparsed(msg), Limits(max_attachments=10))

    assert (len(found.attachments), found.omitted) == (10, 2)


@pytest.mark.slow
def test_a_thousand_files_are_read_within_the_limits_quickly() -> None:
    msg = mail()
    for n in range(1000):
        msg.add_attachment(b"f", maintype="image", subtype="png", filename=f"{n}.png")
    raw = reparsed(msg)

    started = time.thread_time()  # CPU time: a busy machine's other processes do not count
    found = read_content(raw)

    assert time.thread_time() - started < 3
    # 1000 parts are read (the container, the text, 998 files): 100 listed, 898 counted.
    assert (len(found.attachments), found.omitted) == (100, 898)


# -- TNEF ------------------------------------------------------------------------------------------


def test_winmail_dat_is_unpacked_into_its_files() -> None:
    blob = tnef_blob([("report.txt", b"numbers"), ("Übersicht.csv", b"a;b")])

    found = read_content(with_winmail(blob))

    assert [(a.filename, a.content_type, a.data) for a in found.attachments] == [
        ("report.txt", "text/plain", b"numbers"),
        ("Übersicht.csv", "text/csv", b"a;b"),
    ]
    assert found.text == "See attached."


def test_tnef_body_is_the_text_when_the_message_has_none() -> None:
    blob = tnef_blob([], body=b"Body only in TNEF")

    found = read_content(with_winmail(blob, text=None))

    assert found.text == "Body only in TNEF"
    assert found.attachments == []


@pytest.mark.parametrize(
    "blob",
    [
        b"not tnef at all",
        struct.pack("<IH", tnef.SIGNATURE, 0) + b"\x02\x10\x80\x01\x00\xff\xff\xff\x7f",
        struct.pack("<IH", tnef.SIGNATURE, 0)
        + tnef_object(1, 0x9003, struct.pack("<I", 0xFFFFFFFF) + b"\x00" * 40),
        struct.pack("<IH", tnef.SIGNATURE, 0)
        + tnef_object(1, 0x9003, struct.pack("<IHHI", 1, 0x1002, 0x3001, 0xFFFFFFFF)),
        struct.pack("<IH", tnef.SIGNATURE, 0) + tnef_object(1, 0x8004, b"", kind=1) * 100_000,
    ],
    ids=["garbage", "truncated", "property-count-bomb", "multi-value-bomb", "object-flood"],
)
def test_broken_or_hostile_tnef_keeps_the_winmail_dat_itself(blob: bytes) -> None:
    started = time.thread_time()  # CPU time: a busy machine's other processes do not count
    found = read_content(with_winmail(blob))

    assert time.thread_time() - started < 3
    assert [(a.filename, a.data) for a in found.attachments] == [("winmail.dat", blob)]


def test_tnef_recipient_table_bomb_is_left_out() -> None:
    bomb = tnef_object(1, 0x9004, struct.pack("<II", 0xFFFFFFFF, 0xFFFFFFFF))
    blob = tnef_blob([("a.txt", b"A" * 20)]) + bomb

    started = time.thread_time()  # CPU time: a busy machine's other processes do not count
    found = read_content(with_winmail(blob))

    assert time.thread_time() - started < 3
    assert [a.filename for a in found.attachments] == ["a.txt"]


def test_tnef_over_the_size_limit_is_kept_unopened() -> None:
    blob = tnef_blob([("a.txt", b"A" * 5000)])

    found = read_content(with_winmail(blob), Limits(max_attachment_size=1000))

    assert [(a.filename, a.data) for a in found.attachments] == [("winmail.dat", None)]


# -- hostile structure and the corpus --------------------------------------------------------------


def test_report_parts_are_not_files() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nTo: support@caseflow.test\r\nSubject: failed\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        b"--r\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n"
        b"--r\r\nContent-Type: message/rfc822\r\n\r\nSubject: original\r\n\r\nhi\r\n--r--\r\n"
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)

    found = read_content(msg)

    assert found.text == "Could not deliver."
    assert found.attachments == []


def _corpus_files() -> list[str]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as manifest:
        rows = list(csv.reader(manifest, delimiter="\t"))
    return [row[0] for row in rows[1:] if row and not row[0].startswith("#")]


_CORPUS = _corpus_files()


@pytest.mark.skipif(not _CORPUS, reason=f"no corpus at {CORPUS}")
@pytest.mark.parametrize("name", _CORPUS)
def test_every_corpus_message_gives_its_content_within_bounds(name: str) -> None:
    msg = email.message_from_bytes((CORPUS / name).read_bytes(), policy=email.policy.default)

    started = time.thread_time()  # CPU time: a busy machine's other processes do not count
    found = read_content(msg)

    assert time.thread_time() - started < 3
    assert len(found.text) <= content.MAX_TEXT
    assert all(a.filename and "/" not in a.filename for a in found.attachments)
    assert "<script" not in found.html.lower()


@pytest.mark.skipif(not _CORPUS, reason=f"no corpus at {CORPUS}")
def test_corpus_pdf_and_cyrillic_attachments_are_found() -> None:
    pdf = email.message_from_bytes((CORPUS / "flanker/attached-pdf.eml").read_bytes())
    yahoo = (CORPUS / "flanker/russian-attachment-yahoo.eml").read_bytes()
    russian = email.message_from_bytes(yahoo, policy=email.policy.default)

    assert [a.content_type for a in read_content(pdf).attachments] == ["application/pdf"]
    assert any(
        any("\u0400" <= c <= "\u04ff" for c in a.filename)
        for a in read_content(russian).attachments
    )


GMAIL_HTML = (
    '<div dir="ltr">Thanks, fixed.</div><br><div class="gmail_quote"><div class="gmail_attr">'
    'On Mon, Feb 2, 2026 at 10:05 AM Support &lt;<a href="mailto:s@x.test">s@x.test</a>&gt; '
    'wrote:<br></div><blockquote class="gmail_quote">Please unplug it.</blockquote></div>'
)
OUTLOOK_HTML = (
    '<div class="WordSection1"><p class="MsoNormal">Works now.<o:p></o:p></p>'
    '<div style="border-top:solid #E1E1E1 1.0pt"><p class="MsoNormal"><b>From:</b> Support '
    "&lt;s@x.test&gt;<br><b>Sent:</b> Monday, February 2, 2026 10:05 AM<br><b>To:</b> Ada<br>"
    '<b>Subject:</b> x</p></div><p class="MsoNormal">Please unplug it.</p></div>'
)


@pytest.mark.parametrize(
    ("html", "reply"), [(GMAIL_HTML, "Thanks, fixed."), (OUTLOOK_HTML, "Works now.")]
)
def test_html_only_replies_lose_their_quoted_history_too(html: str, reply: str) -> None:
    found = read_content(reparsed(mail(None, html=html)))

    assert found.reply == reply
    assert "Please unplug it." in found.text
    assert "Please unplug it." in found.html
