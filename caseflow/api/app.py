"""The FastAPI application: created per process with its settings, engine and Temporal client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from temporalio.client import Client

from caseflow.api import errors, pages
from caseflow.api.deps import json_body
from caseflow.api.ratelimits import LINKS, SIGN_IN, RateLimits
from caseflow.api.routes import (
    admin,
    attachments,
    cases,
    customers,
    health,
    knowledge,
    links,
    metrics,
    noise,
    portal,
    prometheus,
    quarantine,
    queues,
    related,
    supervision,
    workspace,
    workspace_cases,
)
from caseflow.client import connect
from caseflow.settings import Settings
from caseflow.store.db import make_engine, session_factory

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"  # Caseflow's own CSS, served at /static


class TemporalConnection:
    """Connects on first use, so the API starts (and reads cases) while Temporal is down."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect(
                        self._settings.temporal_address, self._settings.temporal_namespace
                    )
                except RuntimeError as exc:  # the SDK's connection failure
                    raise errors.TemporalUnavailable(str(exc)) from exc
            return self._client


def create_app(
    settings: Settings | None = None,
    client: Client | None = None,
    reprocess: quarantine.Reprocess | None = None,
    promote: noise.Promote | None = None,
) -> FastAPI:
    """The API; tests pass their own settings and an already connected client. `reprocess`
    and `promote` (the intake's, passed in by the composition root) enable reprocessing
    quarantined mail and promoting noise to cases."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.effective_database_url,
            settings.database_pool_size,
            settings.database_max_overflow,
        )
        app.state.settings = settings
        app.state.sessions = session_factory(engine)
        app.state.temporal = TemporalConnection(settings)
        app.state.reprocess = reprocess
        app.state.promote = promote
        app.state.rate_limits = RateLimits(
            settings.rate_limit_storage,
            {LINKS: settings.rate_limit_links, SIGN_IN: settings.rate_limit_sign_in},
        )
        if client is not None:
            app.state.temporal._client = client
        logger.info("API ready on %s", settings.public_url)
        yield
        engine.dispose()

    # /docs serves Swagger UI from the package's own copy, so it works offline. No ReDoc: its
    # bundle loads its maker's logo from their CDN, and Swagger UI documents the same schema.
    app = FastAPIOffline(
        title="Caseflow",
        summary="Customer-service cases as durable workflows.",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(json_body)],
        redoc_url=None,
        swagger_ui_parameters={"validatorUrl": None},  # never the online validator's badge
    )
    app.add_middleware(pages.SameOriginPages)
    errors.install(app)
    app.include_router(health.router)
    app.include_router(cases.router)
    app.include_router(related.router)
    app.include_router(attachments.router)
    app.include_router(links.router)
    app.include_router(quarantine.router)
    app.include_router(noise.router)
    app.include_router(knowledge.router)
    app.include_router(admin.build_router())
    app.include_router(customers.router)
    app.include_router(queues.router)
    app.include_router(metrics.router)
    app.include_router(prometheus.router)
    app.include_router(workspace.router)
    app.include_router(portal.router)
    app.include_router(workspace_cases.router)
    app.include_router(supervision.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
