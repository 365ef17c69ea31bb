"""Liveness and readiness: the database answers, and whether Temporal does."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from caseflow.api import schemas
from caseflow.api.deps import SessionsDep, read
from caseflow.api.errors import ApiError

router = APIRouter(tags=["health"])
TIMEOUT = timedelta(seconds=3)


@router.get("/health")
async def health(request: Request, response: Response, sessions: SessionsDep) -> schemas.Health:
    """200 when the database answers; `temporal` says whether Temporal does (reads need only
    the database)."""
    try:
        await read(sessions, lambda s: s.execute(text("SELECT 1")))
        database = "ok"
    except Exception as exc:  # any driver error means not ready
        database = f"unavailable: {type(exc).__name__}"
    try:
        client = await request.app.state.temporal.client()
        await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=TIMEOUT)
        temporal = "ok"
    except (ApiError, RuntimeError) as exc:
        temporal = f"unavailable: {exc}"
    except Exception as exc:  # RPCError and friends
        temporal = f"unavailable: {type(exc).__name__}"
    if database != "ok":
        response.status_code = 503
    return schemas.Health(
        status="ok" if database == "ok" else "degraded", database=database, temporal=temporal
    )
