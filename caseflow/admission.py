"""Whether a new case may open for a customer: the one admission of the API and the intake.

What the directory knows of the customer (their contact and account, the entitlement covering
them and whether it has cases left for the channel) is read here; what follows from it is the
pure rule `routing.admit`, with the record creation settings of the channel it came through (a
mailbox may refuse unknown senders; agents open cases for anybody).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from caseflow.store import directory
from caseflow.workflows import routing


@dataclass(frozen=True)
class Verdict:
    """The record creation rules' answer for a new case; the exhausted entitlement's name; and
    why the directory cannot place the customer at all (a contact of another account, an
    unknown account), which the caller refuses as bad input."""

    admission: routing.Admission
    entitlement: str = ""
    problem: str = ""


def admit(
    session: Session,
    email: str,
    channel: str,
    *,
    account: str = "",
    unknown_senders: str = routing.CREATE,
    when_exhausted: str,
) -> Verdict:
    """The verdict on a new case for this customer, through this channel, today."""
    found = directory.find_customer(session, email, account)
    if found.problem:
        return Verdict(routing.Admission(), problem=found.problem)
    exhausted = directory.exhausted_entitlement(session, found, datetime.now(UTC).date(), channel)
    admission = routing.admit(
        known_sender=found.known,
        unknown_senders=unknown_senders,
        exhausted=exhausted,
        when_exhausted=when_exhausted,
    )
    return Verdict(admission, exhausted)
