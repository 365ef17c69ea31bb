"""Run every benchmark and print its report: `make bench` or `python -m benchmarks`."""

from __future__ import annotations

import asyncio
import logging

from benchmarks import case_creation


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    print(asyncio.run(case_creation.run()))  # noqa: T201


if __name__ == "__main__":
    main()
