"""Run the benchmarks and print their reports: `make bench` or `python -m benchmarks [NAME ...]`."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from benchmarks import case_creation, intake_drain, sla_timers, worker_memory

BENCHMARKS: dict[str, Callable[[], Coroutine[Any, Any, str]]] = {
    "case_creation": case_creation.run,
    "intake_drain": intake_drain.run,
    "sla_timers": sla_timers.run,
    "worker_memory": worker_memory.run,
}


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    names = sys.argv[1:] or list(BENCHMARKS)
    for name in names:
        print(asyncio.run(BENCHMARKS[name]()), flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
