"""The intake's pipeline: each message parsed once (`pipeline.examine`), and where it goes
(`pipeline.decide`), a pure rule over what the intake found."""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser

import pytest

from caseflow.intake.classify import Finding, Judgement
from caseflow.intake.pipeline import Decision, Facts, Route, decide, examine
from caseflow.workflows.model import MailClass
from tests.unit.emails import ARF_REPORT, DSN_BOUNCE, OUTLOOK_REPLY, SUPPORT
from tests.unit.machine_mail import MACHINES

PERSON = Judgement(MailClass.HUMAN)
NO_REPLY = Judgement(MailClass.HUMAN, (), "no sign of a person: the sender takes no replies")
AUTO_REPLY = Judgement(
    MailClass.AUTO_REPLY, (Finding("rfc3834", MailClass.AUTO_REPLY, "Auto-Submitted: x"),)
)
BOUNCE = Judgement(
    MailClass.BOUNCE, (Finding("rfc3464", MailClass.BOUNCE, "RFC 3464 non-delivery report"),)
)
OWN = Judgement(MailClass.OWN_LOOP, (Finding("own_loop", MailClass.OWN_LOOP, "ours"),))


@pytest.mark.parametrize("judgement", [PERSON, NO_REPLY, AUTO_REPLY, BOUNCE, OWN])
def test_mail_that_threads_to_an_open_case_is_an_event_on_it(judgement: Judgement) -> None:
    assert decide(Facts(judgement, "CAS-000007")) == Decision(Route.EVENT, "CAS-000007")


@pytest.mark.parametrize("judgement", [AUTO_REPLY, BOUNCE, OWN])
def test_machines_of_no_case_are_noise_never_a_case(judgement: Judgement) -> None:
    decision = decide(Facts(judgement))

    assert decision.route is Route.NOISE
    assert judgement.reason in decision.reason


def test_a_bounce_of_no_email_of_ours_says_so() -> None:
    assert decide(Facts(BOUNCE)).reason.startswith("bounce of no email of ours: RFC 3464")


@pytest.mark.parametrize("judgement", [AUTO_REPLY, BOUNCE])
def test_machines_on_an_ended_case_are_noise_naming_it(judgement: Judgement) -> None:
    decision = decide(Facts(judgement, "CAS-000007", case_ended=True))

    assert decision.route is Route.NOISE
    assert "for CAS-000007, whose case has ended" in decision.reason


def test_a_machine_refused_by_a_record_creation_rule_is_still_noise() -> None:
    assert decide(Facts(AUTO_REPLY, refusal="unknown_sender")).route is Route.NOISE


@pytest.mark.parametrize("judgement", [PERSON, NO_REPLY])
def test_a_person_of_no_case_opens_one_unless_refused(judgement: Judgement) -> None:
    assert decide(Facts(judgement)) == Decision(Route.CASE)
    refused = decide(Facts(judgement, refusal="unknown_sender"))
    assert (refused.route, refused.reason) == (Route.REFUSE, "unknown_sender")


def test_a_persons_reply_to_an_ended_case_follows_it_up_when_the_thread_is_vouched_for() -> None:
    ended = Facts(PERSON, "CAS-000007", case_ended=True)

    assert decide(ended) == Decision(Route.CASE, follow_up_of="CAS-000007")
    unverified = Facts(PERSON, "CAS-000007", case_ended=True, verified=False)
    assert decide(unverified) == Decision(Route.CASE)


def test_a_promoted_machine_takes_a_persons_path() -> None:
    assert decide(Facts(AUTO_REPLY, promoted_by="sam")) == Decision(Route.CASE)
    assert decide(Facts(BOUNCE, "CAS-000007", True, promoted_by="sam")).follow_up_of == (
        "CAS-000007"
    )
    assert decide(Facts(AUTO_REPLY, refusal="unknown_sender", promoted_by="sam")).route is (
        Route.REFUSE
    )


@pytest.mark.parametrize("raw", [DSN_BOUNCE, ARF_REPORT, OUTLOOK_REPLY, MACHINES["postfix-delay"]])
def test_a_message_is_parsed_once_for_parsing_judging_and_reading_its_bounce(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole: list[int] = []
    real = BytesParser.parsebytes

    def counting(self: BytesParser, text: bytes, headersonly: bool = False) -> Message:
        if text == raw:
            whole.append(1)
        return real(self, text, headersonly)

    monkeypatch.setattr(BytesParser, "parsebytes", counting)

    found = examine(raw, None, SUPPORT)

    assert found.parsed is not None
    assert len(whole) == 1
