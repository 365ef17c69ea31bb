"""The case page's actions on the Temporal dev server with a real worker and an SMTP sink: each
form makes the API's update (pick, reply, note, resolve with time spent, an article sent), a
refusal says what the API says, a form without its CSRF token or on a case of another queue
changes nothing, a stale form is refused, and a double submit is carried out once."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from html.parser import HTMLParser

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from caseflow.api.app import create_app
from caseflow.passwords import hash_password
from caseflow.settings import Settings
from caseflow.store import cases, directory, knowledge
from caseflow.store.db import transaction
from caseflow.store.knowledge import ArticleContent
from caseflow.store.models import Agent, CaseEvent
from tests.integration.test_workspace import PASSWORD, sign_in
from tests.support.api import bearer, serving
from tests.support.harness import CUSTOMER, STAGES_DONE, Harness, running_worker
from tests.support.servers import SmtpSink

ARTICLE = ArticleContent(
    "Printer on fire: replace the fuser",
    "Switch the printer off, let it cool, and replace the fuser unit.",
    "printer fire fuser",
    None,
)


class Forms(HTMLParser):
    """The forms of a page: each one's action and the values its inputs hold."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), {}))
        elif tag == "input" and self.forms and values.get("type") == "hidden":
            self.forms[-1][1][values["name"]] = values.get("value", "")
        elif tag == "button" and self.forms and values.get("formaction"):
            self.forms.append((values["formaction"], dict(self.forms[-1][1])))

    def of(self, action: str, **hidden: str) -> dict[str, str]:
        """The hidden inputs of the (first) form that posts this action with these values."""
        for url, inputs in self.forms:
            if url.endswith(f"/act/{action}") and hidden.items() <= inputs.items():
                return dict(inputs)
        raise AssertionError(f"no form for {action} in {[url for url, _ in self.forms]}")

    @property
    def actions(self) -> list[str]:
        return [url.rsplit("/", 1)[-1] for url, _ in self.forms if "/act/" in url]


@dataclass
class Desk:
    """An agent at the case page in a browser of their own."""

    http: httpx.AsyncClient
    number: str

    async def page(self) -> httpx.Response:
        return await self.http.get(f"/agent/cases/{self.number}")

    async def forms(self) -> Forms:
        page = await self.page()
        assert page.status_code == 200, page.text
        return Forms(page.text)

    async def post(self, action: str, form: dict[str, str], **fields: str) -> httpx.Response:
        url = f"/agent/cases/{self.number}/act/{action}"
        return await self.http.post(url, data={**form, **fields})

    async def act(self, action: str, **fields: str) -> httpx.Response:
        """The action's form as the page has it now, filled in and sent."""
        return await self.post(action, (await self.forms()).of(action), **fields)


@pytest.fixture
async def harness(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Harness]:
    async with running_worker(dev_env.client, settings, smtp_sink) as harness:
        with transaction(harness.sessions) as session:
            directory.create_agent(session, "gus", "gus@caseflow.test", "agent", ["gold"], "g" * 64)
            password = hash_password(PASSWORD)
            for agent in session.scalars(select(Agent)):
                agent.password_hash = password
            knowledge.save_article(session, ARTICLE, "author")
        yield harness


@pytest.fixture
async def number(harness: Harness) -> str:
    handle = await harness.open_case(CUSTOMER, "Printer on fire")
    await harness.settled(handle.id)
    return handle.id


@pytest.fixture
async def desks(harness: Harness, number: str) -> AsyncIterator[dict[str, Desk]]:
    """Ann (an agent of `standard`), Sam (a supervisor) and Gus (an agent of `gold` only), each
    signed in in a browser of their own."""
    async with AsyncExitStack() as stack:
        found: dict[str, Desk] = {}
        for login in ("ann", "sam", "gus"):
            app = create_app(harness.settings, harness.client)
            http = await stack.enter_async_context(serving(app))
            signed = await sign_in(http, login)
            assert signed.status_code == 303, signed.text
            found[login] = Desk(http, number)
        yield found


def case_row(harness: Harness, number: str) -> dict[str, object]:
    with transaction(harness.sessions, writes=False) as session:
        row = cases.get_case(session, number)
        assert row is not None
        return {"status": row.status, "owner": row.owner, "version": row.last_seq,
                "resolution": row.resolution}  # fmt: skip


def events(harness: Harness, number: str, kind: str) -> list[CaseEvent]:
    with transaction(harness.sessions, writes=False) as session:
        return [e for e in cases.case_events(session, number) if e.kind == kind]


def refusal(page: httpx.Response) -> str:
    found = re.search(r'<p class="error" role="alert" id="refusal">(.*?)</p>', page.text, re.S)
    assert found, page.text
    return html.unescape(found.group(1))


async def test_an_agent_picks_replies_notes_and_resolves_with_time_spent(
    harness: Harness, desks: dict[str, Desk], number: str, smtp_sink: SmtpSink
) -> None:
    ann = desks["ann"]
    assert {"pick", "cancel", "escalate"} <= set((await ann.forms()).actions)
    assert "resume" not in (await ann.forms()).actions  # not in the state `new`

    picked = await ann.act("pick")
    replied = await ann.act("reply", body="We are on it: keep the printer off.")
    noted = await ann.act("note", body="Customer sounded worried.")
    resolved = await ann.act(
        "resolve", resolution="Fuser replaced.", time_spent_minutes="45",
        billable_minutes="30", **{f"fields.{k}": v for k, v in STAGES_DONE.items()},
    )  # fmt: skip

    for answer in (picked, replied, noted, resolved):
        assert (answer.status_code, answer.headers["location"]) == (303, f"/agent/cases/{number}")
    row = case_row(harness, number)
    assert (row["status"], row["owner"]) == ("resolved", "ann")
    assert isinstance(row["resolution"], dict) and row["resolution"]["time_spent_minutes"] == 45
    assert [e.body for e in events(harness, number, "note")] == ["Customer sounded worried."]
    await smtp_sink.arrived(
        lambda found: any("keep the printer off" in str(m.get_body()) for m in found)
    )
    page = (await ann.page()).text
    assert "Fuser replaced." in page and "reopen" in Forms(page).actions
    assert "pick" not in Forms(page).actions


async def test_a_knowledge_suggestion_is_sent_as_a_reply(
    harness: Harness, desks: dict[str, Desk], number: str, smtp_sink: SmtpSink
) -> None:
    ann = desks["ann"]
    assert "send_article" not in (await ann.forms()).actions  # no reply to a new case
    await ann.act("pick")
    forms = await ann.forms()
    with transaction(harness.sessions, writes=False) as session:
        article = knowledge.find(session, ARTICLE.title)
        assert article is not None
        article_id = str(article.id)

    sent = await ann.post("send_article", forms.of("send_article", article_id=article_id))

    assert sent.status_code == 303
    (reply,) = events(harness, number, "replied")
    assert reply.data["article_id"] == article_id and "replace the fuser" in reply.body
    await smtp_sink.arrived(lambda found: any("fuser unit" in str(m.get_body()) for m in found))


async def test_a_refused_action_shows_the_reason_the_api_gives(
    harness: Harness, desks: dict[str, Desk], number: str
) -> None:
    ann = desks["ann"]
    await ann.act("pick")
    async with serving(create_app(harness.settings, harness.client)) as api:
        by_api = await api.post(
            f"/cases/{number}/resolve", json={"resolution": "Done."}, headers=bearer("ann")
        )

    page = await ann.act("resolve", resolution="Done.")
    twice = await ann.act("pick")

    assert by_api.status_code == page.status_code == 409
    detail = by_api.json()["detail"]
    assert "cannot be resolved yet" in detail
    assert refusal(page) == f"{detail[0].upper()}{detail[1:]}."
    assert twice.status_code == 409 and refusal(twice) == f"{number} is already owned by ann."
    assert 'value="Done."' not in page.text and ">Done.</textarea>" in page.text  # kept
    assert case_row(harness, number)["status"] == "open"


async def test_an_invalid_form_is_refused_as_the_api_refuses_its_body(
    harness: Harness, desks: dict[str, Desk], number: str
) -> None:
    answer = await desks["ann"].act("escalate", priority="9")

    assert answer.status_code == 422
    assert "priority: Input should be less than or equal to 4" in refusal(answer)
    assert events(harness, number, "escalated") == []


async def test_a_form_without_its_csrf_token_changes_nothing(
    harness: Harness, desks: dict[str, Desk], number: str
) -> None:
    ann = desks["ann"]
    form = (await ann.forms()).of("pick")

    missing = await ann.post("pick", {**form, "csrf": ""})
    stolen = (await desks["sam"].forms()).of("pick")["csrf"]
    forged = await ann.post("pick", {**form, "csrf": stolen})

    for answer in (missing, forged):
        assert answer.status_code == 403 and "came from elsewhere" in refusal(answer)
    assert case_row(harness, number)["owner"] is None


async def test_a_case_of_another_queue_is_no_case_to_its_page_or_its_forms(
    harness: Harness, desks: dict[str, Desk], number: str
) -> None:
    ann, gus = desks["ann"], desks["gus"]
    form = (await ann.forms()).of("pick")
    form["csrf"] = Forms((await gus.http.get("/agent")).text).forms[0][1]["csrf"]  # sign-out's

    page = await gus.page()
    acted = await gus.post("pick", form)
    version = await gus.http.get(f"/agent/cases/{number}/version")

    assert page.status_code == acted.status_code == version.status_code == 404
    assert f"No case {number}" in acted.text
    assert case_row(harness, number)["owner"] is None


async def test_a_stale_form_is_refused_and_the_open_page_learns_who_changed_it(
    harness: Harness, desks: dict[str, Desk], number: str
) -> None:
    ann, sam = desks["ann"], desks["sam"]
    opened = await ann.forms()
    version = opened.of("pick")["version"]

    assert (await sam.act("pick")).status_code == 303
    polled = await ann.http.get(f"/agent/cases/{number}/version", params={"since": version})
    stale = await ann.post("escalate", opened.of("escalate"), reason="Too slow")

    assert polled.json()["changed"] == {"by": "sam", "action": "pick"}
    assert polled.json()["version"] > int(version)
    assert stale.status_code == 409
    assert refusal(stale).startswith("This case changed since you opened it: pick by sam.")
    assert events(harness, number, "escalated") == []
    again = await ann.post("escalate", Forms(stale.text).of("escalate"), reason="Too slow")
    assert again.status_code == 303  # the page shown with the refusal is the current one


async def test_a_double_submit_or_a_reload_is_carried_out_once(
    harness: Harness, desks: dict[str, Desk], number: str, smtp_sink: SmtpSink
) -> None:
    ann = desks["ann"]
    await ann.act("pick")
    form = (await ann.forms()).of("reply")

    at_once = await asyncio.gather(*(ann.post("reply", form, body="Hello!") for _ in range(2)))
    later = await ann.post("reply", form, body="Hello!")  # a reload: the form is stale now
    note = (await ann.forms()).of("note")
    notes = [await ann.post("note", note, body="Once.") for _ in range(2)]

    assert [a.status_code for a in (*at_once, later, *notes)] == [303] * 5
    assert len(events(harness, number, "replied")) == 1
    assert len(events(harness, number, "note")) == 1
    await harness.settled(number)
    replies = [m for _, m in smtp_sink.messages if "Hello!" in str(m.get_body())]
    assert len(replies) == 1


async def test_an_escalation_out_of_the_agents_sight_leads_back_to_their_list(
    harness: Harness, desks: dict[str, Desk], number: str
) -> None:
    escalated = await desks["ann"].act("escalate", reason="A whole office is down")

    assert (escalated.status_code, escalated.headers["location"]) == (303, "/agent")
    assert (await desks["ann"].page()).status_code == 404
    assert "escalations" in (await desks["sam"].page()).text


async def test_an_activity_is_added_and_completed_from_the_page(
    harness: Harness, desks: dict[str, Desk], number: str
) -> None:
    ann = desks["ann"]

    added = await ann.act(
        "add_activity", kind="phone_call", subject="Call Carol back", due_at="2026-12-08T09:30"
    )
    with transaction(harness.sessions, writes=False) as session:
        (activity,) = cases.case_activities(session, number)
    done = await ann.post(
        "complete_activity",
        (await ann.forms()).of("complete_activity", activity_id=str(activity.activity_id)),
    )

    assert added.status_code == done.status_code == 303
    assert activity.kind == "phone_call" and activity.due_at is not None
    with transaction(harness.sessions, writes=False) as session:
        (finished,) = cases.case_activities(session, number)
    assert finished.status == "completed" and finished.closed_by == "ann"
