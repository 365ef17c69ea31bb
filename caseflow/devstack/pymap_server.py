"""pymap as the development IMAP server: its maildir backend, where any address may log in
with the password `caseflow`, its mailbox created, empty, at the first login, and where mail
the SMTP side delivers is announced to IDLE clients within a second.

Run as `python -m caseflow.devstack.pymap_server [pymap options] caseflow-maildir BASE`; the
development mail server starts it so, beside the SMTP side that delivers into the same BASE.
"""

from __future__ import annotations

import asyncio
from argparse import Namespace
from pathlib import Path
from typing import Any

from pymap.backend import backends
from pymap.backend.maildir import Config, Identity, Login, MaildirBackend
from pymap.backend.maildir.mailbox import MailboxData
from pymap.concurrent import Event
from pymap.main import main as pymap_main
from pymap.selected import SelectedMailbox
from pysasl.creds.server import ServerCredentials
from pysasl.identity import ClearIdentity

from caseflow.devstack.mailserver import PASSWORD, PYMAP_BACKEND, MailboxUsers, normalise_address


class OpenLogin(Login):
    """pymap's maildir login, which first opens the mailbox of an address that has none."""

    async def authenticate(self, credentials: ServerCredentials) -> Identity:
        await asyncio.to_thread(open_mailbox, Path(self.config.base_dir), credentials)
        return await super().authenticate(credentials)


def open_mailbox(base: Path, credentials: ServerCredentials) -> bool:
    """Create the IMAP user and the empty Maildir of an address logging in with the development
    password; True when it has them now. The name must be the mailbox's own (lower case, no
    `+tag`), as mail is delivered to it; any other name is left for pymap to refuse."""
    name = credentials.authcid
    try:
        address = normalise_address(name)
    except ValueError:
        return False
    if address != name or not credentials.verify(ClearIdentity(name, PASSWORD)):
        return False
    MailboxUsers(base).ensure(address)
    return True


class OpenMaildirBackend(MaildirBackend):
    """The maildir backend with `OpenLogin`."""

    @classmethod
    async def init(cls, args: Namespace, **overrides: Any) -> tuple[MaildirBackend, Config]:
        _, config = await super().init(args, **overrides)
        return cls(OpenLogin(config), config), config


# How long pymap's maildir backend waits between two looks at a mailbox for an IDLE client.
IDLE_POLL = 1.0
_list_mailbox = MailboxData.update_selected


async def _rescan_then_list(
    self: MailboxData, selected: SelectedMailbox, *, wait_on: Event | None = None
) -> SelectedMailbox:
    """pymap's maildir backend gives files delivered into a Maildir their UIDs when it opens
    the mailbox, and for an IDLE client it then waits before it lists the mailbox: mail that
    came during the wait was announced only after the next wait, 1 to 2 s after it came. Here
    the mailbox is scanned again after the wait, so it is announced within `IDLE_POLL`."""
    if wait_on is not None:
        await wait_on.wait(timeout=IDLE_POLL)
        await self.reset()
    return await _list_mailbox(self, selected)


def main() -> None:
    backends.add(PYMAP_BACKEND, OpenMaildirBackend)
    MailboxData.update_selected = _rescan_then_list  # type: ignore[method-assign]
    pymap_main()


if __name__ == "__main__":
    main()
