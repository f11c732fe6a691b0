"""The event envelope: one JSON object per bus message, shaped after the Elastic Common Schema.

Sources build an `Event`, filling the normalised ECS fields they have and keeping the original
payload in `raw`; pydantic checks what they made. The correlator reads the JSON back as an
`Envelope` (envelope.py), where rules read its fields (DESIGN.md, "The event envelope").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

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

    def normalised(self) -> dict[str, Any]:
        """The ECS fields as one flat dict of dotted names (`user.name`), without `raw`, valued as in JSON.

        What rules read of the event: `FieldReader` (envelope.py) answers the same, name by name.
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
    An event that matched nothing (most of them) is its envelope as it came, not a copy of it:
    EnrichedEvent reads a record without `matches` as matching nothing.
    """
    if not matches:
        return envelope.rstrip()  # the same object when there is nothing to strip
    return b"".join((envelope.rstrip()[:-1], b',"matches":[', b",".join(map(_match_json, matches)), b"]}"))
