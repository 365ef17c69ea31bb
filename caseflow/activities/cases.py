"""Activities of the case workflow that touch the database and Temporal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client

from caseflow.activities import convert
from caseflow.settings import Settings
from caseflow.store import cases, directory, messages
from caseflow.store.db import transaction
from caseflow.workflows.model import (
    ActivityName,
    CaseContext,
    CaseRecord,
    CaseTimings,
    Channel,
    ContextRequest,
    FollowUpRequest,
    FollowUpResult,
    NewCase,
)
from caseflow.workflows.starter import start_case

# Acknowledgements per sender are limited over a rolling window of this length.
ACK_WINDOW = timedelta(hours=24)


class CaseActivities:
    """Reads the configuration a new case needs, records each transition, opens follow-ups."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, client: Client) -> None:
        self._sessions = sessions
        self._settings = settings
        self._client = client

    @activity.defn(name=ActivityName.LOAD_CASE_CONTEXT)
    def load_case_context(self, request: ContextRequest) -> CaseContext:
        with transaction(self._sessions) as session:
            found = directory.find_customer(session, request.customer_email, request.account)
            contact = found.contact
            if contact is None and found.email:
                contact = directory.create_contact(
                    session, found.email, request.customer_name, found.account
                )
            account = contact.account if contact is not None else found.account
            now = datetime.now(UTC)
            active = directory.covering_entitlement(
                session,
                contact.id if contact else None,
                account.id if account else None,
                now.date(),
                str(request.channel),
            )
            acks = messages.acks_sent_since(session, found.email, now - ACK_WINDOW)
            return CaseContext(
                customer=convert.customer(contact, account),
                entitlement=convert.entitlement(active),
                rules=[convert.routing_rule(r) for r in directory.routing_rules(session)],
                policies=[convert.sla_policy(p) for p in directory.sla_policies(session)],
                default_policy=directory.default_policy_name(session),
                default_queue=directory.DEFAULT_QUEUE,
                timings=self._timings(),
                acks_sent_today=acks,
                ack_limit_per_day=self._settings.ack_limit_per_day,
            )

    @activity.defn(name=ActivityName.RECORD_CASE)
    def record_case(self, record: CaseRecord) -> None:
        write = convert.case_write(record)
        with transaction(self._sessions) as session:
            applied = cases.apply_case_write(session, write)
        if not applied:
            activity.logger.info("%s event %d was already recorded", write.number, write.seq)

    @activity.defn(name=ActivityName.OPEN_FOLLOW_UP)
    async def open_follow_up(self, request: FollowUpRequest) -> FollowUpResult:
        number = await asyncio.to_thread(self._allocate, request.origin_key)
        email = request.email
        new = NewCase(
            channel=Channel.EMAIL,
            subject=email.subject,
            description=email.text,
            customer_email=email.sender,
            customer_name=email.sender_name,
            follow_up_of=request.follow_up_of,
            email=email,
        )
        await start_case(self._client, number, new, self._settings.task_queue)
        return FollowUpResult(number=number)

    def _allocate(self, origin_key: str) -> str:
        with transaction(self._sessions) as session:
            return cases.allocate_case_number(session, origin_key)

    def _timings(self) -> CaseTimings:
        s = self._settings
        return CaseTimings(
            auto_close_after=s.auto_close_after,
            survey_delay=s.survey_delay,
            survey_reminder_after=s.survey_reminder_after,
            survey_expires_after=s.survey_expires_after,
            late_threshold=s.late_timer_threshold,
            loop_breaker_per_hour=s.loop_breaker_per_hour,
        )
