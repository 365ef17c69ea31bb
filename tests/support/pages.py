"""What an HTML page refers to: every URL in its markup, its styles and its inline scripts, and
whether the page loads it (a script, a stylesheet, an image) or only links to it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

# Attributes holding a URL the browser loads, and those it only follows when asked to.
LOADED = {"src", "poster", "data", "background", "manifest"}
FOLLOWED = {"action", "formaction", "cite"}
CSS_URL = re.compile(r"""url\(\s*(?P<q>['"]?)(?P<url>.*?)(?P=q)\s*\)""", re.IGNORECASE)
CSS_IMPORT = re.compile(r"""@import\s+(?P<q>['"])(?P<url>.*?)(?P=q)""", re.IGNORECASE)
# A quoted string in a script that is a URL: absolute (scheme or //host) or a path.
SCRIPT_URL = re.compile(r"""(?P<q>['"`])(?P<url>(?:https?:)?//[^'"`\s]+|/[\w\-./]+)(?P=q)""")
REFRESH_URL = re.compile(r"url\s*=\s*(?P<url>\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class Reference:
    url: str
    where: str  # e.g. `<script src>`, `<style>`, `inline script`
    loaded: bool  # the browser fetches it with the page


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Reference] = []
        self._open: str | None = None  # style or script, while in one

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            self.found.extend(_attribute(tag, name, value, values))
        self._open = tag if tag in ("style", "script") else None

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open == "style":
            self.found.extend(css_references(data, "<style>"))
        elif self._open == "script":
            found = (m["url"] for m in SCRIPT_URL.finditer(data))
            self.found.extend(Reference(url, "inline script", loaded=True) for url in found)


def _attribute(tag: str, name: str, value: str, attrs: dict[str, str]) -> list[Reference]:
    where = f"<{tag} {name}>"
    if name in LOADED:
        return [Reference(value, where, loaded=True)]
    if name == "srcset":
        urls = [part.split()[0] for part in value.split(",") if part.strip()]
        return [Reference(url, where, loaded=True) for url in urls]
    if name == "href":  # a stylesheet, an icon or a preload is fetched; an <a> is followed
        return [Reference(value, where, loaded=tag == "link")]
    if name in FOLLOWED:
        return [Reference(value, where, loaded=False)]
    if name == "style":
        return css_references(value, where)
    if name == "content" and attrs.get("http-equiv", "").lower() == "refresh":
        found = REFRESH_URL.search(value)
        return [Reference(found["url"], where, loaded=True)] if found else []
    return []


def html_references(html: str) -> list[Reference]:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.found


def css_references(css: str, where: str) -> list[Reference]:
    urls = [m["url"] for m in CSS_URL.finditer(css)] + [m["url"] for m in CSS_IMPORT.finditer(css)]
    return [Reference(url, where, loaded=True) for url in urls if url]


# -- labels ---------------------------------------------------------------------------------------

# Controls a person fills in or chooses, which need a name a screen reader can say.
_UNNAMED_OK = {"hidden", "submit", "button", "reset", "image"}


class _Controls(HTMLParser):
    """The page's form controls, and the ids its labels name."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.controls: list[tuple[str, dict[str, str], bool]] = []  # tag, attributes, in a label
        self.labelled: set[str] = set()
        self._labels = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "label":
            self._labels += 1
            if values.get("for"):
                self.labelled.add(values["for"])
        elif tag in ("input", "select", "textarea"):
            self.controls.append((tag, values, self._labels > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._labels:
            self._labels -= 1


def unlabelled_controls(html: str) -> list[str]:
    """The controls of a page that have no label: none wraps them, none names their id, and
    they have no aria-label or title either."""
    parser = _Controls()
    parser.feed(html)
    missing = []
    for tag, attrs, wrapped in parser.controls:
        if tag == "input" and attrs.get("type", "text").lower() in _UNNAMED_OK:
            continue
        named = wrapped or attrs.get("id", "") in parser.labelled
        if not (
            named or attrs.get("aria-label") or attrs.get("aria-labelledby") or attrs.get("title")
        ):
            missing.append(f"<{tag} name={attrs.get('name', '')!r}>")
    return missing
