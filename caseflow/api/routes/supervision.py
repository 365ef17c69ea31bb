"""The supervisors' pages (`/agent/supervisor`): queue health, quarantined mail and noise with
their buttons, and the figures of `/metrics/*` as charts drawn on the server.

Supervisors and admins only, by the API's own rule (`quarantine.supervisor`); an agent gets a
403 page. Each page answers what the API answers the same person: it calls the API's route
functions (the lists, reprocessing, promotion, the metrics) and shows their answers and
refusals, so a button may do exactly what the API may. Every form that posts carries its CSRF
token; the filters are GET forms, which change nothing (and keep the token out of URLs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from temporalio.client import Client
from temporalio.service import RPCError

from caseflow import reporting
from caseflow.api import errors, schemas
from caseflow.api.charts import Series, bar_chart, line_chart
from caseflow.api.deps import Offset, SessionsDep, SettingsDep, get_client, read
from caseflow.api.errors import ApiError
from caseflow.api.routes import metrics as metric_routes
from caseflow.api.routes import noise, quarantine
from caseflow.api.routes.workspace import Browser, BrowserDep, csrf_ok, render, to_sign_in
from caseflow.settings import Settings
from caseflow.store import metrics
from caseflow.store.metrics import Breakdown, QueueHealth, Summary, Window
from caseflow.workflows.bounds import Id
from caseflow.workflows.model import Actor, MailClass

router = APIRouter(prefix="/agent/supervisor", tags=["agent pages"], include_in_schema=False)
HOME = "/agent/supervisor"
PAGE_SIZE = 25
EXPIRED = "This form had expired; nothing was done. Please try again."
Csrf = Annotated[str, Form(max_length=500)]
Action = Callable[[Client], Awaitable[schemas.Reprocessed]]


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Figure:
    """A chart and the table of the same figures under it."""

    heading: str
    chart: Markup
    table: Table


# -- who may come in ---------------------------------------------------------------------------


def _admitted(request: Request, settings: Settings, seen: Browser, here: str) -> Actor | Response:
    """The signed-in supervisor or admin; else the way to sign in, or the 403 page."""
    if seen.agent is None:
        return to_sign_in(here)
    try:
        return quarantine.supervisor(seen.agent)
    except ApiError as refused:
        return render(
            request, settings, seen, "agent/supervisor_forbidden.html", refused.status,
            detail=refused.detail,
        )  # fmt: skip


async def _carried_out(request: Request, action: Action) -> schemas.Reprocessed | ApiError:
    """What an API route function that reaches the intake and Temporal answered, or its refusal
    as the API would give it."""
    try:
        client = await get_client(request)
        return await action(client)
    except ApiError as refused:
        return refused
    except RPCError as failed:
        return errors.from_rpc_error(failed)


# -- home: queue health ------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def home(
    request: Request, settings: SettingsDep, sessions: SessionsDep, seen: BrowserDep
) -> Response:
    """Each queue now: open cases, those breaching within the hour, the oldest open case."""
    actor = _admitted(request, settings, seen, HOME)
    if isinstance(actor, Response):
        return actor
    now = datetime.now(UTC)
    health = await read(sessions, lambda s: metrics.queue_health(s, now))
    held = await quarantine.list_quarantined(actor, sessions, 1, 0)
    kept = await noise.list_noise(actor, sessions, None, "", 1, 0)
    return render(
        request, settings, seen, "agent/supervisor_home.html", title="Supervision",
        figure=health_figure(health, now), quarantined=held.total, noise=kept.total,
    )  # fmt: skip


def health_figure(health: list[QueueHealth], now: datetime) -> Figure:
    names = [h.queue for h in health]
    chart = bar_chart(
        "queue-health",
        "Open cases per queue",
        "For each queue, its open cases and those of them whose SLA breaches within the hour.",
        names,
        [
            Series("open", [h.open for h in health]),
            Series("breaching within the hour", [h.breaching_soon for h in health]),
        ],
        value_label="cases",
        whole=True,
        category_label="queue",
    )
    rows = [
        [h.queue, str(h.open), str(h.breaching_soon), _age(h.oldest_opened_at, now)] for h in health
    ]
    headers = ["Queue", "Open", "Breaching within the hour", "Oldest open case"]
    # Markup: the chart module escapes every label it writes.
    return Figure("Queue health", Markup(chart), Table(headers, rows))


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "—"
    return reporting.format_duration(max((now - since).total_seconds(), 0)) + " old"


# -- quarantine --------------------------------------------------------------------------------


@router.get("/quarantine", response_class=HTMLResponse)
async def quarantine_page(
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: BrowserDep,
    offset: Offset = 0,
) -> Response:
    """The messages waiting in quarantine, oldest first, each with a button to reprocess it."""
    actor = _admitted(request, settings, seen, f"{HOME}/quarantine")
    if isinstance(actor, Response):
        return actor
    return await _quarantine(request, settings, sessions, seen, actor, offset)


@router.post("/quarantine/{message_id}/reprocess", response_class=HTMLResponse)
async def reprocess(
    message_id: Id,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: BrowserDep,
    csrf: Csrf = "",
    offset: Annotated[int, Form(ge=0)] = 0,
) -> Response:
    """Take a quarantined message in again, as `POST /quarantine/{id}/reprocess` does."""
    actor = _admitted(request, settings, seen, f"{HOME}/quarantine")
    if isinstance(actor, Response):
        return actor
    if not csrf_ok(settings, seen, csrf):
        return await _quarantine(request, settings, sessions, seen, actor, offset, 403, EXPIRED)

    async def action(client: Client) -> schemas.Reprocessed:
        run = quarantine.get_reprocess(request)
        return await quarantine.reprocess(message_id, actor, sessions, settings, client, run)

    done = await _carried_out(request, action)
    if isinstance(done, ApiError):
        return await _quarantine(
            request, settings, sessions, seen, actor, offset, done.status, done.detail
        )
    return await _quarantine(request, settings, sessions, seen, actor, offset, done=done)


async def _quarantine(
    request: Request,
    settings: Settings,
    sessions: SessionsDep,
    seen: Browser,
    actor: Actor,
    offset: int,
    status: int = 200,
    error: str = "",
    done: schemas.Reprocessed | None = None,
) -> Response:
    page = await quarantine.list_quarantined(actor, sessions, PAGE_SIZE, offset)
    return render(
        request, settings, seen, "agent/supervisor_quarantine.html", status,
        title="Quarantine", page=page, error=error, done=done, pages=_pages(page, {}),
    )  # fmt: skip


# -- noise -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoiseFilter:
    """The noise list as asked for: a class ("" for any), part of the sender, where to start."""

    mail_class: str
    sender: str
    offset: int

    def query(self) -> dict[str, str]:
        return {"class": self.mail_class, "sender": self.sender}


NOISE_CLASSES = [str(c) for c in MailClass if c is not MailClass.HUMAN]
ClassField = Annotated[str, Query(alias="class", max_length=20)]


@router.get("/noise", response_class=HTMLResponse)
async def noise_page(
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: BrowserDep,
    mail_class: ClassField = "",
    sender: noise.Sender = "",
    offset: Offset = 0,
) -> Response:
    """Automatic mail kept as noise, newest first, by class and sender, with "promote"."""
    actor = _admitted(request, settings, seen, f"{HOME}/noise")
    if isinstance(actor, Response):
        return actor
    wanted = NoiseFilter(mail_class, sender.strip(), offset)
    return await _noise(request, settings, sessions, seen, actor, wanted)


@router.post("/noise/{message_id}/promote", response_class=HTMLResponse)
async def promote(
    message_id: Id,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: BrowserDep,
    csrf: Csrf = "",
    mail_class: Annotated[str, Form(alias="class", max_length=20)] = "",
    sender: Annotated[str, Form(max_length=320)] = "",
    offset: Annotated[int, Form(ge=0)] = 0,
) -> Response:
    """Promote noise to a case, as `POST /intake/noise/{id}/promote` does, in this
    supervisor's name."""
    actor = _admitted(request, settings, seen, f"{HOME}/noise")
    if isinstance(actor, Response):
        return actor
    wanted = NoiseFilter(mail_class, sender.strip(), offset)
    if not csrf_ok(settings, seen, csrf):
        return await _noise(request, settings, sessions, seen, actor, wanted, 403, EXPIRED)

    async def action(client: Client) -> schemas.Reprocessed:
        return await noise.promote(message_id, actor, sessions, settings, client, request)

    done = await _carried_out(request, action)
    if isinstance(done, ApiError):
        return await _noise(
            request, settings, sessions, seen, actor, wanted, done.status, done.detail
        )
    return await _noise(request, settings, sessions, seen, actor, wanted, done=done)


async def _noise(
    request: Request,
    settings: Settings,
    sessions: SessionsDep,
    seen: Browser,
    actor: Actor,
    wanted: NoiseFilter,
    status: int = 200,
    error: str = "",
    done: schemas.Reprocessed | None = None,
) -> Response:
    if wanted.mail_class and wanted.mail_class not in NOISE_CLASSES:
        status, error = 422, f"There is no class {wanted.mail_class!r}; showing every class."
        wanted = NoiseFilter("", wanted.sender, 0)
    chosen = MailClass(wanted.mail_class) if wanted.mail_class else None
    page = await noise.list_noise(actor, sessions, chosen, wanted.sender, PAGE_SIZE, wanted.offset)
    return render(
        request, settings, seen, "agent/supervisor_noise.html", status, title="Noise",
        page=page, error=error, done=done, wanted=wanted, classes=NOISE_CLASSES,
        pages=_pages(page, wanted.query()),
    )  # fmt: skip


def _pages(page: schemas.Page[Any], query: dict[str, str]) -> dict[str, str]:
    """Links to the previous and next page of a list, keeping its filters."""
    links = {}
    if page.offset > 0:
        links["previous"] = urlencode({**query, "offset": max(page.offset - page.limit, 0)})
    if page.offset + page.limit < page.total:
        links["next"] = urlencode({**query, "offset": page.offset + page.limit})
    return links


# -- metrics -----------------------------------------------------------------------------------


@router.get("/metrics", response_class=HTMLResponse)
async def metrics_page(
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: BrowserDep,
    start: metric_routes.From = None,
    end: metric_routes.To = None,
) -> Response:
    """The figures of `/metrics/summary`, `/queues`, `/agents`, `/products`, `/goals` and
    `/deflection` over a period (by default the last 30 days), each a chart with its table."""
    actor = _admitted(request, settings, seen, f"{HOME}/metrics")
    if isinstance(actor, Response):
        return actor
    try:
        figures = await _metric_figures(actor, sessions, start or None, end or None)
    except ApiError as refused:
        return render(
            request, settings, seen, "agent/supervisor_metrics.html", refused.status,
            title="Metrics", figures=[], error=refused.detail, start=start, end=end,
        )  # fmt: skip
    return render(
        request, settings, seen, "agent/supervisor_metrics.html", title="Metrics",
        figures=figures, error="", start=start, end=end,
    )  # fmt: skip


async def _metric_figures(
    actor: Actor, sessions: SessionsDep, start: str | None, end: str | None
) -> list[Figure]:
    summary = await metric_routes.summary(actor, sessions, start, end)
    window = Window(summary.start, summary.end)
    days = await read(sessions, lambda s: metrics.per_day(s, window, metrics.Scope()))
    queues = await metric_routes.per_queue(actor, sessions, start, end)
    agents = await metric_routes.per_agent(actor, sessions, start, end)
    products = await metric_routes.per_product(actor, sessions, start, end)
    goals = await metric_routes.all_goals(actor, sessions, None, 100, 0)
    deflections = await metric_routes.deflection(actor, sessions, start, end)
    return [
        trend_figure(days),
        *summary_figures(summary),
        *breakdown_figures(queues, "queue"),
        *breakdown_figures(agents, "agent"),
        *breakdown_figures(products, "product"),
        goals_figure(goals.items),
        deflection_figure(deflections),
    ]


def trend_figure(days: list[metrics.DayFigures]) -> Figure:
    names = [f"{d.day:%m-%d}" for d in days]
    chart = line_chart(
        "trend",
        "Cases opened and resolved per day",
        "Cases opened and cases resolved on each day of the period (UTC).",
        names,
        [
            Series("opened", [d.cases_opened for d in days]),
            Series("resolved", [d.cases_resolved for d in days]),
        ],
        value_label="cases",
        whole=True,
        x_label="day (UTC)",
    )
    rows = [[f"{d.day:%Y-%m-%d}", str(d.cases_opened), str(d.cases_resolved)] for d in days]
    return Figure("Per day", Markup(chart), Table(["Day", "Opened", "Resolved"], rows))


def summary_figures(summary: Summary) -> list[Figure]:
    counts = {
        "opened": summary.cases_opened,
        "resolved": summary.cases_resolved,
        "in progress": summary.cases_in_progress,
    }
    cases_chart = bar_chart(
        "summary-cases", "Cases in the period",
        "Cases opened and resolved in the period, and in progress at its end.",
        list(counts), [Series("cases", list(counts.values()))],
        value_label="cases", whole=True, category_label="figure",
    )  # fmt: skip
    compliance = summary.sla_compliance
    tallies = {**compliance.by_kpi, "overall": compliance.overall}
    sla_chart = bar_chart(
        "summary-sla", "SLA compliance",
        "Per KPI and overall, the share of KPI instances decided in the period that succeeded.",
        list(tallies), [Series("compliance", [t.percent for t in tallies.values()])],
        value_label="% succeeded", category_label="KPI", fmt=_percent_axis,
    )  # fmt: skip
    sla_rows = [
        [kpi, str(t.succeeded), str(t.noncompliant), reporting.format_percent(t.percent)]
        for kpi, t in tallies.items()
    ]
    return [
        Figure(
            "Cases",
            Markup(cases_chart),
            Table(["Figure", "Cases"], [[k, str(v)] for k, v in counts.items()]),
        ),
        Figure(
            "SLA compliance",
            Markup(sla_chart),
            Table(["KPI", "Succeeded", "Breached", "Compliance"], sla_rows),
        ),
        _times_figure(summary),
        _csat_figure(summary),
    ]


def _times_figure(summary: Summary) -> Figure:
    times = {"first response": summary.mean_first_response,
             "resolution": summary.mean_resolution_time}  # fmt: skip
    chart = bar_chart(
        "summary-times", "Mean times",
        "Mean time to the first response and to resolution, wall-clock and in business time.",
        list(times),
        [Series("wall-clock", [_hours(t.wall_clock_seconds) for t in times.values()]),
         Series("business time", [_hours(t.business_seconds) for t in times.values()])],
        value_label="hours", category_label="mean time", fmt=_in_hours,
    )  # fmt: skip
    rows = [
        [name, str(t.count), reporting.format_duration(t.wall_clock_seconds),
         reporting.format_duration(t.business_seconds)]
        for name, t in times.items()
    ]  # fmt: skip
    headers = ["Mean time to", "Over", "Wall-clock", "Business time"]
    return Figure("Mean times", Markup(chart), Table(headers, rows))


def _hours(seconds: float | None) -> float | None:
    """Durations are drawn in hours, so that the axis has round ticks (10 h, not 13h 53m)."""
    return None if seconds is None else seconds / 3600


def _in_hours(hours: float) -> str:
    return reporting.format_duration(hours * 3600)


def _csat_figure(summary: Summary) -> Figure:
    csat = summary.csat
    chart = bar_chart(
        "summary-csat", "Customer satisfaction",
        "The mean rating (1 to 5) of the surveys answered in the period.",
        ["mean rating"], [Series("CSAT", [csat.mean_rating])],
        value_label="rating (1 to 5)", category_label="surveys", reference=5,
        reference_label="5 (best)",
    )  # fmt: skip
    row = [str(csat.responses), reporting.format_number(csat.mean_rating),
           reporting.format_percent(csat.satisfied_percent)]  # fmt: skip
    return Figure(
        "Customer satisfaction",
        Markup(chart),
        Table(["Surveys answered", "Mean rating", "Satisfied (4 or 5)"], [row]),
    )


def breakdown_figures(breakdown: Breakdown, by: str) -> list[Figure]:
    names = [r.name for r in breakdown.rows]
    counts = bar_chart(
        f"{by}-cases", f"Cases per {by}",
        f"For each {by}: cases opened and resolved in the period, and in progress at its end.",
        names,
        [Series("opened", [r.cases_opened for r in breakdown.rows]),
         Series("resolved", [r.cases_resolved for r in breakdown.rows]),
         Series("in progress", [r.cases_in_progress for r in breakdown.rows])],
        value_label="cases", whole=True, category_label=by,
    )  # fmt: skip
    compliance = bar_chart(
        f"{by}-sla", f"SLA compliance per {by}",
        f"For each {by}: the share of KPI instances decided in the period that succeeded.",
        names, [Series("compliance", [r.sla_compliance.percent for r in breakdown.rows])],
        value_label="% succeeded", category_label=by, fmt=_percent_axis,
    )  # fmt: skip
    headers = [by.capitalize(), "Opened", "Resolved", "In progress", "SLA", "First response",
               "Resolution", "CSAT"]  # fmt: skip
    rows = [reporting.breakdown_cells(r) for r in breakdown.rows]
    return [
        Figure(f"Per {by}", Markup(counts), Table(headers, rows)),
        Figure(
            f"SLA compliance per {by}",
            Markup(compliance),
            Table([headers[0], "SLA"], [[r[0], r[4]] for r in rows]),
        ),
    ]


def goals_figure(goals: list[reporting.GoalProgress]) -> Figure:
    chart = bar_chart(
        "goals", "Goals: percent of target",
        "Each goal's actual figure as a percent of its target in its current period. An "
        "'at least' goal is met at 100 or more, an 'at most' goal at 100 or less.",
        [g.name for g in goals], [Series("% of target", [g.percent_of_target for g in goals])],
        value_label="% of target", category_label="goal", fmt=_percent_axis, reference=100,
        reference_label="target",
    )  # fmt: skip
    headers = ["Goal", "Metric", "For", "Period", "Target", "Actual", "% of target", "Met"]
    rows = [reporting.goal_cells(g) for g in goals]
    return Figure("Goals", Markup(chart), Table(headers, rows))


def deflection_figure(found: metric_routes.Deflections) -> Figure:
    counts = {
        "articles opened": found.articles_opened,
        "followed by a case": found.followed_by_case,
        "deflected": found.deflected,
    }
    chart = bar_chart(
        "deflection", "Deflection by the portal's articles",
        "Knowledge articles customers opened from the portal's new-case form in the period, "
        "those after which they opened a case anyway, and those after which they did not.",
        list(counts), [Series("articles", list(counts.values()))],
        value_label="articles opened", whole=True, category_label="figure",
    )  # fmt: skip
    rows = [[name, str(n)] for name, n in counts.items()]
    return Figure("Deflection", Markup(chart), Table(["Figure", "Articles"], rows))


def _percent_axis(value: float) -> str:
    return f"{value:.0f} %" if float(value).is_integer() else f"{value:.1f} %"
