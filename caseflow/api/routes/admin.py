"""The admin API: list, read, create-or-update and delete every configuration object, and import
a whole organisation. Admins only. One set of routes per configuration kind, built from the
registry, so each has its own documented body in the OpenAPI schema."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.service import RPCError

from caseflow.api import schemas
from caseflow.api.deps import AgentDep, Limit, Offset, SessionsDep, get_client, read
from caseflow.api.errors import ApiError
from caseflow.client import start_rollout
from caseflow.configuration import (
    ConfigError,
    Kind,
    apply,
    export_organisation,
    import_organisation,
    kinds,
    remove,
    rollout_targets,
)
from caseflow.settings import Settings
from caseflow.store.db import transaction
from caseflow.workflows.fanout import rollout_id
from caseflow.workflows.model import Actor, Role

logger = logging.getLogger(__name__)
ERROR_STATUS = {"not_found": 404, "duplicate": 409, "in_use": 409}  # else 422
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (401, 403, 404, 409, 422)
}


def admin(agent: AgentDep) -> Actor:
    if agent.role is not Role.ADMIN:
        raise ApiError(403, "forbidden", "only admins change the configuration")
    return agent


AdminDep = Annotated[Actor, Depends(admin)]


class ObjectPage(schemas.Page[dict[str, Any]]):
    """A page of one kind's objects, in the form `PUT` takes them."""


class RolloutsStarted(BaseModel):
    """What a save started, answered only when it started something (or could not)."""

    # The ids of the rollouts started (`rollout:calendar:<name>`): each tells the running cases
    # of one changed object, in batches, after this answer (its progress is in the Temporal UI).
    rollouts: list[str] = []
    # Saved, but Temporal was unreachable: no running case was told (`caseflow calendar load`
    # starts it again).
    rollouts_not_started: list[str] = []


class Saved(RolloutsStarted):
    outcome: str  # created, updated, unchanged
    object: dict[str, Any]


class Imported(RolloutsStarted):
    results: dict[str, dict[str, str]]
    created: int
    updated: int
    unchanged: int


def refused(err: ConfigError) -> ApiError:
    return ApiError(ERROR_STATUS.get(err.code, 422), err.code, err.detail)


async def _roll_out(request: Request, changed: dict[str, list[str]], by: str) -> RolloutsStarted:
    """Start the rollout of each committed change to the running cases that use it; answers at
    once, with the rollouts' ids."""
    answer = RolloutsStarted()
    targets = rollout_targets(changed)
    settings: Settings = request.app.state.settings
    client: Client | None = None
    for target in targets:
        try:
            client = client or await get_client(request)
            handle = await start_rollout(client, target, by, settings.task_queue)
        except (ApiError, RPCError) as err:
            logger.warning("%s saved, but Temporal is unreachable: no case told (%s)", target, err)
            answer.rollouts_not_started.append(rollout_id(target))
        else:
            answer.rollouts.append(handle.id)
    return answer


def _routes_for(router: APIRouter, kind: Kind[Any]) -> None:
    spec = kind.spec
    path = f"/{kind.name}"

    async def list_objects(
        _: AdminDep, sessions: SessionsDep, limit: Limit = 100, offset: Offset = 0
    ) -> ObjectPage:
        found = await read(sessions, kind.dump)
        return ObjectPage.cut([s.model_dump(mode="json") for s in found], limit, offset)

    async def get_object(key: str, _: AdminDep, sessions: SessionsDep) -> dict[str, Any]:
        found: BaseModel | None = await read(sessions, lambda s: kind.find(s, key))
        if found is None:
            raise ApiError(404, "not_found", f"no {kind.name} {key!r}")
        return found.model_dump(mode="json")

    async def put_object(
        key: str,
        request: Request,
        actor: AdminDep,
        sessions: SessionsDep,
        given: BaseModel,  # the kind's own model: see below
    ) -> Saved:
        body: BaseModel = given
        if kind.key(body) != key:
            raise ApiError(
                422, "invalid", f"the path says {key!r} but the object {kind.key(body)!r}"
            )

        def save() -> str:
            with transaction(sessions) as session:
                session.info["actor"] = actor.handle  # who changed it, for kinds that keep it
                return apply(session, kind, body)

        try:
            outcome = await run_in_threadpool(save)
        except ConfigError as err:
            raise refused(err) from None
        changed = {kind.name: [key]} if outcome != "unchanged" else {}
        started = await _roll_out(request, changed, actor.handle)
        return Saved(outcome=outcome, object=body.model_dump(mode="json"), **started.model_dump())

    async def delete_object(key: str, _: AdminDep, sessions: SessionsDep) -> Response:
        def delete() -> None:
            with transaction(sessions) as session:
                remove(session, kind, key)

        try:
            await run_in_threadpool(delete)
        except ConfigError as err:
            raise refused(err) from None
        return Response(status_code=204)

    # Annotations are strings here (postponed evaluation): give FastAPI the kind's model itself.
    put_object.__annotations__["given"] = Annotated[spec, Body()]
    summary = kind.describe or kind.name
    router.add_api_route(
        path, list_objects, methods=["GET"], responses=ERRORS, summary=f"List {kind.name}",
        description=summary,
    )  # fmt: skip
    router.add_api_route(
        f"{path}/{{key:path}}", get_object, methods=["GET"], responses=ERRORS,
        summary=f"Read one of {kind.name}",
    )  # fmt: skip
    router.add_api_route(
        f"{path}/{{key:path}}", put_object, methods=["PUT"], responses=ERRORS,
        summary=f"Create or update one of {kind.name}", description=summary,
        response_model_exclude_defaults=True,  # the rollout fields only when there are some
    )  # fmt: skip
    if kind.delete is not None:
        router.add_api_route(
            f"{path}/{{key:path}}", delete_object, methods=["DELETE"], status_code=204,
            responses=ERRORS, summary=f"Delete one of {kind.name}",
        )  # fmt: skip


def build_router() -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"])

    @router.get("", responses=ERRORS, summary="The configuration kinds")
    async def list_kinds(_: AdminDep) -> dict[str, str]:
        return {k.name: k.describe for k in kinds()}

    @router.get("/export", responses=ERRORS, summary="The whole organisation, as import reads it")
    async def export(_: AdminDep, sessions: SessionsDep) -> dict[str, list[dict[str, Any]]]:
        return await read(sessions, export_organisation)

    @router.post(
        "/import",
        responses=ERRORS,
        summary="Import a whole organisation (YAML or JSON, the file of `caseflow import`)",
        response_model_exclude_defaults=True,  # the rollout fields only when there are some
        openapi_extra={
            "requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}}}}
        },
    )
    async def import_file(request: Request, actor: AdminDep, sessions: SessionsDep) -> Imported:
        raw = await request.body()

        def run() -> Any:  # parsing and importing a whole organisation: off the event loop
            try:
                data = yaml.safe_load(raw)
            except yaml.YAMLError as err:
                raise ApiError(422, "invalid", f"not YAML or JSON: {err}") from None
            with transaction(sessions) as session:
                session.info["actor"] = actor.handle
                return import_organisation(session, data)

        try:
            report = await run_in_threadpool(run)
        except ConfigError as err:
            raise refused(err) from None
        started = await _roll_out(request, report.changed(), actor.handle)
        return Imported(
            results=report.results,
            created=report.count("created"),
            updated=report.count("updated"),
            unchanged=report.count("unchanged"),
            **started.model_dump(),
        )

    for kind in kinds():
        _routes_for(router, kind)
    return router
