"""The customer's language: which one a page or an email speaks, and its catalogue.

Customers read Caseflow in English, Italian or Portuguese. The language is the contact's own
(`contacts.language`), else the first the browser accepts that Caseflow speaks
(Accept-Language), else the organisation's default (CASEFLOW_DEFAULT_LANGUAGE). The messages
are gettext catalogues, `caseflow/locale/<language>/LC_MESSAGES/caseflow.po`, compiled when
first used (no build step, nothing compiled in the repository); English is the messages' own
text. `make messages` extracts the messages from the code and templates and updates the
catalogues; a test checks that each catalogue translates every message.

Agents' pages and emails stay in English (the organisation's working language).
"""

from __future__ import annotations

import functools
import gettext
import io
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from babel.core import negotiate_locale
from babel.dates import format_date, format_skeleton
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment

DOMAIN = "caseflow"
LOCALE_DIR = Path(__file__).parent / "locale"
ENGLISH = "en"
LANGUAGES = ("en", "it", "pt")
NAMES = {"en": "English", "it": "Italiano", "pt": "Português"}
MAX_HEADER = 1000  # of an Accept-Language header read; the rest is ignored
MAX_RANGES = 30
_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$"
)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for a message marked, not translated
    """Mark a message for extraction; it is translated where it is shown."""
    return message


class Said(str):
    """A sentence with values in it: as a str, the English sentence filled in; to a page in
    another language, its message (marked for extraction) translated, then filled in."""

    message: str
    values: dict[str, Any]

    def __new__(cls, message: str, **values: Any) -> Said:
        english = {k: _value(v, ENGLISH) for k, v in values.items()}
        said = super().__new__(cls, message % english if values else message)
        said.message, said.values = message, values
        return said


def translate(text: str, language: str) -> str:
    """A sentence in `language`: one the catalogue does not know is shown as written."""
    _ = translations(language).gettext
    if isinstance(text, Said) and text.values:
        return _(text.message) % {k: _value(v, language) for k, v in text.values.items()}
    return _(text.message if isinstance(text, Said) else text)


def _value(value: Any, language: str) -> Any:
    """A value of a sentence as the language writes it: a day ("8 December 2026", "8 de
    dezembro de 2026"), a marked sentence translated."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        # English as Caseflow always wrote it ("5 March 2026"); the others as they write it.
        pattern = "d MMMM y" if language == ENGLISH else "long"
        return format_date(value, pattern, locale=Locale.parse(language))
    if isinstance(value, str):
        return translate(value, language)
    return value


def supported(tag: str | None) -> str | None:
    """The language Caseflow speaks for a language tag (`pt-BR` and `pt_PT` are `pt`, `IT` is
    `it`), or None."""
    if not tag:
        return None
    found = negotiate_locale([tag.strip().replace("_", "-")], list(LANGUAGES), sep="-")
    return found.lower() if found else None


def accepted(header: str | None) -> list[str]:
    """The language ranges of an Accept-Language header, most wanted first (by q, then by
    order); ranges with q=0, malformed ones and `*` are left out."""
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:MAX_HEADER].split(",")[:MAX_RANGES]):
        match = _RANGE.match(part)
        if match is None or match.group(1) == "*":
            continue
        try:
            weight = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if 0 < weight <= 1:
            ranked.append((-weight, position, match.group(1)))
    return [tag for _, _, tag in sorted(ranked)]


def choose_language(contact: str | None, accept_language: str | None, default: str) -> str:
    """The contact's language, else the browser's first that Caseflow speaks, else the
    organisation's default (English if that is not one Caseflow speaks)."""
    for candidate in (contact, *accepted(accept_language)):
        found = supported(candidate)
        if found:
            return found
    return supported(default) or ENGLISH


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of a language Caseflow speaks (English: the messages as written)."""
    if language == ENGLISH or language not in LANGUAGES:
        return gettext.NullTranslations()
    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext_for(language: str) -> Any:
    """`_` for one language: `_("Hello %(name)s", name=...)` translates, then fills in."""
    catalogue = translations(language)

    def _(message: str, **values: Any) -> str:
        text = catalogue.gettext(message)
        return text % values if values else text

    return _


def install(env: Environment, language: str) -> Environment:
    """Give a Jinja environment (with `jinja2.ext.i18n`) the language's catalogue and its
    date filters: `{{ _("…") }}`, `{{ when | day }}`, `{{ when | moment }}`."""
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["day"] = functools.partial(_day, language=language)
    env.filters["moment"] = functools.partial(_moment, language=language)
    env.globals["language"] = language
    env.globals["language_names"] = NAMES
    return env


def _day(value: datetime, language: str) -> str:
    day = value.astimezone(UTC) if value.tzinfo else value
    return format_date(day, "medium", locale=Locale.parse(language))


def _moment(value: datetime, language: str) -> str:
    """A date and time as the language writes it, in UTC (said)."""
    locale = Locale.parse(language)
    day = format_date(value.astimezone(UTC) if value.tzinfo else value, "medium", locale=locale)
    hour = format_skeleton("Hm", value, tzinfo=UTC, locale=locale)
    return str(locale.datetime_formats["medium"]).format(hour, day) + " UTC"


def missing(language: str, messages: Iterable[str]) -> list[str]:
    """The messages a language's catalogue does not translate (empty or fuzzy), for tests."""
    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    return [
        m for m in messages if (entry := catalog.get(m)) is None or not entry.string or entry.fuzzy
    ]


def labels(language: str, table: Mapping[str, str]) -> dict[str, str]:
    """A table of marked messages (`N_`), translated."""
    _ = translations(language).gettext
    return {key: _(text) for key, text in table.items()}


# -- the catalogues: what the code and templates mark, and each language's translations ------

METHODS = [
    ("**/templates/**.html", "jinja2"),
    ("**/templates/**.txt", "jinja2"),
    ("**.py", "python"),
]
KEYWORDS = {"_": None, "N_": None, "Said": None, "gettext": None}
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}


def extract() -> Catalog:
    """Every message the code (`_`, `N_`, `Said`) and the templates (`_()`) mark, with where."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

    root = Path(__file__).parent
    catalog = Catalog(domain=DOMAIN, project="Caseflow", version="", charset="utf-8")
    found = extract_from_dir(
        root,
        METHODS,
        keywords={**DEFAULT_KEYWORDS, **KEYWORDS},
        options_map={pattern: JINJA_OPTIONS for pattern, method in METHODS if method == "jinja2"},
        comment_tags=("Translators:",),
        strip_comment_tags=True,
    )
    for filename, line, message, comments, context in found:
        catalog.add(message, None, [(f"caseflow/{filename}", line)], auto_comments=comments,
                    context=context)  # fmt: skip
    return catalog


def update_catalogues() -> dict[str, int]:
    """Bring each language's catalogue up to the messages marked now (new ones untranslated,
    gone ones dropped); how many each leaves untranslated."""
    from babel.messages.pofile import write_po

    template = extract()
    left: dict[str, int] = {}
    for language in LANGUAGES:
        if language == ENGLISH:
            continue
        path = catalogue_path(language)
        if path.exists():
            with path.open("rb") as po:
                catalog = read_po(po, locale=language, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=language, domain=DOMAIN, project="Caseflow")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False
        catalog.last_translator = catalog.language_team = "Caseflow <https://caseflow.test>"
        catalog.copyright_holder = "the Caseflow authors"
        catalog.msgid_bugs_address = ""
        with path.open("wb") as po:
            write_po(po, catalog, width=100, omit_header=False, sort_output=True)
        left[language] = sum(1 for m in catalog if m.id and not m.string)
    return left


if __name__ == "__main__":  # `make messages`
    for name, count in update_catalogues().items():
        sys.stdout.write(f"{catalogue_path(name)}: {count} to translate\n")
