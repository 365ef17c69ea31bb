"""Parsing incoming messages: the facts Caseflow keeps, and no surprises on hostile input."""

from __future__ import annotations

import base64
import contextlib
import csv
import email
import email.policy
import hashlib
import time
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caseflow.intake import bounces, content
from caseflow.intake.classify import classify
from caseflow.intake.parse import (
    MAX_NOTES,
    MAX_TEXT,
    MalformedEmail,
    body_text,
    dedup_key,
    html_to_text,
    limits_from,
    message_ids,
    normalize_message_id,
    parse,
)
from caseflow.intake.service import header_glance, inbound_email
from caseflow.settings import Settings
from caseflow.workflows.model import AttachmentNote, MailClass
from tests.unit import emails
from tests.unit.emails import CORPUS, CUSTOMER, SUPPORT, message, with_body_bytes


def _message_object(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


# -- the facts of an ordinary message -------------------------------------------------------------


def test_plain_message_yields_sender_subject_date_and_text() -> None:
    parsed = parse(message(headers=[("Cc", "Bob <BOB@Example.com>, not-an-address")]))

    assert parsed.sender == CUSTOMER
    assert parsed.sender_name == "Ada Lovelace"
    assert parsed.subject == "Printer on fire"
    assert parsed.date == datetime(2026, 2, 2, 10, 0, tzinfo=UTC)
    assert parsed.text == "Hello,\nmy printer is on fire."
    assert parsed.to == [SUPPORT]
    assert parsed.cc == ["bob@example.com"]
    assert parsed.message_id == "<m1.abc@mail.example.com>"
    assert parsed.dedup_key == "mid:<m1.abc@mail.example.com>"
    assert parsed.content_type == "text/plain"


def test_sender_falls_back_to_the_sender_header_and_ignores_reply_to() -> None:
    raw = message(
        sender="undisclosed",
        headers=[("Sender", "Ada <Ada@Example.com>"), ("Reply-To", "mallory@evil.example")],
    )

    assert parse(raw).sender == CUSTOMER


def test_subject_whitespace_is_collapsed() -> None:
    raw = message(subject="Printer\r\n  on\tfire  ")

    assert parse(raw).subject == "Printer on fire"


def test_references_and_in_reply_to_are_normalised_lists() -> None:
    raw = message(
        headers=[
            ("In-Reply-To", "<CAS-000123.aa@Caseflow.TEST>"),
            ("References", "<a@X.example>\r\n <b@y.example> junk <c@Z.EXAMPLE>"),
        ]
    )

    parsed = parse(raw)

    assert parsed.in_reply_to == ["<CAS-000123.aa@caseflow.test>"]
    assert parsed.references == ["<a@x.example>", "<b@y.example>", "<c@z.example>"]


def test_classifying_headers_are_kept_lower_cased() -> None:
    raw = message(headers=[("Auto-Submitted", "auto-replied"), ("X-Unrelated", "1")])

    assert parse(raw).headers == {"auto-submitted": "auto-replied"}


def test_bad_date_gives_none_rather_than_failing() -> None:
    assert parse(message(date="the day after tomorrow")).date is None
    assert parse(message(date=None)).date is None


# -- Message-IDs and the dedup key --------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("<Local.Part@Example.COM>", "<Local.Part@example.com>"),
        ("   <abc@example.com>   ", "<abc@example.com>"),
        ("\r\n <abc@EXAMPLE.com>", "<abc@example.com>"),
        ("<abc@example.com> (a comment)", "<abc@example.com>"),
        ("<<abc@example.com>>", "<abc@example.com>"),
        ("<first@a.example> <second@b.example>", "<first@a.example>"),
        ("<no-at-sign>", "<no-at-sign>"),
        ("<a@b@C.example>", "<a@b@c.example>"),
        ("abc@example.com", ""),
        ("< abc@example.com >", ""),
        ("<>", ""),
        ("", ""),
    ],
)
def test_message_id_is_normalised_to_brackets_and_lower_case_domain(
    header: str, expected: str
) -> None:
    assert normalize_message_id(header) == expected


def test_message_id_local_part_keeps_its_case() -> None:
    assert normalize_message_id("<ABC@x.example>") != normalize_message_id("<abc@x.example>")


def test_message_ids_finds_every_bracketed_id() -> None:
    assert message_ids("<a@B.example>,<b@c.example>\t<C@D>") == [
        "<a@b.example>",
        "<b@c.example>",
        "<C@d>",
    ]


def test_message_id_spelled_differently_gives_the_same_dedup_key() -> None:
    first = parse(message(message_id="<Abc.123@Mail.Example.COM>"))
    again = parse(
        message(
            message_id="  <Abc.123@mail.example.com>",
            headers=[("Received", "from relay.example by mx.example")],
        )
    )

    assert first.dedup_key == again.dedup_key == "mid:<Abc.123@mail.example.com>"


def test_missing_message_id_falls_back_to_a_stable_digest() -> None:
    first = parse(message(message_id=None))
    redelivered = parse(
        message(message_id=None, headers=[("Received", "from another.relay by mx.example")])
    )

    assert first.message_id == ""
    assert first.dedup_key.startswith("digest:")
    assert first.dedup_key == redelivered.dedup_key
    assert first.raw_sha256 != redelivered.raw_sha256


def test_digest_dedup_key_changes_with_the_body_sender_date_or_subject() -> None:
    base = parse(message(message_id=None)).dedup_key
    variants = [
        message(message_id=None, body="Something else\r\n"),
        message(message_id=None, sender="bob@example.com"),
        message(message_id=None, date="Tue, 03 Feb 2026 10:00:00 +0000"),
        message(message_id=None, subject="Another subject"),
    ]

    assert all(parse(raw).dedup_key != base for raw in variants)


def test_unusable_message_id_is_treated_as_missing() -> None:
    parsed = parse(message(message_id="not-an-id"))

    assert parsed.message_id == ""
    assert parsed.dedup_key.startswith("digest:")


def test_dedup_key_ignores_subject_whitespace_and_trims_the_date() -> None:
    first = dedup_key("", CUSTOMER, " Mon, 02 Feb 2026 ", "a  b", "text")
    second = dedup_key("", CUSTOMER, "Mon, 02 Feb 2026", "a b", "text")

    assert first == second


def test_huge_message_id_is_cut_in_the_dedup_key() -> None:
    key = dedup_key("<" + "x" * 5000 + "@example.com>", CUSTOMER, "", "", "")

    assert len(key) == len("mid:") + 280


# -- body text ---------------------------------------------------------------------------------


def test_plain_part_is_preferred_over_html() -> None:
    assert parse(emails.ALTERNATIVE).text == "Plain words."


def test_html_only_message_becomes_text_without_script_style_or_title() -> None:
    text = parse(emails.HTML_ONLY).text

    assert text == "First line & more\n\nSecond line"


def test_outlook_reply_keeps_the_new_text_first_and_decodes_latin1() -> None:
    parsed = parse(emails.OUTLOOK_REPLY)

    assert parsed.sender == CUSTOMER
    assert parsed.sender_name == "Lovelace, Ada"
    assert parsed.text.startswith("Still burning, see photo.\n\nGrüße, Ada")
    assert "-----Original Message-----" in parsed.text


def test_outlook_html_with_conditional_comments_becomes_text() -> None:
    msg = _message_object(emails.OUTLOOK_REPLY)
    html_part = next(p for p in msg.walk() if p.get_content_type() == "text/html")

    text = html_to_text(html_part.get_content())

    assert text.splitlines()[0] == "Still burning, see photo."
    assert "Grüße, Ada" in text
    assert "MsoNormal" not in text


def test_unknown_charset_falls_back_to_utf8() -> None:
    raw = with_body_bytes(
        f"From: {CUSTOMER}\nSubject: x\nContent-Type: text/plain; charset=x-unknown",
        "Grüße".encode(),
    )

    assert parse(raw).text == "Grüße"


def test_unknown_charset_with_non_utf8_bytes_falls_back_to_latin1() -> None:
    raw = with_body_bytes(
        f"From: {CUSTOMER}\nSubject: x\nContent-Type: text/plain; charset=x-unknown",
        "Grüße".encode("latin-1"),
    )

    assert parse(raw).text == "Grüße"


@pytest.mark.parametrize("charset", ["us-ascii", "utf-8", "utf-7", "idna", "undefined", "base64"])
def test_wrong_declared_charset_still_gives_the_text(charset: str) -> None:
    raw = with_body_bytes(
        f"From: {CUSTOMER}\nSubject: x\nContent-Type: text/plain; charset={charset}",
        "caf\xe9 ol\xe9".encode("latin-1"),
    )

    assert parse(raw).text == "café olé"


def test_charset_declared_as_latin1_decodes_latin1() -> None:
    raw = with_body_bytes(
        f"From: {CUSTOMER}\nSubject: x\nContent-Type: text/plain; charset=iso-8859-1",
        "café".encode("latin-1"),
    )

    assert parse(raw).text == "café"


def test_html_with_unknown_marked_section_does_not_raise() -> None:
    assert html_to_text("before<![foo[ inside ]]> after <b>bold</b>") == "before after bold"
    assert html_to_text("<![") == ""


def test_html_to_text_keeps_paragraph_breaks_lists_and_collapses_blank_lines() -> None:
    html = "<p>one</p>\n\n\n<p>two<br>three</p><ul><li>a</li><li>b</li></ul>"

    assert html_to_text(html) == "one\n\ntwo\nthree\n\n  * a\n  * b"


def test_message_without_any_text_part_has_empty_text() -> None:
    raw = message(content_type="application/pdf", body="JVBERi0xLjMK\r\n")

    assert parse(raw).text == ""


def test_attachment_only_multipart_falls_back_to_first_text_part() -> None:
    raw = with_body_bytes(
        f"From: {CUSTOMER}\nSubject: x\nContent-Type: multipart/mixed; boundary=b",
        b"--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment\r\n\r\na,b\r\n--b--\r\n",
    )

    assert body_text(_message_object(raw)) == "a,b"


# -- content for the timeline: the reply, safe HTML, files ----------------------------------------


def test_outlook_reply_gives_the_timeline_only_the_new_text() -> None:
    parsed = parse(emails.OUTLOOK_REPLY)

    assert parsed.reply_text == "Still burning, see photo."
    assert "Please unplug it." in parsed.text


def test_html_part_is_kept_sanitised_for_display() -> None:
    parsed = parse(emails.HTML_ONLY)

    assert parsed.html == "<p>First&nbsp;line &amp; more</p><div>Second line</div>"
    assert parse(message()).html == ""


def test_files_come_with_the_parsed_message_and_do_not_change_its_dedup_key() -> None:
    plain = message(message_id=None)
    with_file = with_body_bytes(
        f"From: Ada Lovelace <{CUSTOMER}>\nTo: {SUPPORT}\nSubject: Printer on fire\n"
        "Date: Mon, 02 Feb 2026 10:00:00 +0000\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=b",
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Hello,\r\nmy printer is on fire.\r\n--b\r\nContent-Type: image/jpeg\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''Dr%C3%BCcker.jpg\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQ\r\n--b--\r\n",
    )

    parsed = parse(with_file)

    assert [(a.filename, a.size) for a in parsed.attachments] == [("Drücker.jpg", 6)]
    assert parsed.dedup_key == parse(plain).dedup_key


def test_limits_come_from_the_settings() -> None:
    limits = limits_from(
        Settings(max_attachment_size=5, max_attachments_total=7, max_attachments=2)
    )

    assert (limits.max_attachment_size, limits.max_total_size, limits.max_attachments) == (5, 7, 2)


def test_the_workflow_gets_the_stripped_text_and_a_bounded_list_of_files() -> None:
    parts = "".join(
        f"--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; "
        f"filename=p{n}.png\r\n\r\npng{n}\r\n"
        for n in range(25)
    )
    raw = with_body_bytes(
        f"From: {CUSTOMER}\nSubject: x\nContent-Type: multipart/mixed; boundary=b",
        ("--b\r\nContent-Type: text/plain\r\n\r\nNew text\r\n\r\n> old text\r\n" + parts).encode()
        + b"--b--\r\n",
    )
    parsed = parse(raw)

    email_in = inbound_email(parsed, MailClass.HUMAN, verified=True)

    assert email_in.text == "New text"
    assert len(email_in.attachments) == MAX_NOTES == 20
    assert email_in.attachments[0] == AttachmentNote("p0.png", 4, "image/png", stored=True)
    assert email_in.attachments_omitted == 5


# -- hostile input -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n  ", b"\r\n\r\njust a body without headers"])
def test_empty_or_headerless_message_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedEmail):
        parse(raw)


def test_binary_garbage_is_malformed() -> None:
    garbage = bytes(range(256)) * 8

    with pytest.raises(MalformedEmail):
        parse(garbage)


@pytest.mark.parametrize(
    "sender", ["", "undisclosed-recipients:;", "MAILER-DAEMON <>", "<@>", "a@b", "x" * 400]
)
def test_message_without_a_usable_sender_is_malformed(sender: str) -> None:
    with pytest.raises(MalformedEmail, match="sender"):
        parse(message(sender=sender))


def test_two_megabyte_line_is_parsed_and_the_text_capped() -> None:
    raw = message(body="x" * 2_000_000 + "\r\n")

    parsed = parse(raw)

    assert len(parsed.text) == MAX_TEXT
    assert parsed.dedup_key == parse(raw).dedup_key


def test_two_megabyte_html_line_is_parsed() -> None:
    raw = message(content_type="text/html", body="<p>" + "y" * 2_000_000 + "</p>\r\n")

    assert parse(raw).text == "y" * MAX_TEXT


def test_multipart_nested_fifty_deep_finds_the_text() -> None:
    assert parse(emails.nested_multipart(50)).text == "deep text"


def _nested_flat(depth: int) -> bytes:
    """`emails.nested_multipart` without recursion, for depths Python's stack would refuse."""
    head = f"From: {CUSTOMER}\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    opens = "".join(
        f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n' for n in range(depth)
    )
    closes = "".join(f"\r\n--b{n}--\r\n" for n in reversed(range(depth)))
    return (head + opens + "Content-Type: text/plain\r\n\r\ndeep text\r\n" + closes).encode()


@pytest.mark.slow
def test_multipart_nested_thousands_deep_is_malformed_not_a_crash() -> None:
    started = time.monotonic()

    with pytest.raises(MalformedEmail, match="nested too deep"):
        parse(_nested_flat(2400))
    assert time.monotonic() - started < 5


def test_flood_of_mime_parts_is_refused_before_parsing() -> None:
    parts = "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 20_000
    raw = with_body_bytes(
        f"From: {CUSTOMER}\nSubject: x\nContent-Type: multipart/mixed; boundary=b",
        parts.encode() + b"--b--\r\n",
    )
    started = time.monotonic()

    with pytest.raises(MalformedEmail, match="boundary lines"):
        parse(raw)
    assert time.monotonic() - started < 1


@pytest.mark.slow
def test_huge_attachment_is_parsed_in_bounded_time_and_listed_without_its_bytes() -> None:
    body = base64.encodebytes(b"\0" * 30_000_000).decode("ascii").replace("\n", "\r\n")
    raw = with_body_bytes(
        f"From: {CUSTOMER}\nSubject: x\nContent-Type: multipart/mixed; boundary=b",
        (
            "--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--b\r\n"
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=big.bin\r\n\r\n" + body + "--b--\r\n"
        ).encode(),
    )
    started = time.monotonic()

    [big] = parse(raw).attachments

    assert time.monotonic() - started < 10
    assert (big.filename, big.size, big.data) == ("big.bin", 30_000_000, None)


def test_raw_latin1_and_broken_encoded_words_in_headers_do_not_raise() -> None:
    raw = (
        b"From: =?utf-8?q?Ren=FF?= <rene@example.com>\r\n"
        b"Subject: =?x-unknown?b?AAAA?= caf\xe9 =?utf-8?b?broken\r\n"
        b'To: "unterminated <support@caseflow.test>\r\n'
        b"Content-Type: text/plain; charset*=x-unknown''abc\r\n\r\nbody\r\n"
    )

    parsed = parse(raw)

    assert parsed.sender == "rene@example.com"
    assert parsed.text == "body"


# -- headers in 8 bits and in odd charsets ---------------------------------------------------------

# Raw 8-bit headers, as old clients and scripts send them: no RFC 2047 encoding, no charset.
LATIN1_SUBJECT = (
    b"From: Ren\xe9 Dupr\xe9 <rene@example.com>\r\n"
    b"To: support@caseflow.test\r\n"
    b"Subject: Probl\xe8me d'impression\r\n"
    b"Message-ID: <latin1.1@example.com>\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"\r\n"
    b"L'imprimante ne r\xe9pond plus.\r\n"
)


def _with_header(line: bytes, charset: str | None = "iso-8859-1", body: bytes = b"x") -> bytes:
    """A message with this header line (From and To are Ada's and ours unless it gives them),
    its body declaring `charset`, or nothing."""
    given = {name.split(b":")[0].lower() for name in line.split(b"\r\n")}
    head = b"" if b"from" in given else b"From: ada@example.com\r\n"
    head += b"" if b"to" in given else b"To: support@caseflow.test\r\n"
    declared = b"; charset=" + charset.encode() if charset else b""
    return head + line + b"\r\nContent-Type: text/plain" + declared + b"\r\n\r\n" + body + b"\r\n"


def test_raw_latin1_subject_and_name_are_read_in_the_charset_the_body_declares() -> None:
    parsed = parse(LATIN1_SUBJECT)

    assert parsed.subject == "Problème d'impression"
    assert (parsed.sender_name, parsed.sender) == ("René Dupré", "rene@example.com")
    assert parsed.text == "L'imprimante ne répond plus."


def test_raw_8bit_subject_without_any_declared_charset_is_read_as_windows_1252() -> None:
    raw = _with_header(b"Subject: Probl\xe8me \x93urgent\x94 \x96 \x80 5", charset=None)

    assert parse(raw).subject == "Problème \u201curgent\u201d \u2013 € 5"


def test_windows_1252_quotes_under_a_latin1_body_are_curly_quotes_not_controls() -> None:
    assert parse(_with_header(b"Subject: \x93Hi\x94")).subject == "\u201cHi\u201d"


def test_raw_utf8_subject_above_a_latin1_body_stays_utf8() -> None:
    raw = _with_header("Subject: Problème – ça brûle".encode())

    assert parse(raw).subject == "Problème – ça brûle"


@pytest.mark.parametrize(
    ("declared", "codec", "words"),
    [
        ("koi8-r", "koi8-r", "Принтер не печатает"),
        ("iso-8859-7", "iso-8859-7", "Πρόβλημα εκτυπωτή"),
        ("shift_jis", "cp932", "ソフトが起動しません"),
        ("gb2312", "gb18030", "打印机坏了"),
        ("big5", "big5", "印表機壞了"),
        ("euc-kr", "cp949", "프린터가 고장났어요"),
    ],
)
def test_raw_subject_in_the_charset_of_the_body_is_read_in_it(
    declared: str, codec: str, words: str
) -> None:
    raw = _with_header(b"Subject: " + words.encode(codec), declared, words.encode(codec))

    parsed = parse(raw)

    assert (parsed.subject, parsed.text) == (words, words)


def test_a_utf8_name_with_one_stray_latin1_byte_keeps_its_utf8_letters() -> None:
    raw = _with_header("From: José Mu".encode() + b"\xf1oz <jose@example.com>", charset=None)

    assert parse(raw).sender_name == "José Muñoz"


def test_encoded_words_and_raw_bytes_mixed_in_one_subject_are_all_decoded() -> None:
    line = b"Subject: =?utf-8?q?Re:?= Probl\xe8me =?iso-8859-1?q?r=E9solu?= d\xe9j\xe0"
    line += b" =?utf-8?b?4pyU?="

    assert parse(_with_header(line)).subject == "Re: Problème résolu déjà ✔"


@pytest.mark.parametrize(
    "line",
    [
        b"Subject: =?x-unknown?q?Probl=E8me?=",
        b"Subject: =?unknown-8bit?b?UHJvYmzDqG1l?=",  # UTF-8 inside
        b"Subject: =?no-such-charset?q?Probl=C3=A8me?=",
        b"Subject: =?utf-8?q?Probl=E8me?=",  # labelled UTF-8, but Latin-1
    ],
)
def test_an_encoded_word_in_an_unknown_or_wrong_charset_is_read_as_undeclared_bytes(
    line: bytes,
) -> None:
    assert parse(_with_header(line, charset=None)).subject == "Problème"


def test_an_encoded_word_labelled_latin1_is_read_as_windows_1252_as_browsers_do() -> None:
    raw = _with_header(b"From: =?iso-8859-1?q?=93Ren=E9=94?= <rene@example.com>", charset=None)

    assert parse(raw).sender_name == "\u201cRené\u201d"


def test_a_character_split_between_two_encoded_words_is_kept_whole() -> None:
    raw = _with_header(b"Subject: =?utf-8?b?UHJvYmzD?=\r\n =?utf-8?b?qG1l?=", charset=None)

    assert parse(raw).subject == "Problème"


def test_8bit_and_encoded_display_names_keep_the_address_lists_intact() -> None:
    raw = _with_header(
        b'To: "Dupr\xe9, Ana" <ana@example.com>, =?utf-8?q?B=C3=B8b=2C_Jr?= <bob@example.com>\r\n'
        b"From: =?utf-8?q?evil=2C_x=3Cy=40attacker=2Eexample=3E?= <real@example.com>"
    )

    parsed = parse(raw)

    assert parsed.to == ["ana@example.com", "bob@example.com"]
    assert parsed.sender == "real@example.com"
    assert parsed.sender_name == "evil, x<y@attacker.example>"


def test_control_characters_carried_by_encoded_words_or_raw_bytes_never_reach_the_text() -> None:
    raw = _with_header(b"Subject: =?utf-8?q?Printer=00_on=1B_fire?= \x81now\x7f", charset=None)

    assert parse(raw).subject == "Printer on fire now"


def test_the_header_of_an_unparsable_message_is_read_with_the_same_chain() -> None:
    header = b"From: Ren\xe9 <rene@example.com>\r\nSubject: Probl\xe8me\r\n"
    header += b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"

    assert header_glance(header) == ("rene@example.com", "Problème")


def test_rfc2231_report_type_parameter_does_not_raise() -> None:
    raw = message(content_type="multipart/report; report-type*=''delivery-status; boundary=x")

    assert parse(raw).content_type == "multipart/report"


def test_bare_lf_line_endings_parse_like_crlf() -> None:
    crlf = message()

    assert parse(crlf.replace(b"\r\n", b"\n")).text == parse(crlf).text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_parse_never_raises_anything_but_malformed_email_on_arbitrary_bytes(raw: bytes) -> None:
    with contextlib.suppress(MalformedEmail):
        parse(raw)


_HEADER_LINES = st.sampled_from(
    [
        b"From: a@example.com\r\n",
        b"From: =?utf-8?q?=FF?= <b@example.com>\r\n",
        b"Subject: =?x-unknown?b?AAAA?=\r\n",
        b"Message-ID: <A@B.example>\r\n",
        b"References: <a@B> <c@D>\r\n",
        b"Date: Mon, 99 Foo\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n",
        b"Content-Type: text/html; charset=undefined\r\n",
        b"Content-Type: text/plain; charset*=x''a\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"Content-Disposition: attachment; filename*=utf-8''%ff\r\n",
        b"\r\n",
        b"--x\r\n",
        b"--x--\r\n",
        b" folded\r\n",
        b"<![foo[ <p>x</p>\r\n",
        b"=\r\n",
        b"\xff\xfe\x00",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_HEADER_LINES | st.binary(max_size=40), max_size=30))
def test_parse_never_raises_anything_but_malformed_email_on_mail_like_bytes(
    lines: list[bytes],
) -> None:
    with contextlib.suppress(MalformedEmail):
        parse(b"".join(lines))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("<>![]/-=\"' abcdefpbrscriptstyle&#;x1"), max_size=200))
def test_html_to_text_never_raises(html: str) -> None:
    html_to_text(html)


# -- the corpus of real-world messages ------------------------------------------------------------


def _manifest() -> list[tuple[str, str]]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as manifest:
        rows = list(csv.reader(manifest, delimiter="\t"))
    return [(row[0], row[3]) for row in rows[1:] if row and not row[0].startswith("#")]


_CORPUS = _manifest()

# Filed as bounces by their source, but a list manager's "you are not a member" notice: it
# returns nothing and names no failed recipient, and its Mailing-List header makes it list mail,
# which is never acknowledged either.
_LIST_MANAGER_NOTICES = {"sisimai/bsd_lhost-fml-02.eml"}


@pytest.mark.skipif(not _CORPUS, reason=f"no corpus at {CORPUS}")
@pytest.mark.parametrize(("name", "category"), _CORPUS, ids=[name for name, _ in _CORPUS])
def test_corpus_message_parses_and_classifies(name: str, category: str) -> None:
    raw = (CORPUS / name).read_bytes()
    try:
        parsed = parse(raw)
    except MalformedEmail as malformed:
        # A mail server's report from `MAILER-DAEMON <>` is read leniently, never quarantined.
        report = bounces.lenient_parse(raw)
        assert report is not None or category != "bounce"
        if report is None:
            assert str(malformed), "quarantined without a reason to show"
            return
        parsed = report
    mail_class = classify(parsed, SUPPORT, raw)

    # True of every message taken in, whatever its category: it is known by its bytes and by
    # one key (its Message-ID, else a digest), and its text is bounded.
    assert parsed.raw_sha256 == hashlib.sha256(raw).hexdigest()
    expected_key = f"mid:{parsed.message_id}" if parsed.message_id else "digest:"
    assert parsed.dedup_key.startswith(expected_key)
    assert len(parsed.text) <= content.MAX_TEXT
    if mail_class is not MailClass.BOUNCE:  # only a mail server's report may come from `<>`
        assert "@" in parsed.sender
    if name in _LIST_MANAGER_NOTICES:
        assert mail_class is MailClass.BULK
    elif category == "bounce":
        assert mail_class is MailClass.BOUNCE
    if category.startswith("auto-reply"):
        assert mail_class is MailClass.AUTO_REPLY
    if category.startswith(("abuse-report", "complaints")):
        assert mail_class is MailClass.FEEDBACK
