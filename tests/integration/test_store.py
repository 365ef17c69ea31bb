"""The store on SQLite and PostgreSQL: seed, case numbers, read model, mail, directory."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from caseflow.activities import convert
from caseflow.store import cases, directory, messages, models
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.seed import seed_demo
from caseflow.workflows import lifecycle
from caseflow.workflows.model import (
    CaseContext,
    CaseState,
    CaseStatus,
    CaseTimings,
    Channel,
    KpiName,
    NewCase,
    Priority,
)
from tests.unit.case_factories import T0, act, agent, inbound_email, valid_request

T = TypeVar("T")
GOLD_CUSTOMER = "alice@acme.example"  # Acme Corporation holds the "Acme Gold" entitlement
STANDARD_CUSTOMER = "carol@globex.example"
THREADS = 8


@pytest.fixture
def db(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on this test's seeded database, on SQLite and on PostgreSQL."""
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def write(db: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    with transaction(db) as session:
        return work(session)


def in_threads(work: Callable[[int], T], count: int) -> list[T]:
    """`work(0..count-1)` on THREADS threads that start together; exceptions propagate."""
    barrier = threading.Barrier(min(THREADS, count))

    def started(index: int) -> T:
        if index < barrier.parties:
            barrier.wait(timeout=10)
        return work(index)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(started, range(count)))


def count_rows(db: sessionmaker[Session], model: type[Any]) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# -- cases built by the real lifecycle --------------------------------------------------------


def load_context(session: Session, email: str, channel: Channel, today: date) -> CaseContext:
    """What the `load_case_context` activity gives a new case, read from this database."""
    contact = directory.find_or_create_contact(session, email)
    active = directory.active_entitlement(session, contact, today, str(channel))
    return CaseContext(
        customer=convert.customer(contact),
        entitlement=convert.entitlement(active),
        rules=[convert.routing_rule(r) for r in directory.routing_rules(session)],
        policies=[convert.sla_policy(p) for p in directory.sla_policies(session)],
        default_policy=directory.default_policy_name(session),
        default_queue=directory.DEFAULT_QUEUE,
        timings=CaseTimings(),
    )


def open_case(
    db: sessionmaker[Session],
    origin: str,
    customer: str = GOLD_CUSTOMER,
    *,
    priority: int | None = None,
    now: datetime = T0,
) -> CaseState:
    """A new email case with a freshly allocated number, committed but not yet recorded."""
    email = inbound_email(origin, at=now, sender=customer)
    new = NewCase(
        channel=Channel.EMAIL,
        subject=email.subject,
        description=email.text,
        customer_email=customer,
        priority=priority,
        email=email,
    )
    with transaction(db) as session:
        number = cases.allocate_case_number(session, f"email:{origin}")
        context = load_context(session, customer, Channel.EMAIL, now.date())
    state, effects = lifecycle.create(number, new, context, now)
    lifecycle.commit(state, effects, "customer", "create", now)
    return state


def take_writes(state: CaseState) -> list[cases.CaseWrite]:
    """The pending records of the case as the `record_case` activity converts them."""
    writes = [convert.case_write(record) for record in state.pending_records]
    state.pending_records.clear()
    return writes


def apply(db: sessionmaker[Session], case_write: cases.CaseWrite) -> bool:
    return write(db, lambda session: cases.apply_case_write(session, case_write))


def record(db: sessionmaker[Session], state: CaseState) -> None:
    for case_write in take_writes(state):
        assert apply(db, case_write)


def perform(state: CaseState, action: str, now: datetime, handle: str = "alice") -> None:
    act(state, action, valid_request(action, agent(handle, state.queue)), now)


# -- seed -------------------------------------------------------------------------------------


def test_seed_demo_twice_adds_nothing_the_second_time(db: sessionmaker[Session]) -> None:
    tables = list(models.Base.metadata.tables.values())

    def counts() -> dict[str, int]:
        with db() as session:
            return {
                t.name: session.scalar(select(func.count()).select_from(t)) or 0 for t in tables
            }

    before = counts()  # the fixture seeded once already
    write(db, seed_demo)
    write(db, seed_demo)

    assert counts() == before


def test_seed_demo_creates_the_demo_organisation(db: sessionmaker[Session]) -> None:
    with db() as session:
        accounts = set(session.scalars(select(models.Account.name)))
        gold = session.scalars(select(models.Entitlement)).one()
        queues = set(session.scalars(select(models.Queue.name)))
        calendars = {c.name: c for c in session.scalars(select(models.Calendar))}
        articles = list(session.scalars(select(models.KnowledgeArticle)))
        gold_account = session.get(models.Account, gold.account_id)

    assert accounts == {"Acme Corporation", "Globex"}
    assert gold.total_cases == 15
    assert gold_account is not None and gold_account.name == "Acme Corporation"
    assert queues == {"gold", "standard", "escalations"}
    assert set(calendars) == {"24x7", "business-hours-paris"}
    assert calendars["24x7"].always_open
    assert calendars["business-hours-paris"].timezone == "Europe/Paris"
    assert calendars["business-hours-paris"].hours
    assert len(articles) == 3 and all(a.published and a.body for a in articles)


# -- case numbers -----------------------------------------------------------------------------


def test_case_numbers_are_cas_and_at_least_six_digits(db: sessionmaker[Session]) -> None:
    number = write(db, lambda s: cases.allocate_case_number(s, "api:request-1"))

    assert re.fullmatch(r"CAS-\d{6,}", number)
    assert cases.format_case_number(1) == "CAS-000001"
    assert cases.format_case_number(1_234_567) == "CAS-1234567"
    assert write(db, lambda s: cases.origin_of(s, number)) == "api:request-1"


def test_the_same_origin_gets_the_same_case_number(db: sessionmaker[Session]) -> None:
    first = write(db, lambda s: cases.allocate_case_number(s, "email:<a@example.com>"))
    other = write(db, lambda s: cases.allocate_case_number(s, "email:<b@example.com>"))
    again = write(db, lambda s: cases.allocate_case_number(s, "email:<a@example.com>"))

    assert again == first
    assert other != first
    assert int(other[4:]) > int(first[4:])


def test_concurrent_allocation_gives_one_number_per_origin(db: sessionmaker[Session]) -> None:
    keys = [f"email:<{i}@example.com>" for i in range(50)]
    # Some keys are asked for two or three times at once, by neighbouring threads.
    requests = [key for i, key in enumerate(keys) for _ in range(1 + (i % 3 == 0) + (i % 5 == 0))]

    def allocate(index: int) -> tuple[str, str]:
        key = requests[index]
        return key, write(db, lambda s: cases.allocate_case_number(s, key))

    numbered_before = count_rows(db, models.CaseNumber)
    results = in_threads(allocate, len(requests))

    numbers: dict[str, set[str]] = {}
    for key, number in results:
        numbers.setdefault(key, set()).add(number)
    assert all(len(given) == 1 for given in numbers.values())
    assert len({given.pop() for given in numbers.values()}) == len(keys)
    assert count_rows(db, models.CaseNumber) == numbered_before + len(keys)


# -- the case read model ----------------------------------------------------------------------


def test_applying_the_same_write_twice_changes_nothing_the_second_time(
    db: sessionmaker[Session],
) -> None:
    state = open_case(db, "mail-1")
    (created,) = take_writes(state)

    assert apply(db, created)
    assert not apply(db, created)

    with db() as session:
        assert len(cases.case_events(session, state.number)) == len(created.events)
        assert len(cases.case_audit(session, state.number)) == 1
        assert len(cases.case_sla_instances(session, state.number)) == len(state.kpis)


def test_an_older_write_after_a_newer_one_is_ignored(db: sessionmaker[Session]) -> None:
    state = open_case(db, "mail-1")
    perform(state, "pick", T0 + timedelta(minutes=1))
    created, picked = take_writes(state)

    assert apply(db, created)
    assert apply(db, picked)
    assert not apply(db, created)

    with db() as session:
        case = cases.get_case(session, state.number)
        assert case is not None
        assert (case.status, case.owner, case.last_seq) == ("open", "alice", picked.seq)
        assert [a.seq for a in cases.case_audit(session, state.number)] == [1, 2]


def test_the_audit_entry_records_actor_action_and_changed_fields(
    db: sessionmaker[Session],
) -> None:
    state = open_case(db, "mail-1")
    record(db, state)
    perform(state, "pick", T0 + timedelta(minutes=1), handle="bob")
    record(db, state)

    with db() as session:
        created, picked = cases.case_audit(session, state.number)

    assert (created.actor, created.action) == ("customer", "create")
    assert created.changes["status"] == {"from": None, "to": "new"}
    assert created.changes["queue"] == {"from": None, "to": "gold"}
    assert (picked.actor, picked.action) == ("bob", "pick")
    assert picked.changes["status"] == {"from": "new", "to": "open"}
    assert picked.changes["owner"] == {"from": None, "to": "bob"}
    assert "queue" not in picked.changes and "priority" not in picked.changes
    assert picked.at == T0 + timedelta(minutes=1)


def test_case_events_come_back_in_the_order_they_happened(db: sessionmaker[Session]) -> None:
    state = open_case(db, "mail-1")
    for minutes, action in enumerate(["pick", "note", "reply", "resolve"], start=1):
        perform(state, action, T0 + timedelta(minutes=minutes))
    writes = take_writes(state)
    for case_write in writes:
        apply(db, case_write)

    with db() as session:
        events = cases.case_events(session, state.number)

    expected = [(w.seq, position, e["kind"]) for w in writes for position, e in enumerate(w.events)]
    assert [(e.seq, e.position, e.kind) for e in events] == expected
    assert [e.kind for e in events][:2] == ["created", "email_in"]
    assert events[-1].kind == "resolved"


def test_sla_instances_are_updated_in_place(db: sessionmaker[Session]) -> None:
    state = open_case(db, "mail-1")
    record(db, state)
    with db() as session:
        before = {i.kpi: (i.id, i.status) for i in cases.case_sla_instances(session, state.number)}

    perform(state, "pick", T0 + timedelta(minutes=1))
    perform(state, "reply", T0 + timedelta(minutes=2))  # the first response stops its clock
    record(db, state)

    with db() as session:
        after = {i.kpi: i for i in cases.case_sla_instances(session, state.number)}
    first = after[str(KpiName.FIRST_RESPONSE)]
    assert set(after) == set(before)
    assert {kpi: row.id for kpi, row in after.items()} == {k: v[0] for k, v in before.items()}
    assert before[str(KpiName.FIRST_RESPONSE)][1] == "in_progress"
    assert first.status == "succeeded"
    assert first.stopped_at == T0 + timedelta(minutes=2)
    assert first.met_by_seconds is not None and first.met_by_seconds > 0


def test_the_read_model_keeps_times_in_utc(db: sessionmaker[Session]) -> None:
    state = open_case(db, "mail-1")
    record(db, state)

    with db() as session:
        case = cases.get_case(session, state.number)
        (instance, *_) = cases.case_sla_instances(session, state.number)

    assert case is not None
    assert case.created_at == T0 and case.created_at.tzinfo is UTC
    assert case.sla_due_at is not None and case.sla_due_at.tzinfo is UTC
    assert instance.started_at == T0


# -- inbound messages -------------------------------------------------------------------------

RAW = (
    b"From: Ada <ada@example.com>\r\nSubject: Printer\r\nMessage-ID: <p1@example.com>\r\n\r\nHi\r\n"
)
RAW_SHA = hashlib.sha256(RAW).hexdigest()


def facts(key: str = "<p1@example.com>", sha: str = RAW_SHA) -> messages.InboundFacts:
    return messages.InboundFacts(
        dedup_key=key,
        mailbox="support@caseflow.test",
        raw_sha256=sha,
        message_id=key,
        sender="ada@example.com",
        subject="Printer",
        mail_class="human",
    )


def claim(db: sessionmaker[Session], key: str) -> models.InboundMessage:
    with transaction(db) as session:
        return messages.claim_inbound(session, facts(key))


def test_storing_the_same_raw_message_twice_keeps_one_copy(db: sessionmaker[Session]) -> None:
    in_threads(lambda _: write(db, lambda s: messages.store_raw(s, RAW_SHA, RAW)), THREADS * 4)
    write(db, lambda s: messages.store_raw(s, RAW_SHA, RAW))

    assert count_rows(db, models.RawMessage) == 1
    assert write(db, lambda s: messages.raw_message(s, RAW_SHA)) == RAW
    assert write(db, lambda s: messages.raw_message(s, "0" * 64)) is None


def test_claiming_the_same_message_twice_gives_one_row(db: sessionmaker[Session]) -> None:
    first = write(db, lambda s: messages.claim_inbound(s, facts()).id)
    second = write(db, lambda s: messages.claim_inbound(s, facts()).id)

    assert first == second
    assert count_rows(db, models.InboundMessage) == 1


def test_claiming_the_same_message_from_many_threads_gives_one_row(
    db: sessionmaker[Session],
) -> None:
    def claim(index: int) -> int:
        return write(db, lambda s: messages.claim_inbound(s, facts(f"<m{index % 2}@x>")).id)

    ids = in_threads(claim, THREADS * 2)

    assert len(set(ids)) == 2
    assert count_rows(db, models.InboundMessage) == 2


def test_a_claimed_message_moves_to_delivered_quarantined_or_ignored(
    db: sessionmaker[Session],
) -> None:
    for key in ("<a@x>", "<b@x>", "<c@x>"):
        assert claim(db, key).status == "received"

    write(db, lambda s: messages.mark_delivered(s, "<a@x>", "CAS-000001", "in-reply-to"))
    write(db, lambda s: messages.mark_quarantined(s, "<b@x>", "no sender address"))
    write(db, lambda s: messages.mark_ignored(s, "<c@x>", "auto-reply"))

    with db() as session:
        rows = {r.dedup_key: r for r in session.scalars(select(models.InboundMessage))}
    delivered, quarantined, ignored = rows["<a@x>"], rows["<b@x>"], rows["<c@x>"]
    assert (delivered.status, delivered.case_number, delivered.threaded_by) == (
        "delivered",
        "CAS-000001",
        "in-reply-to",
    )
    assert delivered.delivered_at is not None and delivered.delivered_at.tzinfo is UTC
    assert (quarantined.status, quarantined.reason) == ("quarantined", "no sender address")
    assert (ignored.status, ignored.reason) == ("ignored", "auto-reply")


def test_quarantined_messages_are_listed_with_their_reasons(db: sessionmaker[Session]) -> None:
    reasons = {"<a@x>": "no From header", "<b@x>": "message too large", "<c@x>": ""}
    for key, reason in reasons.items():
        claim(db, key)
        if reason:
            with transaction(db) as session:
                messages.mark_quarantined(session, key, reason)
    write(db, lambda s: messages.mark_quarantined(s, "<unknown@x>", "never claimed"))

    listed = write(db, messages.quarantined_messages)

    assert {m.dedup_key: m.reason for m in listed} == {
        "<a@x>": "no From header",
        "<b@x>": "message too large",
    }


# -- outbox -----------------------------------------------------------------------------------


def outgoing(key: str, message_id: str, audience: str = "customer") -> dict[str, Any]:
    return {
        "key": key,
        "case_number": "CAS-000042",
        "message_id": message_id,
        "template": "acknowledgement",
        "audience": audience,
        "recipients": ["ada@example.com"],
        "subject": "[CAS-000042] Printer",
    }


def test_adding_the_same_email_to_the_outbox_twice_keeps_one_row(
    db: sessionmaker[Session],
) -> None:
    values = outgoing("CAS-000042:ack", "<ack-42@caseflow.test>")
    write(db, lambda s: messages.add_to_outbox(s, values))
    again = write(db, lambda s: messages.add_to_outbox(s, values | {"subject": "changed"}))

    assert again.subject == "[CAS-000042] Printer"
    assert again.status == "pending"
    assert count_rows(db, models.OutboundEmail) == 1


def test_adding_the_same_email_to_the_outbox_from_many_threads_keeps_one_row(
    db: sessionmaker[Session],
) -> None:
    values = outgoing("CAS-000042:ack", "<ack-42@caseflow.test>")

    keys = in_threads(lambda _: write(db, lambda s: messages.add_to_outbox(s, values).key), THREADS)

    assert set(keys) == {"CAS-000042:ack"}
    assert count_rows(db, models.OutboundEmail) == 1


def test_a_sent_email_is_marked_sent(db: sessionmaker[Session]) -> None:
    sent_at = T0 + timedelta(seconds=3)
    write(db, lambda s: messages.add_to_outbox(s, outgoing("k1", "<m1@caseflow.test>")))
    write(db, lambda s: messages.mark_failed(s, "k1", "421 try again later"))
    write(db, lambda s: messages.mark_sent(s, "k1", sent_at))

    row = write(db, lambda s: messages.outbox_entry(s, "k1"))
    assert row is not None
    assert (row.status, row.sent_at, row.error) == ("sent", sent_at, "")
    assert write(db, lambda s: messages.recent_message_ids(s, "CAS-000042")) == [
        "<m1@caseflow.test>"
    ]


def claim_email(
    db: sessionmaker[Session], key: str, now: datetime = T0, *, again_after_failure: bool = False
) -> str | None:
    return write(
        db,
        lambda s: messages.claim_email(
            s, key, now, messages.CLAIM_LEASE, again_after_failure=again_after_failure
        ),
    )


def test_of_many_attempts_claiming_one_email_at_once_exactly_one_wins(
    db: sessionmaker[Session],
) -> None:
    write(db, lambda s: messages.add_to_outbox(s, outgoing("k1", "<m1@caseflow.test>")))

    tokens = in_threads(lambda _: claim_email(db, "k1"), THREADS)

    assert len([t for t in tokens if t is not None]) == 1
    row = write(db, lambda s: messages.outbox_entry(s, "k1"))
    assert row is not None and row.status == "sending"
    assert row.claimed_until == T0 + messages.CLAIM_LEASE


def test_a_claim_held_refuses_others_until_it_expires(db: sessionmaker[Session]) -> None:
    write(db, lambda s: messages.add_to_outbox(s, outgoing("k1", "<m1@caseflow.test>")))
    first = claim_email(db, "k1")

    during = claim_email(db, "k1", T0 + messages.CLAIM_LEASE - timedelta(seconds=1))
    after = claim_email(db, "k1", T0 + messages.CLAIM_LEASE + timedelta(seconds=1))

    assert first is not None and during is None
    assert after is not None and after != first


def test_a_released_claim_is_taken_again_at_once_and_an_old_token_releases_nothing(
    db: sessionmaker[Session],
) -> None:
    write(db, lambda s: messages.add_to_outbox(s, outgoing("k1", "<m1@caseflow.test>")))
    first = claim_email(db, "k1")
    assert first is not None
    write(db, lambda s: messages.release_claim(s, "k1", first, "421 try later"))
    second = claim_email(db, "k1")
    assert second is not None

    write(db, lambda s: messages.release_claim(s, "k1", first, "late"))  # not its claim now

    row = write(db, lambda s: messages.outbox_entry(s, "k1"))
    assert row is not None and (row.status, row.claim, row.error) == (
        "sending",
        second,
        "421 try later",
    )


def test_a_sent_email_is_claimed_no_more_and_a_failed_one_only_when_asked(
    db: sessionmaker[Session],
) -> None:
    write(db, lambda s: messages.add_to_outbox(s, outgoing("sent", "<m1@caseflow.test>")))
    write(db, lambda s: messages.add_to_outbox(s, outgoing("failed", "<m2@caseflow.test>")))
    write(db, lambda s: messages.mark_sent(s, "sent", T0))
    write(db, lambda s: messages.mark_failed(s, "failed", "550 no such user"))

    assert claim_email(db, "sent", again_after_failure=True) is None
    assert claim_email(db, "failed") is None
    assert claim_email(db, "failed", again_after_failure=True) is not None


def test_a_reply_finds_its_case_by_one_of_our_message_ids(db: sessionmaker[Session]) -> None:
    write(db, lambda s: messages.add_to_outbox(s, outgoing("k1", "<ours@caseflow.test>")))
    notice = outgoing("k2", "<notice@caseflow.test>", audience="agents")
    write(db, lambda s: messages.add_to_outbox(s, notice))

    def find(ids: list[str]) -> str | None:
        return write(db, lambda s: messages.case_by_message_ids(s, ids))

    assert find(["<theirs@example.com>", "<ours@caseflow.test>"]) == "CAS-000042"
    assert find(["<notice@caseflow.test>"]) is None  # agents' notices do not thread
    assert find(["<unknown@example.com>", ""]) is None
    assert find([]) is None


# -- listing cases ----------------------------------------------------------------------------


@pytest.fixture
def listed_cases(db: sessionmaker[Session]) -> dict[str, str]:
    """Five recorded cases in different states, queues, owners, customers and priorities."""
    gold_urgent = open_case(db, "m1", priority=Priority.CRITICAL)
    gold_late = open_case(db, "m2", now=T0 + timedelta(minutes=1))
    standard = open_case(db, "m3", STANDARD_CUSTOMER, now=T0 + timedelta(minutes=2))
    picked = open_case(
        db, "m4", STANDARD_CUSTOMER, priority=Priority.LOW, now=T0 + timedelta(minutes=3)
    )
    resolved = open_case(db, "m5", now=T0 + timedelta(minutes=4))
    perform(picked, "pick", T0 + timedelta(minutes=5), handle="bob")
    for minutes, action in enumerate(["pick", "reply", "resolve"], start=5):
        perform(resolved, action, T0 + timedelta(minutes=minutes))
    late = T0 + timedelta(minutes=12)  # past the gold policy's 10-minute first-response warning
    for action, effects in lifecycle.fire_timers(gold_late, late):
        lifecycle.commit(gold_late, effects, "system", action, late)
    named = {
        "gold_urgent": gold_urgent,
        "gold_late": gold_late,
        "standard": standard,
        "picked": picked,
        "resolved": resolved,
    }
    for state in named.values():
        record(db, state)
    return {name: state.number for name, state in named.items()}


def listed(
    db: sessionmaker[Session], filters: cases.CaseFilter, limit: int = 50, offset: int = 0
) -> tuple[list[str], int]:
    with db() as session:
        rows, total = cases.list_cases(session, filters, limit, offset)
    return [row.number for row in rows], total


def test_cases_are_filtered_by_state_queue_and_owner(
    db: sessionmaker[Session], listed_cases: dict[str, str]
) -> None:
    n = listed_cases
    new = {n["gold_urgent"], n["gold_late"], n["standard"]}

    assert set(listed(db, cases.CaseFilter(status=["new"]))[0]) == new
    resolved_or_open = cases.CaseFilter(status=[str(CaseStatus.RESOLVED), "open"])
    assert set(listed(db, resolved_or_open)[0]) == {n["resolved"], n["picked"]}
    gold = {n["gold_urgent"], n["gold_late"], n["resolved"]}
    assert set(listed(db, cases.CaseFilter(queue="gold"))[0]) == gold
    assert listed(db, cases.CaseFilter(owner="bob")) == ([n["picked"]], 1)
    assert listed(db, cases.CaseFilter(queue="escalations")) == ([], 0)


def test_cases_are_filtered_by_customer_priority_and_sla_status(
    db: sessionmaker[Session], listed_cases: dict[str, str]
) -> None:
    n = listed_cases

    carol = set(listed(db, cases.CaseFilter(customer=STANDARD_CUSTOMER.upper()))[0])
    assert carol == {n["standard"], n["picked"]}
    assert listed(db, cases.CaseFilter(priority=Priority.CRITICAL)) == ([n["gold_urgent"]], 1)
    nearing = cases.CaseFilter(sla_status="nearing_noncompliance")
    assert listed(db, nearing) == ([n["gold_late"]], 1)
    both = cases.CaseFilter(queue="gold", status=["new"], sla_status="in_progress")
    assert listed(db, both) == ([n["gold_urgent"]], 1)


def test_cases_are_found_by_a_part_of_their_number_subject_or_customer(
    db: sessionmaker[Session], listed_cases: dict[str, str]
) -> None:
    n = listed_cases

    def found(text: str) -> set[str]:
        return set(listed(db, cases.CaseFilter(search=text))[0])

    assert found(n["picked"].lower()) == {n["picked"]}
    assert found(STANDARD_CUSTOMER.split("@")[0].upper()) == {n["standard"], n["picked"]}
    assert found("%") == found("_") == set()  # LIKE's wildcards are the characters themselves
    with db() as session:
        subject = cases.get_case(session, n["standard"]).subject  # type: ignore[union-attr]
    assert n["standard"] in found(subject[2:-2].swapcase())


def test_cases_are_paged_by_priority_then_age(
    db: sessionmaker[Session], listed_cases: dict[str, str]
) -> None:
    everything, total = listed(db, cases.CaseFilter())
    pages = [listed(db, cases.CaseFilter(), limit=2, offset=offset) for offset in (0, 2, 4, 6)]

    assert total == 5
    assert everything[0] == listed_cases["gold_urgent"]
    assert everything[-1] == listed_cases["picked"]  # low priority after the normal ones
    assert [numbers for numbers, _ in pages] == [
        everything[0:2],
        everything[2:4],
        everything[4:],
        [],
    ]
    assert {t for _, t in pages} == {5}


# -- directory --------------------------------------------------------------------------------


def add_entitlement(db: sessionmaker[Session], **values: Any) -> int:
    def add(session: Session) -> int:
        row = models.Entitlement(**values)
        session.add(row)
        session.flush()
        return row.id

    return write(db, add)


def contact(session: Session, email: str) -> models.Contact:
    found = session.scalar(select(models.Contact).where(models.Contact.email == email))
    assert found is not None
    return found


def entitlement_name(db: sessionmaker[Session], email: str, channel: str = "email") -> str | None:
    def find(session: Session) -> str | None:
        active = directory.active_entitlement(session, contact(session, email), T0.date(), channel)
        return active.entitlement.name if active else None

    return write(db, find)


def test_a_contact_is_entitled_through_its_account(db: sessionmaker[Session]) -> None:
    with db() as session:
        active = directory.active_entitlement(
            session, contact(session, "bob@acme.example"), T0.date(), "email"
        )

    assert active is not None
    assert active.entitlement.name == "Acme Gold"
    assert active.remaining == 15
    assert active.entitlement.sla_policy is not None
    assert active.entitlement.sla_policy.name == "gold"


def test_an_entitlement_of_the_contact_itself_comes_before_its_accounts(
    db: sessionmaker[Session],
) -> None:
    with db() as session:
        alice = contact(session, GOLD_CUSTOMER).id
    add_entitlement(db, name="Alice Personal", contact_id=alice, total_cases=2)

    assert entitlement_name(db, GOLD_CUSTOMER) == "Alice Personal"
    assert entitlement_name(db, "bob@acme.example") == "Acme Gold"
    assert entitlement_name(db, STANDARD_CUSTOMER) is None


def test_expired_future_and_wrong_channel_entitlements_are_not_active(
    db: sessionmaker[Session],
) -> None:
    with db() as session:
        globex = contact(session, STANDARD_CUSTOMER).account_id
    today = T0.date()
    add_entitlement(db, name="Expired", account_id=globex, ends_on=today - timedelta(days=1))
    add_entitlement(db, name="Future", account_id=globex, starts_on=today + timedelta(days=1))
    add_entitlement(db, name="Phone only", account_id=globex, channels=["phone"])

    assert entitlement_name(db, STANDARD_CUSTOMER) is None
    assert entitlement_name(db, STANDARD_CUSTOMER, "phone") == "Phone only"

    add_entitlement(db, name="Last day", account_id=globex, starts_on=today, ends_on=today)
    assert entitlement_name(db, STANDARD_CUSTOMER) == "Last day"


def test_resolving_an_entitled_case_uses_one_case_of_the_entitlement(
    db: sessionmaker[Session],
) -> None:
    state = open_case(db, "mail-1")
    for minutes, action in enumerate(["pick", "reply", "resolve"], start=1):
        perform(state, action, T0 + timedelta(minutes=minutes))
    writes = take_writes(state)
    for case_write in writes:
        apply(db, case_write)
    resolved = writes[-1]
    apply(db, resolved)  # a retried activity counts once
    apply(db, dataclasses.replace(resolved, seq=resolved.seq + 1, events=[]))  # so does its key

    def remaining(session: Session) -> int | None:
        gold = session.scalars(select(models.Entitlement)).one()
        return directory.remaining_cases(session, gold)

    assert [u["delta"] for u in resolved.entitlement_uses] == [-1]
    assert count_rows(db, models.EntitlementUse) == 1
    assert write(db, remaining) == 14
    assert state.entitlement is not None and state.entitlement.name == "Acme Gold"


def test_unlimited_entitlements_have_no_remaining_count(db: sessionmaker[Session]) -> None:
    entitlement_id = add_entitlement(db, name="Unlimited", total_cases=None)

    def remaining(session: Session) -> int | None:
        row = session.get(models.Entitlement, entitlement_id)
        assert row is not None
        return directory.remaining_cases(session, row)

    assert write(db, remaining) is None


def test_creating_an_agent_in_an_unknown_queue_writes_nothing(db: sessionmaker[Session]) -> None:
    agents = count_rows(db, models.Agent)

    with pytest.raises(LookupError, match="nowhere"):
        write(
            db,
            lambda s: directory.create_agent(
                s, "dave", "dave@caseflow.test", "agent", ["gold", "nowhere"], "f" * 64
            ),
        )

    assert count_rows(db, models.Agent) == agents
    assert count_rows(db, models.QueueMember) == 0


def test_a_created_agent_is_found_by_token_and_queue(db: sessionmaker[Session]) -> None:
    write(
        db,
        lambda s: directory.create_agent(
            s, "dave", "Dave@Caseflow.test", "agent", ["gold", "escalations"], "e" * 64
        ),
    )

    with db() as session:
        dave = directory.agent_by_token_hash(session, "e" * 64)
        members = directory.queue_member_emails(session, ["escalations"])
    assert dave is not None
    assert (dave.handle, dave.email) == ("dave", "dave@caseflow.test")
    assert {q.name for q in dave.queues} == {"gold", "escalations"}
    assert members == ["dave@caseflow.test"]
