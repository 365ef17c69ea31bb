"""Where the API meets Temporal and the database: what Temporal's refusals answer, and that no
route holds a session while it asks for another connection."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from temporalio.service import RPCError, RPCStatusCode

from caseflow.api.app import create_app
from caseflow.api.deps import current_agent, get_session
from caseflow.api.errors import BUSY_RETRY_AFTER, from_rpc_error
from caseflow.settings import Settings


def rpc_error(status: RPCStatusCode) -> RPCError:
    return RPCError("refused", status, b"")


def test_temporal_shedding_load_answers_429_with_when_to_try_again() -> None:
    problem = from_rpc_error(rpc_error(RPCStatusCode.RESOURCE_EXHAUSTED))
    assert (problem.status, problem.code) == (429, "temporal_busy")
    assert problem.retry_after == BUSY_RETRY_AFTER > 0


def test_temporal_away_still_answers_503_and_a_case_ended_409() -> None:
    assert from_rpc_error(rpc_error(RPCStatusCode.UNAVAILABLE)).status == 503
    assert from_rpc_error(rpc_error(RPCStatusCode.NOT_FOUND)).status == 409
    assert from_rpc_error(rpc_error(RPCStatusCode.UNAVAILABLE)).retry_after == 0


def resolved_in_order(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """The dependencies' functions in the order FastAPI runs them (each one's own first)."""
    for sub in dependant.dependencies:
        yield from resolved_in_order(sub)
        if sub.call is not None:
            yield sub.call


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route, also those of included routers (FastAPI keeps them in their router)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def test_a_route_with_a_session_authenticates_before_it_takes_the_session() -> None:
    """Authentication reads in a short transaction of its own; taken after the route's session,
    it would hold two connections at once, and a full pool would wait on itself."""
    with_session = 0
    for route in api_routes(create_app(Settings()).routes):
        calls = list(resolved_in_order(route.dependant))
        if get_session not in calls:
            continue
        with_session += 1
        assert current_agent in calls, route.path
        assert calls.index(current_agent) < calls.index(get_session), route.path
    assert with_session > 10
