"""The envelope JSON ingest puts on `siem.events`: written from an `Event`, or from a document msgspec checked.

Both leave out null fields, as `model_dump_json(exclude_none=True)` does (they read back as
defaults), and both splice in `raw` as the source kept it, unread: serialising a 2 KB payload
cost more than the rest of the envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

import msgspec
import orjson

from services.shared.envelope import CHECKED_FIELD_SETS, Envelope, FieldSet
from services.shared.event import Event

# pydantic-core's serializer of the model, called directly: `model_dump_json` would make a str to encode again.
_SERIALIZER = Event.__pydantic_serializer__
_WITHOUT_RAW = {"raw"}
# orjson writes these its own way (a datetime as `+00:00`, not pydantic's `Z`): such a payload goes to pydantic.
_JSON_TYPES_ONLY = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def envelope(event: Event, raw_json: bytes | memoryview | None = None) -> bytes:
    """The event's JSON on the bus, as `model_dump_json(exclude_none=True)` has it: null fields read back as defaults.

    pydantic writes the envelope but not `raw`, which is `raw_json` when the source kept the payload's
    posted JSON (spliced in unread), else orjson's JSON of it. `raw` is the model's last field, where
    pydantic would put it.
    """
    head: bytes = _SERIALIZER.to_json(event, exclude=_WITHOUT_RAW, exclude_none=True)
    if event.raw is None:
        return head
    if raw_json is None:
        try:
            raw_json = orjson.dumps(event.raw, option=_JSON_TYPES_ONLY)
        except TypeError:  # not plain JSON data (a datetime, an int key, a huge int…): pydantic writes it all
            return _SERIALIZER.to_json(event, exclude_none=True)
    return _with_raw(head, raw_json)


def checked_envelope(document: dict[str, Any], raw_json: bytes | memoryview) -> bytes | None:
    """The envelope of `document` (`Event`'s fields but `raw`) when it already is what `Event` would make of it.

    msgspec checks it strictly, in one pass, against the contract stage 1 reads: `Envelope` with
    each field set typed as its shape (services/shared/envelope.py). Where pydantic would coerce
    a value (a number for `user.id`, "22" for a port) or refuse it, the answer is None: the caller
    then builds the `Event`, which coerces or gives the reason. `document` is left as it was.

    Passing the strict check, the document holds exactly the values `Event` would: the JSON is
    the document's own, with what `Event` adds (defaults, times in UTC) and without the nulls
    pydantic's exclude_none leaves out (at the top level, in each field set and in a set inside
    one such as `http.request`, not in the further objects a set holds). It decodes to the same
    value as `envelope(Event.model_validate(document | {"raw": …}))`; keys inside an object may
    come in another order.
    """
    try:
        msgspec.convert(document, _CheckedEnvelope)
        written = _DEFAULTS | (_without_nulls(document) if None in document.values() else document)
        for name in _FIELD_SETS.keys() & written.keys():
            field_set, layout = written[name], _FIELD_SETS[name]
            if layout is not None or None in field_set.values():
                written[name] = _written_set(field_set, layout)
        written["time"] = _utc(written["time"])
        written["ingested"] = _utc(written["ingested"])
        head = orjson.dumps(written, option=orjson.OPT_UTC_Z)
    except (msgspec.ValidationError, OverflowError, orjson.JSONEncodeError):  # the last: an int wider than 64 bits
        return None
    return _with_raw(head, raw_json)


def _with_raw(head: bytes, raw_json: bytes | memoryview) -> bytes:
    return b"".join((head[:-1], b',"raw":', raw_json, b"}"))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)  # OverflowError past year 1 or 9999


def _without_nulls(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class _SetLayout:
    """What pydantic adds to a field set it writes, from its model's shape."""

    defaults: dict[str, Any]  # names with a default other than null, written when the set lacks them (`event.module`)
    inner_sets: dict[str, _SetLayout | None]  # names typed as sets themselves (`http.request`)


def _written_set(field_set: dict[str, Any], layout: _SetLayout | None) -> dict[str, Any]:
    """A checked set as pydantic writes its model: no nulls, the defaults it lacks added, the sets inside likewise.

    `field_set` is not changed: it is the posted item's own.
    """
    if None in field_set.values():
        field_set = _without_nulls(field_set)
    if layout is None:
        return field_set
    # The set's own values win: checked strictly, they are what the model holds.
    field_set = layout.defaults | field_set if layout.defaults else field_set
    for name, inner_layout in layout.inner_sets.items():
        inner = field_set.get(name)
        if isinstance(inner, dict) and (written := _written_set(inner, inner_layout)) is not inner:
            field_set = field_set | {name: written}
    return field_set


def _set_shape(annotation: Any) -> type[msgspec.Struct] | None:
    """The Struct an annotation types (alone or with None), if any."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, msgspec.Struct):
            return candidate
    return None


def _default(field: msgspec.structs.FieldInfo) -> Any:
    return field.default_factory() if field.default_factory is not msgspec.NODEFAULT else field.default


def _layout(shape: type[msgspec.Struct] | None) -> _SetLayout | None:
    """The layout of a set's shape; None when pydantic adds nothing to it but leaves its nulls out."""
    if shape is None:
        return None
    fields = msgspec.structs.fields(shape)
    defaults = {f.name: _default(f) for f in fields if not f.required and _default(f) is not None}
    inner_sets = {f.name: _layout(inner) for f in fields if (inner := _set_shape(f.type)) is not None}
    return _SetLayout(defaults, inner_sets) if defaults or inner_sets else None


def _checking_field(field: msgspec.structs.FieldInfo) -> tuple[str, Any, Any]:
    """An envelope field for the one-pass check: a set `Event` types names of is typed as its shape."""
    shape = CHECKED_FIELD_SETS.get(field.name)
    if shape is None:
        annotation = field.type
    else:
        annotation = shape | None if type(None) in get_args(field.type) else shape
    if field.required:
        return field.name, annotation, msgspec.NODEFAULT
    if shape is not None and field.default_factory is not msgspec.NODEFAULT:  # `event`: the shape's own defaults
        return field.name, annotation, msgspec.field(default_factory=shape)
    if field.default_factory is not msgspec.NODEFAULT:
        return field.name, annotation, msgspec.field(default_factory=field.default_factory)
    return field.name, annotation, field.default


# `raw` is spliced in, never checked: a document holding it is refused.
_ENVELOPE_FIELDS = tuple(f for f in msgspec.structs.fields(Envelope) if f.name != "raw")
_CheckedEnvelope = msgspec.defstruct(
    "CheckedEnvelope", [_checking_field(f) for f in _ENVELOPE_FIELDS], forbid_unknown_fields=True
)
# The fields written as objects whose nulls pydantic leaves out (the field sets and the logsource, not
# `labels`), each with what pydantic adds to it.
_FIELD_SETS = {
    f.name: _layout(CHECKED_FIELD_SETS.get(f.name))
    for f in _ENVELOPE_FIELDS
    if FieldSet in (f.type, *get_args(f.type)) or _set_shape(f.type) is not None
}
# What the envelope holds for a field a document leaves out, as JSON (`event` then gets its defaults above).
_DEFAULTS = {
    f.name: _without_nulls(value) if isinstance(value := msgspec.to_builtins(_default(f)), dict) else value
    for f in _ENVELOPE_FIELDS
    if not f.required and _default(f) is not None
}
