"""The words the knowledge base indexes and searches: folding, stop words, the light stemmer, and
queries that only ever produce plain terms whatever was typed."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caseflow.store import textsearch
from caseflow.store.textsearch import (
    index_terms,
    matches,
    query_terms,
    significant_terms,
    stem,
    terms,
    words,
)

PLAIN_TERM = re.compile(r"^[^\W_]+$")


def test_words_are_folded_to_lower_case_without_accents() -> None:
    assert words("Ünïcode NAÏVE café, Straße!") == ["unicode", "naive", "cafe", "strasse"]


@pytest.mark.parametrize(
    ("forms", "stemmed"),
    [
        (["invoice", "invoices", "invoiced", "invoicing"], "invoic"),
        (["reset", "resets", "resetting"], "reset"),
        (["export", "exports", "exported", "exporting"], "export"),
        (["entry", "entries"], "entry"),
        (["fix", "fixes", "fixed", "fixing"], "fix"),
        (["install", "installs", "installed", "installing"], "install"),
        (["cache", "caches", "cached"], "cach"),
    ],
)
def test_forms_of_a_word_stem_alike(forms: list[str], stemmed: str) -> None:
    assert {stem(form) for form in forms} == {stemmed}


@pytest.mark.parametrize("word", ["need", "speed", "access", "status", "analysis", "2fa", "sso"])
def test_words_that_only_look_inflected_are_kept(word: str) -> None:
    assert stem(word) == word


def test_stop_words_short_words_and_repeats_are_dropped() -> None:
    assert terms("How do I reset MY password? Reset it, please: a 2FA code.") == [
        "reset",
        "password",
        "2fa",
        "code",
    ]


def test_an_article_is_indexed_as_its_distinct_terms_separated_by_spaces() -> None:
    indexed = index_terms("Resetting your password", "password reset", "Use the sign-in page.")
    assert indexed == "reset password use sign page"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ('"foo', ["foo"]),
        ("AND", []),
        ("*", []),
        ("NEAR(", ["near"]),
        ("password* OR invoice", ["password", "invoic"]),
        ("'; DROP TABLE knowledge_articles; --", ["drop", "tabl", "knowledg", "articl"]),
        ("a:* & b | !c", []),
        ("title:password^2", ["titl", "password"]),
        ("", []),
    ],
)
def test_search_syntax_in_a_query_is_only_a_separator(typed: str, expected: list[str]) -> None:
    assert query_terms(typed) == expected


@given(st.text(max_size=300))
def test_every_query_gives_plain_terms_that_need_no_escaping(typed: str) -> None:
    found = query_terms(typed)
    assert len(found) <= textsearch.MAX_QUERY_TERMS
    assert all(PLAIN_TERM.match(t) and len(t) <= textsearch.MAX_TERM for t in found)


def test_significant_terms_of_a_case_skip_short_words_and_keep_the_first_ones() -> None:
    found = significant_terms("VPN is broken", "The VPN and the Wi-Fi fail at 9am. " * 3)
    assert found == ["vpn", "broken", "fail", "9am"]
    many = significant_terms(" ".join(f"word{n}" for n in range(100)))
    assert len(many) == textsearch.MAX_CASE_TERMS and many[0] == "word0"


def test_a_prefix_search_matches_the_start_of_a_longer_term() -> None:
    assert matches("pass", {"password"}, prefix=True)
    assert not matches("pass", {"password"}, prefix=False)
    assert matches("password", {"password"}, prefix=False)
    assert not matches("word", {"password"}, prefix=True)
