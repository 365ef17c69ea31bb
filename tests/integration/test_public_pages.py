"""The public pages under load and outage: requests are counted per client address, and past
the limit a customer's link page or a sign-in attempt answers 429 with Retry-After and changes
nothing, another client not held back; with Temporal away, a link page still answers a page.
The app in-process over SQLite with small limits, and no Temporal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from caseflow.api.app import create_app
from caseflow.settings import Settings
from caseflow.signing import LinkClaims, sign_link
from caseflow.store.db import make_engine, session_factory, transaction
from tests.support.read_model import add_case
from tests.support.servers import free_port

Client = Callable[[str], AsyncIterator[httpx.AsyncClient]]


@pytest.fixture
def settings(sqlite_url: str, tmp_path: Path) -> Settings:
    engine = make_engine(sqlite_url)
    with transaction(session_factory(engine)) as session:
        add_case(session, "CAS-000001", status="closed", survey={"episode": 1, "status": "sent"})
    engine.dispose()
    return Settings(
        home=tmp_path / "home",
        database_url=sqlite_url,
        temporal_address=f"127.0.0.1:{free_port()}",
        rate_limit_links="3/minute",
        rate_limit_sign_in="2/minute",
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):

        @asynccontextmanager
        async def from_address(address: str) -> AsyncIterator[httpx.AsyncClient]:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://caseflow") as http:
                yield http

        yield from_address  # type: ignore[misc]


async def test_a_client_past_the_link_limit_waits_and_others_do_not(
    client: Client, settings: Settings
) -> None:
    token = sign_link(settings.secret_key.get_secret_value(), LinkClaims("CAS-000001", "survey", 1))
    async with client("203.0.113.7") as busy, client("198.51.100.2") as other:  # type: ignore[attr-defined]
        answers = [await busy.get(f"/survey/{token}") for _ in range(4)]
        answered = await busy.post(f"/survey/{token}", data={"rating": "5"})
        elsewhere = await other.get(f"/survey/{token}")

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    slowed = answers[-1]
    assert 1 <= int(slowed.headers["retry-after"]) <= 60
    assert "Too many requests from your address" in slowed.text
    assert slowed.headers["content-type"].startswith("text/html")
    assert answered.status_code == 429  # refused before anything is asked of the case
    assert elsewhere.status_code == 200


async def test_sign_in_attempts_past_the_limit_are_refused_before_any_check(
    client: Client,
) -> None:
    form = {"login": "nobody", "password": "whatever it is", "csrf": "x"}
    async with client("203.0.113.9") as http:  # type: ignore[attr-defined]
        answers = [(await http.post("/agent/sign-in", data=form)) for _ in range(3)]

    assert [a.status_code for a in answers] == [403, 403, 429]
    assert "retry-after" in answers[-1].headers


@pytest.mark.parametrize("rate", ["lots", "60 per fortnight", "1/minute;2/hour"])
def test_a_rate_that_limits_cannot_read_is_refused_at_start(rate: str) -> None:
    with pytest.raises(ValidationError, match="CASEFLOW_RATE_LIMIT_LINKS"):
        Settings(rate_limit_links=rate)


async def test_with_temporal_away_an_answer_gets_a_page_saying_to_try_again(
    client: Client, settings: Settings
) -> None:
    token = sign_link(settings.secret_key.get_secret_value(), LinkClaims("CAS-000001", "survey", 1))
    async with client("192.0.2.1") as http:  # type: ignore[attr-defined]
        answer = await http.post(f"/survey/{token}", data={"rating": "4"})

    assert answer.status_code == 503 and answer.headers["content-type"].startswith("text/html")
    assert "Please try again" in answer.text and "case CAS-000001" in answer.text
