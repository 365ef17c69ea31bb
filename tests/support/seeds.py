"""The one random seed of a test session: pytest prints it in its header, and
CASEFLOW_TEST_SEED=<seed> repeats a run's random choices (case number offsets and the like)."""

from __future__ import annotations

import os
import random
import time

SEED = int(os.environ.get("CASEFLOW_TEST_SEED") or time.time_ns() % 2**32)
RANDOM = random.Random(SEED)


def report_header() -> str:
    return f"random seed {SEED} (CASEFLOW_TEST_SEED={SEED} repeats it)"
