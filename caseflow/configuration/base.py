"""Configuration objects as the admin API and `caseflow import` see them: one `Kind` per sort of
object (queues, agents, accounts, ...), each with the shape of one object (a pydantic model, the
same in YAML and JSON), its natural key, and how to save, list and delete it.

Saving is create-or-update by key, checked against the database first; anything wrong raises
`ConfigError` with a code and a sentence, before anything is written. An import saves every object
of a file in one transaction, in dependency order, so a refused object leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import event
from sqlalchemy.orm import Session
from temporalio.client import Client

S = TypeVar("S", bound=BaseModel)

# Import order: a kind comes after every kind its objects refer to.
ORDER = (
    "calendars",
    "queues",
    "sla_policies",
    "agents",
    "products",
    "accounts",
    "contacts",
    "entitlements",
    "routing_rules",
    "stages",
    "articles",
    "goals",
)
WRITES = ("INSERT", "UPDATE", "DELETE")


class ConfigError(ValueError):
    """A configuration change refused before anything was written.

    Codes: `invalid` (the object itself is wrong), `unknown_reference` (it names something that
    does not exist), `duplicate` (another object has that name), `in_use` (something still needs
    it), `never_matches` (a rule whose conditions cannot all hold), `not_found`.
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Kind(Generic[S]):
    name: str  # the YAML section and the admin API's path: /admin/{name}
    spec: type[S]  # one object, as YAML and JSON write it
    key: Callable[[S], str]  # its natural key: a name, an address, a title
    save: Callable[[Session, S], None]  # create or update by key; raises ConfigError
    dump: Callable[[Session], list[S]]  # every object, in the spec's shape, ordered by key
    delete: Callable[[Session, str], None] | None = None  # raises ConfigError; None: cannot
    describe: str = ""
    # Run after the transaction that saved objects of this kind committed (e.g. re-time the
    # running cases that count in an edited calendar); gets the keys saved or changed.
    after_commit: Callable[[Client, Session, list[str]], Awaitable[None]] | None = None

    def parse(self, data: Any) -> S:
        """One object from YAML or JSON; ConfigError("invalid") naming the first problem."""
        try:
            return self.spec.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the object"
            raise ConfigError("invalid", f"{self.name}: {where}: {first['msg']}") from None

    def find(self, session: Session, key: str) -> S | None:
        return next((s for s in self.dump(session) if self.key(s) == key), None)


REGISTRY: dict[str, Kind[Any]] = {}


def register(kind: Kind[Any]) -> Kind[Any]:
    if kind.name not in ORDER:
        raise ValueError(f"kind {kind.name!r} has no place in ORDER")
    REGISTRY[kind.name] = kind
    return kind


def kinds() -> list[Kind[Any]]:
    """Every registered kind, in import order."""
    return [REGISTRY[name] for name in ORDER if name in REGISTRY]


def kind_named(name: str) -> Kind[Any]:
    kind = REGISTRY.get(name)
    if kind is None:
        known = ", ".join(k.name for k in kinds())
        raise ConfigError("not_found", f"no configuration kind {name!r} (known: {known})")
    return kind


@contextmanager
def counting_writes(session: Session) -> Iterator[list[str]]:
    """The write statements that changed rows on this session's connection in the block."""
    seen: list[str] = []
    connection = session.connection()

    def record(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        # An INSERT always writes; SQLite reports rowcount 0 for INSERT ... RETURNING.
        verb = statement.lstrip().upper()
        if verb.startswith("INSERT") or (verb.startswith(WRITES) and cursor.rowcount != 0):
            seen.append(statement)

    event.listen(connection, "after_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection, "after_cursor_execute", record)


def apply(session: Session, kind: Kind[S], spec: S, existed: bool | None = None) -> str:
    """Save one object: "created", "updated" or "unchanged" (nothing written). `existed`: whether
    an object of that key was there, when the caller knows (an import lists each kind once)."""
    if existed is None:
        existed = kind.find(session, kind.key(spec)) is not None
    with counting_writes(session) as writes:
        kind.save(session, spec)
        session.flush()
    if not writes:
        return "unchanged"
    return "updated" if existed else "created"


def remove(session: Session, kind: Kind[Any], key: str) -> None:
    if kind.delete is None:
        raise ConfigError("invalid", f"{kind.name} cannot be deleted")
    if kind.find(session, key) is None:
        raise ConfigError("not_found", f"no {kind.name} {key!r}")
    kind.delete(session, key)
    session.flush()


@dataclass
class ImportReport:
    results: dict[str, dict[str, str]] = field(default_factory=dict)  # kind → key → outcome

    def count(self, outcome: str) -> int:
        return sum(1 for per in self.results.values() for o in per.values() if o == outcome)

    def changed(self) -> dict[str, list[str]]:
        return {
            kind: [k for k, o in per.items() if o != "unchanged"]
            for kind, per in self.results.items()
            if any(o != "unchanged" for o in per.values())
        }

    def render(self) -> str:
        lines = [
            f"{kind}: "
            + ", ".join(f"{n} {o}" for o in ("created", "updated", "unchanged")
                        if (n := sum(1 for x in per.values() if x == o)))
            for kind, per in self.results.items()
        ]  # fmt: skip
        total = (
            f"{self.count('created')} created, {self.count('updated')} updated, "
            f"{self.count('unchanged')} unchanged"
        )
        return "\n".join([*lines, total])


def import_organisation(session: Session, data: Any) -> ImportReport:
    """Save every object of a whole organisation (the YAML of `caseflow import`), in order.

    The caller's transaction makes it all or nothing; ConfigError names the object refused."""
    if not isinstance(data, dict):
        raise ConfigError("invalid", "an organisation file is a mapping of sections (queues: ...)")
    unknown = sorted(set(data) - set(REGISTRY))
    if unknown:
        known = ", ".join(k.name for k in kinds())
        raise ConfigError("invalid", f"unknown sections {', '.join(unknown)} (known: {known})")
    report = ImportReport()
    for kind in kinds():
        items = data.get(kind.name) or []
        if not isinstance(items, list):
            raise ConfigError("invalid", f"{kind.name}: a list of objects is expected")
        specs = [kind.parse(item) for item in items]
        keys = [kind.key(s) for s in specs]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ConfigError("duplicate", f"{kind.name}: {', '.join(twice)} given twice")
        outcomes: dict[str, str] = {}
        existing = {kind.key(s) for s in kind.dump(session)} if specs else set()
        for spec in specs:
            try:
                outcomes[kind.key(spec)] = apply(session, kind, spec, kind.key(spec) in existing)
            except ConfigError as err:
                raise ConfigError(
                    err.code, f"{kind.name} {kind.key(spec)!r}: {err.detail}"
                ) from None
        if outcomes:
            report.results[kind.name] = outcomes
    return report


def export_organisation(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Every configuration object, as `caseflow import` reads it back."""
    return {
        kind.name: [s.model_dump(mode="json", exclude_defaults=True) for s in kind.dump(session)]
        for kind in kinds()
    }
