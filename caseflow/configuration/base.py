"""Configuration objects as the admin API and `caseflow import` see them: one `Kind` per sort of
object (queues, agents, accounts, ...), each with the shape of one object (a pydantic model, the
same in YAML and JSON), its natural key, and how to save, list and delete it.

Saving is create-or-update by key, checked against the database first; anything wrong raises
`ConfigError` with a code and a sentence, before anything is written. An import saves every object
of a file in one transaction, in dependency order, each in a savepoint: it goes on past a refused
object to find every other problem, then raises `ImportRefused` listing them all, and the caller's
transaction writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import event
from sqlalchemy.orm import Session

from caseflow.workflows.fanout import RolloutKind, RolloutTarget

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
# The fields kinds are keyed by, to name an object that could not even be read.
KEY_FIELDS = ("handle", "email", "title", "name")


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
    # Once the transaction that changed objects of this kind committed, each changed one is
    # rolled out to the running cases that use it (an edited calendar re-times them).
    rolls_out: RolloutKind | None = None

    def parse(self, data: Any) -> S:
        """One object from YAML or JSON; ConfigError("invalid") naming each of its problems."""
        try:
            return self.spec.model_validate(data)
        except ValidationError as err:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or 'the object'}: {e['msg']}"
                for e in err.errors()
            ]
            raise ConfigError("invalid", "; ".join(problems)) from None

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


def rollout_targets(changed: dict[str, list[str]]) -> list[RolloutTarget]:
    """What to roll out to running cases once these changes (kind → keys) are committed."""
    return [
        RolloutTarget(kind.rolls_out, key)
        for kind in kinds()
        if kind.rolls_out is not None
        for key in changed.get(kind.name, [])
    ]


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


@dataclass(frozen=True)
class Problem:
    """One thing an import refuses: which object (or section), the code, and why."""

    where: str  # "agents 'ann'", "agents #3" (its place in the section), "the file"
    code: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class ImportRefused(ConfigError):
    """A whole organisation file refused: every problem found in it; nothing was written. The
    code is the problems' own when they share one, else `invalid`."""

    def __init__(self, problems: list[Problem]) -> None:
        codes = {p.code for p in problems}
        detail = "; ".join(str(p) for p in problems)
        if len(problems) > 1:
            detail = f"{len(problems)} problems: {detail}"
        super().__init__(codes.pop() if len(codes) == 1 else "invalid", detail)
        self.problems = problems


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

    Raises ImportRefused naming every object refused (and why); the caller's transaction then
    writes nothing, so it is all or nothing."""
    if not isinstance(data, dict):
        raise ConfigError("invalid", "an organisation file is a mapping of sections (queues: ...)")
    problems: list[Problem] = []
    unknown = sorted(set(data) - set(REGISTRY))
    if unknown:
        known = ", ".join(k.name for k in kinds())
        reason = f"unknown sections {', '.join(unknown)} (known: {known})"
        problems.append(Problem("the file", "invalid", reason))
    report = ImportReport()
    for kind in kinds():
        outcomes = _import_kind(session, kind, data.get(kind.name) or [], problems)
        if outcomes:
            report.results[kind.name] = outcomes
    if problems:
        raise ImportRefused(problems)
    return report


def _import_kind(
    session: Session, kind: Kind[Any], items: Any, problems: list[Problem]
) -> dict[str, str]:
    """Save one section's objects, each in a savepoint; what is refused goes to `problems`."""
    if not isinstance(items, list):
        problems.append(Problem(kind.name, "invalid", "a list of objects is expected"))
        return {}
    specs = _parse_section(kind, items, problems)
    existing = {kind.key(s) for s in kind.dump(session)} if specs else set()
    outcomes: dict[str, str] = {}
    for spec in specs:
        key = kind.key(spec)
        try:
            with session.begin_nested():  # a refused object leaves nothing behind
                outcomes[key] = apply(session, kind, spec, key in existing)
        except ConfigError as err:
            problems.append(Problem(f"{kind.name} {key!r}", err.code, err.detail))
    return outcomes


def _parse_section(kind: Kind[S], items: list[Any], problems: list[Problem]) -> list[S]:
    """The section's objects that can be read, each key once; the others go to `problems`."""
    specs: dict[str, S] = {}
    twice: list[str] = []
    for position, item in enumerate(items, 1):
        try:
            spec = kind.parse(item)
        except ConfigError as err:
            problems.append(Problem(_label(kind, item, position), err.code, err.detail))
            continue
        if kind.key(spec) in specs:
            twice.append(kind.key(spec))
        specs.setdefault(kind.key(spec), spec)
    for key in sorted(set(twice)):
        problems.append(Problem(kind.name, "duplicate", f"{key} given twice"))
    return [spec for key, spec in specs.items() if key not in twice]


def _label(kind: Kind[Any], item: Any, position: int) -> str:
    """An object that could not be read, named by what a valid one is keyed by, else by its
    place in its section."""
    if isinstance(item, dict):
        for field_name in KEY_FIELDS:
            if isinstance(item.get(field_name), str):
                return f"{kind.name} {item[field_name]!r}"
    return f"{kind.name} #{position}"


def export_organisation(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Every configuration object, as `caseflow import` reads it back."""
    return {
        kind.name: [s.model_dump(mode="json", exclude_defaults=True) for s in kind.dump(session)]
        for kind in kinds()
    }
