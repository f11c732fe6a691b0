"""The event envelope: one JSON object per bus message, shaped after the Elastic Common Schema.

Sources fill the normalised ECS fields they have and keep the original payload in `raw`.
Rules read a field through `field_value`: an ECS name reads the normalised value, any
other name is a dotted path into `raw` (DESIGN.md, "The event envelope").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Self

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from services.shared.alert import RuleRef
from services.shared.alert import frozen_json as _match_json

Outcome = Literal["success", "failure", "unknown"]


class EcsFieldSet(BaseModel):
    """An ECS field set: the names we normalise are typed, further ECS names are kept as given."""

    # ECS keywords: a sender's numeric id (GitHub's user.id) is the same keyword as text.
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class EventInfo(EcsFieldSet):
    module: str = "generic"
    dataset: str | None = None
    action: str | None = None
    outcome: Outcome = "unknown"
    category: list[str] = Field(default_factory=list)


class LogSource(BaseModel):
    """The Sigma logsource an event answers to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product: str | None = None
    service: str | None = None
    category: str | None = None


class User(EcsFieldSet):
    name: str | None = None
    id: str | None = None


class Endpoint(EcsFieldSet):
    ip: str | None = None
    port: int | None = None


class Host(EcsFieldSet):
    name: str | None = None


class Process(EcsFieldSet):
    name: str | None = None
    pid: int | None = None


class Url(EcsFieldSet):
    path: str | None = None


class HttpRequest(EcsFieldSet):
    method: str | None = None


class HttpResponse(EcsFieldSet):
    status_code: int | None = None


class Http(EcsFieldSet):
    request: HttpRequest | None = None
    response: HttpResponse | None = None


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=256)
    time: AwareDatetime
    ingested: AwareDatetime
    event: EventInfo = Field(default_factory=EventInfo)
    logsource: LogSource = Field(default_factory=lambda: LogSource(product="generic"))
    message: str | None = None
    user: User | None = None
    source: Endpoint | None = None
    destination: Endpoint | None = None
    host: Host | None = None
    process: Process | None = None
    url: Url | None = None
    http: Http | None = None
    orchestrator: EcsFieldSet | None = None
    git: EcsFieldSet | None = None  # not ECS: the provider-neutral summary of a Git host's event (push, PR, tag…)
    labels: dict[str, str] = Field(default_factory=dict)
    raw: Any = None

    @field_validator("time", "ingested")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("time is out of range once converted to UTC") from None

    @classmethod
    def from_json(cls, data: bytes) -> Self:
        """The envelope in `data`, validated; raises ValidationError like `model_validate_json`.

        Decoding with orjson and validating the objects is faster than pydantic's own JSON path,
        which builds `raw` (most of the bytes) three times slower. What orjson refuses but JSON
        allows (integers past 64 bits) goes through pydantic's parser, so no valid envelope is lost.
        """
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError:
            return cls.model_validate_json(data)
        return cls.model_validate(document)

    def normalised(self) -> dict[str, Any]:
        """The ECS fields as one flat dict of dotted names (`user.name`), without `raw`, valued as in JSON.

        Walks the models directly instead of dumping them: this runs once per event in stage 1.
        """
        flat: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if name != "raw":
                _flatten(value, name, flat)
        return flat


def _flatten(value: Any, path: str, into: dict[str, Any]) -> None:
    if isinstance(value, BaseModel):
        for key, inner in value.__dict__.items():
            _flatten(inner, f"{path}.{key}", into)
        for key, inner in (value.__pydantic_extra__ or {}).items():
            _flatten(inner, f"{path}.{key}", into)
    elif isinstance(value, dict) and value:
        for key, inner in value.items():
            _flatten(inner, f"{path}.{key}", into)
    elif isinstance(value, datetime):
        into[path] = value.isoformat().replace("+00:00", "Z")
    elif value is not None:
        into[path] = value


class EnrichedEvent(Event):
    """An event after detection: the envelope plus the rules it matched (what goes to Loki)."""

    matches: list[RuleRef] = Field(default_factory=list)


def with_matches(envelope: bytes, matches: list[RuleRef]) -> bytes:
    """The EnrichedEvent JSON of an envelope, made by adding `matches` to the envelope's own bytes.

    Stage 1 passes every event on: serialising it again would cost more than the detection.
    The envelope is a JSON object with at least `id` and `time`, and no `matches` (Event forbids it).
    """
    body = envelope.rstrip()
    return b"".join((body[:-1], b',"matches":[', b",".join(map(_match_json, matches)), b"]}"))


ECS_FIELD_SETS = frozenset(name for name in Event.model_fields if name not in {"raw", "id"})


class FieldReader:
    """Reads rule fields from one event; each name is resolved once, however many rules ask for it.

    Names are resolved on demand rather than by flattening the event up front: with an index in
    front of the rules, an event is asked for a handful of fields, not all of them.
    """

    __slots__ = ("_event", "_found")

    def __init__(self, event: Event) -> None:
        self._event = event
        self._found: dict[str, Any] = {}

    def get(self, name: str, default: Any = None) -> Any:
        """The value a rule's `name` refers to, or `default` when the event has no such field."""
        found = self._found.get(name, _UNSEEN)
        if found is _UNSEEN:
            found = self._found[name] = self._lookup(name)
        return default if found is _MISSING else found

    def has(self, name: str) -> bool:
        """Whether the field is there at all, null or not (Sigma's `exists`)."""
        return self.get(name, _MISSING) is not _MISSING

    def _lookup(self, name: str) -> Any:
        head = name.split(".", 1)[0]
        if head in ECS_FIELD_SETS or name == "id":
            found = _normalised_value(self._event, name)
            if found is not _MISSING or head == "labels":
                return found
            # An ECS name the source did not normalise still reads the raw payload's same path,
            # so a generic JSON event posted in ECS shape matches the same way.
        return _dotted(self._event.raw, name, _MISSING)


_MISSING = object()
_UNSEEN = object()


def _normalised_value(value: Any, path: str) -> Any:
    """What `Event.normalised()[path]` holds, found by walking the models instead of flattening them all."""
    if isinstance(value, BaseModel):
        fields: dict[str, Any] = value.__dict__
        extra = value.__pydantic_extra__ or {}
        found = fields[path] if path in fields else extra.get(path, _MISSING)
    elif isinstance(value, dict) and value:
        fields, extra = value, {}
        found = value.get(path, _MISSING)
    else:
        return _MISSING
    if found is not _MISSING:
        return _leaf(found)
    head, dot, rest = path.partition(".")
    while dot:  # a key may itself hold dots (a label `app.kubernetes.io/name`): ever longer heads are tried
        inner = fields[head] if head in fields else extra.get(head, _MISSING)
        if inner is not _MISSING:
            found = _normalised_value(inner, rest)
            if found is not _MISSING:
                return found
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return _MISSING


def _leaf(value: Any) -> Any:
    """A flattened value as `normalised()` has it: nested sets and null are not leaves, times read as RFC 3339."""
    if value is None or isinstance(value, BaseModel) or (isinstance(value, dict) and value):
        return _MISSING
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _dotted(value: Any, path: str, default: Any = None) -> Any:
    """`a.b.c` into nested dicts; a key that itself contains dots is tried whole first.

    Through a list of objects the path goes on in each element, and the values found come back
    as a list, which a rule matches when any element does (`spec.containers.image`).
    """
    if isinstance(value, list):
        found = [_dotted(item, path, _MISSING) for item in value]
        values = [v for item in found if item is not _MISSING for v in (item if isinstance(item, list) else [item])]
        return values if values else default
    if not isinstance(value, dict):
        return default
    if path in value:
        return value[path]
    head, dot, rest = path.partition(".")
    while dot:
        if head in value:
            found = _dotted(value[head], rest, _MISSING)
            if found is not _MISSING:
                return found
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return default
