"""The judge of a customer's reply to a resolved case, in English, Italian, Portuguese, German,
French and Spanish: thanks and "it works" leave the case resolved; a problem that persists, a
question, anything else or nothing at all reopens it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from caseflow.workflows.lifecycle import ReplyVerdict, judge_reply
from caseflow.workflows.model import AttachmentNote, InboundEmail
from tests.unit.case_factories import inbound_email

CASE_SUBJECT = "Printer on fire"
REPLY_SUBJECT = f"Re: [CAS-000123] Proposed resolution: {CASE_SUBJECT}"
NAMES = ("Ada Lovelace", "alice")  # the sender's name and the case owner's handle


def reply(text: str, subject: str = REPLY_SUBJECT) -> InboundEmail:
    return inbound_email("mail-2", subject=subject, text=text)


def verdict_on(text: str, subject: str = REPLY_SUBJECT) -> ReplyVerdict:
    return judge_reply(reply(text, subject), CASE_SUBJECT, NAMES)


THANKS_ONLY = [
    # English
    "Thanks!!",
    "Thank u so much!! :)",
    "Perfect, thank you very much for your help.",
    "Thanks again!\nSent from my iPhone",
    "No worries, thanks!",
    "Thanks, Ada",
    # Italian
    "Perfetto, grazie!",
    "Grazie ancora!",
    # Portuguese
    "Muito obrigado pela ajuda!",
    # German
    "Super, danke schön!",
    # French
    "Parfait, merci encore !",
    # Spanish
    "Perfecto, mil gracias",
]

SAYS_IT_WORKS = [
    # English
    "Thank you, it works now!",
    "All sorted, cheers",
    "Hi Alice,\nthanks a lot, it works perfectly now!\n\nBest regards,\nAda Lovelace\n"
    "Head of IT, Acme Corp\n+44 20 1234 5678",
    "It's working again. Thanks!\n-- \nAda Lovelace\nNot the intended recipient? Delete this.",
    # Italian
    "Grazie, ora funziona",
    "Grazie mille, tutto risolto. Cordiali saluti",
    "Ciao Alice,\ngrazie mille, adesso funziona.\nUn saluto\nGiulia",
    # Portuguese
    "Obrigado, funcionou",
    "Muito obrigada! Tudo certo.",
    "Olá,\nObrigado, funcionou perfeitamente!\nAbraços\nJoão",
    # German
    "Danke, funktioniert jetzt",
    "Vielen Dank für die schnelle Hilfe! Es funktioniert wieder.",
    "Sehr geehrte Damen und Herren,\nvielen Dank, es funktioniert jetzt.\n"
    "Mit freundlichen Grüßen\nMax Mustermann",
    # French
    "Merci, ça marche",
    "Merci beaucoup pour votre aide, tout fonctionne.",
    "Bonjour,\nMerci beaucoup, ça marche !\nCordialement,\nJean Dupont",
    # Spanish
    "Gracias, ya funciona",
    "Muchas gracias, problema resuelto. Saludos",
    "Hola Alice,\n¡Muchas gracias! Ya funciona.\nSaludos,\nCarlos",
]

STILL_FAILS = [
    # English
    "Thanks, but it still fails.",
    "It doesn't work",
    "It broke again this morning.",
    "Thanks for the fix. The scanner does not scan.",
    "Thanks!\nBut it still fails.",
    "Thanks!\nStill Broken",
    # Italian
    "Non funziona",
    "Grazie, ma non funziona ancora",
    "Grazie, purtroppo il problema si ripresenta",
    # Portuguese
    "Não funciona",
    "Obrigado, mas ainda não funciona",
    "Voltou a dar erro",
    # German
    "Funktioniert nicht",
    "Danke, aber es geht immer noch nicht",
    "Leider kommt der Fehler wieder.",
    # French
    "Ça ne marche pas",
    "Merci, mais ça ne fonctionne pas",
    "Merci, mais ça plante encore",
    "Le problème est toujours là",
    # Spanish
    "No funciona",
    "Gracias, pero todavía falla",
    "Sigue sin funcionar, otra vez",
]

ASKS = [
    # English
    "Thanks! One more question: how do I export to PDF?",
    "Thanks. Also how do I export to PDF",
    "Thanks?",
    # Italian
    "Grazie, ma ho un'altra domanda",
    "Grazie. Come faccio a esportare in PDF?",
    # Portuguese
    "Obrigada! Uma pergunta: como exporto para PDF?",
    # German
    "Danke! Wie kann ich das als PDF exportieren?",
    "Danke, noch eine Frage: geht das auch als PDF",
    # French
    "Merci ! Comment exporter en PDF ?",
    # Spanish
    "Gracias. ¿Cómo exporto a PDF?",
]

SAYS_MORE = [
    "Thanks, the printer works but the tray is stuck",
    "Is it fixed",
    "Grazie, la stampante adesso stampa tutto in rosa",
    "Obrigado, a impressora agora imprime tudo em rosa",
    "Danke, der Drucker druckt jetzt alles rosa",
    "Merci, l'imprimante imprime tout en rose maintenant",
    "Gracias, la impresora ahora imprime todo en rosa",
    "Thanks,\nplease also add bob@example.com",
]


@pytest.mark.parametrize("text", THANKS_ONLY)
def test_a_thank_you_leaves_the_case_resolved(text: str) -> None:
    assert verdict_on(text) == ReplyVerdict(reopen=False, reason="thanks only")


@pytest.mark.parametrize("text", SAYS_IT_WORKS)
def test_saying_it_works_leaves_the_case_resolved(text: str) -> None:
    assert verdict_on(text) == ReplyVerdict(reopen=False, reason="says it works")


@pytest.mark.parametrize("text", STILL_FAILS)
def test_saying_it_still_fails_reopens_the_case(text: str) -> None:
    assert verdict_on(text) == ReplyVerdict(reopen=True, reason="says it still fails")


@pytest.mark.parametrize("text", ASKS)
def test_a_question_reopens_the_case(text: str) -> None:
    assert verdict_on(text) == ReplyVerdict(reopen=True, reason="asks a new question")


@pytest.mark.parametrize("text", SAYS_MORE)
def test_words_beyond_thanks_reopen_the_case(text: str) -> None:
    assert verdict_on(text) == ReplyVerdict(reopen=True, reason="says more than thanks")


@pytest.mark.parametrize("text", ["", "  \n\n ", "> Thanks!\n> It works", "👍", "-- \nAda"])
def test_a_reply_with_nothing_to_judge_reopens_the_case(text: str) -> None:
    assert verdict_on(text) == ReplyVerdict(reopen=True, reason="nothing to judge")


def test_more_than_a_couple_of_short_sentences_reopens_even_when_all_thanks() -> None:
    text = "Thank you! It works. Thanks again for the quick help. Have a great weekend."

    assert verdict_on(text) == ReplyVerdict(reopen=True, reason="writes at length")


def test_a_reply_longer_than_its_excerpt_reopens_the_case() -> None:
    email = replace(reply("Thanks, it works!"), text_length=4_000)

    assert judge_reply(email, CASE_SUBJECT, NAMES).reason == "writes at length"


def test_an_attachment_reopens_the_case_whatever_the_words() -> None:
    email = replace(reply("Thanks!"), attachments=[AttachmentNote("screenshot.png", 2_048)])
    omitted = replace(reply("Thanks!"), attachments_omitted=1)

    assert judge_reply(email, CASE_SUBJECT, NAMES).reason == "sends attachments"
    assert judge_reply(omitted, CASE_SUBJECT, NAMES).reopen


def test_the_history_quoted_below_the_reply_is_not_judged() -> None:
    text = "Thanks, it works!\n\nOn Mon, 4 Mar 2024 at 10:00, Support wrote:\n> Does it still fail?"

    assert not verdict_on(text).reopen


def test_a_name_alone_on_the_last_line_signs_the_reply() -> None:
    assert not verdict_on("Thanks!\nGrace Hopper").reopen
    assert verdict_on("Thanks!\nthe tray is stuck").reopen


def test_names_the_judge_was_not_given_are_words_of_their_own() -> None:
    email = reply("Thanks, Grace!")

    assert not judge_reply(email, CASE_SUBJECT, ("Grace Hopper",)).reopen
    assert judge_reply(email, CASE_SUBJECT).reason == "says more than thanks"


@pytest.mark.parametrize(
    ("subject", "reason"),
    [
        ("New problem with the scanner", "says it still fails"),
        ("Scanner", "writes under a new subject"),
        ("Another question?", "asks a new question"),
    ],
)
def test_a_new_subject_reopens_the_case(subject: str, reason: str) -> None:
    assert verdict_on("Thanks!", subject) == ReplyVerdict(reopen=True, reason=reason)


@pytest.mark.parametrize("subject", ["Thanks!", "", f"AW: {CASE_SUBJECT}", "Re: Printer"])
def test_the_threads_subject_or_a_thank_you_in_it_says_nothing_new(subject: str) -> None:
    assert not verdict_on("Thanks!", subject).reopen


def test_the_problem_in_the_cases_own_subject_is_not_the_replys() -> None:
    email = inbound_email("mail-2", subject="Re: Printer does not work", text="Merci, ça marche")

    assert not judge_reply(email, "Printer does not work", NAMES).reopen
