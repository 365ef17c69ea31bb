"""One registry of agent actions (`lifecycle.ACTIONS`), offered on every surface from it: the
workflow update, the HTTP route and its body, the CLI command and its options."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import typer
from fastapi import APIRouter, FastAPI
from pydantic import ValidationError
from temporalio import workflow
from typer.testing import CliRunner

from caseflow import surfaces
from caseflow.api.app import create_app
from caseflow.api.routes import cases as case_routes
from caseflow.cli import cases as case_commands
from caseflow.cli.base import UsageError
from caseflow.cli.commands import app as cli
from caseflow.settings import Settings
from caseflow.workflows import lifecycle
from caseflow.workflows.case import CaseWorkflow, _action_update
from caseflow.workflows.model import (
    ActionRequest,
    Actor,
    AdvanceRequest,
    AssignRequest,
    EmailDecision,
    EscalateRequest,
    ResolveRequest,
    Role,
)

ANN = Actor("ann", Role.AGENT)
OFFERED = set(surfaces.OFFERED)


def updates_of(cls: type) -> set[str]:
    return {str(name) for name in workflow._Definition.must_from_class(cls).updates}


def test_every_action_with_a_request_is_an_update_a_route_and_a_command() -> None:
    declared = {name for name, a in lifecycle.ACTIONS.items() if a.request is not None}
    spec = create_app(Settings()).openapi()
    routes = {p.rsplit("/", 1)[1] for p in spec["paths"] if p.count("/") == 3}
    commands = {c.name for c in case_commands.app.registered_commands}
    assert declared == OFFERED
    assert {"pick", "reply", "escalate", "confirm"} <= OFFERED
    assert updates_of(CaseWorkflow) >= OFFERED
    assert routes >= OFFERED
    assert commands == OFFERED | {"show", "list"}


def test_an_update_answers_to_its_registry_name_with_its_request_type() -> None:
    updates = workflow._Definition.must_from_class(CaseWorkflow).updates
    for name, offered in surfaces.OFFERED.items():
        assert updates[name].arg_types == [offered.request]
        assert updates[name].validator is not None
        assert updates[name].description == lifecycle.ACTIONS[name].summary


def test_an_action_added_to_the_registry_gets_its_update_route_and_command() -> None:
    ping = lifecycle.Action(
        lifecycle.ACTIVE, lambda state, request, now: lifecycle.Effects(), request=ActionRequest,
        doc="Ping the case: nothing changes.",
    )  # fmt: skip
    offered = surfaces.offered("ping", ping)

    update = _action_update("ping", ping)
    router = APIRouter(prefix="/cases")
    case_routes.add_action_routes(router, [offered])
    app = FastAPI()
    app.include_router(router)
    commands = typer.Typer()
    commands.command("ping", help=offered.doc)(case_commands.command_of(offered))
    shown = CliRunner().invoke(commands, ["--help"])

    assert (update._defn.name, update._defn.arg_types) == ("ping", [ActionRequest])
    post = app.openapi()["paths"]["/cases/{number}/ping"]["post"]
    assert post["description"] == "Ping the case: nothing changes."
    assert "--comment" in shown.output and "NUMBER" in shown.output
    assert offered.request_of(ANN, None) == ActionRequest(ANN, "")


# -- bodies ------------------------------------------------------------------------------------


def body(action: str, data: dict[str, Any]) -> surfaces.Body:
    return surfaces.OFFERED[action].body.model_validate(data)


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("reply", {}),
        ("reply", {"body": ""}),
        ("reply", {"body": "x" * 100_001}),
        ("note", {"body": "hi", "internal": True}),
        ("pick", {"comment": "x" * 100_001}),
        ("wait", {"reason": "x" * 1001}),
        ("escalate", {"priority": 0}),
        ("escalate", {"priority": 5}),
        ("escalate", {"queue": "q" * 101}),
        ("advance", {"fields": {f"f{i}": "v" for i in range(51)}}),
        ("advance", {"fields": {"x" * 65: "v"}}),
        ("advance", {"fields": {"": "v"}}),
        ("advance", {"fields": {"category": "v" * 1001}}),
        ("resolve", {"resolution": "Fixed.", "time_spent_minutes": -1}),
        ("resolve", {"resolution": "Fixed.", "billable_minutes": 1_000_001}),
        ("resolve", {"time_spent_minutes": 3}),
        ("confirm", {}),
        ("split", {"email": "k" * 301}),
        ("assign", {}),
        ("assign", {"agent": "ann", "owner": "sam"}),
    ],
)
def test_a_body_out_of_bounds_is_refused(action: str, data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        body(action, data)


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("reply", {"body": "x" * 100_000}),
        ("wait", {"reason": "x" * 1000, "body": "Could you send the logs?"}),
        ("escalate", {"priority": 1, "queue": "tier2"}),
        ("advance", {"fields": {f"f{i}": "v" * 1000 for i in range(50)}}),
        ("advance", {"fields": {"x" * 64: ""}}),
    ],
)
def test_a_body_at_its_bounds_is_taken(action: str, data: dict[str, Any]) -> None:
    body(action, data)


def test_bodies_become_requests_by_the_requests_own_names() -> None:
    resolve = body("resolve", {"resolution": "Fixed.", "fields": {"product": "vpn"}})
    assert surfaces.OFFERED["resolve"].request_of(ANN, resolve) == ResolveRequest(
        ANN, "Fixed.", fields={"product": "vpn"}
    )
    confirm = body("confirm", {"email": "replay:CAS-000001:1"})
    assert surfaces.OFFERED["confirm"].request_of(ANN, confirm) == EmailDecision(
        ANN, key="replay:CAS-000001:1"
    )
    for data in ({"agent": "sam"}, {"owner": "sam"}):
        assign = body("assign", data)
        assert surfaces.OFFERED["assign"].request_of(ANN, assign) == AssignRequest(ANN, "sam")


def test_what_a_request_names_is_listed_to_be_checked() -> None:
    def named(action: str, request: Any) -> list[tuple[str, str]]:
        return surfaces.OFFERED[action].references(request)

    assert named("assign", AssignRequest(ANN, "sam")) == [("agent", "sam")]
    assert named("escalate", EscalateRequest(ANN, queue="tier2")) == [("queue", "tier2")]
    assert named("escalate", EscalateRequest(ANN, priority=1)) == []
    assert named("advance", AdvanceRequest(ANN, {"product": "vpn"})) == [("product", "vpn")]
    assert named("advance", AdvanceRequest(ANN, {"product": "", "category": "x"})) == []


def test_the_body_is_optional_only_when_every_field_has_a_default() -> None:
    optional = {name for name, o in surfaces.OFFERED.items() if o.body_optional}
    assert optional == {
        "pick", "wait", "hold", "resume", "advance", "reopen", "cancel", "escalate"
    }  # fmt: skip


# -- the CLI -----------------------------------------------------------------------------------

CASE = {
    "number": "CAS-000007", "status": "open", "stage": "identify", "priority": 3,
    "queue": "support", "owner": "ann", "subject": "VPN drops",
}  # fmt: skip


def test_options_make_the_body_the_api_checks() -> None:
    advance = surfaces.OFFERED["advance"]
    given = {"fields": ["product=vpn", "category=network=wifi"]}
    assert case_commands.body_of(advance, given) == {
        "fields": {"product": "vpn", "category": "network=wifi"}
    }
    escalate = surfaces.OFFERED["escalate"]
    assert case_commands.body_of(escalate, {"reason": "", "priority": 1, "queue": None}) == {
        "priority": 1
    }
    with pytest.raises(UsageError, match="--priority: Input should be less than or equal to 4"):
        case_commands.body_of(escalate, {"reason": "", "priority": 9, "queue": None})
    with pytest.raises(UsageError, match="is not NAME=VALUE"):
        case_commands.body_of(advance, {"fields": ["product"]})


def test_a_command_line_out_of_bounds_exits_1_in_one_line_and_sends_nothing() -> None:
    result = CliRunner().invoke(
        cli, ["case", "escalate", "CAS-000007", "--token", "t", "--priority", "7"]
    )
    assert result.exit_code == 1
    assert "--priority: Input should be less than or equal to 4" in result.output
    assert result.output.count("\n") == 1


class Api:
    """An HTTP API that answers from a script, and keeps what it was sent."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def send(self, action: str = "reply", body: dict[str, Any] | None = None) -> Any:
        sent = case_commands.Sent(f"/cases/CAS-000007/{action}", "key-1", body or {"body": "Hi"})
        self.waits: list[float] = []
        return case_commands.send(
            "http://api", "tok", sent, httpx.MockTransport(self), self.waits.append
        )


def busy(status: int, retry_after: str = "") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after else {}
    problem = {"error": "worker_unavailable", "detail": "try again"}
    return httpx.Response(status, json=problem, headers=headers)


def test_a_busy_or_absent_api_is_tried_again_with_the_same_key_and_body() -> None:
    api = Api(
        busy(503), httpx.ConnectError("refused"), busy(429, "3"), httpx.Response(200, json=CASE)
    )
    assert api.send() == CASE
    assert {r.headers["Idempotency-Key"] for r in api.sent} == {"key-1"}
    assert {r.headers["Authorization"] for r in api.sent} == {"Bearer tok"}
    assert [json.loads(r.content) for r in api.sent] == [{"body": "Hi"}] * 4
    assert api.waits[2] >= 3  # as the 429 asked


def test_a_refusal_is_not_tried_again() -> None:
    api = Api(httpx.Response(409, json={"error": "invalid_state", "detail": "case is new"}))
    with pytest.raises(UsageError, match="409 invalid_state: case is new"):
        api.send()
    assert len(api.sent) == 1


def test_an_api_busy_on_every_attempt_is_given_up_in_time() -> None:
    api = Api(*[busy(503, "1000")] * case_commands.ATTEMPTS)
    with pytest.raises(case_commands.Retry):
        api.send()
    assert len(api.sent) == case_commands.ATTEMPTS
    assert max(api.waits) <= case_commands.LONGEST_WAIT


def test_the_case_is_printed_as_one_line() -> None:
    assert case_commands.one_line(CASE) == (
        "CAS-000007 open (identify), priority 3, queue support, owner ann: VPN drops"
    )


def test_a_case_shown_says_its_kpis_and_timeline_in_a_line_each() -> None:
    kpi = {"kpi": "resolution", "status": "in_progress", "fail_at": "2026-12-04T17:00:00Z"}
    assert case_commands.kpi_line(kpi) == "  resolution: in_progress, due 2026-12-04T17:00:00Z"
    long = {"at": "2026-12-04T09:00:00Z", "kind": "note", "actor": "ann", "body": "a\n b " * 40}
    line = case_commands.timeline_line(long)
    assert line.startswith("  2026-12-04T09:00:00Z note by ann: a b a b")
    assert line.endswith("…") and "\n" not in line and len(line) < 130
