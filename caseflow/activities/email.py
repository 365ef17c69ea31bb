"""The email activity: render, claim in the outbox, send over SMTP, once per business key.

A customer's email speaks the customer's language: their contact's, else the organisation's
default (`caseflow.i18n.choose_language`); agents' emails are in English.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from caseflow import i18n, signing
from caseflow.mail import compose, smtp, verp
from caseflow.settings import Settings
from caseflow.store import directory, messages
from caseflow.store.db import transaction
from caseflow.workflows.model import ActivityName, EmailOutcome, EmailRequest, Recipients


class EmailActivities:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        templates: compose.Templates | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        given = templates or compose.Templates()
        self._directory = given.directory
        # One per language, made when first needed.
        self._templates: dict[str, compose.Templates] = {given.language: given}
        self._smtp = smtp.SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value(),
            starttls=settings.smtp_starttls,
            use_ssl=settings.smtp_ssl,
        )

    @activity.defn(name=ActivityName.SEND_EMAIL)
    def send_email(self, request: EmailRequest) -> EmailOutcome:
        with transaction(self._sessions, writes=False) as session:  # reads only: takes no lock
            entry = messages.outbox_entry(session, request.key)
            if entry is not None and entry.status == messages.SENT:
                activity.logger.info("email %s was already sent", request.key)
                return EmailOutcome()
            recipients = self._recipients(session, request.to)
            references = request.references + messages.recent_message_ids(
                session, request.case_number
            )
            failing = directory.failing_addresses(session, request.to.addresses)
            signature = _signature(session, request.context)
            language = self._language(session, request)
        if not recipients:
            raise ApplicationError(
                f"nobody to send {request.template} to ({request.to})",
                type="InvalidRecipient",
                non_retryable=True,
            )
        if failing:
            # Mail to it bounced; it is tried again once mail from it arrives.
            raise ApplicationError(
                f"not sent: mail to {', '.join(failing)} bounced",
                type="InvalidRecipient",
                non_retryable=True,
            )
        message = self._build(request, recipients, references, signature, language)
        return self._deliver(request, message, recipients)

    def _language(self, session: Session, request: EmailRequest) -> str:
        """A customer's email: the language of the contact it is addressed to first, else the
        default; agents' emails: English."""
        if not request.to.addresses:
            return i18n.ENGLISH
        contact = directory.language_of(session, request.to.addresses[0])
        return i18n.choose_language(contact, None, self._settings.default_language)

    def _templates_in(self, language: str) -> compose.Templates:
        found = self._templates.get(language)
        if found is None:
            found = self._templates.setdefault(
                language, compose.Templates(self._directory, language)
            )
        return found

    def _deliver(
        self, request: EmailRequest, message: EmailMessage, recipients: list[str]
    ) -> EmailOutcome:
        """Send it unless another attempt has sent it or is sending it (the outbox row's claim),
        outside any transaction; withhold it if its address had its `daily_limit` (counted as
        the row is created, one address at a time)."""
        refused: dict[str, tuple[int, bytes]] = {}

        def send() -> None:
            refused.update(self._send_each(request, message))

        limit = None if request.daily_limit is None else messages.SendLimit(request.daily_limit)
        try:
            delivered = messages.send_once_within(
                self._sessions,
                _outbox_row(request, message, recipients),
                send,
                limit,
                permanent=(smtp.PermanentMailError,),
                again_after_failure=True,
            )
        except messages.LimitReached as reached:
            activity.logger.info("email %s withheld: %s", request.key, reached)
            return EmailOutcome(withheld=True, sent=reached.sent, limit=reached.limit)
        except smtp.PermanentMailError as err:
            raise ApplicationError(str(err), type="InvalidRecipient", non_retryable=True) from err
        except smtp.TransientMailError as err:
            activity.logger.warning("email %s not sent yet: %s", request.key, err)
            raise
        except messages.ClaimHeld as err:
            # Retried later: by then the other attempt has sent it, or its claim has expired.
            raise ApplicationError(str(err), type="EmailBeingSent") from err
        if delivered is not messages.Delivery.SENT_NOW:
            activity.logger.info("email %s was already sent", request.key)
        else:
            _record_lateness(request)
        if refused:
            activity.logger.warning("email %s: %d recipients refused", request.key, len(refused))
        return EmailOutcome()

    def _send_each(
        self, request: EmailRequest, message: EmailMessage
    ) -> dict[str, tuple[int, bytes]]:
        """To each recipient of the outbox row in an SMTP transaction of their own, its envelope
        sender naming the email and the recipient (VERP), skipping those an earlier attempt
        handed it over to; each one handed over is recorded at once."""
        with transaction(self._sessions, writes=False) as session:
            entry = messages.outbox_entry(session, request.key)
            recipients = [str(r) for r in entry.recipients] if entry is not None else []
            done = messages.handed_over(session, request.key)
        secret = self._settings.secret_key.get_secret_value()
        sender = self._settings.support_address  # the address it is sent from (`_build`)
        index = {address: i for i, address in enumerate(recipients)}
        envelopes = [
            smtp.Envelope(
                verp.envelope_sender(secret, sender, request.case_number, request.key, i),
                address,
                plain=sender,
            )
            for address, i in index.items()
            if i not in done
        ]

        def handed_over(envelope: smtp.Envelope) -> None:
            with transaction(self._sessions) as session:
                messages.mark_handed_over(session, request.key, index[envelope.recipient])

        try:
            return smtp.send_each(self._smtp, message, envelopes, handed_over)
        except smtp.EveryRecipientRefused:
            if not done:
                raise
            # Sent to the others already: the email stands as sent.
            activity.logger.warning("email %s: %d recipients refused", request.key, len(envelopes))
            return {}

    def _recipients(self, session: Session, to: Recipients) -> list[str]:
        found = list(to.addresses)
        found += directory.agent_emails(session, to.agents)
        found += directory.queue_member_emails(session, to.queues)
        if to.supervisors:
            found += directory.supervisor_emails(session)
        unique: dict[str, None] = {}
        for address in found:
            unique.setdefault(address.strip().lower(), None)
        return [a for a in unique if a]

    def _build(
        self,
        request: EmailRequest,
        recipients: list[str],
        references: list[str],
        signature: dict[str, str],
        language: str = i18n.ENGLISH,
    ) -> EmailMessage:
        s = self._settings
        secret = s.secret_key.get_secret_value()
        links = {
            purpose: f"{s.public_url}/{purpose}/"
            + signing.sign_link(
                secret, signing.LinkClaims(request.case_number, purpose, request.link_episode)
            )
            for purpose in request.link_purposes
        }
        customer_facing = bool(request.to.addresses)
        local, _, domain = s.support_address.partition("@")
        reply_to = ""
        if customer_facing:
            reply_to = f"{local}+{signing.reply_token(secret, request.case_number)}@{domain}"
        outgoing = compose.Outgoing(
            key=request.key,
            case_number=request.case_number,
            template=request.template,
            subject=request.subject,
            sender=s.support_address,
            sender_name=s.support_name,
            recipients=recipients,
            context={
                **request.context,
                **signature,
                "links": links,
                # The case's page for a person (sign-in first), not the API's JSON.
                "case_url": f"{s.public_url}/agent/cases/{request.case_number}",
                # The customer's page of the case (a sign-in link first), in their emails.
                "portal_url": f"{s.public_url}/portal/cases/{request.case_number}",
            },
            date=datetime.now(UTC),
            auto_submitted=request.auto_submitted,
            reply_to=reply_to,
            in_reply_to=request.in_reply_to if customer_facing else "",
            references=_dedupe(references) if customer_facing else [],
        )
        return compose.build(outgoing, self._templates_in(language), s.support_domain)


# From an SLA warning's or failure's due instant to its email handed to the SMTP server.
SLA_LATENESS_METRIC = "caseflow_sla_email_lateness_seconds"
SLA_LATENESS_BUCKETS = [0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0]


def _record_lateness(request: EmailRequest) -> None:
    """An SLA email's lateness, as a worker metric (`CASEFLOW_WORKER_METRICS_ADDRESS`)."""
    due = request.context.get("due_at", "") if request.template.startswith("sla_") else ""
    if not due or not activity.in_activity():  # called as a plain function (tests): no meter
        return
    try:
        due_at = datetime.fromisoformat(due)
    except ValueError:
        return
    if due_at.tzinfo is None:
        due_at = due_at.replace(tzinfo=UTC)
    late = max((datetime.now(UTC) - due_at).total_seconds(), 0.0)
    activity.metric_meter().create_histogram_float(
        SLA_LATENESS_METRIC, "from an SLA warning's or failure's due instant to its email sent", "s"
    ).with_additional_attributes({"template": request.template}).record(late)


def _outbox_row(
    request: EmailRequest, message: EmailMessage, recipients: list[str]
) -> dict[str, object]:
    return {
        "key": request.key,
        "case_number": request.case_number,
        "message_id": message["Message-ID"],
        "template": request.template,
        "audience": "customer" if request.to.addresses else "agents",
        "recipients": recipients,
        "to_address": recipients[0][:320],
        "subject": str(message["Subject"]),
    }


def _signature(session: Session, context: dict[str, str]) -> dict[str, str]:
    """The name an agent's email signs with (`agent_name`): their display name, else the
    handle the workflow put in the context as `agent`."""
    handle = context.get("agent")
    return {"agent_name": directory.agent_name(session, handle)} if handle else {}


def _dedupe(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))
