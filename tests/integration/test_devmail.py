"""The development mail server: SMTP for any address in, IMAP per address out, clean shutdown."""

from __future__ import annotations

import email
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.policy import default
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from caseflow.devstack.mailserver import (
    PASSWD_FILE,
    PASSWORD,
    DevMailServer,
    MailServerError,
    normalise_address,
)
from caseflow.devstack.stack import banner
from caseflow.intake.mailbox import Mailbox, MailboxConfig
from caseflow.mail import verp
from caseflow.settings import Settings
from tests.support.servers import free_port

SUBJECT = b"=?utf-8?q?Caf=C3=A9_order?=  #42  [keep  spacing]"
MESSAGE = (
    b"From: Bob <bob@example.org>\r\n"
    b"To: support+abc@caseflow.test, alice@example.com\r\n"
    b"Subject: " + SUBJECT + b"\r\n"
    b"Message-ID: <devmail-1@example.org>\r\n"
    b"\r\n"
    b"Hello, my order never arrived.\r\n"
)
RECIPIENTS = ["support+abc@caseflow.test", "alice@example.com"]
SUPPORT = "support@caseflow.test"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DevMailServer]:
    mail = DevMailServer(tmp_path / "mail", smtp_port=free_port(), imap_port=free_port())
    try:
        mail.start()
        yield mail
    finally:
        mail.stop()


class ModuleRun:
    """`python -m caseflow.devstack.mailserver` in a child process, and the pymap it starts."""

    def __init__(self, base: Path) -> None:
        self.smtp_port, self.imap_port = free_port(), free_port()
        command = [sys.executable, "-m", "caseflow.devstack.mailserver", "--base", str(base)]
        command += ["--host", "127.0.0.1", "--smtp-port", str(self.smtp_port)]
        command += ["--imap-port", str(self.imap_port), "--address", "support@caseflow.test"]
        self.process = subprocess.Popen(command)
        self.pymap_pids: list[int] = []

    def wait_until_ready(self) -> None:
        assert wait_until(lambda: port_accepts(self.smtp_port) and port_accepts(self.imap_port))
        self.pymap_pids = child_pids(self.process.pid)
        assert len(self.pymap_pids) == 1

    def end(self) -> None:
        self.process.kill()
        self.process.wait()
        for pid in self.pymap_pids:
            if is_running_pymap(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def module_run(tmp_path: Path) -> Iterator[ModuleRun]:
    run = ModuleRun(tmp_path / "mail")
    try:
        yield run
    finally:
        run.end()


def child_pids(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def is_running_pymap(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return status != "Z" and b"pymap" in cmdline


def send(server: DevMailServer, recipients: list[str], message: bytes = MESSAGE) -> None:
    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        smtp.sendmail("bob@example.org", recipients, message)


def inbox(server: DevMailServer, user: str, password: str = PASSWORD) -> list[bytes]:
    client = IMAPClient(server.host, port=server.imap_port, ssl=False, timeout=10)
    try:
        client.login(user, password)
        client.select_folder("INBOX", readonly=True)
        fetched = client.fetch(client.search(), ["BODY.PEEK[]"])
        return [data[b"BODY[]"] for _, data in sorted(fetched.items())]
    finally:
        client.shutdown()


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def subject_line(raw: bytes) -> bytes:
    # pymap serves messages with bare LF line endings; the stored file keeps CRLF.
    return next(line for line in raw.splitlines() if line.startswith(b"Subject: "))


def test_one_message_reaches_every_recipient_mailbox(server: DevMailServer) -> None:
    send(server, RECIPIENTS)

    for user in ("support@caseflow.test", "alice@example.com"):
        messages = inbox(server, user)
        assert len(messages) == 1
        assert subject_line(messages[0]) == b"Subject: " + SUBJECT


def test_delivery_keeps_the_message_bytes_and_traces_the_original_recipient(
    server: DevMailServer,
) -> None:
    send(server, ["support+abc@caseflow.test"])

    maildir = server.base / "support@caseflow.test"
    (stored,) = [*maildir.glob("new/*"), *maildir.glob("cur/*")]
    raw = stored.read_bytes()
    assert raw.endswith(MESSAGE)
    assert b"Delivered-To: support+abc@caseflow.test\r\n" in raw[: -len(MESSAGE)]


def test_configured_mailbox_accepts_login_before_any_mail(server: DevMailServer) -> None:
    assert inbox(server, "support@caseflow.test") == []


def test_any_address_logs_in_before_its_first_mail_and_finds_an_empty_inbox(
    server: DevMailServer,
) -> None:
    assert inbox(server, "carol@globex.example") == []

    send(server, ["carol@globex.example"])

    [delivered] = inbox(server, "carol@globex.example")
    assert subject_line(delivered) == b"Subject: " + SUBJECT


def test_a_new_address_with_a_wrong_password_is_refused_and_gets_no_mailbox(
    server: DevMailServer,
) -> None:
    with pytest.raises(LoginError):
        inbox(server, "dave@example.com", password="not-caseflow")

    assert not (server.base / "dave@example.com").exists()
    assert b"dave@example.com" not in (server.base / PASSWD_FILE).read_bytes()


@pytest.mark.parametrize("name", ["../pymap-etc-passwd", "no-at-sign", "Dave@Example.com"])
def test_a_login_name_that_is_not_a_mailbox_of_its_own_is_refused(
    server: DevMailServer, name: str
) -> None:
    with pytest.raises(LoginError):
        inbox(server, name)

    assert sorted(p.name for p in server.base.iterdir() if p.is_dir()) == ["support@caseflow.test"]


def test_logins_and_deliveries_at_once_to_new_addresses_all_end_with_a_mailbox(
    server: DevMailServer,
) -> None:
    # The IMAP side (logins) and the SMTP side (deliveries) write the users files from two
    # processes: none may lose another's user.
    logging_in = [f"in-{n}@example.com" for n in range(12)]
    mailed = [f"mailed-{n}@example.com" for n in range(12)]
    with ThreadPoolExecutor(max_workers=24) as pool:
        logins = [pool.submit(inbox, server, address) for address in logging_in]
        sent = [pool.submit(send, server, [address]) for address in mailed]
        assert [f.result() for f in logins] == [[]] * len(logging_in)
        assert [f.result() for f in sent] == [None] * len(mailed)

    assert [len(inbox(server, address)) for address in logging_in + mailed] == [0] * 12 + [1] * 12


def test_mail_delivered_while_a_client_idles_is_announced_within_a_second(
    server: DevMailServer,
) -> None:
    # pymap looks at the mailbox of an idling client once a second; mail delivered just after
    # a look used to wait for the look after next.
    mailbox = Mailbox(MailboxConfig(server.host, server.imap_port, SUPPORT, PASSWORD))
    mailbox.connect()
    sent: list[float] = []

    def deliver() -> None:
        send(server, [SUPPORT])
        sent.append(time.monotonic())

    delivery = threading.Timer(0.2, deliver)
    try:
        delivery.start()
        mailbox.wait_for_mail(10, stopping=lambda: False)
        announced = time.monotonic()
        delivery.join()
        assert len(mailbox.pending()) == 1
    finally:
        mailbox.close()

    assert announced - sent[0] < 1.4


def first_email_recipes(smtp_port: int) -> dict[str, str]:
    """The README's and the banner's ways to send a first email, pointed at `smtp_port`."""
    readme = (ROOT / "README.md").read_text().split("## Your first case", 1)[1]
    blocks = re.findall(r"```sh\n(.*?)```", readme.split("Work the case", 1)[0], re.S)
    printed = banner(Settings(smtp_port=smtp_port), Path("home"), "token").split("\n")
    start = printed.index("Send a first email:")
    return {
        "readme curl": blocks[0].replace("2525", str(smtp_port)),
        "readme python": blocks[1].replace("2525", str(smtp_port)),
        "banner curl": printed[start + 1].strip(),
        "banner python": printed[start + 3].strip(),
    }


# Over 1,000 bytes in all, and for the recipes that can carry one a line of 3,000 characters.
LONG_TEXT = "It smokes.\\n" * 120
LONG_LINE = "It smokes, " + "and smokes, " * 250


@pytest.mark.parametrize("recipe", ["readme curl", "readme python", "banner curl", "banner python"])
def test_the_first_email_recipes_deliver_long_messages_and_say_so(
    server: DevMailServer, recipe: str
) -> None:
    if shutil.which("curl") is None and "curl" in recipe:
        pytest.skip("curl is not installed")
    as_written = first_email_recipes(server.smtp_port)[recipe]
    if "It smokes.\\n" in as_written:  # printf: lines of its own, each short
        script = as_written.replace("It smokes.\\n", LONG_TEXT)
    else:
        script = as_written.replace("It smokes.", LONG_LINE)
    assert script != as_written  # the recipe still says what the test lengthens

    done = subprocess.run(["bash"], input=script, capture_output=True, text=True, timeout=60)

    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "sent", "")
    [mail] = [email.message_from_bytes(raw, policy=default) for raw in inbox(server, SUPPORT)]
    assert str(mail["Subject"]) == "Printer on fire"
    text = mail.get_body(("plain",))
    assert text is not None and text.get_content().count("smokes") > 100


def test_wrong_password_is_refused(server: DevMailServer) -> None:
    send(server, ["alice@example.com"])

    with pytest.raises(LoginError):
        inbox(server, "alice@example.com", password="not-caseflow")


def test_address_that_cannot_be_a_mailbox_is_refused(server: DevMailServer) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(server, ["../pymap-etc-passwd"])


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("support+x7@caseflow.test", "support@caseflow.test"),
        ("Alice@Example.COM", "alice@example.com"),
        ("a.b+c+d@sub.example.org", "a.b@sub.example.org"),
    ],
)
def test_addresses_normalise_to_their_mailbox(address: str, mailbox: str) -> None:
    assert normalise_address(address) == mailbox


@pytest.mark.parametrize("address", ["no-at-sign", "+tag@example.com", "a/b@x.org", "a:b@x.org"])
def test_unsafe_addresses_do_not_normalise(address: str) -> None:
    with pytest.raises(ValueError):
        normalise_address(address)


def test_mail_survives_a_restart_on_the_same_base(server: DevMailServer) -> None:
    send(server, RECIPIENTS)
    server.stop()

    server.start()

    assert len(inbox(server, "alice@example.com")) == 1
    assert len(inbox(server, "support@caseflow.test")) == 1


def test_stop_leaves_no_pymap_process(server: DevMailServer) -> None:
    process = server.process
    assert process is not None

    server.stop()
    server.stop()

    assert process.returncode is not None
    assert not port_accepts(server.imap_port)
    assert not port_accepts(server.smtp_port)


def test_taken_imap_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        mail = DevMailServer(tmp_path / "mail", smtp_port=free_port(), imap_port=port)
        try:
            with pytest.raises(MailServerError, match="cannot listen"):
                mail.start()
        finally:
            mail.stop()
        assert mail.process is None


def test_module_stops_cleanly_on_sigterm(module_run: ModuleRun) -> None:
    module_run.wait_until_ready()

    module_run.process.send_signal(signal.SIGTERM)

    assert module_run.process.wait(timeout=20) == 0
    assert not port_accepts(module_run.imap_port)
    assert not port_accepts(module_run.smtp_port)
    assert not any(is_running_pymap(pid) for pid in module_run.pymap_pids)


def test_pymap_dies_when_its_parent_is_killed(module_run: ModuleRun) -> None:
    module_run.wait_until_ready()

    module_run.process.kill()
    module_run.process.wait(timeout=20)

    assert wait_until(lambda: not any(is_running_pymap(p) for p in module_run.pymap_pids))
    assert not port_accepts(module_run.imap_port)


def test_a_bounce_to_a_verp_address_lands_in_the_support_inbox_naming_it(
    server: DevMailServer,
) -> None:
    secret = Settings().secret_key.get_secret_value()
    address = verp.envelope_sender(secret, SUPPORT, "CAS-000123", "CAS-000123:ack", 0)
    report = (
        f"From: MAILER-DAEMON@mx.example.org\r\nTo: {address}\r\nSubject: failure notice\r\n"
        "\r\n550 user unknown\r\n"
    ).encode()

    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        smtp.sendmail("", [address.upper()], report)  # a null sender; a server that shouts

    [raw] = inbox(server, SUPPORT)
    landed = email.message_from_bytes(raw, policy=default)
    assert (str(landed["Return-Path"]), str(landed["Delivered-To"])) == ("<>", address.upper())
    [claims] = verp.bounce_claims(secret, [str(landed["Delivered-To"])])
    assert (claims.tag, claims.recipient) == ("CAS-000123", 0)
