"""Calendars, SLA policies and products as configuration kinds (their YAML is in the README)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseflow.calendars import (
    WEEKDAYS,
    country_holidays,
    definition_from_dict,
    save_calendar,
)
from caseflow.configuration.base import ConfigError, Kind, register
from caseflow.configuration.work import conditions_naming
from caseflow.policies import Policy, PolicyError, save_policy
from caseflow.store import knowledge
from caseflow.store.directory import sla_policies
from caseflow.store.models import Calendar, Case, Entitlement, Product, SlaPolicy
from caseflow.store.stages import product_by_name
from caseflow.workflows.calendar import CalendarError
from caseflow.workflows.fanout import RolloutKind

STRICT = ConfigDict(extra="forbid")


# -- calendars ------------------------------------------------------------------------------------


class HolidaysSpec(BaseModel):
    model_config = STRICT
    country: str | None = None
    subdivision: str | None = None
    dates: list[date] = Field(default_factory=list)


class ClosureSpec(BaseModel):
    model_config = STRICT
    start: str
    end: str
    reason: str = ""


class CalendarConfig(BaseModel):
    """Business hours per weekday ("09:00-13:00"), an IANA zone, holidays and closures; no
    hours: open around the clock."""

    model_config = STRICT
    name: str = Field(min_length=1, max_length=100)
    timezone: str = "UTC"
    hours: dict[str, list[str]] = Field(default_factory=dict)
    holidays: HolidaysSpec = Field(default_factory=HolidaysSpec)
    closures: list[ClosureSpec] = Field(default_factory=list)


def _save_calendar(session: Session, spec: CalendarConfig) -> None:
    try:
        definition = definition_from_dict(spec.model_dump(mode="json"))
    except CalendarError as err:
        raise ConfigError("invalid", str(err)) from None
    save_calendar(session, definition)


def _dump_calendars(session: Session) -> list[CalendarConfig]:
    return [
        _calendar_spec(row) for row in session.scalars(select(Calendar).order_by(Calendar.name))
    ]


def _calendar_spec(row: Calendar) -> CalendarConfig:
    hours: dict[str, list[str]] = {}
    for interval in sorted(row.hours, key=lambda h: (int(h["weekday"]), h["start"])):
        hours.setdefault(WEEKDAYS[int(interval["weekday"])], []).append(
            f"{interval['start']}-{interval['end']}"
        )
    dates = [date.fromisoformat(d) for d in row.holidays]
    if row.country:  # the country's own holidays are expanded on save: keep only the others
        definition = definition_from_dict(
            {"name": row.name, "holidays": {"country": row.country, "subdivision": row.subdivision}}
        )
        years = range(min(d.year for d in dates), max(d.year for d in dates) + 1) if dates else None
        public = country_holidays(definition, years) if years else set()
        dates = [d for d in dates if d not in public]
    return CalendarConfig(
        name=row.name,
        timezone=row.timezone,
        hours=hours,
        holidays=HolidaysSpec(country=row.country, subdivision=row.subdivision, dates=dates),
        closures=[ClosureSpec(**c) for c in row.closures or []],
    )


def _delete_calendar(session: Session, name: str) -> None:
    row = session.scalar(select(Calendar).where(Calendar.name == name))
    assert row is not None
    users = list(session.scalars(select(SlaPolicy.name).where(SlaPolicy.calendar_id == row.id)))
    if users:
        raise ConfigError("in_use", f"calendar {name!r} is used by SLA policies {', '.join(users)}")
    session.delete(row)


calendars = register(
    Kind(
        name="calendars",
        spec=CalendarConfig,
        key=lambda s: s.name,
        save=_save_calendar,
        dump=_dump_calendars,
        delete=_delete_calendar,
        describe="Business hours, time zone, holidays and closures that SLA clocks count in.",
        rolls_out=RolloutKind.CALENDAR,
    )
)


# -- SLA policies ---------------------------------------------------------------------------------


def _save_policy(session: Session, policy: Policy) -> None:
    try:
        save_policy(session, policy)
    except PolicyError as err:
        raise ConfigError(err.code, str(err)) from None


def _dump_policies(session: Session) -> list[Policy]:
    return [Policy.of_row(row) for row in sla_policies(session)]


def _delete_policy(session: Session, name: str) -> None:
    row = session.scalar(select(SlaPolicy).where(SlaPolicy.name == name))
    assert row is not None
    if row.is_default:
        raise ConfigError("in_use", f"{name!r} is the default policy: make another default first")
    users = list(
        session.scalars(select(Entitlement.name).where(Entitlement.sla_policy_id == row.id))
    )
    if users:
        raise ConfigError(
            "in_use", f"SLA policy {name!r} is brought by entitlements {', '.join(users)}"
        )
    session.delete(row)  # running cases keep the copy pinned on them


sla_policies_kind = register(
    Kind(
        name="sla_policies",
        spec=Policy,  # the policy's one written shape (`caseflow.policies`)
        key=lambda s: s.name,
        save=_save_policy,
        dump=_dump_policies,
        delete=_delete_policy,
        describe="SLA policies; an edit reaches running cases only through `caseflow sla migrate`.",
    )
)


# -- products -------------------------------------------------------------------------------------


class ProductConfig(BaseModel):
    model_config = STRICT
    name: str = Field(min_length=1, max_length=100)


def _save_product(session: Session, spec: ProductConfig) -> None:
    if product_by_name(session, spec.name) is None:
        session.add(Product(name=spec.name))


def _dump_products(session: Session) -> list[ProductConfig]:
    names = session.scalars(select(Product.name).order_by(Product.name))
    return [ProductConfig(name=name) for name in names]


def _delete_product(session: Session, name: str) -> None:
    used = session.scalar(select(func.count()).select_from(Case).where(Case.product == name))
    if used:
        raise ConfigError("in_use", f"product {name!r} is on {used} cases")
    articles = knowledge.using_product(session, name)
    if articles:
        raise ConfigError("in_use", f"product {name!r} has articles {', '.join(articles)}")
    named = conditions_naming(session, "products", name)
    if named:
        raise ConfigError("in_use", f"product {name!r} is named by {', '.join(named)}")
    session.delete(product_by_name(session, name))


products = register(
    Kind(
        name="products",
        spec=ProductConfig,
        key=lambda s: s.name,
        save=_save_product,
        dump=_dump_products,
        delete=_delete_product,
        describe="What cases are about; cases name a product for per-product reports.",
    )
)
