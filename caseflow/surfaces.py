"""The agent actions as people give them. Each action of `lifecycle.ACTIONS` that declares a
request type is offered on every surface from that one declaration: its workflow update
(`workflows/case.py`), its HTTP route `POST /cases/{number}/{action}` (`api/routes/cases.py`)
and its command `caseflow case <action>` (`cli/cases.py`) all come from the `Offered` made here,
whose JSON body and options are the request's `given` fields (`model.Given`: bounds, name,
what they name, help). Adding an action is its rule module and, for a new request type, the
model: nothing here or in the surfaces."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import MISSING, dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

from caseflow.workflows import lifecycle
from caseflow.workflows.model import MAX_TEXT, Actor, Given


class Body(BaseModel):
    """An action's JSON body: the fields the agent gives, nothing else."""

    model_config = ConfigDict(extra="forbid")
    # The request's name of each body field whose name differs (`agent` is `owner`).
    request_names: ClassVar[dict[str, str]] = {}

    def given(self) -> dict[str, Any]:
        """The request's fields as this body gives them, by the request's names."""
        return {self.request_names.get(k, k): v for k, v in self.model_dump().items()}


# The one body written out rather than derived: for the former name of its field.
class Assign(Body):
    """`{"agent": "ann"}`; `owner` is the field's former name, still understood."""

    agent: str | None = Field(
        default=None, min_length=1, max_length=100, description="the agent's handle"
    )
    owner: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="deprecated: the former name of `agent`",
        json_schema_extra={"deprecated": True},
    )
    comment: str = Field(default="", max_length=MAX_TEXT)

    @model_validator(mode="after")
    def _names_one_agent(self) -> Assign:
        if self.agent is None and self.owner is None:
            raise ValueError("assign needs an agent")
        if self.agent is not None and self.owner is not None and self.agent != self.owner:
            raise ValueError("agent and owner (its former name) name different agents")
        return self

    @property
    def handle(self) -> str:
        handle = self.agent or self.owner
        assert handle is not None  # the validator saw to it
        return handle

    def given(self) -> dict[str, Any]:
        return {"owner": self.handle, "comment": self.comment}


WRITTEN_OUT: dict[str, type[Body]] = {"assign": Assign}


@dataclass(frozen=True)
class Option:
    """One field of a request that the agent gives: `name` in a body and as `--name`."""

    field: str  # the request's own name for it
    name: str
    kind: type  # str, int or dict (of stage fields, name to value)
    optional: bool  # may be null
    default: Any  # MISSING when the agent must give it
    how: Given

    @property
    def required(self) -> bool:
        return self.default is MISSING


@dataclass(frozen=True)
class Offered:
    """One agent action as its surfaces take it."""

    name: str
    doc: str
    summary: str
    request: type[Any]
    options: tuple[Option, ...]
    written_out: type[Body] | None = None  # the body, when not derived from the options

    @functools.cached_property
    def body(self) -> type[Body]:
        """The action's JSON body (made when first asked for: a CLI start makes one at most)."""
        return self.written_out or body_of(self.name, self.options)

    @property
    def body_optional(self) -> bool:
        """Whether the action may be sent without a body (every field has a default)."""
        return not any(option.required for option in self.options)

    def request_of(self, actor: Actor, body: Body | None) -> Any:
        """The workflow update's request: the actor and what the body gives."""
        return self.request(actor, **(body.given() if body is not None else {}))

    def references(self, request: Any) -> list[tuple[str, str]]:
        """What the request names that must exist, as (`agent`/`queue`/`product`, name)."""
        named = []
        for option in self.options:
            if option.how.names:
                value = getattr(request, option.field)
                if isinstance(value, dict):
                    value = value.get(option.how.names)
                if value:
                    named.append((option.how.names, str(value)))
        return named


def options_of(request: type[Any]) -> tuple[Option, ...]:
    """The fields of a request dataclass that carry `given` metadata, in their order."""
    hints = typing.get_type_hints(request)
    options = []
    for field in dataclasses.fields(request):
        how = field.metadata.get("given")
        if how is None:
            continue
        kind, optional = _kind(hints[field.name])
        if field.default is not MISSING:
            default: Any = field.default
        elif field.default_factory is not MISSING:
            default = field.default_factory()
        else:
            default = MISSING
        options.append(Option(field.name, how.called or field.name, kind, optional, default, how))
    return tuple(options)


def _kind(hint: Any) -> tuple[type, bool]:
    """The base type of a field's annotation (`int | None` is int, optional)."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        inner = [a for a in args if a is not type(None)]
        assert len(inner) == 1, f"a given field is one type or None, not {hint}"
        return _kind(inner[0])[0], True
    kind = typing.get_origin(hint) or hint
    assert kind in (str, int, dict), f"a given field is a str, an int or a dict, not {hint}"
    return kind, False


def body_field(option: Option) -> tuple[Any, Any]:
    """The pydantic field of one option: its type with the option's bounds, and its default."""
    how = option.how
    annotation: Any
    if option.kind is dict:
        key = Annotated[str, StringConstraints(min_length=1, max_length=how.key_length)]
        value = Annotated[str, StringConstraints(max_length=how.max_length)]
        annotation = dict[key, value]
        bounds: dict[str, Any] = {"max_length": how.max_items}
    else:
        annotation = option.kind
        bounds = {
            "min_length": how.min_length,
            "max_length": how.max_length,
            "ge": how.ge,
            "le": how.le,
        }
    if option.optional:
        annotation = annotation | None
    given: dict[str, Any] = {k: v for k, v in bounds.items() if v is not None}
    if isinstance(option.default, dict):
        given["default_factory"] = dict
    elif not option.required:
        given["default"] = option.default
    return annotation, Field(**given, description=how.help or None)


def body_of(name: str, options: tuple[Option, ...]) -> type[Body]:
    """The JSON body of the action `name`, derived from its options."""
    body = create_model(  # type: ignore[call-overload]
        f"{name.title()}Body",
        __base__=Body,
        **{option.name: body_field(option) for option in options},
    )
    body.request_names = {o.name: o.field for o in options if o.name != o.field}
    return typing.cast(type[Body], body)


def offered(name: str, action: lifecycle.Action) -> Offered:
    """The action `name` of the registry as its surfaces offer it."""
    assert action.request is not None, f"action {name} has no request type"
    options = options_of(action.request)
    return Offered(name, action.doc, action.summary, action.request, options, WRITTEN_OUT.get(name))


OFFERED: dict[str, Offered] = {
    name: offered(name, action)
    for name, action in lifecycle.ACTIONS.items()
    if action.request is not None
}
