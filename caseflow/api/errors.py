"""One place that turns failures into HTTP answers: `{"error": "<code>", "detail": "..."}`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

logger = logging.getLogger(__name__)

# A refusal's code (lifecycle.Refusal) → status; every other refusal is a 409 conflict.
REFUSAL_STATUS = {
    "forbidden": 403,
    "invalid_input": 422,
    "unknown_action": 404,
    "unknown_activity": 404,
    "related_unavailable": 503,
}
UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}
# Seconds a client is told to wait when Temporal sheds load (RESOURCE_EXHAUSTED: a rate limit,
# or too many updates in flight on one case).
BUSY_RETRY_AFTER = 2


class ApiError(Exception):
    """An answer decided by a route: a status, a machine-readable code and a sentence."""

    def __init__(self, status: int, code: str, detail: str, retry_after: int = 0) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.retry_after = retry_after  # seconds, sent as Retry-After when set


class TemporalUnavailable(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(503, "temporal_unavailable", f"Temporal is not reachable: {detail}")


def body(code: str, detail: str) -> dict[str, str]:
    return {"error": code, "detail": detail}


def from_update_failure(err: WorkflowUpdateFailedError) -> ApiError:
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return ApiError(REFUSAL_STATUS.get(cause.type, 409), cause.type, cause.message)
    logger.error("update failed without a refusal: %s", err, exc_info=err)
    return ApiError(500, "internal_error", "the case could not carry out the action")


def from_rpc_error(err: RPCError) -> ApiError:
    if err.status in UNAVAILABLE:
        return TemporalUnavailable(err.message)
    if err.status == RPCStatusCode.RESOURCE_EXHAUSTED:
        detail = f"Temporal is busy ({err.message}); nothing was done, try again shortly"
        return ApiError(429, "temporal_busy", detail, retry_after=BUSY_RETRY_AFTER)
    if err.status == RPCStatusCode.NOT_FOUND:
        return ApiError(409, "case_closed", "the case has ended and takes no more actions")
    logger.error("Temporal refused a call: %s %s", err.status, err.message)
    return ApiError(502, "temporal_error", err.message)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = _headers(request, exc)
        return JSONResponse(body(exc.code, exc.detail), status_code=exc.status, headers=headers)

    @app.exception_handler(WorkflowUpdateFailedError)
    async def _update_failed(request: Request, exc: WorkflowUpdateFailedError) -> JSONResponse:
        return await _api_error(request, from_update_failure(exc))

    @app.exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError)
    async def _no_worker(request: Request, _: Exception) -> JSONResponse:
        # The action may have been carried out meanwhile: retried with the same
        # Idempotency-Key (echoed back), it is not carried out twice.
        detail = "no worker answered in time; try again with the same Idempotency-Key"
        return await _api_error(request, ApiError(503, "worker_unavailable", detail))

    @app.exception_handler(RPCError)
    async def _rpc_error(request: Request, exc: RPCError) -> JSONResponse:
        return await _api_error(request, from_rpc_error(exc))

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_away(request: Request, exc: Exception) -> JSONResponse:
        # Nothing was committed: a transaction that cannot reach the database rolls back.
        logger.error("the database is not reachable: %s", exc)
        detail = "the database is not reachable or too busy; nothing was done, try again shortly"
        error = ApiError(503, "database_unavailable", detail, retry_after=BUSY_RETRY_AFTER)
        return await _api_error(request, error)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's outermost middleware sends this answer and then logs the traceback.
        return JSONResponse(body("internal_error", "something went wrong on our side"), 500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        content = body("invalid_request", "the request is missing fields or has wrong ones")
        return JSONResponse(
            {**content, "fields": _jsonable(exc.errors())},
            status_code=422,
        )


def _headers(request: Request, exc: ApiError) -> dict[str, str]:
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if exc.retry_after:
        headers["Retry-After"] = str(exc.retry_after)
    key = getattr(request.state, "idempotency_key", None)  # set by an action's dependency
    if exc.status >= 500 and key:
        headers["Idempotency-Key"] = key
    return headers


def _jsonable(errors: object) -> list[dict[str, object]]:
    result: list[dict[str, object]] = []
    for item in errors if isinstance(errors, list | tuple) else []:
        if isinstance(item, dict):
            result.append({"loc": list(item.get("loc", ())), "msg": str(item.get("msg", ""))})
    return result
