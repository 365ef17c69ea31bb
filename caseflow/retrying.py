"""Retrying until it works or the process is told to stop: the backoff of the processes that wait
for a server (Temporal, the IMAP mailbox), on tenacity."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # tenacity is imported by the processes that retry, not by every command
    from tenacity import AsyncRetrying, RetryCallState

Sleep = Callable[[float], Awaitable[None]]


class Stopped(Exception):
    """The stop event was set: no further attempt is made."""


@dataclass(frozen=True)
class Backoff:
    """The delay after a failure: `first` seconds, doubling with each failure in a row, at most
    `most` seconds."""

    first: float = 1.0
    most: float = 30.0


def until_stopped(
    stop: asyncio.Event,
    backoff: Backoff,
    *,
    retry_on: type[Exception] | tuple[type[Exception], ...],
    on_retry: Callable[[RetryCallState], None],
    sleep: Sleep | None = None,
) -> AsyncRetrying:
    """Attempts with `backoff` between them while they raise `retry_on` (anything else
    propagates), until one succeeds or `stop` is set, which raises `Stopped` before the next
    attempt. `on_retry` is called after each failure, before the wait (`retry_state.
    upcoming_sleep` is its length); the wait ends early when `stop` is set."""
    from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

    def refuse_when_stopped(_: RetryCallState) -> None:
        if stop.is_set():
            raise Stopped

    return AsyncRetrying(
        retry=retry_if_exception_type(retry_on),
        wait=wait_exponential(multiplier=backoff.first, max=backoff.most),
        before=refuse_when_stopped,
        before_sleep=on_retry,
        sleep=sleep or (lambda seconds: wait_or_stop(stop, seconds)),
    )


def start_again(retry_state: RetryCallState) -> None:
    """Count the attempt under way as the first: it got far enough (connected) that its failure
    waits the first delay again, as a fresh start would."""
    retry_state.attempt_number = 1


def failure(retry_state: RetryCallState) -> BaseException:
    """The exception the last attempt raised (only called after a failed attempt)."""
    outcome = retry_state.outcome
    error = outcome.exception() if outcome is not None else None
    assert error is not None, "called after a failed attempt"
    return error


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
