"""Who sees which cases, through every read and list of the API and in the database's own
filters: an agent sees the cases of their queues and the cases they own; supervisors and
admins every case; a case out of sight answers 404, exactly as one that does not exist. On
SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from caseflow.api.app import create_app
from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.signing import token_hash
from caseflow.store import cases, customers, directory, queues
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.workflows import visibility
from caseflow.workflows.model import Actor, Role
from tests.support.api import bearer, serving
from tests.support.read_model import add_case

ANN, BOB = bearer("ann"), bearer("bob")  # agents of gold, of standard
SAM = bearer("sam")  # a supervisor
QUEUES = ["gold", "standard", "escalations"]
OWNERS = [None, "ann", "bob"]
ACME = "Acme Corporation"


@dataclass(frozen=True)
class Story:
    number: str
    queue: str
    owner: str | None = None
    parent: str | None = None


# ann sees 1 (gold), 3 (hers, in escalations), 5 and 6 (gold); not 2 (bob's, standard) nor 4.
STORIES = [
    Story("CAS-000001", "gold"),
    Story("CAS-000002", "standard", "bob", parent="CAS-000005"),
    Story("CAS-000003", "escalations", "ann"),
    Story("CAS-000004", "escalations"),
    Story("CAS-000005", "gold", "ann"),
    Story("CAS-000006", "gold", parent="CAS-000005"),
]
ANNS = ["CAS-000001", "CAS-000003", "CAS-000005", "CAS-000006"]
HIDDEN, OWNED_ELSEWHERE = "CAS-000002", "CAS-000003"


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def stories(sessions: sessionmaker[Session]) -> int:
    """The cases above, all of Acme's contact alice; the account's id."""
    with transaction(sessions) as session:
        for handle, role, queue in (("ann", "agent", "gold"), ("bob", "agent", "standard")):
            directory.create_agent(session, handle, f"{handle}@x.test", role, [queue],
                                   token_hash(DEVELOPMENT_SECRET, handle))  # fmt: skip
        directory.create_agent(
            session, "sam", "sam@x.test", "supervisor", [], token_hash(DEVELOPMENT_SECRET, "sam")
        )
        alice = directory.contact_by_email(session, "alice@acme.example")
        assert alice is not None and alice.account_id is not None
        for story in STORIES:
            add_case(
                session, story.number, queue=story.queue, owner=story.owner,
                parent_number=story.parent, contact_id=alice.id, account_id=alice.account_id,
                status="open" if story.owner else "new",
            )  # fmt: skip
        return alice.account_id


@pytest.fixture
async def http(
    stories: int, database_url: str, dev_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a Temporal client but no worker: a refused action never reaches one."""
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    async with serving(create_app(settings, dev_env.client)) as client:
        yield client


async def numbers(http: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[str]:
    answer = await http.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    return sorted(item["number"] for item in answer.json()["items"])


# -- the database's filter is the rule ------------------------------------------------------------


def every_actor() -> Iterator[Actor]:
    subsets = [list(c) for n in range(len(QUEUES) + 1) for c in itertools.combinations(QUEUES, n)]
    for role, member_of, handle in itertools.product([*Role, None], subsets, ["ann", "bob", "zed"]):
        yield Actor(handle=handle, role=role, queues=member_of)


def test_the_list_filters_and_the_single_case_check_agree_for_everyone(
    sessions: sessionmaker[Session],
) -> None:
    grid = {f"CAS-1000{i:02d}": kept for i, kept in enumerate(itertools.product(QUEUES, OWNERS))}
    with transaction(sessions) as session:
        for number, (queue, owner) in grid.items():
            add_case(session, number, queue=queue, owner=owner, account_id=None)
    with transaction(sessions, writes=False) as session:
        for actor in every_actor():
            scope = visibility.scope_of(actor)
            expected = sorted(n for n, (q, o) in grid.items() if scope.admits(q, o))
            listed = cases.list_cases(session, cases.CaseFilter(), 100, 0, scope)[0]
            waiting = queues.waiting_cases(session, QUEUES, 100, 0, scope)[0]
            assert sorted(c.number for c in listed) == expected, actor
            assert {c.number for c in waiting} == {n for n in expected if grid[n][1] is None}


def test_a_scope_of_no_queue_and_no_owner_lists_nothing(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        add_case(session, "CAS-200001")
        assert cases.list_cases(session, cases.CaseFilter(), 10, 0, visibility.NO_CASE)[1] == 0
        held = customers.cases_of(session, cases.in_scope(None), visibility.NO_CASE)
        assert held.open_total == 0


# -- reads and lists ------------------------------------------------------------------------------


async def test_an_agent_lists_their_queues_cases_and_their_own(http: httpx.AsyncClient) -> None:
    assert await numbers(http, "/cases", ANN) == ANNS
    assert await numbers(http, "/cases?state=open", ANN) == ["CAS-000003", "CAS-000005"]
    assert await numbers(http, "/cases?owner=bob", ANN) == []
    assert await numbers(http, "/cases?queue=escalations", ANN) == ["CAS-000003"]
    page = (await http.get("/cases", params={"limit": 1}, headers=ANN)).json()
    assert (len(page["items"]), page["total"]) == (1, len(ANNS))


async def test_supervisors_list_every_case(http: httpx.AsyncClient) -> None:
    assert await numbers(http, "/cases", SAM) == [s.number for s in STORIES]


async def test_a_case_out_of_sight_answers_exactly_as_one_that_does_not_exist(
    http: httpx.AsyncClient,
) -> None:
    hidden = await http.get(f"/cases/{HIDDEN}", headers=ANN)
    missing = await http.get("/cases/CAS-999999", headers=ANN)
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json() == {"error": "unknown_case", "detail": f"there is no case {HIDDEN}"}
    assert missing.json()["error"] == hidden.json()["error"]
    assert (await http.get(f"/cases/{HIDDEN}", headers=BOB)).json()["number"] == HIDDEN
    assert (await http.get(f"/cases/{OWNED_ELSEWHERE}", headers=ANN)).json()["owner"] == "ann"


def case_reads(app: fastapi.FastAPI) -> list[str]:
    """The path of every GET route about one case, from the app's routes (a new sub-resource
    is covered without being listed here)."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: list[Any] = list(walk(app.routes)) if walk else list(app.routes)
    return [
        r.path for r in routes
        if "GET" in (getattr(r, "methods", None) or ()) and r.path.startswith("/cases/{number}")
    ]  # fmt: skip


@pytest.mark.parametrize("number", [HIDDEN, OWNED_ELSEWHERE])
async def test_every_read_of_a_case_follows_the_rule(http: httpx.AsyncClient, number: str) -> None:
    app = create_app(Settings())
    reads = case_reads(app)
    assert len(reads) >= 7  # the case, activities, attachments and one, emails ×2, suggestions
    for path in reads:
        url = re.sub(r"\{(\w+)\}", lambda m: number if m[1] == "number" else "1", path)
        answer = await http.get(url, params={"key": "x"}, headers=ANN)
        unknown = answer.status_code == 404 and answer.json()["error"] == "unknown_case"
        assert unknown == (number == HIDDEN), f"{url}: {answer.status_code} {answer.text}"


async def test_related_cases_out_of_sight_are_left_out(http: httpx.AsyncClient) -> None:
    parent = (await http.get("/cases/CAS-000005", headers=ANN)).json()
    assert parent["children"] == ["CAS-000006"]
    everything = (await http.get("/cases/CAS-000005", headers=SAM)).json()
    assert everything["children"] == ["CAS-000002", "CAS-000006"]


async def test_a_customers_cases_are_those_in_sight(http: httpx.AsyncClient, stories: int) -> None:
    account = (await http.get(f"/accounts/{stories}", headers=ANN)).json()
    assert sorted(c["number"] for c in account["cases"]["open"]) == ANNS
    assert account["cases"]["open_total"] == len(ANNS)
    contact = await http.get("/contacts", params={"email": "alice@acme.example"}, headers=BOB)
    [alice] = contact.json()["items"]
    theirs = (await http.get(f"/contacts/{alice['id']}", headers=BOB)).json()["cases"]
    assert ([c["number"] for c in theirs["open"]], theirs["open_total"]) == ([HIDDEN], 1)


async def test_queues_list_what_their_members_see(http: httpx.AsyncClient) -> None:
    assert await numbers(http, "/queues/gold/cases", ANN) == ["CAS-000001", "CAS-000006"]
    assert await numbers(http, "/me/cases/waiting", ANN) == ["CAS-000001", "CAS-000006"]
    assert (await http.get("/queues/escalations/cases", headers=ANN)).status_code == 403
    assert await numbers(http, "/queues/escalations/cases", SAM) == ["CAS-000004"]


# -- actions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("pick", None),
        ("note", {"body": "Seen from afar"}),
        ("assign", {"agent": "ann"}),
        ("send-article", {"article_id": 1}),
        ("activities", {"kind": "note", "subject": "x"}),
        ("merge", {"into": "CAS-000001"}),
    ],
)
async def test_an_action_on_a_case_out_of_sight_answers_404(
    http: httpx.AsyncClient, action: str, body: dict[str, Any] | None
) -> None:
    answer = await http.post(f"/cases/{HIDDEN}/{action}", json=body, headers=ANN)
    assert (answer.status_code, answer.json()["error"]) == (404, "unknown_case"), answer.text


@pytest.mark.parametrize("action", ["merge", "parent"])
async def test_a_case_out_of_sight_cannot_be_named_by_an_action(
    http: httpx.AsyncClient, action: str
) -> None:
    body = {"into": HIDDEN} if action == "merge" else {"parent": HIDDEN}
    answer = await http.post(f"/cases/CAS-000001/{action}", json=body, headers=ANN)
    assert answer.status_code == 422
    assert answer.json() == {"error": "invalid_input", "detail": f"there is no case {HIDDEN}"}
