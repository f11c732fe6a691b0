"""The envelope as the correlator reads it off the bus, and how a rule reads a field of it.

`Event` (event.py) is the model sources build, pydantic validating what a sender gave.
Stage 1 reads every envelope on `siem.events` once more, and validating each into pydantic
models cost more than trying it against a thousand rules. `Envelope` is the same contract
checked while msgspec decodes: the top level and the logsource typed and closed, each ECS
field set kept as the JSON object it is (further ECS names included) after a check of the
names the envelope types (`user.name` a string, `source.port` an integer…), and `raw` kept
as its JSON text until a rule reads it; then only the paths the rules of the event's logsource
read are decoded (services/shared/projection.py).

Where pydantic would coerce (a number for a keyword such as `user.id`, "22" for a port,
epoch seconds for a time) the envelope is refused instead: ingest and the webhook write
what `Event` made, so only another producer sends such JSON, and it is dead-lettered with
the field named. tests/shared/test_envelope.py holds both readings against each other.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import reduce
from types import UnionType
from typing import Annotated, Any, get_args

import msgspec
from pydantic import BaseModel

from services.shared.event import EcsFieldSet, Event
from services.shared.projection import MISSING, Projection, dotted

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
FieldSet = dict[str, Any]  # an ECS field set as it was in JSON, extra names included


class InvalidEnvelope(ValueError):
    """Not an envelope: the message names the field, as `Expected `str`, got `int` - at `$.user.id``."""


class EnvelopeLogSource(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The Sigma logsource an event answers to (frozen: the rule index keys on it)."""

    product: str | None = None
    service: str | None = None
    category: str | None = None


GENERIC = EnvelopeLogSource(product="generic")


_NO_RAW = msgspec.Raw(b"null")


class Envelope(msgspec.Struct, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    time: AwareDatetime
    ingested: AwareDatetime
    event: FieldSet = msgspec.field(default_factory=dict)
    logsource: EnvelopeLogSource = GENERIC
    message: str | None = None
    user: FieldSet | None = None
    source: FieldSet | None = None
    destination: FieldSet | None = None
    host: FieldSet | None = None
    process: FieldSet | None = None
    url: FieldSet | None = None
    http: FieldSet | None = None
    orchestrator: FieldSet | None = None
    git: FieldSet | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    # The payload's JSON text, decoded only when a rule reads it (`payload()`): half the events of
    # a large rule set never do, and decoding it was more than half of decoding the envelope.
    raw: msgspec.Raw = _NO_RAW

    def payload(self) -> Any:
        """`raw` decoded; raises InvalidEnvelope when its text holds what JSON decoding refuses (1e999)."""
        try:
            return msgspec.json.decode(self.raw)
        except msgspec.DecodeError as exc:  # its path starts at `raw`: `$[...]` becomes `$.raw[...]`
            reason = str(exc)
            raise InvalidEnvelope(
                reason.replace("`$", "`$.raw", 1) if "`$" in reason else f"{reason} - at `$.raw`"
            ) from None

    @property
    def module(self) -> str:
        """`event.module`: which stream the event belongs to (alerts' hunt queries select on it)."""
        return self.event["module"]  # type: ignore[no-any-return]  # decode() fills it in

    @classmethod
    def of(cls, event: Event) -> Envelope:
        """The envelope of an event built in Python (replay, rule tests), as stage 1 would read it off the bus."""
        return decode(event.model_dump_json(exclude_none=True).encode())


def _shape_of(model: type[BaseModel]) -> type[msgspec.Struct]:
    """A Struct checking the names `model` types, with its defaults; names it does not type pass through."""
    fields = []
    for name, info in model.model_fields.items():
        # Event's factories take no arguments (pydantic's type also allows ones that take the data).
        default = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
        fields.append((name, _checked_type(info.annotation), default))
    # A shape holds what JSON gave and is dropped once checked: never in a reference cycle, so the
    # collector need not track it (measured: 3 % of decoding an envelope).
    return msgspec.defstruct(f"{model.__name__}Shape", fields, gc=False)


def _checked_type(annotation: Any) -> Any:
    """The annotation with each nested model replaced by its shape (`Http.request`)."""
    if isinstance(annotation, UnionType):
        return reduce(operator.or_, (_checked_type(arg) for arg in get_args(annotation)))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _shape_of(annotation)
    return annotation


# Each ECS field set whose model types some names, with the shape checking them: derived from `Event`,
# so the two cannot drift apart. Sets without typed names (`orchestrator`, `git`) need no check.
CHECKED_FIELD_SETS = {
    name: _shape_of(model)
    for name, info in Event.model_fields.items()
    for model in get_args(info.annotation) or (info.annotation,)
    if isinstance(model, type) and issubclass(model, EcsFieldSet) and model.model_fields
}
# The sets checked together, read by name off the decoded envelope in one conversion (one call, not one
# a set); a wrong type is named by its path from the envelope, as in `$.user.id`.
_CHECKED_SETS = msgspec.defstruct(
    "CheckedFieldSets",
    [("event", CHECKED_FIELD_SETS["event"])]
    + [(name, shape | None, None) for name, shape in CHECKED_FIELD_SETS.items() if name != "event"],
)
# The same check from a tuple of the sets: msgspec converts a tuple by position for a third less than
# reading the sets by name off the envelope (`from_attributes`) or off a dict. Its reasons name a position
# (`$[1].id`), so a refused envelope is converted again by name for the reason.
_CHECKED_SETS_BY_POSITION = msgspec.defstruct(
    "CheckedFieldSetsByPosition",
    [(f.name, f.type) for f in msgspec.structs.fields(_CHECKED_SETS)],
    array_like=True,
    gc=False,
)
_sets_of = operator.attrgetter(*_CHECKED_SETS.__struct_fields__)
_DECODER = msgspec.json.Decoder(Envelope)


def decode(data: bytes) -> Envelope:
    """The envelope a `siem.events` record holds, checked as `Event` checks it; raises InvalidEnvelope."""
    try:
        envelope = _DECODER.decode(data)
        try:
            checked: Any = msgspec.convert(_sets_of(envelope), _CHECKED_SETS_BY_POSITION)
        except msgspec.ValidationError:
            msgspec.convert(envelope, _CHECKED_SETS, from_attributes=True)  # raises again, naming the field
            raise
    except msgspec.DecodeError as exc:  # malformed JSON, or ValidationError naming the field
        raise InvalidEnvelope(str(exc)) from None
    # The defaults `Event` gives a set it built: rules and hunt queries read them.
    event, info = envelope.event, checked.event
    if "module" not in event:
        event["module"] = info.module
    if "outcome" not in event:
        event["outcome"] = info.outcome
    if "category" not in event:
        event["category"] = info.category
    # msgspec checks the skipped text's syntax but not its UTF-8: what `Event` refuses is refused here too.
    # Most records are ASCII throughout, which is UTF-8: that is a check of the record in C, without a copy.
    if not data.isascii():
        try:
            str(memoryview(envelope.raw), "utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEnvelope(f"raw is not UTF-8: {exc.reason} - at `$.raw`") from None
    # Times read in UTC, as `Event` has them, whatever offset the producer wrote.
    if envelope.time.tzinfo is not UTC:
        envelope.time = _utc(envelope.time, "time")
    if envelope.ingested.tzinfo is not UTC:
        envelope.ingested = _utc(envelope.ingested, "ingested")
    return envelope


def _utc(moment: datetime, name: str) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidEnvelope(f"{name} is out of range once converted to UTC - at `$.{name}`") from None


# The names the envelope normalises; any other name is a path into `raw`.
ECS_FIELD_SETS = frozenset(Envelope.__struct_fields__) - {"raw", "id"}
# Where `Event` has a model, not a value: such a set is never a leaf, even when empty.
_MODEL_SETS = frozenset(ECS_FIELD_SETS - {"time", "ingested", "message", "labels"}) | {"http.request", "http.response"}


class FieldReader(dict[str, Any]):
    """Reads rule fields from one envelope; each name is resolved once, however many rules ask for it.

    An ECS name reads the normalised value, `Event.normalised()[name]`; any other name is a dotted
    path into `raw` (DESIGN.md, "The event envelope"). Names are resolved on demand rather than by
    flattening the event up front: with an index in front of the rules, an event is asked for a
    handful of fields, not all of them.

    The reader is the dict of the fields read so far: generated conditions and the index read
    `reader[name]`, a subscript done in C once the name is resolved (`__missing__` resolves it),
    where a method call cost a Python frame each time (~20 reads an event, most of them again).
    A field the event does not have reads None there, as JSON null does; `get` and `has` tell
    them apart. Resolving may decode `raw` and raise InvalidEnvelope, from the subscript too.
    """

    __slots__ = ("_direct", "_envelope", "_nulls", "_payload", "_projected", "_projection")

    def __init__(self, envelope: Envelope, projection: RawProjection | None = None) -> None:
        self._envelope = envelope
        self._nulls: frozenset[str] = frozenset()  # the names read that hold JSON null (seldom any)
        self._payload: Any = _UNSEEN
        # The raw paths the rules of the event's logsource read (`projection_of`): decoded alone, the rest skipped.
        self._projection = projection
        self._projected: Any = _UNSEEN
        self._direct = projection.direct if projection is not None else _NO_READERS

    def __missing__(self, name: str) -> Any:
        read = self._direct.get(name)
        # Most names are raw paths no ECS set answers: once the projection is decoded, read without `_lookup`.
        found = read(self._projected) if read is not None and self._projected is not _UNSEEN else self._lookup(name)
        if found is _MISSING:
            found = None
        elif found is None:  # JSON null is a value, which `has` must tell from a missing field
            self._nulls |= {name}
        self[name] = found
        return found

    def get(self, name: str, default: Any = None) -> Any:  # resolves the name, as `reader[name]` does
        """The value a rule's `name` refers to, or `default` when the event has no such field."""
        found = self[name]
        if found is None and name not in self._nulls:
            return default
        return found

    def has(self, name: str) -> bool:
        """Whether the field is there at all, null or not (Sigma's `exists`)."""
        return self[name] is not None or name in self._nulls

    def _lookup(self, name: str) -> Any:
        head, _, rest = name.partition(".")
        if head in ECS_FIELD_SETS or name == "id":
            top = getattr(self._envelope, head)
            # The commonest reads, a text (`message`, `user.name`), as `_ecs_value` gives them, without its calls.
            if not rest:
                if top.__class__ is str:
                    return top
            elif top.__class__ is dict and (text := top.get(rest)).__class__ is str:
                return text
            found = _ecs_value(top, head, rest, name)
            if found is not _MISSING or head == "labels":
                return found
            # An ECS name the source did not normalise still reads the raw payload's same path,
            # so a generic JSON event posted in ECS shape matches the same way.
        projection = self._projection
        if projection is not None:
            read = projection.readers.get(name)
            if read is not None:
                projected = self._projected
                if projected is _UNSEEN:
                    try:
                        projected = self._projected = projection.decode(self._envelope.raw)
                    except msgspec.DecodeError:  # a number no double holds: the full decode below names it
                        self._projection = None
                        return self._from_payload(name)
                return read(projected)
        return self._from_payload(name)

    def _from_payload(self, name: str) -> Any:
        if self._payload is _UNSEEN:
            self._payload = self._envelope.payload()  # InvalidEnvelope: the caller dead-letters the event
        return dotted(self._payload, name, _MISSING)


def raw_paths(names: Iterable[str]) -> frozenset[str]:
    """The names that may read `raw`: all but those the envelope always answers (`id`, `labels.…`).

    An ECS name reads raw when the source did not normalise it (`message` of an audit event,
    `git.sensitive_files` of most pushes): without it in the projection, each such event would
    decode its whole payload only to find the name missing.
    """
    return frozenset(name for name in names if name != "id" and name.partition(".")[0] != "labels")


class RawProjection(Projection):
    """The projection of `raw` a reader decodes, with the readers of its paths no ECS field set answers first."""

    __slots__ = ("direct",)

    def __init__(self, paths: Iterable[str]) -> None:
        super().__init__(paths)
        # An ECS name reads the envelope first and raw only when the source left it out (`_lookup`).
        self.direct = {path: read for path, read in self.readers.items() if _head(path) not in ECS_FIELD_SETS}


def projection_of(names: Iterable[str]) -> RawProjection | None:
    """The projection reading the raw paths among `names`, or None when they hold none."""
    projection = RawProjection(raw_paths(names))
    return projection if projection.paths else None


def _head(name: str) -> str:
    return name.partition(".")[0]


_MISSING = MISSING
_UNSEEN = object()
_NO_READERS: dict[str, Any] = {}  # a reader without a projection (never written to)


def _ecs_value(top: Any, head: str, rest: str, name: str) -> Any:
    """`_normalised_value(envelope, name, "")`, with its commonest case first: `set.key` found whole in its set."""
    if not rest:
        return _leaf(top, name)
    if isinstance(top, dict):
        found = top.get(rest, _MISSING)
        if found is not _MISSING:
            return _leaf(found, name)
        if "." not in rest:
            return _MISSING
    return _normalised_value(top, rest, head + ".")


def _normalised_value(value: Any, path: str, parent: str) -> Any:
    """What `Event.normalised()[parent + path]` holds, found by walking the envelope instead of flattening it."""
    if not isinstance(value, dict | msgspec.Struct):
        return _MISSING
    found = _child(value, path)
    if found is not _MISSING:
        return _leaf(found, parent + path)
    head, dot, rest = path.partition(".")
    while dot:  # a key may itself hold dots (a label `app.kubernetes.io/name`): ever longer heads are tried
        inner = _child(value, head)
        if inner is not _MISSING:
            found = _normalised_value(inner, rest, f"{parent}{head}.")
            if found is not _MISSING:
                return found
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return _MISSING


def _child(value: dict[str, Any] | msgspec.Struct, key: str) -> Any:
    """A field set's key, or a field of the envelope itself or of its logsource."""
    if isinstance(value, dict):
        return value.get(key, _MISSING)
    return getattr(value, key) if key in value.__struct_fields__ else _MISSING


def _leaf(value: Any, name: str) -> Any:
    """A flattened value as `normalised()` has it: sets and null are not leaves, times read as RFC 3339."""
    if value.__class__ is str:  # most are; the checks below cost more than the read (Struct's is a metaclass check)
        return value
    if value is None or isinstance(value, msgspec.Struct):
        return _MISSING
    if isinstance(value, dict) and (value or name in _MODEL_SETS):
        return _MISSING
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value
