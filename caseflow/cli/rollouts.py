"""Telling running cases about an edited calendar or policy from the command line: the
rollouts started, and with `--wait` how each went."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from caseflow.cli.base import WAIT_HELP, UsageError

if TYPE_CHECKING:
    from caseflow.settings import Settings
    from caseflow.workflows.fanout import RolloutTarget

Wait = Annotated[bool, typer.Option("--wait", help=WAIT_HELP)]


def roll_out(settings: Settings, targets: list[RolloutTarget], wait: bool) -> None:
    """Start the rollout of each target to its running cases and print its id; with `wait`,
    wait for each and print how it went."""
    from caseflow.client import connect, start_rollout
    from caseflow.workflows.fanout import summary

    async def run() -> None:
        try:
            client = await connect(settings.temporal_address, settings.temporal_namespace)
        except RuntimeError as err:  # the SDK's connection failure
            raise UsageError(
                f"saved, but Temporal at {settings.temporal_address} is unreachable, so no "
                f"running case was told; run this again once it is ({err})"
            ) from None
        handles = [await start_rollout(client, t, "cli", settings.task_queue) for t in targets]
        for handle in handles:
            print(handle.id, flush=True)
        for handle in handles if wait else []:
            result = await handle.result()
            if not result.found:
                print(f"{result.target.kind} {result.target.name} no longer exists: nobody told")
            else:
                print(summary(result.target, result.progress))

    asyncio.run(run())
