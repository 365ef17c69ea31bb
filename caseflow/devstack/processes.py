"""Helpers for the child processes the development stack starts: dying with the parent, and
when to start one again after it died."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from dataclasses import dataclass

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent dies; for `preexec_fn`, a no-op elsewhere.

    The kernel signals when the thread that forked the child exits, so start children from a
    thread that lives as long as they should.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return  # no safe way to report from preexec_fn; the parent still stops us normally
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass(frozen=True)
class RestartPolicy:
    """When a child that died is started again, as a supervisor would (systemd's
    `Restart=always` with a growing `RestartSec`, and `StartLimitBurst`): after 1 s, doubling
    up to 30 s, back to 1 s once it had stayed up a while; a child that keeps dying right after
    it starts is given up on.

    Not tenacity, as the CLI's and the intake's backoffs are: those retry one call in place,
    sleeping between attempts; here one loop watches every child and schedules a restart
    without sleeping, and the delay depends on how long the child stayed up (the reset, the
    quick crashes), which a retry of one call does not know."""

    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 60.0  # up this long: it had recovered, the backoff starts again
    quick: float = 10.0  # died sooner than this after starting: a quick crash
    give_up_after: int = 5  # quick crashes in a row


@dataclass(frozen=True)
class Crash:
    """What to do about a child that died: start it again after `delay` seconds, or give up
    (`delay` None) because it has crashed `quick_crashes` times in a row right after starting."""

    delay: float | None
    quick_crashes: int


def after_crash(
    policy: RestartPolicy, last_delay: float, quick_crashes: int, uptime: float
) -> Crash:
    """The decision for a child that ran `uptime` seconds, was last restarted after `last_delay`
    (0: never) and had crashed quickly `quick_crashes` times in a row before."""
    quick = quick_crashes + 1 if uptime < policy.quick else 0
    if quick >= policy.give_up_after:
        return Crash(None, quick)
    if last_delay == 0 or uptime >= policy.stable_after:
        return Crash(policy.first_delay, quick)
    return Crash(min(last_delay * 2, policy.max_delay), quick)


def exit_description(code: int) -> str:
    """`code 1`, or `signal SIGKILL` for a process a signal ended (a negative return code)."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"
