"""Which messages of a batch the intake takes in one after the other."""

from __future__ import annotations

from caseflow.intake.ordering import Identity, chains, identity
from tests.unit.emails import message


def test_one_senders_messages_form_one_chain_in_arrival_order() -> None:
    found = [Identity("ada@x.example", "<1@x>"), Identity("bob@y.example", "<2@y>")]
    found.append(Identity("ada@x.example", "<3@x>"))

    assert chains(found) == [[0, 2], [1]]


def test_a_reply_joins_the_chain_of_the_message_it_refers_to() -> None:
    found = [
        Identity("ada@x.example", "<1@x>"),
        Identity("bob@y.example", "<2@y>", refers_to=("<1@x>",)),
        Identity("cy@z.example", "<3@z>", refers_to=("<9@elsewhere>",)),
    ]

    assert chains(found) == [[0, 1], [2]]


def test_identity_reads_the_header_alone_and_lower_cases_the_sender() -> None:
    raw = message(
        sender="Ada <Ada@X.Example>",
        message_id="<m2@X.EXAMPLE>",
        headers=[("In-Reply-To", "<m1@x.example>")],
    )

    assert identity(raw) == Identity("ada@x.example", "<m2@x.example>", ("<m1@x.example>",))


def test_an_unreadable_header_orders_by_nothing() -> None:
    assert identity(b"\x89PNG\r\n\x1a\r\n") == Identity("", "")
    assert chains([Identity("", ""), Identity("", "")]) == [[0], [1]]
