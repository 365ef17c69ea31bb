"""Reading bounces: the failed recipients, the returned message, and the case it belongs to."""

from __future__ import annotations

import csv

import pytest

from caseflow import signing
from caseflow.intake import bounces
from caseflow.intake.parse import parse
from tests.unit.emails import CORPUS, DSN_BOUNCE, SECRET, SUPPORT, message

OUR_ID = "<CAS-000123.0123456789abcdef01234567@caseflow.test>"
NUMBER = "CAS-000123"


def dsn(action: str = "failed", status: str = "5.1.1", returned: str = "message/rfc822") -> bytes:
    """An RFC 3464 report about bob@x.example, returning our message (or only its header)."""
    return f"""\
Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: {SUPPORT}
Subject: Delivery Status Notification
Message-ID: <dsn.1@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

Your message could not be delivered.
--r
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; Bob@X.example
Action: {action}
Status: {status}
--r
Content-Type: {returned}

From: {SUPPORT}
To: bob@x.example
Subject: [CAS-000123] We received your request
Message-ID: {OUR_ID}
Reply-To: <support+{signing.reply_token(SECRET, NUMBER)}@caseflow.test>

--r--
""".replace("\n", "\r\n").encode()


def outbox(*ids: str) -> dict[str, str]:
    return dict.fromkeys(ids, NUMBER)


def locate(raw: bytes, known: dict[str, str]) -> str | None:
    def lookup(ids: list[str]) -> str | None:
        return next((known[i] for i in ids if i in known), None)

    found = bounces.locate(bounces.read_bounce(raw), parse(raw), SECRET, SUPPORT, lookup)
    return found.case_number if found is not None else None


# -- failed recipients ---------------------------------------------------------------------------


def test_delivery_status_report_names_the_final_recipient_lower_cased() -> None:
    bounce = bounces.read_bounce(dsn())

    assert bounce.failed == ["bob@x.example"]
    assert bounce.permanent
    assert bounce.status == "5.1.1"


def test_delayed_delivery_is_a_temporary_failure() -> None:
    bounce = bounces.read_bounce(dsn(action="delayed", status="4.4.7"))

    assert bounce.failed == ["bob@x.example"]
    assert not bounce.permanent


def test_postfix_sample_names_its_recipient_and_our_message() -> None:
    bounce = bounces.read_bounce(DSN_BOUNCE)

    assert bounce.failed == ["nobody@example.net"]
    assert OUR_ID in bounce.returned_ids


def test_x_failed_recipients_names_the_recipient() -> None:
    raw = message(
        sender="MAILER-DAEMON@mx.example.net",
        headers=[("X-Failed-Recipients", "Carol@Y.example")],
        body="A message that you sent could not be delivered.\r\n",
    )

    assert bounces.read_bounce(raw).failed == ["carol@y.example"]


def test_recipient_spelled_out_in_prose_is_found_when_nothing_else_names_it() -> None:
    raw = message(
        sender="post_master@vtext.example.com",
        body="Error: Invalid user address\r\n  RCPT TO: 0000@vtext.example.com\r\n",
    )

    bounce = bounces.read_bounce(raw)

    assert bounce.failed == ["0000@vtext.example.com"]
    assert bounce.permanent


def test_message_that_names_nobody_has_no_failed_recipient() -> None:
    assert bounces.read_bounce(message()).failed == []


# -- the case whose email bounced ----------------------------------------------------------------


@pytest.mark.parametrize("returned", ["message/rfc822", "text/rfc822-headers"])
def test_bounce_finds_its_case_by_our_message_id_in_the_returned_message(returned: str) -> None:
    assert locate(dsn(returned=returned), outbox(OUR_ID)) == NUMBER


def test_bounce_finds_its_case_by_the_signed_reply_address_when_the_outbox_does_not_know() -> None:
    assert locate(dsn(), outbox()) == NUMBER


def test_bounce_with_a_forged_reply_token_and_an_unknown_message_id_finds_no_case() -> None:
    raw = dsn().replace(signing.reply_token(SECRET, NUMBER).encode(), b"cas-000123.aaaaaaaaaaaa")

    assert locate(raw, outbox()) is None


def test_bounce_of_someone_elses_message_finds_no_case() -> None:
    raw = dsn().replace(OUR_ID.encode(), b"<other@elsewhere.example>")
    raw = raw.replace(b"Reply-To", b"X-Old-Reply-To")

    assert locate(raw, outbox(OUR_ID)) is None


def test_message_id_pasted_into_the_text_is_found() -> None:
    raw = message(
        sender="MAILER-DAEMON <>",
        body=f"Delivery failed.\r\n\r\nMessage headers follow.\r\n\r\nMessage-Id: {OUR_ID}\r\n",
    )

    assert OUR_ID in bounces.read_bounce(raw).returned_ids


# -- a report without a sender --------------------------------------------------------------------


def test_null_sender_report_is_read_leniently_with_an_empty_sender() -> None:
    raw = dsn().replace(
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>", b"From: MAILER-DAEMON <>"
    )

    parsed = bounces.lenient_parse(raw)

    assert parsed is not None
    assert (parsed.sender, parsed.sender_name) == ("", "MAILER-DAEMON")
    assert parsed.message_id == "<dsn.1@mx.example.net>"
    assert parsed.dedup_key == "mid:<dsn.1@mx.example.net>"
    assert "could not be delivered" in parsed.text


def test_a_bare_delivery_status_without_any_from_is_read_leniently() -> None:
    raw = b"Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\n"

    assert bounces.lenient_parse(raw) is not None


def test_message_with_some_other_missing_sender_is_not_read_leniently() -> None:
    assert bounces.lenient_parse(message(sender="undisclosed-recipients:;")) is None


# -- the corpus ----------------------------------------------------------------------------------


def _corpus_bounces() -> list[str]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as manifest:
        rows = list(csv.reader(manifest, delimiter="\t"))[1:]
    return [row[0] for row in rows if row and row[3] == "bounce"]


_BOUNCES = _corpus_bounces()


@pytest.mark.skipif(not _BOUNCES, reason=f"no corpus at {CORPUS}")
def test_most_corpus_bounces_name_their_failed_recipient() -> None:
    named = [name for name in _BOUNCES if bounces.read_bounce((CORPUS / name).read_bytes()).failed]

    # 45 of 54 when written; flufl.bounce alone found 40.
    assert len(named) >= 44, sorted(set(_BOUNCES) - set(named))


@pytest.mark.skipif(not _BOUNCES, reason=f"no corpus at {CORPUS}")
@pytest.mark.parametrize("name", _BOUNCES)
def test_reading_a_corpus_bounce_never_raises(name: str) -> None:
    bounce = bounces.read_bounce((CORPUS / name).read_bytes())

    assert all("@" in address for address in bounce.failed)


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Undeliverable: your request", "Delivery has failed to these recipients."),
        ("Unzustellbar: Ihre Anfrage", "Die Nachricht konnte nicht zugestellt werden."),
        ("Non remis : votre demande", "Votre message n'a pas pu être remis."),
        ("Non recapitabile: la sua richiesta", "Impossibile recapitare il messaggio."),
        ("Não entregue: o seu pedido", "Não foi possível entregar a mensagem."),
        ("No se puede entregar: su solicitud", "No se pudo entregar el mensaje."),
        ("Delayed Mail (still being retried)", "Delivery is delayed; we will keep trying."),
        ("Your message awaits moderator approval", "It is held for moderation."),
        ("VIRUS ALERT", "A virus was found; the message has been quarantined."),
    ],
    ids=["en", "de", "fr", "it", "pt", "es", "delay", "moderation", "antivirus"],
)
def test_a_serverless_report_in_any_of_six_languages_is_read_leniently(
    subject: str, text: str
) -> None:
    raw = message(sender="MAILER-DAEMON <>", subject=subject, body=text + "\r\n")

    assert bounces.lenient_parse(raw) is not None
    assert bounces.looks_like_bounce_text(subject, "")
    assert bounces.looks_like_bounce_text("", text)


@pytest.mark.parametrize(
    "text",
    [
        "Hello, my printer is on fire.",
        "Ich habe eine Frage zu meiner Rechnung.",
        "Bonjour, ma commande n'est pas arrivée.",
        "Buongiorno, il pacco non è arrivato.",
        "Olá, a minha encomenda ainda não chegou.",
        "Hola, mi pedido no ha llegado todavía.",
    ],
)
def test_a_persons_words_are_no_report(text: str) -> None:
    assert not bounces.looks_like_bounce_text("A question", text)
