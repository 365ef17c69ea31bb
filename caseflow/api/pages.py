"""What every HTML page Caseflow serves is allowed to load: only Caseflow's own files.

The pages' own markup names no other host (a test checks each one); this policy has browsers
hold to it too, for what their scripts might ask at run time (a logo, a font, a validator).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Inline scripts and styles stay allowed (the documentation page and the customer's forms use
# them); images may also be data: URLs (Swagger UI's icons). No page may be framed elsewhere.
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'self'; frame-ancestors 'none'"
)
# The agent's pages, which show what customers wrote, run no inline script or style at all.
AGENT_PAGES = "/agent"
AGENT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'self'; frame-ancestors 'none'"
)


# The customer portal's pages, which show what agents and customers wrote, likewise.
PORTAL_PAGES = "/portal"


def policy_for(path: str) -> str:
    """The Content-Security-Policy of the page at `path`."""
    for pages in (AGENT_PAGES, PORTAL_PAGES):
        if path == pages or path.startswith(pages + "/"):
            return AGENT_POLICY
    return POLICY


class SameOriginPages:
    """ASGI middleware: a Content-Security-Policy on every HTML answer that has none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", policy_for(scope["path"]))
            await send(message)

        await self.app(scope, receive, send_with_policy)
