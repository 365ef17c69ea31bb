"""The intake as a pipeline: raw bytes → parsed once → classified → a decision → its effects.

`examine` is the CPU-bound part (parsing, the detectors, reading a bounce), a pure function of
the bytes that the intake runs in a thread, off its event loop. `decide` is the rule that says
where a message goes, a pure function of what was found: a new case, an event on a case, noise
(automatic mail that concerns no case, kept for supervisors), quarantine or a refusal. The
intake (`service.py`) looks up what `decide` needs (the thread, the record creation rules) and
carries out its decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from caseflow.intake import bounces
from caseflow.intake.bounces import Bounce
from caseflow.intake.classify import Judgement, judge
from caseflow.intake.content import Limits
from caseflow.intake.parse import MalformedEmail, ParsedEmail
from caseflow.intake.parse import parse as parse
from caseflow.workflows.model import MailClass


class Route(StrEnum):
    """Where a message goes; every message ends in exactly one of these."""

    CASE = "case"
    EVENT = "event"
    NOISE = "noise"
    QUARANTINE = "quarantine"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Examined:
    """A message read once: parsed, judged by every detector, its bounce read."""

    raw: bytes
    parsed: ParsedEmail | None
    judgement: Judgement
    bounce: Bounce | None = None
    malformed: str = ""  # why it cannot be read; then `parsed` is None

    @property
    def mail_class(self) -> MailClass:
        return self.judgement.mail_class


def examine(raw: bytes, limits: Limits | None, support_address: str) -> Examined:
    """Parse the bytes once (leniently for a mail server's report without a sender), run the
    detectors over the result, and read a bounce's failed recipients and returned identity.

    Raises only on a bug of ours (the parser failing unexpectedly): a message it cannot read
    comes back with `malformed` set."""
    try:
        parsed = parse(raw, limits)
    except MalformedEmail as err:
        # A mail server's report from `MAILER-DAEMON <>` has no sender, yet is a bounce.
        report = bounces.lenient_parse(raw)
        if report is None:
            return Examined(raw, None, Judgement(MailClass.HUMAN), malformed=str(err))
        parsed = report
    judgement = judge(parsed, support_address)
    bounce = None
    if judgement.mail_class is MailClass.BOUNCE:
        bounce = bounces.read_bounce(parsed.message if parsed.message is not None else raw)
    return Examined(raw, parsed, judgement, bounce)


@dataclass(frozen=True)
class Facts:
    """What the intake found out about a message beyond its bytes."""

    judgement: Judgement
    # The case it threads to; for a bounce, the case whose email bounced.
    case_number: str | None = None
    case_ended: bool = False  # that case's workflow has ended
    verified: bool = True  # the thread is vouched for (else a reply to an ended case is new)
    refusal: str = ""  # a record creation rule refused a new case ("" when it did not)
    promoted_by: str = ""  # a supervisor who promoted it from noise: it is taken as a person's


@dataclass(frozen=True)
class Decision:
    route: Route
    case_number: str | None = None  # the case of an event
    follow_up_of: str | None = None  # a new case that follows up an ended one
    reason: str = ""


def decide(facts: Facts) -> Decision:
    """Where a message goes. Machines never open a case: automatic mail that concerns no open
    case is noise (a supervisor may promote it); a person's mail is an event on its case, a
    follow-up of an ended one, a new case, or refused by a record creation rule."""
    judgement, number = facts.judgement, facts.case_number
    automatic = judgement.automatic and not facts.promoted_by
    if number is not None and not facts.case_ended:
        return Decision(Route.EVENT, case_number=number)
    if automatic:
        return Decision(Route.NOISE, reason=_noise_reason(facts))
    if number is not None:  # a person's reply to an ended case
        return Decision(Route.CASE, follow_up_of=number if facts.verified else None)
    if facts.refusal:
        return Decision(Route.REFUSE, reason=facts.refusal)
    return Decision(Route.CASE)


def _noise_reason(facts: Facts) -> str:
    reason = facts.judgement.reason
    if facts.judgement.mail_class is MailClass.BOUNCE and facts.case_number is None:
        reason = f"bounce of no email of ours: {reason}"
    if facts.case_number is not None:
        reason = f"{reason} (for {facts.case_number}, whose case has ended)"
    return reason[:2000]
