"""Words of a text as the knowledge base indexes and searches them, decided here and not by the
database: SQLite's FTS5 and PostgreSQL's text search each stem and split words their own way, so
both are given these terms ready-made and find the same articles for the same query.

A term is a lower-case word without accents, stop words dropped, lightly stemmed (plural `s`,
`ing`, `ed`, a final `e`) so that "invoices", "invoiced" and "invoicing" are one term. Terms are
made only of letters and digits: they need no escaping in an FTS5 or tsquery expression.
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[^\W_]+")
MIN_TERM = 2  # shorter words are not indexed
MIN_SIGNIFICANT = 3  # shorter words do not suggest articles for a case
MAX_TERM = 40  # longer "words" are noise (hashes, base64), and tsquery limits lexemes
MAX_QUERY_TERMS = 10
MAX_CASE_TERMS = 25
_STOP_WORDS = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    hello hi dear thanks thank please regards cheers cannot don doesn didn isn aren wasn won
    couldn shouldn wouldn ll ve re
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
_DOUBLED = re.compile(r"([b-df-hj-np-tv-z])\1$")
_UNDOUBLED = frozenset("lsz")  # "install", "access", "buzz" keep their double letter


def words(text: str) -> list[str]:
    """The words of a text, lower-case and without accents, in order (stop words kept)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return WORD.findall(plain)


def stem(word: str) -> str:
    """A light English stemmer: enough to match plurals and verb forms, never surprising."""
    if any(c.isdigit() for c in word) or len(word) <= 3:
        return word
    word = _without_verb_ending(_singular(word))
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _without_verb_ending(word: str) -> str:
    """`-ing` and `-ed` off ("resetting" → "reset"), unless too little would be left."""
    if word.endswith("eed"):  # "need", "speed": not a past tense
        return word
    for suffix in ("ing", "ed"):
        base = word.removesuffix(suffix)
        if base != word and len(base) >= 3 and any(v in base for v in "aeiouy"):
            doubled = _DOUBLED.search(base) and base[-1] not in _UNDOUBLED
            return base[:-1] if doubled else base
    return word


def terms(text: str, min_length: int = MIN_TERM) -> list[str]:
    """The distinct terms of a text, in order of first appearance."""
    found: dict[str, None] = {}
    for word in words(text):
        if word in STOP_WORDS or len(word) < min_length or len(word) > MAX_TERM:
            continue
        found.setdefault(stem(word), None)
    return [t for t in found if len(t) >= min_length]


def index_terms(*texts: str) -> str:
    """What an article's search index holds: its distinct terms, separated by spaces."""
    found: dict[str, None] = {}
    for text in texts:
        for term in terms(text):
            found.setdefault(term, None)
    return " ".join(found)


def query_terms(query: str) -> list[str]:
    """The terms of what an agent typed; punctuation and search syntax are only separators."""
    return terms(query)[:MAX_QUERY_TERMS]


def significant_terms(*texts: str) -> list[str]:
    """The words of a case worth looking up: no stop words, no short words, the first ones."""
    found: dict[str, None] = {}
    for text in texts:
        for term in terms(text, MIN_SIGNIFICANT):
            found.setdefault(term, None)
    return list(found)[:MAX_CASE_TERMS]


def matches(term: str, among: set[str], prefix: bool) -> bool:
    """Whether a query term is one of these terms (or begins one, for a prefix search)."""
    if not prefix:
        return term in among
    return any(candidate.startswith(term) for candidate in among)
