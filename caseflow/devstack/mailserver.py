"""The development mail server for `make run`: SMTP for any address, IMAP through pymap, where
any address logs in with the password `caseflow` (its first mail or login makes its mailbox)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import functools
import importlib.util
import logging
import mailbox
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from pysasl.hashing import BuiltinHash

from caseflow.devstack.processes import die_with_parent

logger = logging.getLogger(__name__)

PASSWORD = "caseflow"
PASSWD_FILE = "pymap-etc-passwd"
SHADOW_FILE = "pymap-etc-shadow"
PYMAP_LOG = "pymap.log"
PYMAP_BACKEND = "caseflow-maildir"  # registered by caseflow.devstack.pymap_server
USERS_LOCK = ".users.lock"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
# pymap services that would listen on more ports if their optional dependencies were installed.
_UNWANTED_PYMAP_SERVICES = ("admin", "managesieve", "swim")

# An address becomes a directory name and a passwd entry: no slash, colon, space or bracket.
_MAILBOX_ADDRESS = re.compile(r"[a-z0-9!#$%&'*+=?^_`{|}~-][a-z0-9!#$%&'*+=?^_`{|}~.-]*@[a-z0-9.-]+")


class MailServerError(RuntimeError):
    """The development mail server could not start."""


def normalise_address(address: str) -> str:
    """`Support+X7@Caseflow.test` → `support@caseflow.test`; ValueError if no mailbox can be."""
    local, _, domain = address.strip().lower().rpartition("@")
    normalised = f"{local.partition('+')[0]}@{domain}"
    if not _MAILBOX_ADDRESS.fullmatch(normalised) or ".." in domain:
        raise ValueError(f"not a deliverable address: {address!r}")
    return normalised


@functools.cache
def _password_hash() -> str:
    hashed: str = BuiltinHash(rounds=1000).hash(PASSWORD)
    return hashed


class MailboxUsers:
    """pymap's users files under BASE: every mailbox is an IMAP user, password `caseflow`."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._lock = threading.Lock()

    def ensure(self, address: str) -> Path:
        """Create the Maildir and IMAP user of a normalised address; returns the Maildir path.
        Safe beside other threads and processes doing it too: SMTP delivering, IMAP logging in."""
        path = self.base / address
        with self._lock, _locked(self.base / USERS_LOCK):
            mailbox.Maildir(path, create=True)
            if address not in _user_names(self.base / PASSWD_FILE):
                # The password first: pymap refuses a user whose password it cannot find.
                _put_line(self.base / SHADOW_FILE, address, f"{address}:{_password_hash()}:::::::")
                _put_line(self.base / PASSWD_FILE, address, f"{address}:x::::{address}:")
                logger.debug("Created the IMAP user %s", address)
        return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if needed), held across processes."""
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def _user_names(path: Path) -> set[str]:
    return {line.split(":", 1)[0] for line in _read_lines(path) if line}


def _put_line(path: Path, name: str, line: str) -> None:
    """Replace the user's line, atomically, so that pymap never reads half a file."""
    kept = [old for old in _read_lines(path) if old and old.split(":", 1)[0] != name]
    text = "".join(f"{each}\r\n" for each in [*kept, line])
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def deliver(users: MailboxUsers, recipient: str, mail_from: str, content: bytes) -> None:
    """Store one message in the recipient's Maildir, traced like a local delivery agent does:
    the whole address it came to, `support+b.<token>@` too, in Delivered-To (plus addressing
    delivers that to `support@`, as production MTAs must for VERP bounces)."""
    maildir = users.ensure(normalise_address(recipient))
    sender = mail_from.strip().removeprefix("<").removesuffix(">")  # a bounce's null sender: <>
    trace = f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()
    mailbox.Maildir(maildir, create=True).add(trace + content)


class _DeliveryHandler:
    """aiosmtpd handler: accepts any well-formed recipient and delivers to its mailbox."""

    def __init__(self, users: MailboxUsers) -> None:
        self._users = users

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        try:
            normalise_address(address)
        except ValueError:
            return "550 5.1.3 Not an address this server can deliver to"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content
        recipients = list(dict.fromkeys(envelope.rcpt_tos))
        try:
            await asyncio.to_thread(self._deliver_all, recipients, envelope.mail_from or "", raw)
        except OSError:
            logger.exception("Could not store a message")
            return "451 4.3.0 Could not store the message, try again"
        return "250 OK: delivered"

    def _deliver_all(self, recipients: list[str], mail_from: str, raw: bytes) -> None:
        for recipient in recipients:
            deliver(self._users, recipient, mail_from, bytes(raw))
            logger.debug("Delivered a message to %s", recipient)


class DevMailServer:
    """SMTP on `smtp_port` accepting mail for anyone; IMAP on `imap_port` for every recipient."""

    def __init__(
        self,
        base: Path,
        host: str = "127.0.0.1",
        smtp_port: int = 2525,
        imap_port: int = 1143,
        addresses: Sequence[str] = ("support@caseflow.test",),
    ) -> None:
        self.base = Path(base)
        self.host = host
        self.smtp_port = smtp_port
        self.imap_port = imap_port
        self.addresses = tuple(normalise_address(a) for a in addresses)
        self.users = MailboxUsers(self.base)
        self.process: subprocess.Popen[bytes] | None = None  # the latest pymap, kept after stop()
        self._controller: Controller | None = None

    def start(self) -> None:
        """Create the configured mailboxes, start pymap and wait for it, then start SMTP."""
        if self.process is not None and self.process.poll() is None:
            raise MailServerError("the development mail server is already running")
        self.base.mkdir(parents=True, exist_ok=True)
        for address in self.addresses:
            self.users.ensure(address)
        try:
            self._start_imap()
            self._start_smtp()
        except BaseException:
            self.stop()
            raise
        logger.info(
            "Development mail server: SMTP %s:%d, IMAP %s:%d (password %r), mail under %s",
            *(self.host, self.smtp_port, self.host, self.imap_port, PASSWORD, self.base),
        )

    @property
    def running(self) -> bool:
        """Both SMTP and pymap are up."""
        alive = self.process is not None and self.process.poll() is None
        return alive and self._controller is not None

    def stop(self) -> None:
        """Stop SMTP, then pymap (terminate, then kill). Safe to call more than once."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        if self.process is not None:
            _end_process(self.process)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _start_imap(self) -> None:
        # Refuse a taken port: otherwise the wait below would mistake the other server for pymap.
        _require_free_port(self.host, self.imap_port)
        _require_pymap()
        # pymap's maildir backend, with a login that opens the mailbox of any address.
        command = [sys.executable, "-m", "caseflow.devstack.pymap_server"]
        command += ["--host", self.host, "--port", str(self.imap_port), "--no-tls"]
        command += [*_no_services(), PYMAP_BACKEND, str(self.base)]
        with open(self.base / PYMAP_LOG, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "FQDN": "localhost"},  # skips a DNS lookup per connection
                # Before the SMTP thread exists: preexec_fn is unsafe once threads run.
                preexec_fn=die_with_parent,
            )
        self._wait_for_imap(self.process)

    def _wait_for_imap(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise MailServerError(
                    f"pymap exited with status {process.returncode}: {self._pymap_log_tail()}"
                )
            if _port_accepts(self.host, self.imap_port):
                return
            time.sleep(0.05)
        raise MailServerError(f"pymap did not listen on {self.host}:{self.imap_port} in time")

    def _pymap_log_tail(self) -> str:
        lines = _read_lines(self.base / PYMAP_LOG)[-10:]
        return " | ".join(lines) or f"no output (see {self.base / PYMAP_LOG})"

    def _start_smtp(self) -> None:
        controller = Controller(
            _DeliveryHandler(self.users),
            hostname=self.host,
            port=self.smtp_port,
            server_hostname="localhost",
        )
        controller.start()
        self._controller = controller


def _require_pymap() -> None:
    if importlib.util.find_spec("pymap") is None:
        raise MailServerError("pymap is not installed; install caseflow[devstack]")


def _no_services() -> list[str]:
    return [arg for name in _UNWANTED_PYMAP_SERVICES for arg in ("--no-service", name)]


def _require_free_port(host: str, port: int) -> None:
    with socket.socket() as sock:
        # As servers bind: connections of a previous run in TIME_WAIT do not make it busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            raise MailServerError(f"cannot listen on {host}:{port}: {err.strerror}") from err


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _end_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        logger.warning("pymap ignored SIGTERM; killing it")
        process.kill()
        process.wait()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, required=True, help="directory of the mailboxes")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--imap-port", type=int, default=1143)
    parser.add_argument(
        "--address",
        action="append",
        dest="addresses",
        help="a mailbox to create at start (repeatable; default support@caseflow.test)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the development mail server until SIGTERM or SIGINT."""
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs addresses at info
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    addresses = args.addresses or ["support@caseflow.test"]
    server = DevMailServer(args.base, args.host, args.smtp_port, args.imap_port, addresses)
    try:
        server.start()
    except MailServerError as err:
        logger.error("The development mail server did not start: %s", err)
        raise SystemExit(1) from err
    try:
        status = _serve(server, stopping)
    finally:
        server.stop()
    if status:
        raise SystemExit(status)


def _serve(server: DevMailServer, stopping: threading.Event) -> int:
    while not stopping.wait(1.0):
        if not server.running:
            logger.error("pymap stopped unexpectedly; see %s", server.base / PYMAP_LOG)
            return 1
    return 0


if __name__ == "__main__":
    main()
