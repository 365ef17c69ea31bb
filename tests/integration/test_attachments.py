"""Files and full content of inbound email: stored by the intake, listed and served by the API.

The store on SQLite and PostgreSQL; the whole path against Dovecot, the Temporal dev server, a
worker and the in-process API.
"""

from __future__ import annotations

import email.policy
import hashlib
import struct
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from caseflow.api.routes.attachments import content_disposition, safe_content_type
from caseflow.intake.content import Attachment as File
from caseflow.intake.mailbox import PROCESSED
from caseflow.intake.parse import parse
from caseflow.store import attachments, messages
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import Attachment, Blob
from tests.integration import test_intake
from tests.integration.test_intake import Desk, drain_once, eventually
from tests.support.api import api_client, bearer

ANN = bearer("ann")
desk = test_intake.desk  # the fixture: a mailbox in Dovecot, a worker, an SMTP sink
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4
PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x01" * 500


# -- the store, on SQLite and PostgreSQL -----------------------------------------------------------


@pytest.fixture
def store(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def files(*pairs: tuple[str, bytes | None]) -> list[File]:
    return [File(name, "application/octet-stream", len(data or b"x"), data) for name, data in pairs]


def test_same_bytes_are_stored_once_across_files_and_messages(
    store: sessionmaker[Session],
) -> None:
    with transaction(store) as session:
        attachments.store_message_files(
            session, "mid:<a@x>", files(("a.pdf", PDF), ("copy.pdf", PDF)), "text a", ""
        )
        attachments.store_message_files(session, "mid:<b@x>", files(("b.pdf", PDF)), "text b", "")

    with transaction(store) as session:
        sha = hashlib.sha256(PDF).hexdigest()
        assert session.scalar(select(func.count()).where(Blob.sha256 == sha)) == 1
        rows = session.scalars(select(Attachment).where(Attachment.sha256 == sha)).all()
        assert sorted(r.filename for r in rows) == ["a.pdf", "b.pdf", "copy.pdf"]


def test_storing_a_message_twice_changes_nothing(store: sessionmaker[Session]) -> None:
    with transaction(store) as session:
        first = attachments.store_message_files(
            session, "mid:<c@x>", files(("c.pdf", PDF)), "t", "<p>t</p>"
        )
    with transaction(store) as session:
        again = attachments.store_message_files(
            session, "mid:<c@x>", files(("c.pdf", PDF)), "t", "<p>t</p>"
        )
        count = session.scalar(select(func.count()).where(Attachment.dedup_key == "mid:<c@x>"))

    assert (first, again, count) == (True, False, 3)  # the file, the text and the HTML


def test_files_are_listed_on_the_case_once_the_message_reaches_it(
    store: sessionmaker[Session],
) -> None:
    with transaction(store) as session:
        attachments.store_message_files(
            session, "mid:<d@x>", files(("big.iso", None), ("d.pdf", PDF)), "full text", ""
        )
        assert attachments.case_files(session, "CAS-777777") == []
        attachments.assign_case(session, "mid:<d@x>", "CAS-777777")

    with transaction(store) as session:
        listed = attachments.case_files(session, "CAS-777777")
        assert [(r.filename, r.sha256 is None) for r in listed] == [
            ("big.iso", True),
            ("d.pdf", False),
        ]
        assert attachments.case_file(session, "CAS-000001", listed[1].id) is None
        assert attachments.blob(session, listed[1].sha256 or "") == PDF


def test_files_of_a_message_already_on_a_case_are_listed_there_at_once(
    store: sessionmaker[Session],
) -> None:
    facts = messages.InboundFacts(
        "mid:<e@x>", "support@caseflow.test", "0" * 64, "<e@x>", "", "", ""
    )
    with transaction(store) as session:
        messages.claim_inbound(session, facts)
        messages.mark_delivered(session, "mid:<e@x>", "CAS-888888", "new")
    with transaction(store) as session:
        attachments.store_message_files(session, "mid:<e@x>", files(("e.pdf", PDF)), "text", "")

    with transaction(store) as session:
        assert [r.filename for r in attachments.case_files(session, "CAS-888888")] == ["e.pdf"]


# -- through the intake and the API ----------------------------------------------------------------


def tnef_object(level: int, name: int, data: bytes, kind: int = 6) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", checksum)


def winmail(name: str, data: bytes) -> bytes:
    return (
        struct.pack("<IH", 0x223E9F78, 1)
        + tnef_object(1, 0x9006, struct.pack("<I", 0x10000))
        + tnef_object(2, 0x9002, b"\x01\x00\xff\xff\xff\xff\x00\x00\x00\x00")
        + tnef_object(2, 0x8010, name.encode("cp1252") + b"\x00", kind=1)
        + tnef_object(2, 0x800F, data)
    )


def customer_mail(desk: Desk, sender: str) -> bytes:
    """A Gmail-style reply in text and HTML with a PDF, a photo twice, an oversized file, a
    winmail.dat and a hostile file name."""
    msg = EmailMessage()
    msg["From"] = f"Ada <{sender}>"
    msg["To"] = desk.address
    msg["Subject"] = "Invoice wrong"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@customer.example>"
    msg.set_content(
        "The invoice is wrong, see attached.\n\n"
        "On Mon, Feb 2, 2026 at 10:05 AM Support <s@x.test> wrote:\n> Send us the invoice.\n"
    )
    msg.add_alternative(
        "<p>The invoice is <b>wrong</b>, see attached.</p><script>alert(1)</script>"
        '<img src="https://tracker.example/p.gif"><blockquote>Send us the invoice.</blockquote>',
        subtype="html",
    )
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="Rechnung März.pdf")
    msg.add_attachment(PHOTO, maintype="image", subtype="png", filename="photo.png")
    msg.add_attachment(PHOTO, maintype="image", subtype="png", filename="same photo.png")
    msg.add_attachment(b"\0" * 3000, maintype="application", subtype="zip", filename="big.zip")
    msg.add_attachment(b"<script>x</script>", maintype="text", subtype="html", filename="../x.html")
    tnef = winmail("notes.txt", b"inside the winmail.dat")
    msg.add_attachment(tnef, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    return msg.as_bytes(policy=email.policy.SMTP)  # CRLF, as Dovecot stores it


@pytest.fixture
async def http(desk: Desk) -> AsyncIterator[httpx.AsyncClient]:
    small = desk.settings.model_copy(update={"max_attachment_size": 2000})
    desk.harness.settings = small  # the intake reads its limits from here
    async with api_client(small, desk.env.client) as client:
        yield client


async def take_in_one(desk: Desk, sender: str) -> tuple[str, bytes]:
    raw = customer_mail(desk, sender)
    desk.deliver(raw)
    [outcome] = await drain_once(desk)
    assert outcome.folder == PROCESSED
    assert outcome.case_number is not None
    await eventually(lambda: desk.case(outcome.case_number or ""))
    return outcome.case_number, raw


async def get_json(http: httpx.AsyncClient, url: str, **params: str) -> Any:
    response = await http.get(url, headers=ANN, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_files_of_an_email_are_listed_and_downloadable(
    desk: Desk,
    http: httpx.AsyncClient,
) -> None:
    number, _ = await take_in_one(desk, f"ada-{uuid.uuid4().hex[:8]}@customer.example")

    listed = (await get_json(http, f"/cases/{number}/attachments"))["items"]

    assert [(f["filename"], f["size"], f["stored"]) for f in listed] == [
        ("Rechnung März.pdf", len(PDF), True),
        ("photo.png", len(PHOTO), True),
        ("same photo.png", len(PHOTO), True),
        ("big.zip", 3000, False),
        ("x.html", 18, True),
        ("notes.txt", 22, True),
    ]
    pdf = await http.get(f"/cases/{number}/attachments/{listed[0]['id']}", headers=ANN)
    assert pdf.content == PDF
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-disposition"] == (
        "attachment; filename=\"Rechnung M_rz.pdf\"; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf"
    )
    html = await http.get(f"/cases/{number}/attachments/{listed[4]['id']}", headers=ANN)
    assert html.headers["content-type"] == "application/octet-stream"
    big = await http.get(f"/cases/{number}/attachments/{listed[3]['id']}", headers=ANN)
    assert (big.status_code, big.json()["error"]) == (410, "not_kept")
    with transaction(desk.harness.sessions) as session:
        sha = hashlib.sha256(PHOTO).hexdigest()
        assert session.scalar(select(func.count()).where(Blob.sha256 == sha)) == 1


async def test_timeline_gets_the_reply_and_the_api_the_whole_email(
    desk: Desk,
    http: httpx.AsyncClient,
) -> None:
    number, raw = await take_in_one(desk, f"bob-{uuid.uuid4().hex[:8]}@customer.example")
    key = parse(raw).dedup_key

    case = await get_json(http, f"/cases/{number}")
    whole = await get_json(http, f"/cases/{number}/emails/content", key=key)
    original = await http.get(f"/cases/{number}/emails/raw", headers=ANN, params={"key": key})

    [event] = [e for e in case["timeline"] if e["kind"] == "email_in"]
    assert event["body"] == "The invoice is wrong, see attached."
    assert case["description"] == "The invoice is wrong, see attached."
    assert "> Send us the invoice." in whole["text"]
    assert whole["html"].startswith("<p>The invoice is <b>wrong</b>, see attached.</p>")
    assert "script" not in whole["html"] and "tracker" not in whole["html"]
    assert len(whole["attachments"]) == 6
    assert original.content == raw
    assert original.headers["content-type"] == "message/rfc822"


async def test_the_workflow_hears_of_the_files_by_name_and_size(desk: Desk) -> None:
    desk.harness.settings = desk.settings.model_copy(update={"max_attachment_size": 2000})
    number, _ = await take_in_one(desk, f"cy-{uuid.uuid4().hex[:8]}@customer.example")

    history = await desk.env.client.get_workflow_handle(number).fetch_history()

    started = history.events[0].workflow_execution_started_event_attributes
    payload = started.input.payloads[0].data.decode()
    assert '"filename":"Rechnung März.pdf"' in payload
    assert '"filename":"big.zip","size":3000,"content_type":"application/zip","stored":false' in (
        payload
    )


async def test_unknown_case_attachment_or_email_answers_404_and_no_token_401(
    desk: Desk,
    http: httpx.AsyncClient,
) -> None:
    number, _ = await take_in_one(desk, f"dee-{uuid.uuid4().hex[:8]}@customer.example")
    [first, *_] = (await get_json(http, f"/cases/{number}/attachments"))["items"]

    assert (await http.get(f"/cases/{number}/attachments")).status_code == 401
    assert (await http.get("/cases/CAS-999999/attachments", headers=ANN)).status_code == 404
    other = await http.get(f"/cases/CAS-999999/attachments/{first['id']}", headers=ANN)
    assert other.status_code == 404
    missing = await http.get(
        f"/cases/{number}/emails/content", headers=ANN, params={"key": "mid:<nope@x>"}
    )
    assert missing.status_code == 404


# -- the pure helpers of the download route --------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "served"),
    [
        ("application/pdf", "application/pdf"),
        ("IMAGE/PNG; name=x", "image/png"),
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/javascript", "application/octet-stream"),
        ("text/xml", "application/octet-stream"),
        ("application/x-msdownload", "application/octet-stream"),
        ("garbage", "application/octet-stream"),
    ],
)
def test_only_harmless_types_are_named_on_download(declared: str, served: str) -> None:
    assert safe_content_type(declared) == served


def test_content_disposition_has_an_ascii_fallback_and_the_exact_utf8_name() -> None:
    assert content_disposition('a "quoted" \\ 100%.txt') == (
        'attachment; filename="a _quoted_ _ 100_.txt"; '
        "filename*=UTF-8''a%20%22quoted%22%20%5C%20100%25.txt"
    )


def test_raw_message_stays_retrievable_by_its_hash(store: sessionmaker[Session]) -> None:
    raw = b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    sha = hashlib.sha256(raw).hexdigest()
    with transaction(store) as session:
        messages.store_raw(session, sha, raw)
    with transaction(store) as session:
        assert messages.raw_message(session, sha) == raw
