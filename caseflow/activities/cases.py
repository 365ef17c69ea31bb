"""Activities of the case workflow that touch the database and Temporal (other cases too)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from caseflow.activities import convert
from caseflow.client import case_handle, start_case
from caseflow.settings import Settings
from caseflow.store import cases, directory, messages, stages
from caseflow.store.db import transaction
from caseflow.workflows import lifecycle
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import (
    DEFAULT_STAGE_FIELDS,
    ActivityName,
    CaseContext,
    CaseRecord,
    CaseTimings,
    Channel,
    ChildrenNotified,
    ChildRequest,
    ContextRequest,
    CopiedMessage,
    FollowUpRequest,
    FollowUpResult,
    MergeTransfer,
    NewCase,
    ParentNotice,
    ResolvedReply,
)

# Acknowledgements per sender are limited over a rolling window of this length.
ACK_WINDOW = timedelta(hours=24)
# What a merge copies to the survivor: the duplicate's first customer messages, each cut short
# (the duplicate keeps them whole), so the update stays well under Temporal's payload limit.
MERGE_MESSAGES = 50
MERGE_BODY = 20_000


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
            primary = None
            if contact is None and account is not None:
                primary = directory.primary_contact(session, account.id)
            now = datetime.now(UTC)
            active = directory.covering_entitlement(
                session,
                contact.id if contact else None,
                account.id if account else None,
                now.date(),
                str(request.channel),
            )
            address = found.email or (primary.email if primary else "")
            acks = messages.acks_sent_since(session, address, now - ACK_WINDOW)
            return CaseContext(
                customer=convert.customer(contact, account, primary),
                entitlement=convert.entitlement(active),
                rules=[convert.routing_rule(r) for r in directory.routing_rules(session)],
                policies=[convert.case_sla_policy(p) for p in directory.sla_policies(session)],
                default_policy=directory.default_policy_name(session),
                default_queue=directory.DEFAULT_QUEUE,
                timings=self._timings(),
                acks_sent_today=acks,
                ack_limit_per_day=self._settings.ack_limit_per_day,
                stage_fields={**DEFAULT_STAGE_FIELDS, **stages.configured_stage_fields(session)},
                child_requires_parent=self._settings.child_resolve_requires_parent,
                rules_version=lifecycle.RULES_VERSION,
                resolved_reply=ResolvedReply(self._settings.resolved_reply),
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

    @activity.defn(name=ActivityName.ADOPT_CHILD)
    async def adopt_child(self, request: ChildRequest) -> None:
        """Ask the parent to take the child; its refusal fails this activity for good."""
        update_id = f"{request.child}:child-of:{request.parent}"
        await self._ask(request.parent, CaseWorkflow.add_child, request, update_id, "parent_ended")

    @activity.defn(name=ActivityName.MERGE_CASE)
    async def merge_case(self, transfer: MergeTransfer) -> None:
        """Give the survivor the duplicate's people and its customer's messages."""
        full = await asyncio.to_thread(self._with_messages, transfer)
        update_id = f"{transfer.duplicate}:merge-into:{transfer.survivor}"
        await self._ask(transfer.survivor, CaseWorkflow.absorb, full, update_id, "survivor_ended")

    @activity.defn(name=ActivityName.NOTIFY_CHILDREN)
    async def notify_children(self, notice: ParentNotice) -> ChildrenNotified:
        """Signal each child (each ignores a notice it has seen); ended children are skipped."""
        result = ChildrenNotified()
        for child in notice.children:
            try:
                await case_handle(self._client, child).signal(CaseWorkflow.parent_changed, notice)
                result.notified.append(child)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                result.ended.append(child)
        return result

    async def _ask(
        self, number: str, update: Any, request: Any, update_id: str, ended: str
    ) -> None:
        """One update on another case, once by its id; a refusal there is permanent here."""
        try:
            await case_handle(self._client, number).execute_update(update, request, id=update_id)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type:
                raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from None
            raise
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            raise ApplicationError(
                f"{number} does not exist or has ended", type=ended, non_retryable=True
            ) from None

    def _with_messages(self, transfer: MergeTransfer) -> MergeTransfer:
        with transaction(self._sessions, writes=False) as session:
            events = cases.case_messages(session, transfer.duplicate)
        theirs = [
            e for e in events
            if e.data.get("mail_class", "human") == "human" and e.data.get("verified") != "false"
        ]  # fmt: skip
        copied = [
            CopiedMessage(
                key=e.email_key or f"{transfer.duplicate}:{e.seq}:{e.position}",
                at=e.at,
                actor=e.actor,
                summary=e.summary,
                body=e.body[:MERGE_BODY],
                message_id=str(e.data.get("message_id", "")),
            )
            for e in theirs[:MERGE_MESSAGES]
        ]
        omitted = max(0, len(theirs) - MERGE_MESSAGES)
        return dataclasses.replace(transfer, messages=copied, messages_omitted=omitted)

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
