"""What the benchmarks that run Caseflow's own worker share: the Temporal dev server with the
data converter and search attributes Caseflow's workflows need, and an SMTP sink."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.testing import WorkflowEnvironment

from caseflow.client import register_search_attributes
from caseflow.workflows import search
from caseflow.workflows.payloads import DATA_CONVERTER
from tests.support.servers import SmtpSink, venv_binary


@asynccontextmanager
async def dev_server_and_sink() -> AsyncIterator[tuple[WorkflowEnvironment, SmtpSink]]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        search_attributes=search.ALL_KEYS,
        data_converter=DATA_CONVERTER,
        dev_server_log_level="error",
    )
    sink = SmtpSink()
    sink.start()
    try:
        await register_search_attributes(env.client, env.client.namespace)
        yield env, sink
    finally:
        sink.stop()
        await env.shutdown()
