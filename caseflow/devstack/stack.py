"""`caseflow dev` (`make run`): the whole development stack in the foreground, on 127.0.0.1.

The Temporal dev server, the development mail server, the workflow and activity workers, the
intake and the API run as child processes of this one, supervised: a child that dies is started
again after a backoff (1 s, doubling to 30 s, back to 1 s once it has stayed up a while) and the
log says so; one that keeps dying right after it starts is given up on, which stops the stack
with its exit code.
Each child dies with its parent (PR_SET_PDEATHSIG); Ctrl-C or SIGTERM stops them in reverse
order.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from sqlalchemy.orm import Session

from caseflow.client import connect, register_search_attributes
from caseflow.devstack.processes import (
    RestartPolicy,
    after_crash,
    die_with_parent,
    exit_description,
)
from caseflow.passwords import hash_password
from caseflow.settings import Settings
from caseflow.signing import token_hash
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction, upgrade
from caseflow.store.seed import QUEUES, seed_demo
from caseflow.workflows import search
from caseflow.workflows.model import Role

logger = logging.getLogger(__name__)

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
DEMO_AGENT = "demo"
DEMO_NAME = "Demo Agent"
# The demo agent's password for the agent pages, like the dev IMAP's: development only.
DEMO_PASSWORD = "caseflow-demo"


class StackError(Exception):
    """The stack cannot start; the message says why and what to do."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    args: list[str]
    log: Path | None = None
    started_at: float = field(default_factory=time.monotonic)
    # Supervision: the delay of the last restart (0: none yet), quick crashes in a row, and
    # when a child that died is due to start again.
    last_delay: float = 0.0
    quick_crashes: int = 0
    restart_at: float | None = None


@dataclass
class Stack:
    settings: Settings
    home: Path
    children: list[Child] = field(default_factory=list)
    stopping: bool = False
    policy: RestartPolicy = field(default_factory=RestartPolicy)

    # -- starting ---------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str], log: Path | None = None) -> Child:
        child = Child(name, self._popen(args, log), args, log)
        self.children.append(child)
        logger.info("started %s (pid %d)", name, child.process.pid)
        return child

    def _popen(self, args: list[str], log: Path | None) -> subprocess.Popen[bytes]:
        env = {**os.environ, "CASEFLOW_HOME": str(self.home), "PYTHONUNBUFFERED": "1"}
        output = open(log, "ab") if log else None  # noqa: SIM115 (the child owns it)
        try:
            return subprocess.Popen(
                args,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                preexec_fn=die_with_parent,
            )
        finally:
            if output:
                output.close()

    def caseflow(self, command: str, *args: str, name: str = "") -> Child:
        if self.stopping:
            raise StackError("stopped while starting")
        return self.spawn(name or command, [sys.executable, "-m", "caseflow.cli", command, *args])

    def wait_for_port(self, child: Child, host: str, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.stopping:
                raise StackError("stopped while starting")
            if child.process.poll() is not None:
                where = f"; see {child.log}" if child.log else ""
                raise StackError(f"{child.name} exited with {child.process.returncode}{where}")
            if port_open(host, port):
                return
            time.sleep(0.1)
        raise StackError(f"{child.name} did not listen on {host}:{port} in {START_TIMEOUT:.0f} s")

    # -- running and stopping ---------------------------------------------------------------

    def watch(self) -> int:
        """Block until a signal asks us to stop (0), starting again each child that dies; or
        until one keeps dying right after it starts (its exit code)."""
        while not self.stopping:
            for child in self.children:
                code = self.supervise(child, time.monotonic())
                if code is not None:
                    return code
            time.sleep(0.2)
        return 0

    def supervise(self, child: Child, now: float) -> int | None:
        """Restart a child that is due; schedule one that died. Its exit code if given up."""
        if child.restart_at is not None:
            if now >= child.restart_at and not self.stopping:
                self.restart(child)
            return None
        code = child.process.poll()
        if code is None:
            return None
        uptime = now - child.started_at
        crash = after_crash(self.policy, child.last_delay, child.quick_crashes, uptime)
        child.quick_crashes = crash.quick_crashes
        where = f"; see {child.log}" if child.log else ""
        if crash.delay is None:
            logger.error(
                "%s keeps dying right after it starts (%d times in a row, last with %s)%s; "
                "giving up and stopping everything",
                child.name, crash.quick_crashes, exit_description(code), where,
            )  # fmt: skip
            return code or 1
        child.last_delay, child.restart_at = crash.delay, now + crash.delay
        logger.warning(
            "%s exited with %s after %.0f s%s; restarting it in %.0f s",
            child.name, exit_description(code), uptime, where, crash.delay,
        )  # fmt: skip
        return None

    def restart(self, child: Child) -> None:
        child.restart_at = None
        child.process = self._popen(child.args, child.log)
        child.started_at = time.monotonic()
        logger.warning("restarted %s (pid %d)", child.name, child.process.pid)

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in reversed(self.children):
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in time; killing it", child.name)
                child.process.kill()
                child.process.wait()
        self.children.clear()


def run_stack(settings: Settings) -> None:
    """Start everything, print where it is, and run until Ctrl-C."""
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    stack = Stack(settings, home)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stack.stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    code = 0
    try:
        check_ports_free(settings)
        token = prepare_database(settings)
        start(stack)
        print(banner(settings, home, token), flush=True)  # noqa: T201
        code = stack.watch()
    except StackError as err:
        if not stack.stopping:  # Ctrl-C while starting is not an error
            logger.error("%s", err)
            code = 1
    finally:
        logger.info("stopping the development stack")
        stack.stop()
    if code:
        raise SystemExit(code)


def start(stack: Stack) -> None:
    settings, home = stack.settings, stack.home
    host, port = temporal_host_port(settings)
    temporal = stack.spawn("temporal", temporal_args(settings, home), log=home / "temporal.log")
    stack.wait_for_port(temporal, host, port)
    asyncio.run(setup_temporal(settings))
    mail = stack.spawn("mail", mail_args(settings, home))
    stack.wait_for_port(mail, settings.imap_host, settings.imap_port)
    stack.wait_for_port(mail, settings.smtp_host, settings.smtp_port)
    # The workers' two roles as separate processes, as production runs them (docker-compose.yml).
    stack.caseflow("worker", "--role", "workflows", name="workflow worker")
    stack.caseflow("worker", "--role", "activities", name="activity worker")
    stack.caseflow("intake")
    api = stack.caseflow("api")
    stack.wait_for_port(api, settings.api_host, settings.api_port)


def temporal_args(settings: Settings, home: Path) -> list[str]:
    host, port = temporal_host_port(settings)
    return [
        binary("temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(home / "temporal.db"),
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-ip",
        host,
        "--ui-port",
        str(settings.temporal_ui_port),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
        *search.dev_server_args(),
    ]


def mail_args(settings: Settings, home: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "caseflow.devstack.mailserver",
        "--base",
        str(home / "mail"),
        "--host",
        settings.smtp_host,
        "--smtp-port",
        str(settings.smtp_port),
        "--imap-port",
        str(settings.imap_port),
        "--address",
        settings.support_address,
    ]


async def setup_temporal(settings: Settings) -> None:
    """Search attributes on an existing database too (the flag covers only a new one)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            client = await connect(settings.temporal_address, settings.temporal_namespace)
            await register_search_attributes(client, settings.temporal_namespace)
            return
        except Exception as err:  # the server accepts connections before it serves
            if time.monotonic() > deadline:
                raise StackError(f"Temporal did not become ready: {err}") from err
            await asyncio.sleep(0.5)


def prepare_database(settings: Settings) -> str:
    """Migrate, seed the demo organisation and the demo agent, and return its token."""
    upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    token = demo_token(settings)
    with transaction(session_factory(engine)) as session:
        seed_demo(session)
        ensure_demo_agent(
            session, settings, token_hash(settings.secret_key.get_secret_value(), token)
        )
    engine.dispose()
    return token


def ensure_demo_agent(session: Session, settings: Settings, stored_token: str) -> None:
    """The demo agent: an admin (who may do all a supervisor may) in every demo queue, marked as
    a demo agent (production refuses it), holding the token the banner prints. Set again at each
    start: an older database's demo agent was a supervisor, and another secret key gives
    another token. A name given with `caseflow agent rename`, or a disabled agent, stays so."""
    agent = directory.agent_by_handle(session, DEMO_AGENT)
    if agent is None:
        agent = directory.create_agent(
            session,
            DEMO_AGENT,
            f"{DEMO_AGENT}@{settings.support_domain}",
            str(Role.ADMIN),
            list(QUEUES),
            stored_token,
            display_name=DEMO_NAME,
        )
    agent.role, agent.is_demo, agent.token_hash = str(Role.ADMIN), True, stored_token
    agent.display_name = agent.display_name or DEMO_NAME
    if agent.password_hash is None:  # one set with `caseflow agent password demo` stays
        agent.password_hash = hash_password(DEMO_PASSWORD)


def demo_token(settings: Settings) -> str:
    """A stable token for the demo agent, derived from the secret key (development only)."""
    if settings.environment != "development":
        raise StackError("`caseflow dev` is for development; run the parts one by one instead")
    secret = settings.secret_key.get_secret_value().encode()
    return "cf_demo_" + hmac.new(secret, b"demo agent token", hashlib.sha256).hexdigest()[:32]


def check_ports_free(settings: Settings) -> None:
    host, port = temporal_host_port(settings)
    wanted = {
        "Temporal": (host, port),
        "Temporal UI": (host, settings.temporal_ui_port),
        "SMTP": (settings.smtp_host, settings.smtp_port),
        "IMAP": (settings.imap_host, settings.imap_port),
        "API": (settings.api_host, settings.api_port),
    }
    busy = [f"{name} {h}:{p}" for name, (h, p) in wanted.items() if port_open(h, p)]
    if busy:
        raise StackError(
            f"already in use: {', '.join(busy)}. Is another `make run` going? Stop it first."
        )


def temporal_host_port(settings: Settings) -> tuple[str, int]:
    host, _, port = settings.temporal_address.rpartition(":")
    return host or "127.0.0.1", int(port)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def binary(name: str) -> str:
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    raise StackError(f"{name} is not installed beside {sys.executable}; run `make run`")


def banner(settings: Settings, home: Path, token: str) -> str:
    support = settings.support_address
    local, _, domain = support.rpartition("@")
    bounces = f"{local}+b.<token>@{domain}"
    smtp = f"smtp://{settings.smtp_host}:{settings.smtp_port}"
    # --crlf: SMTP lines end in CRLF, and a message of bare LFs is one line to the server, refused
    # over 1,000 bytes; -S shows curl's error and `&& echo sent` its success.
    # A Message-ID of its own: a message sent again unchanged is taken in once.
    send = (
        f"printf 'From: alice@acme.example\\nTo: {support}\\nSubject: Printer on fire\\n"
        'Message-ID: <%s@acme.example>\\n\\nIt smokes.\\n\' "$(date +%s)" | curl -sS --crlf '
        f"{smtp} --mail-from alice@acme.example --mail-rcpt {support} -T - && echo sent"
    )
    # Any text, any line length: the email package encodes what SMTP cannot carry as it is.
    send_python = (
        'python3 -c "import smtplib; from email.message import EmailMessage; '
        "from email.utils import make_msgid; m = EmailMessage(); "
        f"m['From'] = 'alice@acme.example'; m['To'] = '{support}'; "
        "m['Subject'] = 'Printer on fire'; m['Message-ID'] = make_msgid(domain='acme.example'); "
        "m.set_content('It smokes.'); "
        f"smtplib.SMTP('{settings.smtp_host}', {settings.smtp_port}).send_message(m); "
        "print('sent')\""
    )
    return f"""
Caseflow is running. Ctrl-C stops everything; state is kept in {home}.

  API            {settings.public_url}   (docs: {settings.public_url}/docs)
  Agent pages    {settings.public_url}/agent   (sign in: {DEMO_AGENT} / {DEMO_PASSWORD})
  Portal         {settings.public_url}/portal   (customers sign in by an emailed link: ask for
                 one as alice@acme.example, then read it in her IMAP mailbox)
  Temporal UI    http://{temporal_host_port(settings)[0]}:{settings.temporal_ui_port}
  Temporal       {settings.temporal_address}
  SMTP           {settings.smtp_host}:{settings.smtp_port}   (accepts mail for any address)
  IMAP           {settings.imap_host}:{settings.imap_port}   (login: the address, password caseflow)
  Support inbox  {support}
  Bounces        come back to {bounces} (VERP), into the support inbox;
                 production MTAs must route + addresses so too (docs/production.md)
  Demo agent     {DEMO_AGENT} ({DEMO_NAME}), an admin: its token works for every call in the README,
                 cases and /admin alike (development only: production refuses it)
  Demo token     {token}
  More agents    caseflow agent add ann --email ann@example.com --role agent --queue gold
                 (prints their own token; caseflow agent list shows them all)

Send a first email:
  {send}
or, with Python:
  {send_python}
Then list the cases:
  curl -s -H 'Authorization: Bearer {token}' {settings.public_url}/cases
"""
