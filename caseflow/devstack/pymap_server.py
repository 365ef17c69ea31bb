"""pymap as the development IMAP server: its maildir backend, where any address may log in
with the password `caseflow`, its mailbox created, empty, at the first login.

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
from pymap.main import main as pymap_main
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


def main() -> None:
    backends.add(PYMAP_BACKEND, OpenMaildirBackend)
    pymap_main()


if __name__ == "__main__":
    main()
