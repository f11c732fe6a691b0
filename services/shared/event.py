"""The event envelope: one JSON object per bus message, shaped after the Elastic Common Schema.

Sources fill the normalised ECS fields they have and keep the original payload in `raw`.
Rules read a field through `field_value`: an ECS name reads the normalised value, any
other name is a dotted path into `raw` (DESIGN.md, "The event envelope").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from services.shared.alert import RuleRef

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
    return body[:-1] + b',"matches":' + orjson.dumps([m.model_dump(mode="json") for m in matches]) + b"}"


ECS_FIELD_SETS = frozenset(name for name in Event.model_fields if name not in {"raw", "id"})


class FieldReader:
    """Reads rule fields from one event, flattening it once however many rules ask."""

    __slots__ = ("_event", "_flat")

    def __init__(self, event: Event) -> None:
        self._event = event
        self._flat = event.normalised()

    def get(self, name: str, default: Any = None) -> Any:
        """The value a rule's `name` refers to, or `default` when the event has no such field."""
        if name.split(".", 1)[0] in ECS_FIELD_SETS or name == "id":
            if name in self._flat:
                return self._flat[name]
            if name.split(".", 1)[0] != "labels":
                # An ECS name the source did not normalise still reads the raw payload's same path,
                # so a generic JSON event posted in ECS shape matches the same way.
                return _dotted(self._event.raw, name, default)
            return default
        return _dotted(self._event.raw, name, default)

    def has(self, name: str) -> bool:
        """Whether the field is there at all, null or not (Sigma's `exists`)."""
        return self.get(name, _MISSING) is not _MISSING


_MISSING = object()


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
