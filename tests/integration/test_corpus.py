"""Every message of the shared corpus (real mail written elsewhere) through the real intake.

Zero crashes, zero messages left in INBOX, zero acknowledgements to automatic senders and zero
cases opened by them: every message ends in exactly one of case, event, noise, quarantine,
refused. The test prints that table per category. The corpus is read where it lies
(`CASEFLOW_CORPUS`, or ../shared/corpus beside the clone) and never copied into the repository.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from caseflow.intake.parse import MalformedEmail, parse
from caseflow.intake.service import Intake
from caseflow.settings import Settings
from caseflow.store.db import transaction
from caseflow.store.models import InboundMessage
from tests.support.dovecot import Dovecot, reading
from tests.support.harness import Harness, running_worker
from tests.support.servers import SmtpSink
from tests.unit.emails import CORPUS

pytestmark = [pytest.mark.dovecot, pytest.mark.slow]
AUTOMATIC = {"bounce", "auto-reply", "abuse-report", "complaints"}
MAX_PASSES = 8
ENDS = ("cases", "events", "noise", "quarantined", "refused")


@dataclass(frozen=True)
class Sample:
    path: Path
    category: str
    raw: bytes


def corpus() -> list[Sample]:
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        pytest.skip(f"no corpus at {CORPUS} (set CASEFLOW_CORPUS)")
    samples = []
    for line in manifest.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _size, _sha, category, *_ = line.split("\t")
        path = CORPUS / name
        # As an MTA delivers it: CRLF line ends (the files use LF), so IMAP keeps the bytes.
        raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        samples.append(Sample(path, category.split("(")[0], raw))
    return samples


def sender_of(raw: bytes) -> str:
    for line in raw.split(b"\n\n", 1)[0].replace(b"\r", b"").split(b"\n"):
        if line.lower().startswith(b"from:"):
            return email.utils.parseaddr(line[5:].decode("latin-1"))[1].lower()
    return ""


@pytest.fixture
async def desk(
    dovecot: Dovecot, dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[tuple[Harness, Settings, str]]:
    address = dovecot.new_user()
    mine = reading(dovecot, settings, address)
    async with running_worker(dev_env.client, mine, smtp_sink) as harness:
        yield harness, mine, address


async def test_every_corpus_message_goes_through_the_intake_without_harm(
    desk: tuple[Harness, Settings, str], dovecot: Dovecot, dev_env: WorkflowEnvironment
) -> None:
    harness, settings, address = desk
    samples = corpus()
    appended: dict[str, Sample] = {}
    with dovecot.connect(address) as imap:
        for sample in samples:
            imap.append("INBOX", sample.raw)
            appended[sample.path.name] = sample

    intake = Intake(settings, harness.sessions, dev_env.client)
    await asyncio.to_thread(intake.mailbox.connect)
    try:
        for _ in range(MAX_PASSES):
            await intake.drain()
            if dovecot.count(address, "INBOX") == 0:
                break
    finally:
        await asyncio.to_thread(intake.mailbox.close)

    assert dovecot.count(address, "INBOX") == 0, "messages were left in INBOX"
    table = outcome_table(harness, samples)
    print("\n" + render(table))  # noqa: T201
    automatic_senders = {sender_of(s.raw) for s in samples if s.category in AUTOMATIC} - {""}
    await harness.settled()  # acknowledgements are sent by the worker: each case has sent its own
    acknowledged = {
        r.lower() for rcpts, m in harness.sink.messages if m["Auto-Submitted"] == "auto-replied"
        for r in rcpts
    }  # fmt: skip
    wrongly = sorted(acknowledged & automatic_senders)
    assert not wrongly, f"acknowledged automatic senders: {wrongly}"
    opened = sum(table[category]["cases"] for category in AUTOMATIC)
    assert opened == 0, f"automatic senders opened {opened} cases"
    # Each stored message ended as a case or an event (delivered), noise, quarantined or
    # refused; a sample the IMAP server stored rewritten is among them, matched or not.
    with transaction(harness.sessions) as session:
        statuses = Counter(session.scalars(select(InboundMessage.status)))
    assert set(statuses) <= {"delivered", "noise", "quarantined", "refused"}, statuses


def outcome_table(harness: Harness, samples: list[Sample]) -> dict[str, Counter[str]]:
    """category → how its messages ended: case, event (on an existing case), quarantined, ..."""
    with transaction(harness.sessions) as session:
        rows = list(session.scalars(select(InboundMessage)))
    by_sha = {row.raw_sha256: row for row in rows}
    by_message_id = {row.message_id: row for row in rows if row.message_id}
    first_of_case: dict[str, int] = {}
    for stored in sorted(rows, key=lambda r: r.id):
        if stored.case_number:
            first_of_case.setdefault(stored.case_number, stored.id)
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for sample in samples:
        # The IMAP server may rewrite a hostile message's bytes (NUL, bare CR): then match it
        # by its Message-ID.
        row = by_sha.get(hashlib.sha256(sample.raw).hexdigest()) or by_message_id.get(
            message_id_of(sample.raw)
        )
        if row is None:
            table[sample.category]["stored differently"] += 1
        elif row.status in ("quarantined", "noise", "refused"):
            table[sample.category][row.status] += 1
        elif row.case_number and first_of_case[row.case_number] == row.id:
            table[sample.category]["cases"] += 1
        elif row.case_number:
            table[sample.category]["events"] += 1
        else:
            table[sample.category][row.status] += 1
    return table


def message_id_of(raw: bytes) -> str:
    try:
        return parse(raw).message_id
    except MalformedEmail:
        return ""


def render(table: dict[str, Counter[str]]) -> str:
    columns = [*ENDS, "stored differently"]
    lines = [f"{'category':<14}" + "".join(f"{c:>13}" for c in columns)]
    for category in sorted(table):
        counts = table[category]
        lines.append(f"{category:<14}" + "".join(f"{counts[c]:>13}" for c in columns))
    return "\n".join(lines)
