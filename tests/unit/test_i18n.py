"""The customer's language: which one is chosen, and catalogues that translate every message."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from babel.messages.pofile import read_po

from caseflow import i18n
from caseflow.i18n import Said

OTHERS = [language for language in i18n.LANGUAGES if language != i18n.ENGLISH]


@pytest.mark.parametrize(
    ("contact", "header", "default", "chosen"),
    [
        ("it", "pt-BR,pt;q=0.9", "en", "it"),  # the contact's own comes first
        ("", "pt-BR,pt;q=0.9,en;q=0.8", "en", "pt"),
        (None, "fr-FR,fr;q=0.9,it;q=0.5,en;q=0.4", "en", "it"),  # the first Caseflow speaks
        ("", "en;q=0.2, it;q=0.8", "pt", "it"),  # by weight, not by order
        ("", "it;q=0, pt", "en", "pt"),  # q=0 means "not this one"
        ("", "fr, de", "pt", "pt"),  # none spoken: the organisation's default
        ("", None, "it", "it"),
        ("", "", "xx", "en"),  # a default Caseflow does not speak: English
        ("fr", "it", "en", "it"),  # a contact's language Caseflow does not speak is passed over
        ("PT_br", None, "en", "pt"),
        ("", "*", "it", "it"),
    ],
)
def test_the_language_is_the_contacts_else_the_browsers_else_the_default(
    contact: str | None, header: str | None, default: str, chosen: str
) -> None:
    assert i18n.choose_language(contact, header, default) == chosen


@pytest.mark.parametrize(
    "header",
    [
        "it;q=abc, pt",
        "it;q=2, pt",
        ";;;,,,pt",
        "<script>, pt",
        "x" * 500 + ", pt",
        "en-" + "a" * 100 + ", pt",
    ],
)
def test_a_malformed_accept_language_is_read_leniently(header: str) -> None:
    assert i18n.choose_language("", header, "en") == "pt"


def test_a_huge_accept_language_header_is_read_only_in_part() -> None:
    header = ", ".join(["fr"] * 10_000 + ["it"])
    assert i18n.choose_language("", header, "pt") == "pt"  # `it` is past the part read
    assert len(i18n.accepted(header)) <= i18n.MAX_RANGES


def test_a_said_sentence_is_english_as_a_string_and_translated_with_its_values() -> None:
    said = Said("This case was merged on %(day)s; this link changes nothing.", day=date(2026, 3, 5))
    assert said == "This case was merged on 5 March 2026; this link changes nothing."
    italian = i18n.translate(said, "it")
    assert "5 marzo 2026" in italian and "merged" not in italian
    assert "5 de março de 2026" in i18n.translate(said, "pt")


def test_a_sentence_no_catalogue_knows_is_shown_as_written() -> None:
    assert i18n.translate("An agent's own words.", "it") == "An agent's own words."


def test_dates_are_written_as_each_language_writes_them() -> None:
    env = i18n.install(__import__("jinja2").Environment(extensions=["jinja2.ext.i18n"]), "it")
    when = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
    assert env.from_string("{{ when | day }}").render(when=when) == "8 dic 2026"
    assert env.from_string("{{ language }}").render() == "it"


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\(\w+\)[sd]", text))


@pytest.mark.parametrize("language", OTHERS)
def test_each_catalogue_translates_every_message_the_code_marks(language: str) -> None:
    """`make messages` brings the catalogues up to the code; this fails until each new message
    is translated."""
    marked = [m.id for m in i18n.extract() if isinstance(m.id, str) and m.id]
    assert len(marked) > 100
    assert i18n.missing(language, marked) == []


@pytest.mark.parametrize("language", OTHERS)
def test_each_translation_keeps_its_messages_placeholders_and_markup(language: str) -> None:
    with i18n.catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    for message in catalog:
        if not message.id or not message.string:
            continue
        assert isinstance(message.id, str) and isinstance(message.string, str)
        assert _placeholders(message.string) == _placeholders(message.id), message.id
        assert re.findall(r"</?\w+>", message.string) == re.findall(r"</?\w+>", message.id), (
            message.id
        )
        assert message.string.count("%") == message.id.count("%"), message.id


@pytest.mark.parametrize("language", OTHERS)
def test_no_catalogue_keeps_messages_the_code_no_longer_marks(language: str) -> None:
    marked = {m.id for m in i18n.extract() if m.id}
    with i18n.catalogue_path(language).open("rb") as po:
        kept = {m.id for m in read_po(po, locale=language) if m.id}
    assert kept - marked == set()
