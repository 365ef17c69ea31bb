"""Header text from raw 8-bit bytes and encoded words: the charset chain, as properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from caseflow.intake.headers import decode_undeclared, header_text

HINTS = st.sampled_from(
    [None, "iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "gb2312", "utf-16", "x-y"]
)
# Letters of Latin-1: every high byte they give is a UTF-8 lead byte never followed by a
# continuation byte, so no run of them looks like UTF-8.
LATIN1_WORDS = st.text(alphabet="abcdeèéêëàâçîïôöùûüÀÉÈÇßñÑ -'", max_size=60)


@given(st.text(max_size=80), HINTS)
def test_valid_utf8_is_always_read_as_utf8_whatever_the_body_declares(
    text: str, hint: str | None
) -> None:
    encoded = text.encode("utf-8", "replace")
    assert decode_undeclared(encoded, hint) == encoded.decode("utf-8")


@given(LATIN1_WORDS, st.sampled_from([None, "iso-8859-1", "windows-1252", "iso-8859-15"]))
def test_latin1_words_are_read_back_under_any_latin_hint(text: str, hint: str | None) -> None:
    assert decode_undeclared(text.encode("latin-1"), hint) == text


@given(st.binary(max_size=120), HINTS)
def test_undeclared_bytes_always_decode(data: bytes, hint: str | None) -> None:
    assert isinstance(decode_undeclared(data, hint), str)


_PIECES = st.sampled_from(
    ["=?utf-8?q?", "=?x-unknown?b?", "?=", "=?", "\udce8", "\udcc3", "\udca8", '"', "<", ">", ",",
     "@", " ", "\r\n ", "a", "=E8", "_", "w6k", "=="]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["subject", "from", "to", "message-id", "date", "x-other"]),
    st.lists(_PIECES, max_size=30).map("".join),
    HINTS,
)
def test_header_text_never_raises_on_hostile_values(
    name: str, source: str, hint: str | None
) -> None:
    assert "\udce8" not in header_text(name, source, hint)
