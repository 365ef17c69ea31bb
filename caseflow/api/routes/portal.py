"""The customer portal (`/portal`): sign-in by an emailed one-time link, the customer's cases
and their public timeline, replying, answering a proposed resolution and the survey, opening a
case through a form, and the published knowledge articles (no sign-in needed for those).

Nothing here restates a rule: a reply is the `email_received` signal an emailed reply is, an
answer to a resolution or a survey is the update the one-click links make (and is refused by
the same `customer_links` rules first), a new case goes through the admission and creation of
`POST /cases`. A contact sees their own cases, an account's administrator the account's
(`store.portal.seen_by`); any other number answers the page of a case that does not exist.
Every form carries a CSRF token (`api.auth`); a GET changes nothing but the sign-in page's
own cookie and the count of articles opened from the new-case form.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from caseflow.api import auth, languages, portal_auth, portal_mail
from caseflow.api.customer_links import (
    MAX_COMMENT,
    LinkedCase,
    LinkProblem,
    read_resolution_form,
    read_survey_form,
    resolution_problem,
    survey_problem,
)
from caseflow.api.deps import (
    RateLimitsDep,
    SessionsDep,
    SettingsDep,
    client_address,
    read,
    write,
)
from caseflow.api.errors import ApiError, from_rpc_error
from caseflow.api.ratelimits import LINKS, retry_sentence
from caseflow.api.routes.cases import admit
from caseflow.api.routes.links import UPDATE_TIMEOUT, carried_out, linked_case, workflow_client
from caseflow.client import answer_survey, case_handle, create_case_and_wait, signal_email
from caseflow.i18n import N_, Said
from caseflow.settings import Settings
from caseflow.signing import LinkClaims
from caseflow.store import attachments, cases, knowledge, messages, portal
from caseflow.store.models import CaseEvent, KnowledgeArticle, OutboundEmail
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import (
    Channel,
    InboundEmail,
    MailClass,
    NewCase,
    ResolutionResponse,
    SurveyAnswer,
    excerpt,
)

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/portal", tags=["customer portal"], include_in_schema=False)
CSRF_COOKIE = "caseflow_portal_csrf"
MAX_SUBJECT = 300
MAX_TEXT = 20_000
SUGGESTIONS = 5
# An article opened from the form counts as a deflection unless the same browser opens a case
# within this long afterwards.
DEFLECTION_WINDOW = timedelta(hours=1)
# What a customer sees of a case's timeline: what they and we wrote them, and what became of
# the case; never internal notes, assignments, SLA events or the audit.
PUBLIC_KINDS = {
    "created": N_("Request opened"),
    "email_in": N_("You wrote"),
    "replied": N_("We replied"),
    "resolved": N_("We proposed a resolution"),
    "accepted": N_("You accepted the resolution"),
    "reopened": N_("Reopened"),
    "closed": N_("Closed"),
    "cancelled": N_("Cancelled"),
    "survey_answered": N_("You answered the survey"),
}
SUBJECT_NEEDED = N_("Please give your request a subject (at most %(count)d characters).")
# A case's state as its customer reads it.
STATUS_WORDS = {
    "new": N_("new"),
    "open": N_("open"),
    "awaiting_customer": N_("waiting for your reply"),
    "on_hold": N_("on hold"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
    "cancelled": N_("cancelled"),
    "merged": N_("merged"),
}
EMAILS_SHOWN_AS_EVENTS = {"reply"}  # their `replied` event shows them, body and all
CHECK_EMAIL = N_(
    "If that address belongs to one of our customers, a sign-in link is on its way to it. "
    "The link works once, within %(minutes)d minutes."
)
LINK_PAGES = {
    portal.Redeemed.USED: (
        N_("Link already used"),
        N_("This sign-in link has been used already: each link signs in once. Ask for a new one."),
    ),
    portal.Redeemed.EXPIRED: (
        N_("Link expired"),
        N_("This sign-in link has expired. Ask for a new one."),
    ),
    portal.Redeemed.UNKNOWN: (N_("Link not valid"), N_("This sign-in link is not valid.")),
}
DONE = {
    "replied": N_("Thank you: your reply is on the case."),
    "accepted": N_("Thank you: the case is closed."),
    "rejected": N_("We reopened the case and are working on it again."),
    "surveyed": N_("Thank you for your answer."),
    "opened": N_("Your request is open: we will be in touch."),
    "followed": N_("Your earlier case was closed, so we opened this one for your reply."),
}


@dataclass(frozen=True)
class Visitor:
    """Who this browser is signed in as (if anyone), and its CSRF value."""

    customer: portal.Customer | None
    session_token: str | None
    csrf_nonce: str
    new_nonce: bool


async def visitor(request: Request, settings: SettingsDep, sessions: SessionsDep) -> Visitor:
    token = request.cookies.get(portal_auth.SESSION_COOKIE)
    nonce = request.cookies.get(CSRF_COOKIE)
    customer = None
    if token:
        key = portal_auth.session_hash(_secret(settings), token)
        customer = await read(
            sessions, lambda s: portal.customer_of_session(s, key, datetime.now(UTC))
        )
    nonce_ok = bool(nonce) and len(nonce or "") <= 100
    return Visitor(
        customer,
        token if customer else None,
        nonce if nonce_ok and nonce else auth.new_token(),
        not nonce_ok,
    )


VisitorDep = Annotated[Visitor, Depends(visitor)]
Csrf = Annotated[str, Form(max_length=500)]


def _secret(settings: Settings) -> str:
    return settings.secret_key.get_secret_value()


def render(
    request: Request,
    settings: Settings,
    seen: Visitor,
    template: str,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    reader = seen.customer.language if seen.customer else ""
    language = languages.page_language(request, settings, reader)
    page = {
        "support_name": settings.support_name,
        "customer": seen.customer,
        "csrf": auth.csrf_token(_secret(settings), seen.csrf_nonce),
        "status_words": STATUS_WORDS,
        **context,
    }
    response = languages.render(request, language, template, page, status)
    response.headers["Cache-Control"] = "no-store"
    if seen.new_nonce:
        _set_cookie(response, settings, CSRF_COOKIE, seen.csrf_nonce, "strict")
    return response


def message_page(
    request: Request, settings: Settings, seen: Visitor, status: int, title: str, message: str
) -> HTMLResponse:
    return render(
        request, settings, seen, "portal/message.html", status, title=title, message=message
    )


def _set_cookie(response: Response, settings: Settings, name: str, value: str, same: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(portal_auth.SESSION_LIFETIME.total_seconds()),
        path="/portal",
        httponly=True,
        secure=settings.public_url.startswith("https://"),
        samesite=same,  # type: ignore[arg-type]
    )


def _csrf_ok(settings: Settings, seen: Visitor, token: str) -> bool:
    nonce = None if seen.new_nonce else seen.csrf_nonce
    return auth.csrf_valid(_secret(settings), nonce, token)


def _expired_form(request: Request, settings: Settings, seen: Visitor) -> HTMLResponse:
    return message_page(
        request, settings, seen, 403, N_("Nothing changed"),
        N_("This form had expired or did not come from this site. Please go back, reload the "
           "page and try again."),
    )  # fmt: skip


def _to_sign_in(target: str) -> RedirectResponse:
    return RedirectResponse(f"/portal/sign-in?next={quote(portal_auth.safe_next(target))}", 303)


# -- signing in and out ------------------------------------------------------------------------


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(
    request: Request, settings: SettingsDep, seen: VisitorDep, next: str = portal_auth.HOME
) -> Response:
    if seen.customer is not None:
        return RedirectResponse(portal_auth.safe_next(next), 303)
    target = portal_auth.safe_next(next)
    return render(request, settings, seen, "portal/sign_in.html", next=target)


@router.post("/sign-in", response_class=HTMLResponse)
async def ask_for_link(
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: VisitorDep,
    limits: RateLimitsDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=320)] = "",
    csrf: Csrf = "",
    next: Annotated[str, Form(max_length=2000)] = portal_auth.HOME,
) -> Response:
    """Email a sign-in link if a contact has this address. The answer is the same page
    whether or not one does, so that it tells nobody who our customers are."""
    if (wait := limits.wait_for(LINKS, client_address(request))) is not None:
        refused = message_page(
            request, settings, seen, 429, N_("Please slow down"), retry_sentence(wait)
        )
        refused.headers["Retry-After"] = str(wait)
        return refused
    if not _csrf_ok(settings, seen, csrf):
        return _expired_form(request, settings, seen)
    # The email goes after the answer, so that the answer takes as long whoever asks.
    browser = languages.page_language(request, settings)
    send = await _issue_link(settings, sessions, email, portal_auth.safe_next(next), browser)
    if send is not None:
        background.add_task(send)
    minutes = int(portal_auth.LINK_LIFETIME.total_seconds() // 60)
    return message_page(
        request, settings, seen, 200, N_("Check your email"), Said(CHECK_EMAIL, minutes=minutes)
    )


async def _issue_link(
    settings: Settings, sessions: SessionsDep, email: str, target: str, browser: str
) -> Callable[[], Awaitable[None]] | None:
    """Keep a new link for the contact this address names, and answer how to email it (in the
    contact's language, else the page's: `browser`); None when no contact has the address."""
    secret = portal_auth.new_secret()
    key = portal_auth.link_hash(_secret(settings), secret)
    now = datetime.now(UTC)

    def issued(session: Session) -> tuple[str, str, str] | None:
        contact = portal.contact_for_sign_in(session, email)
        if contact is None:
            return None
        portal.issue_link(session, contact.id, key, now, portal_auth.LINK_LIFETIME)
        return contact.email, contact.name, contact.language or browser

    found = await write(sessions, issued)
    if found is None:
        logger.info("portal sign-in asked for an address of no contact")
        return None
    token = portal_auth.link_token(_secret(settings), secret)
    url = f"{settings.public_url.rstrip('/')}/portal/link/{token}"
    if target != portal_auth.HOME:
        url += f"?next={quote(target)}"

    async def send() -> None:
        try:
            await run_in_threadpool(
                portal_mail.send_sign_in_link, settings, sessions,
                to=found[0], name=found[1], url=url, link_hash=key, language=found[2],
            )  # fmt: skip
        except Exception:  # the answer was the same; the customer may ask again
            logger.exception("sending a portal sign-in link failed")

    return send


@router.get("/link/{token}", response_class=HTMLResponse)
async def link_page(
    token: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: VisitorDep,
    limits: RateLimitsDep,
    next: str = portal_auth.HOME,
) -> Response:
    """The emailed link shows a button; the link itself changes nothing (mail scanners
    follow links), the button signs in."""
    problem = await _link_problem(request, settings, sessions, limits, token, peek=True)
    if problem is not None:
        return message_page(request, settings, seen, *problem)
    return render(
        request, settings, seen, "portal/link.html", token=token,
        next=portal_auth.safe_next(next),
    )  # fmt: skip


@router.post("/link/{token}", response_class=HTMLResponse)
async def use_link(
    token: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: VisitorDep,
    limits: RateLimitsDep,
    csrf: Csrf = "",
    next: Annotated[str, Form(max_length=2000)] = portal_auth.HOME,
) -> Response:
    """Sign in with the link, once: a second use, however soon, is refused."""
    if not _csrf_ok(settings, seen, csrf):
        return _expired_form(request, settings, seen)
    checked = portal_auth.check_link(_secret(settings), token)
    problem = await _link_problem(request, settings, sessions, limits, token, peek=False)
    if problem is not None:
        return message_page(request, settings, seen, *problem)
    key = portal_auth.link_hash(_secret(settings), checked.secret)
    session_token = auth.new_token()
    session_key = portal_auth.session_hash(_secret(settings), session_token)
    now = datetime.now(UTC)

    def redeem(session: Session) -> portal.Redeemed:
        outcome, contact_id = portal.redeem_link(session, key, now)
        if contact_id is not None:
            lifetime = portal_auth.SESSION_LIFETIME
            portal.open_session(session, contact_id, session_key, now, lifetime)
        return outcome

    outcome = await write(sessions, redeem)
    if outcome is not portal.Redeemed.SIGNED_IN:
        status = 404 if outcome is portal.Redeemed.UNKNOWN else 409
        return message_page(request, settings, seen, status, *LINK_PAGES[outcome])
    response = RedirectResponse(portal_auth.safe_next(next), 303)
    _set_cookie(response, settings, portal_auth.SESSION_COOKIE, session_token, "lax")
    # A CSRF value of its own for the signed-in browser: none chosen before carries over.
    _set_cookie(response, settings, CSRF_COOKIE, auth.new_token(), "strict")
    return response


async def _link_problem(
    request: Request,
    settings: Settings,
    sessions: SessionsDep,
    limits: RateLimitsDep,
    token: str,
    peek: bool,
) -> tuple[int, str, str] | None:
    """Why this link signs nobody in (status, title, sentence), or None. `peek`: the row is
    only looked at (the GET); the POST redeems it, and says then if it was used meanwhile."""
    if (wait := limits.wait_for(LINKS, client_address(request))) is not None:
        return 429, N_("Please slow down"), retry_sentence(wait)
    checked = portal_auth.check_link(_secret(settings), token)
    if checked.check is portal_auth.LinkCheck.EXPIRED:
        return 410, *LINK_PAGES[portal.Redeemed.EXPIRED]
    if checked.check is portal_auth.LinkCheck.FORGED:
        return 404, *LINK_PAGES[portal.Redeemed.UNKNOWN]
    if not peek:
        return None
    key = portal_auth.link_hash(_secret(settings), checked.secret)
    state = await read(sessions, lambda s: portal.link_state(s, key, datetime.now(UTC)))
    if state is portal.Redeemed.SIGNED_IN:  # usable
        return None
    return (404 if state is portal.Redeemed.UNKNOWN else 409), *LINK_PAGES[state]


@router.post("/sign-out")
async def sign_out(
    settings: SettingsDep, sessions: SessionsDep, seen: VisitorDep, csrf: Csrf = ""
) -> Response:
    """End this browser's session (the cookie is cleared, the session row deleted)."""
    if not _csrf_ok(settings, seen, csrf):  # another site's form: change nothing
        return RedirectResponse(portal_auth.HOME, 303)
    if seen.session_token is not None:
        key = portal_auth.session_hash(_secret(settings), seen.session_token)
        await write(sessions, lambda s: portal.close_session(s, key))
    response = RedirectResponse("/portal/sign-in", 303)
    response.delete_cookie(portal_auth.SESSION_COOKIE, path="/portal")
    return response


# -- the customer's cases ----------------------------------------------------------------------


@dataclass(frozen=True)
class PublicEntry:
    at: datetime
    title: str
    summary: str
    body: str


@dataclass(frozen=True)
class PublicCase:
    """A case as its customer sees it."""

    number: str
    subject: str
    description: str
    status: str
    created_at: datetime
    customer_email: str
    timeline: list[PublicEntry]
    files: list[str]
    linked: LinkedCase


@router.get("", response_class=HTMLResponse)
async def home(
    request: Request, settings: SettingsDep, sessions: SessionsDep, seen: VisitorDep
) -> Response:
    """The cases the signed-in contact sees, newest first."""
    if seen.customer is None:
        return _to_sign_in(portal_auth.HOME)
    customer = seen.customer
    found = await read(sessions, lambda s: portal.customer_cases(s, customer))
    return render(request, settings, seen, "portal/home.html", cases=found)


@router.get("/cases/{number}", response_class=HTMLResponse)
async def case_page(
    number: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: VisitorDep,
    done: str = "",
) -> Response:
    """The case's public timeline, and what the customer may do with it now."""
    if seen.customer is None:
        return _to_sign_in(f"/portal/cases/{quote(number)}")
    found = await _public_case(sessions, seen.customer, number)
    if found is None:
        return _missing(request, settings, seen, number)
    return _case_view(request, settings, seen, found, notice=DONE.get(done, ""))


def _case_view(
    request: Request,
    settings: Settings,
    seen: Visitor,
    found: PublicCase,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    resolution_open = _resolution_claims(found.linked) is not None
    survey_open = _survey_claims(found.linked) is not None
    return render(
        request, settings, seen, "portal/case.html", status, case=found,
        resolution_open=resolution_open, survey_open=survey_open, max_comment=MAX_COMMENT,
        max_text=MAX_TEXT, reply_key=uuid.uuid4().hex, **context,
    )  # fmt: skip


def _missing(request: Request, settings: Settings, seen: Visitor, number: str) -> HTMLResponse:
    return message_page(
        request, settings, seen, 404, N_("No such case"),
        Said("There is no case %(number)s among your cases.", number=number.strip().upper()[:40]),
    )  # fmt: skip


async def _public_case(
    sessions: SessionsDep, customer: portal.Customer, number: str
) -> PublicCase | None:
    wanted = number.strip().upper()[:40]
    return await read(sessions, lambda s: public_case(s, customer, wanted))


def public_case(session: Session, customer: portal.Customer, number: str) -> PublicCase | None:
    """The case if the contact sees it, with its customer-visible timeline."""
    case = portal.customer_case(session, customer, number)
    linked = linked_case(session, number) if case is not None else None
    if case is None or linked is None:
        return None
    events = [_entry(e) for e in cases.case_events(session, number) if _public(e)]
    emails = [_email(e) for e in messages.case_outbox(session, number) if _public_email(e)]
    files = [f.filename for f in attachments.case_files(session, number)]
    return PublicCase(
        number=case.number,
        subject=case.subject,
        description=case.description,
        status=case.status,
        created_at=case.created_at,
        customer_email=case.customer_email,
        timeline=sorted(events + emails, key=lambda entry: entry.at),
        files=files,
        linked=linked,
    )


def _public(event: CaseEvent) -> bool:
    if event.kind not in PUBLIC_KINDS:
        return False
    return event.kind != "email_in" or event.actor == "customer"


def _entry(event: CaseEvent) -> PublicEntry:
    # The summaries are written for agents (time spent, rules, queues): only the text the
    # customer or we wrote them is shown, and the subject of their emails.
    body = event.body if event.kind in ("email_in", "replied", "resolved") else ""
    summary = str((event.data or {}).get("subject", "")) if event.kind == "email_in" else ""
    return PublicEntry(event.at, PUBLIC_KINDS[event.kind], summary, body)


def _public_email(email: OutboundEmail) -> bool:
    return (
        email.audience == "customer"
        and email.status == messages.SENT
        and email.template not in EMAILS_SHOWN_AS_EVENTS
    )


def _email(email: OutboundEmail) -> PublicEntry:
    return PublicEntry(email.sent_at or email.created_at, N_("We emailed you"), email.subject, "")


def _resolution_claims(case: LinkedCase) -> LinkClaims | None:
    """The current proposal's claims while the customer may still answer it (the one-click
    link's rule over the read model)."""
    episode = int((case.resolution or {}).get("episode", 0))
    claims = LinkClaims(case.number, "resolution", episode)
    if not episode or resolution_problem(claims, case) is not None:
        return None
    return claims


def _survey_claims(case: LinkedCase) -> LinkClaims | None:
    survey = case.survey or {}
    if str(survey.get("status", "")) not in ("sent", "reminded"):
        return None
    claims = LinkClaims(case.number, "survey", int(survey.get("episode", 0)))
    return None if survey_problem(claims, case) is not None else claims


async def _acting_on(
    request: Request, settings: Settings, sessions: SessionsDep, seen: Visitor, number: str,
    csrf: str,
) -> PublicCase | Response:  # fmt: skip
    """The case a form acts on, or the page that says why nothing happens."""
    if seen.customer is None:
        return _to_sign_in(f"/portal/cases/{quote(number)}")
    if not _csrf_ok(settings, seen, csrf):
        return _expired_form(request, settings, seen)
    found = await _public_case(sessions, seen.customer, number)
    if found is None:
        return _missing(request, settings, seen, number)
    return found


def _done(number: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"/portal/cases/{quote(number)}?done={what}", 303)


@router.post("/cases/{number}/reply", response_class=HTMLResponse)
async def reply(
    number: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: VisitorDep,
    text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    csrf: Csrf = "",
    key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The customer's reply, given to the case as an emailed reply is (`email_received`); the
    form's key makes a double submit one reply."""
    found = await _acting_on(request, settings, sessions, seen, number, csrf)
    if not isinstance(found, PublicCase):
        return found
    assert seen.customer is not None
    if not text.strip():
        return _case_view(request, settings, seen, found, 422, error=N_("Please write your reply."))
    email = _portal_email(seen.customer, f"Re: {found.subject}", text, key)
    whole = text.strip()
    await write(sessions, lambda s: _keep_message(s, email, whole, None))
    try:
        client = await workflow_client(request, found.number)
        delivered = await _deliver(client, settings, sessions, seen.customer, found, email)
    except RPCError as err:
        busy = N_("We could not record that just now. Please try again in a few minutes.")
        return _case_view(request, settings, seen, found, from_rpc_error(err).status, error=busy)
    except LinkProblem as problem:
        return _case_view(request, settings, seen, found, problem.status, error=problem.message)
    await write(sessions, lambda s: _keep_message(s, email, whole, delivered))
    return _done(delivered, "replied" if delivered == found.number else "followed")


async def _deliver(
    client: Client,
    settings: Settings,
    sessions: SessionsDep,
    customer: portal.Customer,
    found: PublicCase,
    email: InboundEmail,
) -> str:
    """Give the reply to its case as the intake gives an emailed one: to the case that survived
    a merge, as a signal while its workflow runs (a closed case still running asks for its own
    follow-up), else as a follow-up case of its own. The case it went to."""
    number = await read(sessions, lambda s: cases.survivor_of(s, found.number))
    try:
        await signal_email(client, number, email)
        return number
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    if await read(sessions, lambda s: messages.case_has_email(s, number, email.key)):
        return number  # it reached the case before the case ended (a double submit)
    follow_up = await write(
        sessions, lambda s: cases.allocate_case_number(s, f"portal-follow-up:{email.key}")
    )
    new = NewCase(
        channel=Channel.WEB,
        subject=email.subject,
        description=email.text,
        customer_email=customer.email,
        customer_name=customer.name,
        follow_up_of=number,
        email=email,
    )
    update = create_case_and_wait(
        client, follow_up, new, settings.api_update_timeout, settings.task_queue
    )
    await carried_out(update, follow_up)
    return follow_up


def _portal_email(customer: portal.Customer, subject: str, text: str, key: str) -> InboundEmail:
    """What the portal gives a case: an email of the signed-in contact, verified (the sign-in
    proved the address), keyed by the form so that a double submit is one message."""
    form_key = key if key else uuid.uuid4().hex
    digest = hashlib.sha256(json.dumps([customer.id, form_key]).encode()).hexdigest()[:40]
    whole, length = excerpt(text.strip())
    return InboundEmail(
        key=f"portal:{digest}",
        sender=customer.email,
        subject=subject[:MAX_SUBJECT],
        received_at=datetime.now(UTC),
        text=whole,
        text_length=length,
        sender_name=customer.name,
        mail_class=MailClass.HUMAN,
        verified=True,
    )


def _keep_message(session: Session, email: InboundEmail, text: str, number: str | None) -> None:
    """The message stored as the intake stores one (its whole text for the timeline)."""
    facts = messages.InboundFacts(
        dedup_key=email.key,
        mailbox="portal",
        raw_sha256="",
        message_id="",
        sender=email.sender,
        subject=email.subject,
        mail_class=str(MailClass.HUMAN),
        text=text,
    )
    messages.claim_inbound(session, facts)
    if number is not None:
        messages.mark_delivered(session, email.key, number, "portal")


@router.post("/cases/{number}/resolution", response_class=HTMLResponse)
async def answer_resolution(
    number: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: VisitorDep,
    decision: Annotated[str, Form(max_length=20)] = "",
    comment: Annotated[str, Form(max_length=MAX_COMMENT * 2)] = "",
    csrf: Csrf = "",
) -> Response:
    """Accept (the case closes) or reject (it reopens) the proposed resolution, as the
    emailed link's page does."""
    found = await _acting_on(request, settings, sessions, seen, number, csrf)
    if not isinstance(found, PublicCase):
        return found
    claims = _resolution_claims(found.linked)
    form = read_resolution_form(decision, comment)
    if claims is None:
        message = N_("There is no proposed resolution waiting for your answer.")
        return _case_view(request, settings, seen, found, 409, error=message)
    if isinstance(form, str):
        return _case_view(request, settings, seen, found, 422, error=form)
    answer = ResolutionResponse(claims.episode, form.accept, form.comment)
    try:
        client = await workflow_client(request, found.number)
        update = case_handle(client, found.number).execute_update(
            CaseWorkflow.respond_to_resolution, answer, rpc_timeout=UPDATE_TIMEOUT
        )
        await carried_out(update, found.number)
    except LinkProblem as problem:
        return _case_view(request, settings, seen, found, problem.status, error=problem.message)
    return _done(found.number, "accepted" if form.accept else "rejected")


@router.post("/cases/{number}/survey", response_class=HTMLResponse)
async def answer_the_survey(
    number: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: VisitorDep,
    rating: Annotated[str, Form(max_length=5)] = "",
    comment: Annotated[str, Form(max_length=MAX_COMMENT * 2)] = "",
    csrf: Csrf = "",
) -> Response:
    """The satisfaction survey, answered as through its emailed link."""
    found = await _acting_on(request, settings, sessions, seen, number, csrf)
    if not isinstance(found, PublicCase):
        return found
    claims = _survey_claims(found.linked)
    form = read_survey_form(rating, comment)
    if claims is None:
        message = N_("There is no survey waiting for your answer on this case.")
        return _case_view(request, settings, seen, found, 409, error=message)
    if isinstance(form, str):
        return _case_view(request, settings, seen, found, 422, error=form)
    answer = SurveyAnswer(episode=claims.episode, rating=form.rating, comment=form.comment)
    try:
        client = await workflow_client(request, found.number)
        await carried_out(answer_survey(client, found.number, answer, UPDATE_TIMEOUT), number)
    except LinkProblem as problem:
        return _case_view(request, settings, seen, found, problem.status, error=problem.message)
    return _done(found.number, "surveyed")


# -- a new case through the form ---------------------------------------------------------------


@router.get("/new", response_class=HTMLResponse)
async def new_case_form(
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: VisitorDep,
    subject: str = "",
    description: str = "",
) -> Response:
    """The form; with a subject (the "Find answers" button), the published articles that
    match it are offered above it."""
    if seen.customer is None:
        return _to_sign_in("/portal/new")
    offered = await _suggested(sessions, subject)
    return render(
        request, settings, seen, "portal/new.html", subject=subject[:MAX_SUBJECT],
        description=description[:MAX_TEXT], suggestions=offered, key=uuid.uuid4().hex,
        max_text=MAX_TEXT,
    )  # fmt: skip


@router.get("/suggestions", response_class=HTMLResponse)
async def suggestions(
    request: Request, settings: SettingsDep, sessions: SessionsDep, seen: VisitorDep,
    subject: str = "",
) -> Response:  # fmt: skip
    """The articles offered for a subject, as a fragment of the form (its script asks for it
    while the customer types)."""
    offered = await _suggested(sessions, subject)
    return render(request, settings, seen, "portal/_suggestions.html", suggestions=offered)


async def _suggested(sessions: SessionsDep, subject: str) -> list[KnowledgeArticle]:
    words = subject.strip()[:MAX_SUBJECT]
    if len(words) < 3:
        return []

    def found(session: Session) -> list[KnowledgeArticle]:
        hits = knowledge.suggest_for_case(session, words, "", None, SUGGESTIONS)
        return [hit.article for hit in hits]

    return await read(sessions, found)


@dataclass(frozen=True)
class Upload:
    """A file of the form, as the attachment store takes one (`attachments.NewFile`)."""

    filename: str
    content_type: str
    size: int
    data: bytes | None


@router.post("/new", response_class=HTMLResponse)
async def open_case(
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: VisitorDep,
    subject: Annotated[str, Form(max_length=MAX_SUBJECT * 2)] = "",
    description: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    csrf: Csrf = "",
    key: Annotated[str, Form(max_length=100)] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Open a case through the `web` channel: the admission and creation of `POST /cases`
    (record creation rules, entitlements per channel, routing, SLA), the files kept as the
    intake keeps an email's. The form's key opens one case however often it is sent."""
    if seen.customer is None:
        return _to_sign_in("/portal/new")
    if not _csrf_ok(settings, seen, csrf):
        return _expired_form(request, settings, seen)
    customer = seen.customer

    def again(status: int, error: str) -> HTMLResponse:
        return render(
            request, settings, seen, "portal/new.html", status, subject=subject,
            description=description, suggestions=[], key=key or uuid.uuid4().hex,
            max_text=MAX_TEXT, error=error,
        )  # fmt: skip

    if not subject.strip() or len(subject.strip()) > MAX_SUBJECT:
        return again(422, Said(SUBJECT_NEEDED, count=MAX_SUBJECT))
    uploads = await _uploads(settings, files or [])
    if isinstance(uploads, str):
        return again(422, uploads)
    try:
        await read(sessions, lambda s: admit(s, customer.email, "", str(Channel.WEB), settings))
    except ApiError as refused:
        return again(refused.status, f"{refused.detail[:1].upper()}{refused.detail[1:]}.")
    number = await _create(
        request, settings, sessions, customer, subject, description, key, uploads
    )
    if isinstance(number, LinkProblem):
        return message_page(request, settings, seen, number.status, number.title, number.message)
    visitor_key = portal_auth.visitor_of(_secret(settings), seen.csrf_nonce)
    since = datetime.now(UTC) - DEFLECTION_WINDOW
    await write(sessions, lambda s: portal.case_submitted(s, visitor_key, number, since))
    return _done(number, "opened")


async def _uploads(settings: Settings, files: list[UploadFile]) -> list[Upload] | str:
    """The form's files within the intake's limits, or what to change."""
    kept: list[Upload] = []
    total = 0
    for file in files:
        if not file.filename:
            continue
        data = await file.read(settings.max_attachment_size + 1)
        if len(data) > settings.max_attachment_size:
            limit = settings.max_attachment_size // 1_000_000
            return f"{file.filename} is larger than {limit} MB: please leave it out."
        total += len(data)
        kept.append(Upload(file.filename, file.content_type or "", len(data), data))
    if total > settings.max_attachments_total or len(kept) > settings.max_attachments:
        return N_("These files are too many or too large together: please send fewer.")
    return kept


async def _create(
    request: Request,
    settings: Settings,
    sessions: SessionsDep,
    customer: portal.Customer,
    subject: str,
    description: str,
    key: str,
    uploads: list[Upload],
) -> str | LinkProblem:
    """Allocate the number once per form, keep the files, start the case and await it."""
    form_key = key or uuid.uuid4().hex
    digest = hashlib.sha256(json.dumps(["portal", customer.id, form_key]).encode()).hexdigest()
    origin = f"portal:{digest[:40]}"
    files_key = f"portal-case:{digest[:40]}"

    def allocated(session: Session) -> str:
        number = cases.allocate_case_number(session, origin)
        attachments.store_message_files(session, files_key, uploads, description, "")
        attachments.assign_case(session, files_key, number)
        return number

    number = await write(sessions, allocated)
    new = NewCase(
        channel=Channel.WEB,
        subject=subject.strip()[:MAX_SUBJECT],
        description=excerpt(description.strip())[0],
        customer_email=customer.email,
        customer_name=customer.name,
        created_by="customer",
    )
    try:
        client = await workflow_client(request, number)
        update = create_case_and_wait(
            client, number, new, settings.api_update_timeout, settings.task_queue
        )
        await carried_out(update, number)
    except LinkProblem as problem:
        return problem
    return number


# -- knowledge, for everybody -------------------------------------------------------------------


@router.get("/articles", response_class=HTMLResponse)
async def articles(
    request: Request, settings: SettingsDep, sessions: SessionsDep, seen: VisitorDep, q: str = ""
) -> Response:
    """Search the published articles; no sign-in needed."""
    words = q.strip()[:MAX_SUBJECT]

    def found(session: Session) -> list[KnowledgeArticle]:
        if not words:
            return knowledge.list_articles(session, None, True, 50, 0)[0]
        return [hit.article for hit in knowledge.search(session, words, None, True, 50)]

    listed = await read(sessions, found)
    return render(request, settings, seen, "portal/articles.html", articles=listed, q=words)


@router.get("/articles/{article_id}", response_class=HTMLResponse)
async def article(
    article_id: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: VisitorDep,
    offered: bool = False,
) -> Response:
    """A published article. Opened from the new-case form's suggestions (`offered`), it is
    counted: a deflection unless this browser opens a case soon afterwards."""
    wanted = int(article_id) if article_id.isdigit() and len(article_id) < 10 else 0
    row = await read(sessions, lambda s: knowledge.get(s, wanted)) if wanted else None
    if row is None or not row.published:
        return message_page(
            request, settings, seen, 404, N_("No such article"), N_("This article does not exist.")
        )
    if offered and not seen.new_nonce:
        visitor_key = portal_auth.visitor_of(_secret(settings), seen.csrf_nonce)
        now = datetime.now(UTC)
        await write(sessions, lambda s: portal.article_opened(s, visitor_key, wanted, now))
    return render(request, settings, seen, "portal/article.html", article=row, offered=offered)
