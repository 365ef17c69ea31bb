"""Every HTML page Caseflow serves loads only Caseflow's own files, so each works offline and
tells no other host who is reading it. The pages are found from the app's routes (a new page is
checked without being listed here); each reference is read from the markup, the styles and the
inline scripts, and each file a page loads must answer 200."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from caseflow.api import portal_auth
from caseflow.api.app import create_app
from caseflow.api.pages import AGENT_POLICY, POLICY, policy_for
from caseflow.passwords import hash_password
from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.signing import LinkClaims, sign_link, token_hash
from caseflow.store import directory, portal
from caseflow.store.db import make_engine, session_factory, transaction
from tests.support.api import BASE_URL, bearer, serving
from tests.support.pages import Reference, css_references, html_references, unlabelled_controls
from tests.support.read_model import add_case
from tests.support.servers import free_port

ADMIN = bearer("admin-token")
SURVEYED, PROPOSED = "CAS-000001", "CAS-000002"  # closed, survey sent; resolved, awaiting
KNOWN_PAGES = {
    "/docs", "/docs/oauth2-redirect", "/survey/{token}", "/resolution/{token}",
    "/agent", "/agent/sign-in", "/agent/cases/{number}",
    "/portal", "/portal/sign-in", "/portal/link/{token}", "/portal/cases/{number}",
    "/portal/new", "/portal/articles", "/portal/articles/{article_id}",
}  # fmt: skip
PASSWORD = "a password for the pages"
HOST = urlsplit(BASE_URL).netloc
LOCAL_SCHEMES = {"", "data", "blob", "mailto", "tel", "about"}
PLACEHOLDER = "x"  # for a path parameter no page needs a real value of


@dataclass
class Site:
    app: FastAPI
    http: httpx.AsyncClient
    tokens: dict[str, str]  # purpose → a genuine signed link token


@pytest.fixture
async def site(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    settings = Settings(
        home=tmp_path / "home",
        database_url=sqlite_url,
        temporal_address=f"127.0.0.1:{free_port()}",  # pages are read without Temporal
    )
    engine = make_engine(sqlite_url)
    with transaction(session_factory(engine)) as session:
        directory.create_agent(
            session,
            "ada",
            "ada@caseflow.test",
            "admin",
            [],
            token_hash(DEVELOPMENT_SECRET, "admin-token"),
        )
        ada = directory.agent_by_handle(session, "ada")
        assert ada is not None
        ada.password_hash = hash_password(PASSWORD)
        add_case(session, SURVEYED, status="closed", survey={"episode": 1, "status": "sent"})
        add_case(session, PROPOSED, status="resolved", resolution={"episode": 1, "text": "Ok"})
    engine.dispose()
    secret = settings.secret_key.get_secret_value()
    tokens = {
        "survey": sign_link(secret, LinkClaims(SURVEYED, "survey", 1)),
        "resolution": sign_link(secret, LinkClaims(PROPOSED, "resolution", 1)),
        "portal": portal_link(sessions_of(sqlite_url), secret),
    }
    app = create_app(settings)
    async with serving(app) as http:
        await signed_in(http)  # the agent's pages as a signed-in agent sees them
        yield Site(app, http, tokens)


def sessions_of(url: str) -> sessionmaker[Session]:
    return session_factory(make_engine(url))


def portal_link(sessions: sessionmaker[Session], secret: str) -> str:
    """A genuine, unused sign-in link of the customer portal, for a seeded contact."""
    link = portal_auth.new_secret()
    with transaction(sessions) as session:
        contact = portal.contact_for_sign_in(session, "alice@acme.example")
        assert contact is not None
        key = portal_auth.link_hash(secret, link)
        portal.issue_link(session, contact.id, key, datetime.now(UTC), portal_auth.LINK_LIFETIME)
    sessions.kw["bind"].dispose()
    return portal_auth.link_token(secret, link)


async def signed_in(http: httpx.AsyncClient) -> None:
    form = await http.get("/agent/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    data = {"login": "ada", "password": PASSWORD, "csrf": csrf.group(1)}
    signed = await http.post("/agent/sign-in", data=data)
    assert signed.status_code == 303, signed.text


# -- finding the pages ----------------------------------------------------------------------------


def get_routes(app: FastAPI) -> list[Any]:
    """Every GET route of the app, included routers' too (FastAPI's own walk where it has one);
    static files, mounted, are what the pages load."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(walk(app.routes)) if walk else list(app.routes)
    return [route for route in routes if "GET" in (getattr(route, "methods", None) or ())]


def declared_html(route: Any) -> bool:
    declared = getattr(route, "response_class", None)
    declared = getattr(declared, "value", declared)  # unwrap FastAPI's default placeholder
    return isinstance(declared, type) and issubclass(declared, HTMLResponse)


def urls_of(route: Any, tokens: dict[str, str]) -> list[str]:
    """Where to open the route: each path parameter filled in (a link token both genuine and
    forged, for the page and its refusal page; a case that exists; else a placeholder)."""
    params = list(route.param_convertors)
    if "token" in params:
        purpose = route.path.strip("/").split("/")[0]
        assert purpose in tokens, f"teach this test to sign a {purpose} link for {route.path}"
        return [fill(route.path, token=tokens[purpose]), fill(route.path, token="forged")]
    return [fill(route.path, number=SURVEYED)]


def fill(path: str, **values: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m[1], PLACEHOLDER), path)


async def html_pages(site: Site) -> dict[str, tuple[str, httpx.Response]]:
    """Route path → one of its URLs and the answer, for every GET route that answers HTML
    (routes declared HTML must)."""
    pages: dict[str, tuple[str, httpx.Response]] = {}
    for route in get_routes(site.app):
        for url in urls_of(route, site.tokens):
            answer = await site.http.get(url, headers=ADMIN, follow_redirects=True)
            html = answer.headers.get("content-type", "").startswith("text/html")
            assert html or not declared_html(route), f"{url} answered {answer.status_code}"
            if html:
                pages[f"{route.path} {url}"] = (url, answer)
    return pages


# -- what a page refers to ------------------------------------------------------------------------


def foreign(reference: Reference, base: str) -> bool:
    parts = urlsplit(urljoin(base, reference.url.strip()))
    return parts.scheme not in LOCAL_SCHEMES and parts.netloc != HOST


async def references(site: Site, url: str, html: str) -> list[tuple[str, Reference]]:
    """(where it was found, reference) for the page and every stylesheet it loads."""
    found = [(url, r) for r in html_references(html)]
    for base, reference in list(found):
        if reference.loaded and _is_css(reference) and not foreign(reference, base):
            css_url = urljoin(base, reference.url)
            css = (await site.http.get(css_url)).text
            found.extend((css_url, r) for r in css_references(css, reference.url))
    return found


def _is_css(reference: Reference) -> bool:
    return reference.where == "<link href>" and urlsplit(reference.url).path.endswith(".css")


# -- the tests ------------------------------------------------------------------------------------


def test_the_scanner_finds_every_kind_of_reference() -> None:
    html = """<html><head><link rel="stylesheet" href="https://cdn.example/a.css">
    <style>body { background: url('https://fonts.example/b.png') } @import "/c.css";</style>
    <meta http-equiv="refresh" content="5; url=https://elsewhere.example/">
    </head><body style="background: url(//img.example/d.png)">
    <img src="/e.png" srcset="/f.png 1x, https://img.example/g.png 2x">
    <form action="https://forms.example/"></form><a href="https://docs.example/">docs</a>
    <script src="https://cdn.example/h.js"></script>
    <script>load({url: 'https://api.example/spec.json', local: '/openapi.json'})</script>
    </body></html>"""
    found = html_references(html)
    foreigners = {r.url for r in found if foreign(r, BASE_URL)}
    assert foreigners == {
        "https://cdn.example/a.css", "https://fonts.example/b.png", "//img.example/d.png",
        "https://elsewhere.example/", "https://img.example/g.png", "https://forms.example/",
        "https://docs.example/", "https://cdn.example/h.js", "https://api.example/spec.json",
    }  # fmt: skip
    assert {r.url for r in found if not foreign(r, BASE_URL)} == {
        "/c.css", "/e.png", "/f.png", "/openapi.json",
    }  # fmt: skip


async def test_the_pages_are_found_from_the_apps_routes(site: Site) -> None:
    found = {key.split(" ")[0] for key in await html_pages(site)}
    assert found >= KNOWN_PAGES
    assert "/redoc" not in found  # off: ReDoc's bundle loads its maker's logo from their CDN


async def test_every_page_loads_only_caseflows_own_files_and_each_answers(site: Site) -> None:
    problems: list[str] = []
    for key, (url, answer) in (await html_pages(site)).items():
        for base, reference in await references(site, url, answer.text):
            if foreign(reference, base):
                problems.append(f"{key}: {reference.where} {reference.url}")
            elif reference.loaded and not reference.url.startswith("data:"):
                loaded = await site.http.get(urljoin(base, reference.url), headers=ADMIN)
                if loaded.status_code != 200:
                    problems.append(f"{key}: {reference.url} answered {loaded.status_code}")
    assert problems == []


async def test_every_page_tells_browsers_to_load_nothing_from_elsewhere(site: Site) -> None:
    for key, (_, answer) in (await html_pages(site)).items():
        path = urlsplit(str(answer.url)).path
        assert answer.headers["content-security-policy"] == policy_for(path), key
    for policy in (POLICY, AGENT_POLICY):
        assert "default-src 'self'" in policy and "http" not in policy
    assert "unsafe-inline" not in AGENT_POLICY


def test_the_label_check_finds_a_control_without_one() -> None:
    html = """<form><label>Name <input name="a"></label><label for="b">B</label><input id="b">
    <input name="c"><select name="d"></select><textarea aria-label="E" name="e"></textarea>
    <input type="hidden" name="csrf"><button type="submit">Go</button></form>"""
    assert unlabelled_controls(html) == ["<input name='c'>", "<select name='d'>"]


async def test_every_control_of_every_page_has_a_label(site: Site) -> None:
    # /docs is Swagger UI's own page, drawn by its script.
    pages = await html_pages(site)
    assert any("<input" in answer.text for _, answer in pages.values())
    problems = {
        key: missing
        for key, (_, answer) in pages.items()
        if not key.startswith("/docs") and (missing := unlabelled_controls(answer.text))
    }
    assert problems == {}


async def test_the_documentation_page_works_offline(site: Site) -> None:
    page = await site.http.get("/docs")
    scripts = [r.url for r in html_references(page.text) if r.where == "<script src>"]
    assert page.status_code == 200 and scripts and all(s.startswith("/") for s in scripts)
    bundle = await site.http.get(scripts[0])
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert (await site.http.get("/openapi.json")).status_code == 200
