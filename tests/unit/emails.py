"""Raw RFC 822 messages for the email unit tests: a builder and a few real-world shapes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

SUPPORT = "support@caseflow.test"
SECRET = "unit-test-secret-key"
CUSTOMER = "ada@example.com"


def _shared_corpus() -> Path:
    """../shared/corpus beside the clone, or beside a directory holding it (a worktree)."""
    clone = Path(__file__).resolve().parents[2]
    beside = [parent / "shared" / "corpus" for parent in clone.parents]
    return next((path for path in beside if path.is_dir()), beside[0])


# Real messages written elsewhere (../shared/corpus beside the clone, or CASEFLOW_CORPUS): read
# there at test time, never copied into the repository.
CORPUS = Path(os.environ.get("CASEFLOW_CORPUS") or _shared_corpus())


def message(
    *,
    sender: str = f"Ada Lovelace <{CUSTOMER}>",
    to: str = SUPPORT,
    subject: str = "Printer on fire",
    body: str = "Hello,\r\nmy printer is on fire.\r\n",
    message_id: str | None = "<m1.abc@mail.example.com>",
    date: str | None = "Mon, 02 Feb 2026 10:00:00 +0000",
    headers: Sequence[tuple[str, str]] = (),
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    """One message with CRLF line ends; `None` leaves a header out."""
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    if date is not None:
        lines.append(f"Date: {date}")
    if message_id is not None:
        lines.append(f"Message-ID: {message_id}")
    lines += [f"{name}: {value}" for name, value in headers]
    lines += ["MIME-Version: 1.0", f"Content-Type: {content_type}"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")


def with_body_bytes(head: str, body: bytes) -> bytes:
    """A message whose body bytes are given as they are, whatever the headers declare."""
    return head.replace("\n", "\r\n").encode("ascii") + b"\r\n\r\n" + body


def nested_multipart(depth: int, leaf: str = "deep text") -> bytes:
    """A text part wrapped in `depth` levels of multipart/mixed."""

    def nest(level: int) -> str:
        if level == 0:
            return f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{leaf}\r\n"
        boundary = f"b{level}"
        return (
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n{nest(level - 1)}\r\n--{boundary}--\r\n"
        )

    head = f"From: {CUSTOMER}\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    return (head + nest(depth)).encode("ascii")


ALTERNATIVE = b"""\
From: Ada Lovelace <ada@example.com>
To: support@caseflow.test
Subject: Both kinds
Message-ID: <alt.1@mail.example.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Plain words.
--alt
Content-Type: text/html; charset=utf-8

<p>HTML words.</p>
--alt--
"""

HTML_ONLY = b"""\
From: ada@example.com
To: support@caseflow.test
Subject: Only HTML
Message-ID: <html.1@mail.example.com>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><title>ignored title</title><style>p{color:red}</style></head>
<body><script>alert(1)</script><p>First&nbsp;line &amp; more</p><div>Second line</div></body></html>
"""

# Outlook answers on top and quotes the previous message below a header block, in text and in
# Word-made HTML with conditional comments and `o:p` tags.
OUTLOOK_REPLY = b"""\
From: "Lovelace, Ada" <ada@example.com>
To: "Support" <support@caseflow.test>
Subject: AW: [CAS-000123] Printer on fire
Message-ID: <DB7PR01MB1234.eurprd01.prod.outlook.com>
Thread-Topic: [CAS-000123] Printer on fire
Thread-Index: AQHZabcdEFGH
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="_000_DB7PR01_"

--_000_DB7PR01_
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Still burning, see photo.

Gr=FC=DFe, Ada

-----Original Message-----
From: Support <support@caseflow.test>
Sent: Monday, February 2, 2026 10:05 AM
To: Lovelace, Ada <ada@example.com>
Subject: [CAS-000999] Printer on fire

Please unplug it.

--_000_DB7PR01_
Content-Type: text/html; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

<html xmlns:o=3D"urn:schemas-microsoft-com:office:office"><head>
<style><!-- p.MsoNormal {margin:0cm} --></style></head><body>
<p class=3D"MsoNormal">Still burning, see photo.<o:p></o:p></p>
<p class=3D"MsoNormal"><![if !supportLists]>-<![endif]>Gr=FC=DFe, Ada</p>
<div style=3D"border-top:solid #E1E1E1 1.0pt"><p><b>From:</b> Support</p></div>
<p>Please unplug it.</p></body></html>

--_000_DB7PR01_--
"""

# RFC 3464 delivery status notification, as Postfix sends it.
DSN_BOUNCE = b"""\
Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: support@caseflow.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <20260202100500.ABC@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"

--dsn
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.
--dsn
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Final-Recipient: rfc822; nobody@example.net
Action: failed
Status: 5.1.1
--dsn
Content-Type: message/rfc822

From: support@caseflow.test
To: nobody@example.net
Subject: [CAS-000123] Your case
Message-ID: <CAS-000123.0123456789abcdef01234567@caseflow.test>

Hello
--dsn--
"""

ARF_REPORT = b"""\
From: abuse@isp.example
To: support@caseflow.test
Subject: FW: complaint
Message-ID: <arf.1@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="arf"

--arf
Content-Type: text/plain

This is an email abuse report.
--arf
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
--arf--
"""

READ_RECEIPT = b"""\
From: ada@example.com
To: support@caseflow.test
Subject: Read: [CAS-000123] Your case
Message-ID: <mdn.1@mail.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="mdn"

--mdn
Content-Type: text/plain

Your message was read.
--mdn
Content-Type: message/disposition-notification

Final-Recipient: rfc822; ada@example.com
Disposition: manual-action/MDN-sent-manually; displayed
--mdn--
"""
