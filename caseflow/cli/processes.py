"""`caseflow dev`, `worker`, `api` and `intake`: the long-running processes, each stopping
cleanly on SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

import typer

from caseflow.cli.base import choices, configured
from caseflow.retrying import Backoff

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.runtime import Runtime
    from tenacity import RetryCallState

    from caseflow.retrying import Sleep
    from caseflow.settings import Settings

logger = logging.getLogger("caseflow")
# While Temporal is not up yet (it starts with the stack): 1 s, doubling up to 30 s.
CONNECT_BACKOFF = Backoff(first=1.0, most=30.0)

app = typer.Typer()


# What `caseflow dev --help` adds: the one thing about mail the stack does that production
# must be set up to do too.
DEV_EPILOG = (
    "Every email goes out from a VERP envelope sender, support+b.<token>@<domain>, per "
    "recipient; the development mail server delivers mail for support+<anything>@ to the "
    "support inbox, so bounces land there and on their case. In production the MTA must do "
    "the same: Postfix recipient_delimiter = +, Exim local_part_suffix = +* (with "
    "local_part_suffix_optional), Dovecot recipient_delimiter = +; Microsoft 365 and Google "
    "Workspace plus addressing, or a catch-all or alias for support+*. See docs/production.md."
)


@app.command(
    "dev", help="the whole development stack in the foreground (make run)", epilog=DEV_EPILOG
)
def dev() -> None:
    from caseflow.devstack.stack import run_stack

    run_stack(configured(database=False))


ROLES = ("both", "workflows", "activities")
ROLE_HELP = (
    "what this worker runs: the workflows, their activities, or both (default: "
    "CASEFLOW_WORKER_ROLE, else both); any number of each may run against one task queue"
)


@app.command("worker", help="the Temporal worker: case workflows and their activities")
def worker(
    role: Annotated[str | None, typer.Option(help=ROLE_HELP, **choices(*ROLES))] = None,
) -> None:
    from caseflow.settings import WorkerRole
    from caseflow.worker import build_worker_for, metrics_runtime

    settings = configured()
    if role is not None:
        settings = settings.model_copy(update={"worker_role": WorkerRole(role)})

    async def work(stop: asyncio.Event) -> None:
        client = await connect_patiently(settings, stop, runtime=metrics_runtime(settings))
        if client is None:
            return
        async with build_worker_for(client, settings) as worker, worker:
            await stop.wait()  # leaving the block finishes activities in flight, then stops

    run_until_signalled(work)


@app.command("api", help="the HTTP API")
def api() -> None:
    import uvicorn

    from caseflow.api.app import create_app
    from caseflow.intake.service import promote_noise, reprocess_quarantined

    settings = configured()
    uvicorn.run(
        create_app(settings, reprocess=reprocess_quarantined, promote=promote_noise),
        host=settings.api_host,
        port=settings.api_port,
        proxy_headers=True,
        log_level="info",
    )


@app.command("intake", help="read the support mailbox and hand each email to its case")
def intake() -> None:
    from caseflow.intake.service import run_all
    from caseflow.store.db import make_engine, session_factory

    settings = configured()

    async def work(stop: asyncio.Event) -> None:
        client = await connect_patiently(settings, stop)
        if client is None:
            return
        engine = make_engine(settings.effective_database_url)
        try:
            # One loop per mailbox: the support address and each of CASEFLOW_MAILBOXES.
            await run_all(settings, session_factory(engine), client, stop)
        finally:
            engine.dispose()

    run_until_signalled(work)


def run_until_signalled(work: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run `work(stop)`; SIGINT or SIGTERM sets `stop` so it can finish what it is doing."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await work(stop)

    asyncio.run(main())


async def connect(address: str, namespace: str, runtime: Runtime | None = None) -> Client:
    """`caseflow.client.connect`, imported (with the Temporal SDK) only by a command that
    connects."""
    from caseflow.client import connect as connect_to

    return await connect_to(address, namespace, runtime=runtime)


async def connect_patiently(
    settings: Settings,
    stop: asyncio.Event,
    sleep: Sleep | None = None,
    runtime: Runtime | None = None,
) -> Client | None:
    """Connect to Temporal, retrying with backoff while it is not up yet; None if stopped."""
    from caseflow.retrying import Stopped, failure, until_stopped

    def not_yet(retry_state: RetryCallState) -> None:
        logger.warning(
            "Temporal at %s not reachable (%s); retrying",
            settings.temporal_address,
            failure(retry_state),
        )

    retrying = until_stopped(
        stop, CONNECT_BACKOFF, retry_on=RuntimeError, on_retry=not_yet, sleep=sleep
    )
    try:
        attempt = functools.partial(connect, runtime=runtime) if runtime else connect
        client: Client = await retrying(
            attempt, settings.temporal_address, settings.temporal_namespace
        )
    except Stopped:
        return None
    return client
