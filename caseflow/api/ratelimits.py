"""How often one client may use the public pages: customer links and agent sign-in.

A moving window per client address and page kind (the `limits` library), in this process's
memory by default, or in a shared store for several API processes (`CASEFLOW_RATE_LIMIT_STORAGE`,
e.g. `redis://redis:6379`). Past the limit a page answers 429 with Retry-After, changing nothing.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from caseflow.i18n import Said

LINKS = "links"  # the customer's survey and resolution pages
SIGN_IN = "sign_in"  # sign-in attempts at the agent pages


class RateLimits:
    def __init__(self, storage: str, limits: dict[str, str]) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage))
        self._items: dict[str, RateLimitItem] = {kind: parse(rate) for kind, rate in limits.items()}

    def wait_for(self, kind: str, client: str) -> int | None:
        """Count one request of this client; None when allowed, else the seconds to wait."""
        item = self._items[kind]
        if self._limiter.hit(item, kind, client):
            return None
        reset = self._limiter.get_window_stats(item, kind, client).reset_time
        return max(1, math.ceil(reset - time.time()))


def retry_sentence(seconds: int) -> str:
    if seconds < 120:
        return Said(
            "Too many requests from your address: please try again in %(seconds)d seconds.",
            seconds=seconds,
        )
    return Said(
        "Too many requests from your address: please try again in %(minutes)d minutes.",
        minutes=math.ceil(seconds / 60),
    )
