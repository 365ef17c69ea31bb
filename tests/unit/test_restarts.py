"""When `caseflow dev` starts a dead child again: backoff doubling to a cap, reset after a
stable run, and giving up on a child that keeps dying right after it starts."""

from __future__ import annotations

import signal

from caseflow.devstack.processes import Crash, RestartPolicy, after_crash, exit_description

POLICY = RestartPolicy()  # 1 s doubling to 30 s; stable after 60 s; 5 quick crashes: give up


def delays(uptimes: list[float]) -> list[float | None]:
    """The restart delays of a child that ran these many seconds each time before dying."""
    found: list[float | None] = []
    last, quick = 0.0, 0
    for uptime in uptimes:
        crash = after_crash(POLICY, last, quick, uptime)
        found.append(crash.delay)
        last, quick = crash.delay or last, crash.quick_crashes
    return found


def test_a_child_dying_again_and_again_waits_one_second_doubling_up_to_thirty() -> None:
    assert delays([20.0] * 8) == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_child_that_stayed_up_a_while_is_restarted_after_one_second_again() -> None:
    assert delays([20, 20, 20, 20, 61, 20]) == [1, 2, 4, 8, 1, 2]


def test_a_child_that_keeps_dying_right_after_it_starts_is_given_up_on_the_fifth_time() -> None:
    assert delays([0.5] * 5) == [1, 2, 4, 8, None]
    assert after_crash(POLICY, 8, 4, 0.5) == Crash(None, 5)


def test_a_slower_crash_breaks_the_run_of_quick_ones() -> None:
    assert delays([0.5, 0.5, 0.5, 0.5, 15, 0.5, 0.5, 0.5, 0.5]) == [1, 2, 4, 8, 16, 30, 30, 30, 30]


def test_an_exit_reads_as_its_code_or_the_signal_that_ended_it() -> None:
    assert exit_description(3) == "code 3"
    assert exit_description(-signal.SIGKILL) == "signal SIGKILL"
