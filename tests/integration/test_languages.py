"""Customers' pages in their language: the contact's own, else the browser's, else the
organisation's default. The app in-process over SQLite and PostgreSQL, no Temporal needed: the
pages read the read model. (Emails in the customer's language: tests/unit/test_mail_language*.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from caseflow.api import portal_auth
from caseflow.api.app import create_app
from caseflow.configuration import ConfigError, import_organisation
from caseflow.settings import Settings
from caseflow.signing import LinkClaims, sign_link
from caseflow.store import directory
from caseflow.store import portal as portal_store
from caseflow.store.db import make_engine, session_factory, transaction
from tests.support.read_model import add_case
from tests.support.servers import free_port

Browser = Callable[..., Any]
CONTACTS = [
    {"email": "alice@acme.example", "name": "Alice", "language": "pt"},
    {"email": "bruno@acme.example", "name": "Bruno"},  # says nothing: the browser's
]


def _settings(database_url: str, tmp_path: Path, **more: Any) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        temporal_address=f"127.0.0.1:{free_port()}",
        **more,
    )


@pytest.fixture
def prepared(database_url: str) -> str:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        import_organisation(session, {"contacts": CONTACTS})
        add_case(session, "CAS-000001", status="closed", survey={"episode": 1, "status": "sent"})
        add_case(session, "CAS-000002", customer_email="bruno@acme.example", status="closed",
                 survey={"episode": 1, "status": "sent"})  # fmt: skip
    engine.dispose()
    return database_url


@asynccontextmanager
async def browsing(settings: Settings) -> AsyncIterator[Browser]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://caseflow") as http:

            async def get(path: str, language: str | None = None, **kw: Any) -> httpx.Response:
                headers = {"Accept-Language": language} if language else {}
                return await http.get(path, headers=headers, **kw)

            get.http = http  # type: ignore[attr-defined]
            yield get


def _signed_in(settings: Settings, email: str) -> str:
    """A portal session for the contact, as redeeming their link opens one; its cookie value."""
    token = portal_auth.new_secret()
    key = portal_auth.session_hash(settings.secret_key.get_secret_value(), token)
    engine = make_engine(settings.database_url)
    with transaction(session_factory(engine)) as session:
        contact = directory.contact_by_email(session, email)
        assert contact is not None
        now = datetime.now(UTC)
        portal_store.open_session(session, contact.id, key, now, portal_auth.SESSION_LIFETIME)
    engine.dispose()
    return token


@pytest.mark.parametrize(
    ("header", "lang", "words"),
    [
        ("it-IT,it;q=0.9,en;q=0.5", "it", "Accedi"),
        ("pt-BR,pt;q=0.9", "pt", "Entrar"),
        ("en-GB,en;q=0.9", "en", "Sign in"),
        ("fr-FR,fr;q=0.9", "en", "Sign in"),  # none spoken: the default
    ],
)
async def test_the_sign_in_page_speaks_the_browsers_language(
    prepared: str, tmp_path: Path, header: str, lang: str, words: str
) -> None:
    async with browsing(_settings(prepared, tmp_path)) as get:
        page = await get("/portal/sign-in", header)
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.text
    assert page.headers["content-language"] == lang
    assert f"<h1>{words}</h1>" in page.text


async def test_without_a_browser_preference_the_organisations_default_speaks(
    prepared: str, tmp_path: Path
) -> None:
    async with browsing(_settings(prepared, tmp_path, default_language="it")) as get:
        page = await get("/portal/articles")
        english = await get("/portal/articles", "en")
    assert '<html lang="it">' in page.text and "Articoli di aiuto" in page.text
    assert '<html lang="en">' in english.text and "Help articles" in english.text


async def test_a_signed_in_contacts_own_language_wins_over_the_browsers(
    prepared: str, tmp_path: Path
) -> None:
    settings = _settings(prepared, tmp_path)
    async with browsing(settings) as get:
        get.http.cookies.set(  # type: ignore[attr-defined]
            portal_auth.SESSION_COOKIE, _signed_in(settings, "alice@acme.example")
        )
        home = await get("/portal", "it-IT,it;q=0.9")
    assert home.status_code == 200
    assert '<html lang="pt">' in home.text
    assert "Os seus pedidos" in home.text and "CAS-000001" in home.text


async def test_a_contact_who_names_no_language_reads_the_browsers(
    prepared: str, tmp_path: Path
) -> None:
    settings = _settings(prepared, tmp_path)
    async with browsing(settings) as get:
        get.http.cookies.set(  # type: ignore[attr-defined]
            portal_auth.SESSION_COOKIE, _signed_in(settings, "bruno@acme.example")
        )
        home = await get("/portal", "it")
    assert '<html lang="it">' in home.text and "Le tue richieste" in home.text


async def test_a_survey_link_speaks_the_cases_customer_language(
    prepared: str, tmp_path: Path
) -> None:
    settings = _settings(prepared, tmp_path)
    secret = settings.secret_key.get_secret_value()
    alices = sign_link(secret, LinkClaims("CAS-000001", "survey", 1))
    brunos = sign_link(secret, LinkClaims("CAS-000002", "survey", 1))
    async with browsing(settings) as get:
        in_portuguese = await get(f"/survey/{alices}", "it")
        in_italian = await get(f"/survey/{brunos}", "it")
        forged = await get(f"/survey/{alices}x", "it")
    assert '<html lang="pt">' in in_portuguese.text and "Enviar" in in_portuguese.text
    assert '<html lang="it">' in in_italian.text and "Invia" in in_italian.text
    assert forged.status_code == 404 and '<html lang="it">' in forged.text  # the browser's


async def test_a_contacts_language_is_imported_and_refused_when_unknown(prepared: str) -> None:
    engine = make_engine(prepared)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        assert directory.language_of(session, "ALICE@acme.example") == "pt"
        assert directory.language_of(session, "nobody@acme.example") == ""
    with pytest.raises(ConfigError) as refused, transaction(sessions) as session:
        import_organisation(
            session, {"contacts": [{"email": "carol@acme.example", "language": "fr"}]}
        )
    engine.dispose()
    assert "language" in str(refused.value)
