"""`caseflow case <action> NUMBER`: an agent's actions on a case, through the HTTP API.

Every action of the registry that its surfaces offer (`caseflow.surfaces`) is a command here,
its options those of the action's JSON body. A command sends one Idempotency-Key with every
attempt, so when the API is busy or away (429, 503, a dropped connection) it tries again and
the action is still carried out once; it prints the case as one line, or a refusal as one line
on standard error (exit code 1)."""

from __future__ import annotations

import inspect
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from caseflow.cli.base import UsageError, text_table
from caseflow.surfaces import OFFERED, Offered, Option

if TYPE_CHECKING:  # imported when a command sends (`caseflow --help` does without them)
    import httpx
    from tenacity import RetryCallState, Retrying

app = typer.Typer(help="an agent's actions on a case, through the HTTP API (CASEFLOW_TOKEN)")

API_URL = "http://127.0.0.1:8000"
REQUEST_TIMEOUT = 60.0  # the API answers an action within its own update timeout (15 s)
ATTEMPTS = 6
RETRYING_FOR = 60.0  # seconds, at most, of attempts before a busy or absent API is given up
LONGEST_WAIT = 10.0  # between attempts, whatever a Retry-After asks

Number = Annotated[str, typer.Argument(metavar="NUMBER", help="the case, e.g. CAS-000123")]
ApiUrl = Annotated[str, typer.Option("--api", envvar="CASEFLOW_API_URL", help="the API's base URL")]
Token = Annotated[
    str,
    typer.Option(envvar="CASEFLOW_TOKEN", help="your API token (`caseflow agent token`)"),
]
Key = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        help="the key of this action (default: a new one); give the same one to retry an "
        "action whose outcome you did not see",
    ),
]


class Retry(Exception):
    """An answer worth another attempt with the same key (429, 503): the API was busy or
    could not reach Temporal; `wait` is the Retry-After it asked for, in seconds."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.status_code} {_problem(response)}")
        self.wait = _retry_after(response)


@dataclass(frozen=True)
class Sent:
    """A request as sent: an action's (POST, its key and its body) or a read's (GET)."""

    path: str
    key: str = ""
    body: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    method: str = "POST"


def send(
    api: str,
    token: str,
    sent: Sent,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Send the request, retrying what is worth it (an action with the same key); its answer."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    if sent.key:
        headers["Idempotency-Key"] = sent.key
    with httpx.Client(base_url=api, timeout=REQUEST_TIMEOUT, transport=transport) as http:
        for attempt in _attempts(sleep):
            with attempt:
                response = http.request(
                    sent.method, sent.path, json=sent.body, params=sent.params, headers=headers
                )
                if response.status_code in (429, 503):
                    raise Retry(response)
        if response.status_code >= 400:
            raise UsageError(f"{sent.path}: {response.status_code} {_problem(response)}")
        return response.json()


def _attempts(sleep: Callable[[float], None]) -> Retrying:
    import httpx
    from tenacity import (
        Retrying,
        retry_if_exception_type,
        stop_after_attempt,
        stop_after_delay,
        wait_exponential,
    )

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = error.wait if isinstance(error, Retry) else 0.0
        return min(LONGEST_WAIT, max(asked, wait_exponential(multiplier=0.5, max=8)(state)))

    def say(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        print(f"caseflow: {error}; trying again", file=sys.stderr)

    return Retrying(
        retry=retry_if_exception_type((Retry, httpx.TransportError)),
        stop=stop_after_attempt(ATTEMPTS) | stop_after_delay(RETRYING_FOR),
        wait=wait,
        before_sleep=say,
        sleep=sleep,
        reraise=True,
    )


def _problem(response: httpx.Response) -> str:
    """An error answer as one line: its code and detail (`{"error": ..., "detail": ...}`)."""
    try:
        answer = response.json()
    except json.JSONDecodeError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(answer, dict) and "error" in answer:
        return f"{answer['error']}: {answer.get('detail', '')}"
    return json.dumps(answer)[:200]


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", "0"))
    except ValueError:
        return 0.0


def one_line(case: dict[str, Any]) -> str:
    """The case after an action, as one line."""
    owner = case.get("owner") or "nobody"
    return (
        f"{case['number']} {case['status']} ({case['stage']}), priority {case['priority']}, "
        f"queue {case['queue']}, owner {owner}: {case['subject']}"
    )


def kpi_line(kpi: dict[str, Any]) -> str:
    due = kpi.get("fail_at") or "-"
    return f"  {kpi['kpi']}: {kpi['status']}, due {due}"


def timeline_line(entry: dict[str, Any]) -> str:
    said = " ".join(str(entry.get("body") or entry.get("summary") or "").split())
    excerpt = said if len(said) <= 80 else said[:79] + "…"
    return f"  {entry['at']} {entry['kind']} by {entry['actor'] or '-'}: {excerpt}"


# -- reading cases -------------------------------------------------------------------------------

SHOWN_EVENTS = 10


@app.command("show", help="one case: its line, its SLA KPIs and the latest of its timeline")
def show(number: Number, token: Token, api: ApiUrl = API_URL) -> None:
    case = _read(api, token, Sent(f"/cases/{number.upper()}", method="GET"))
    kpis = [kpi_line(k) for k in case["kpis"]]
    events = [timeline_line(e) for e in case["timeline"][-SHOWN_EVENTS:]]
    print("\n".join([one_line(case), "SLA:", *(kpis or ["  none"]), "timeline:", *events]))


@app.command("list", help="the cases you see, most urgent first (the API's filters)")
def list_cases(
    token: Token,
    api: ApiUrl = API_URL,
    state: Annotated[
        list[str] | None, typer.Option(metavar="STATE", help="repeat for several")
    ] = None,
    queue: Annotated[str | None, typer.Option()] = None,
    owner: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
) -> None:
    filters = {"state": state or [], "queue": queue, "owner": owner, "limit": limit}
    params = {k: v for k, v in filters.items() if v}
    page = _read(api, token, Sent("/cases", params=params, method="GET"))
    rows = [
        [c["number"], c["status"], str(c["priority"]), c["queue"], c["owner"] or "-",
         c["sla_status"], c["subject"][:60]]
        for c in page["items"]
    ]  # fmt: skip
    headers = ["number", "status", "priority", "queue", "owner", "sla", "subject"]
    print(text_table(headers, rows))
    print(f"{len(rows)} of {page['total']}")


def _read(api: str, token: str, sent: Sent) -> Any:
    import httpx

    try:
        return send(api.rstrip("/"), token, sent)
    except (Retry, httpx.TransportError) as err:
        raise UsageError(f"{api} did not answer ({err})") from None


# -- the commands, one per offered action --------------------------------------------------------


def command_of(offered: Offered) -> Any:
    """The command of one action: its options those of the action's body."""

    def command(
        number: str, api: str, token: str, idempotency_key: str | None, **given: Any
    ) -> None:
        import httpx

        body = body_of(offered, given)
        key = idempotency_key or uuid.uuid4().hex
        sent = Sent(f"/cases/{number.upper()}/{offered.name}", key, body)
        try:
            case = send(api.rstrip("/"), token, sent)
        except (Retry, httpx.TransportError) as err:
            raise UsageError(
                f"{api} did not carry out {offered.name} ({err}); retry with "
                f"--idempotency-key {key}"
            ) from None
        print(one_line(case))

    parameters = [
        _parameter("number", Number),  # named as in `command`, which takes the rest as `given`
        _parameter("api", ApiUrl, API_URL),
        _parameter("token", Token),
        _parameter("idempotency_key", Key, None),
        *(_option(option) for option in offered.options),
    ]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__name__ = offered.name
    return command


def body_of(offered: Offered, given: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of what the options gave, checked as the API will check it."""
    body: dict[str, Any] = {}
    for option in offered.options:
        value = given[option.name]
        if option.kind is dict:
            value = _fields(value or [])
        if value is not None and value != option.default:
            body[option.name] = value
    try:
        offered.body.model_validate(body)
    except ValidationError as err:
        problems = "; ".join(f"{_where(e['loc'])}{e['msg']}" for e in err.errors())
        raise UsageError(f"{offered.name}: {problems}") from None
    return body


def _where(loc: tuple[Any, ...]) -> str:
    return f"--{str(loc[0]).replace('_', '-')}: " if loc else ""


def _fields(pairs: list[str]) -> dict[str, str]:
    fields = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals:
            raise UsageError(f"--field {pair!r} is not NAME=VALUE")
        fields[name.strip()] = value
    return fields


def _parameter(
    name: str, annotation: Any, default: Any = inspect.Parameter.empty
) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


def _option(option: Option) -> inspect.Parameter:
    """`--name` for one field of the body; a dict of stage fields is `--field NAME=VALUE`."""
    flag = "--" + option.name.replace("_", "-")
    help = option.how.help or None
    if option.kind is dict:
        many = typer.Option("--field", metavar="NAME=VALUE", help=f"{help}; repeat for several")
        return _parameter(option.name, Annotated[list[str] | None, many], None)
    kind: Any = option.kind | None if option.optional else option.kind
    annotation = Annotated[kind, typer.Option(flag, help=help)]
    default = inspect.Parameter.empty if option.required else option.default
    return _parameter(option.name, annotation, default)


for offered in OFFERED.values():
    app.command(offered.name, help=offered.doc, short_help=offered.summary)(command_of(offered))
