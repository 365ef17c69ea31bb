"""The fields each resolution stage requires, as an organisation configured them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.store.models import Product, StageRequirement


def configured_stage_fields(session: Session) -> dict[str, list[str]]:
    """Stage → required fields, for the stages that have a row (the others keep the default)."""
    rows = session.scalars(select(StageRequirement).order_by(StageRequirement.stage))
    return {row.stage: [str(f) for f in row.fields] for row in rows}


def product_by_name(session: Session, name: str) -> Product | None:
    """A known product: the only values the `product` stage field takes."""
    return session.scalar(select(Product).where(Product.name == name))
