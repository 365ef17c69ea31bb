"""A private Dovecot IMAP server for integration tests, started and stopped by the tests."""

from __future__ import annotations

import atexit
import contextlib
import grp
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from pydantic import SecretStr

from caseflow.devstack.processes import die_with_parent
from caseflow.settings import Settings

HOST = "127.0.0.1"
DEFAULT_PASSWORD = "caseflow"
STARTUP_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
PASSWD_RESYNC = 1.1

CONFIG = """\
protocols = imap lmtp
listen = {host}
base_dir = {root}/run
state_dir = {root}/state
instance_name = caseflow-test-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
mail_uid = {mail_uid}
mail_gid = {mail_gid}
first_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}
mail_location = maildir:{root}/mail/%u/Maildir
# Plus addressing, as production MTAs route VERP bounces: `user+detail@domain` is delivered to
# `user@domain`'s INBOX, with a Delivered-To header naming the whole address, detail and all.
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no
lmtp_hdr_delivery_address = final
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = home={root}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {host}
    port = {lmtp_port}
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def dovecot_binary() -> str | None:
    """The `dovecot` executable, or None when Dovecot is not installed."""
    return shutil.which("dovecot") or next(
        (
            path
            for path in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
            if os.access(path, os.X_OK)
        ),
        None,
    )


def require_dovecot() -> str:
    """The binary; skips the test locally when it is missing, fails it on CI (`CI` is set)."""
    binary = dovecot_binary()
    if binary is None:
        reason = "Dovecot is not installed (apt-get install dovecot-imapd)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the Dovecot tests", pytrace=False)
        pytest.skip(reason)
    return binary


class DovecotError(RuntimeError):
    """Dovecot did not start; the message ends with the tail of its log."""


class Dovecot:
    """One Dovecot instance in its own temporary directory, on a free port of 127.0.0.1."""

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or require_dovecot()
        self.host = HOST
        self.port = _free_port()
        self.lmtp_port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="caseflow-dovecot-"))
        # Dovecot's unprivileged processes must traverse the directory (mkdtemp makes it 0700).
        self.root.chmod(0o755)
        self.config_path = self.root / "dovecot.conf"
        self.log_path = self.root / "dovecot.log"
        self.stderr_path = self.root / "dovecot.stderr"
        self._users = self.root / "users"
        self._passwords: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._mail_uid, self._mail_gid = _mail_owner()
        self._write_config()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        # Errors before the log file is open (a bad config) go to stderr, so keep that too.
        with self.stderr_path.open("ab") as stderr:
            self._process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group, so stop() reaches every child
                preexec_fn=die_with_parent,  # and gone with the test run, however it ends
            )
        atexit.register(self.stop)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # Children leave when the master goes; this catches any that linger.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def restart(self) -> None:
        """Stop and start again on the same port with the same users and mail."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and remove the temporary directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self, address: str, password: str = DEFAULT_PASSWORD) -> str:
        """Add a mailbox (or change its password); works while running. Returns the login name."""
        user = address.lower()
        if "/" in user or user.startswith("."):
            raise ValueError(f"not usable as a mailbox name: {address!r}")
        changed = user in self._passwords and self._passwords[user] != password
        self._passwords[user] = password
        _write_atomically(self._users / user, f"{user}:{{PLAIN}}{password}\n")
        if changed and self.running:
            # Dovecot looks at a known passwd-file at most once a second; a new user gets a
            # new file (one per user), which it reads on first use.
            time.sleep(PASSWD_RESYNC)
        return user

    def new_user(self, password: str = DEFAULT_PASSWORD) -> str:
        """A fresh, unique mailbox, so tests sharing one server don't see each other's mail."""
        return self.add_user(f"t-{uuid.uuid4().hex[:12]}@example.test", password)

    def password(self, address: str) -> str:
        return self._passwords[address.lower()]

    def deliver(self, address: str, raw: bytes) -> None:
        """Put a message in the user's INBOX (IMAP APPEND, so IDLE clients are told at once)."""
        with self.connect(address) as client:
            client.append("INBOX", raw)

    def drop_in(self, address: str, raw: bytes) -> None:
        """Put a message in the user's INBOX as a local delivery agent does, straight into the
        Maildir (`tmp/`, then renamed into `new/`): works while the server is stopped, and the
        server finds the message at its next look. The user must have logged in once (or had
        mail delivered), so that the Maildir exists."""
        maildir = self.root / "mail" / address.lower() / "Maildir"
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.caseflow-test"
        staging = maildir / "tmp" / name
        staging.parent.mkdir(parents=True, exist_ok=True)
        (maildir / "new").mkdir(exist_ok=True)
        staging.write_bytes(raw)
        if os.geteuid() == 0:
            os.chown(staging, self._mail_uid, self._mail_gid)
        staging.rename(maildir / "new" / name)

    def deliver_lmtp(self, recipient: str, raw: bytes, mail_from: str = "") -> None:
        """Deliver as a mail server does, over LMTP to `recipient` (plus addressing applies)."""
        with smtplib.LMTP(self.host, self.lmtp_port, timeout=10) as lmtp:
            lmtp.sendmail(mail_from, [recipient], raw)

    def count(self, address: str, folder: str = "INBOX") -> int:
        with self.connect(address) as client:
            status = client.folder_status(folder, [b"MESSAGES"])
        return int(status[b"MESSAGES"])

    def fetch_all(self, address: str, folder: str = "INBOX") -> list[bytes]:
        """Every message's bytes in UID order, without setting `\\Seen`."""
        with self.connect(address) as client:
            client.select_folder(folder, readonly=True)
            uids = sorted(int(uid) for uid in client.search(["ALL"]))
            if not uids:
                return []
            data = client.fetch(uids, [b"BODY.PEEK[]"])
        return [bytes(data[uid][b"BODY[]"]) for uid in uids]

    @contextlib.contextmanager
    def connect(self, address: str) -> Iterator[IMAPClient]:
        """A logged-in IMAP client for assertions and setup."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            client.login(address.lower(), self.password(address))
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def log_tail(self, lines: int = 30) -> str:
        """The end of Dovecot's log and of its stderr, for error messages."""
        tails = []
        for path in (self.log_path, self.stderr_path):
            with contextlib.suppress(FileNotFoundError):
                tails.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(tails) or "(nothing logged)"

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise DovecotError(f"dovecot exited with {code}:\n{self.log_tail()}")
            if _greets(self.host, self.port):
                return
            time.sleep(0.01)
        raise DovecotError(f"dovecot not ready after {STARTUP_TIMEOUT} s:\n{self.log_tail()}")

    def _write_config(self) -> None:
        (self.root / "mail").mkdir()
        self._users.mkdir()
        if os.geteuid() == 0:
            os.chown(self.root / "mail", self._mail_uid, self._mail_gid)
        self.config_path.write_text(
            CONFIG.format(
                host=self.host,
                port=self.port,
                lmtp_port=self.lmtp_port,
                root=self.root,
                mail_uid=self._mail_uid,
                mail_gid=self._mail_gid,
                **_service_users(),
            )
        )


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One server for the session; each test takes its own mailbox with `dovecot.new_user()`."""
    server = Dovecot(require_dovecot())
    try:
        server.start()
        yield server
    finally:
        server.close()


def _write_atomically(path: Path, text: str) -> None:
    """Replace the file; a rewrite always gets a later mtime (whole seconds), as Dovecot checks."""
    previous = path.stat().st_mtime if path.exists() else None
    staging = path.with_name(f".{path.name}.new")
    staging.write_text(text)
    staging.chmod(0o644)
    if previous is not None and int(staging.stat().st_mtime) <= int(previous):
        os.utime(staging, (previous + 1, previous + 1))
    staging.replace(path)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _greets(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            return sock.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _mail_owner() -> tuple[int, int]:
    """Who owns the mail files: `mail` when root (Dovecot refuses root), else ourselves."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam("mail")
        return entry.pw_uid, entry.pw_gid
    return os.getuid(), os.getgid()


def _service_users() -> dict[str, str]:
    """Accounts for Dovecot's own processes: its system users when root, else ourselves."""
    if os.geteuid() == 0:
        return {"internal_user": "dovecot", "internal_group": "dovecot", "login_user": "dovenull"}
    me = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    return {"internal_user": me, "internal_group": group, "login_user": me}


def reading(dovecot: Dovecot, settings: Settings, address: str, **more: Any) -> Settings:
    """`settings` for an intake reading `address` on this Dovecot, polling every 0.2 s."""
    return settings.model_copy(
        update={
            "imap_host": dovecot.host,
            "imap_port": dovecot.port,
            "support_address": address,
            "imap_user": address,
            "imap_password": SecretStr(dovecot.password(address)),
            "imap_poll_interval": timedelta(seconds=0.2),
            **more,
        }
    )
