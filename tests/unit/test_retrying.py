"""The backoffs of the processes that wait for a server, without sleeping: the CLI's connection
to Temporal and the intake's reconnection to IMAP (tenacity, with its sleep injected)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any, cast

import pytest
from tenacity import RetryCallState

from caseflow.cli import processes as cli
from caseflow.intake.service import Intake
from caseflow.retrying import Backoff, Stopped, until_stopped
from caseflow.settings import Settings


class Sleeps:
    """A sleep that records how long it was asked to wait and sets `stop` after `until` waits."""

    def __init__(self, stop: asyncio.Event, until: int) -> None:
        self.stop, self.until, self.taken = stop, until, list[float]()

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)
        if len(self.taken) >= self.until:
            self.stop.set()


def failing(times: int, error: Exception, then: str = "done") -> Any:
    """An attempt that raises `error` its first `times` calls, then answers `then`."""
    calls = [0]

    async def attempt() -> str:
        calls[0] += 1
        if calls[0] <= times:
            raise error
        return then

    attempt.calls = calls  # type: ignore[attr-defined]
    return attempt


def calling(attempt: Any) -> Any:
    """A stand-in for `connect(address, namespace)` that makes `attempt`."""

    async def connect(address: str, namespace: str) -> Any:
        return await attempt()

    return connect


def ignore(_: RetryCallState) -> None:
    pass


async def test_the_delay_starts_at_the_first_and_doubles_up_to_the_most() -> None:
    stop = asyncio.Event()
    sleeps = Sleeps(stop, until=99)
    retrying = until_stopped(stop, Backoff(1, 30), retry_on=OSError, on_retry=ignore, sleep=sleeps)

    assert await retrying(failing(8, OSError("down"))) == "done"

    assert sleeps.taken == [1, 2, 4, 8, 16, 30, 30, 30]


async def test_setting_stop_during_a_wait_ends_the_retries_before_another_attempt() -> None:
    stop = asyncio.Event()
    sleeps = Sleeps(stop, until=3)
    attempt = failing(99, OSError("down"))
    retrying = until_stopped(stop, Backoff(), retry_on=OSError, on_retry=ignore, sleep=sleeps)

    with pytest.raises(Stopped):
        await retrying(attempt)

    assert sleeps.taken == [1, 2, 4] and attempt.calls == [3]


async def test_nothing_is_attempted_once_stopped_and_other_errors_are_not_retried() -> None:
    stop = asyncio.Event()
    stop.set()
    never = failing(0, OSError())
    with pytest.raises(Stopped):
        await until_stopped(stop, Backoff(), retry_on=OSError, on_retry=ignore)(never)
    assert never.calls == [0]

    running = asyncio.Event()
    bug = failing(1, ValueError("bug"))
    with pytest.raises(ValueError, match="bug"):
        await until_stopped(running, Backoff(), retry_on=OSError, on_retry=ignore)(bug)
    assert bug.calls == [1]


async def test_the_default_wait_ends_as_soon_as_stop_is_set() -> None:
    stop = asyncio.Event()
    retrying = until_stopped(stop, Backoff(3600, 3600), retry_on=OSError, on_retry=ignore)
    asyncio.get_running_loop().call_soon(stop.set)

    with pytest.raises(Stopped):
        await asyncio.wait_for(retrying(failing(99, OSError())), timeout=30)


# -- the CLI waiting for Temporal -----------------------------------------------------------------


async def test_the_cli_waits_for_temporal_one_second_doubling_to_thirty_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client = object()
    connect = failing(7, RuntimeError("Failed client connect"), then=cast(str, client))
    monkeypatch.setattr(cli, "connect", calling(connect))
    stop = asyncio.Event()
    sleeps = Sleeps(stop, until=99)

    found = await cli.connect_patiently(Settings(), stop, sleep=sleeps)

    assert found is client
    assert sleeps.taken == [1, 2, 4, 8, 16, 30, 30]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        warnings
        == ["Temporal at 127.0.0.1:7233 not reachable (Failed client connect); retrying"] * 7
    )


async def test_the_cli_gives_up_waiting_for_temporal_when_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect = failing(99, RuntimeError("Failed client connect"))
    monkeypatch.setattr(cli, "connect", calling(connect))
    stop = asyncio.Event()

    assert await cli.connect_patiently(Settings(), stop, sleep=Sleeps(stop, until=2)) is None
    assert connect.calls == [2]


# -- the intake reconnecting to IMAP --------------------------------------------------------------


class FlakyMailbox:
    """A mailbox whose connections fail as scripted (True: connects); a connection, once made,
    is lost at once."""

    def __init__(self, connects: list[bool]) -> None:
        self.connects, self.closed = list(connects), 0

    def connect(self) -> None:
        if not self.connects.pop(0):
            raise ConnectionRefusedError("refused")

    def check_folder(self) -> None:
        raise ConnectionResetError("lost")

    def close(self) -> None:
        self.closed += 1


async def test_the_intake_reconnects_after_one_second_doubling_to_its_cap_then_from_one_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "caseflow.intake.service")
    settings = Settings(imap_reconnect_backoff_max=timedelta(seconds=5))
    mailbox = FlakyMailbox([False, False, False, False, True, False, True])
    intake = Intake(settings, cast(Any, None), cast(Any, None), mailbox=cast(Any, mailbox))
    stop = asyncio.Event()
    sleeps = Sleeps(stop, until=7)

    await intake.run(stop, sleep=sleeps)

    assert sleeps.taken == [1, 2, 4, 5, 1, 2, 1]
    assert mailbox.connects == [] and mailbox.closed == 7
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[0] == "intake interrupted (ConnectionRefusedError: refused); retrying in 1 s"
    assert warnings[4] == "intake interrupted (ConnectionResetError: lost); retrying in 1 s"
    assert len(warnings) == 7


async def test_the_intake_stops_between_reconnections_when_told() -> None:
    mailbox = FlakyMailbox([False] * 10)
    intake = Intake(Settings(), cast(Any, None), cast(Any, None), mailbox=cast(Any, mailbox))
    stop = asyncio.Event()

    await intake.run(stop, sleep=Sleeps(stop, until=2))

    assert len(mailbox.connects) == 8 and mailbox.closed == 2
